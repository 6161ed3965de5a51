// Command sibyl is the one Sibyl binary: `serve` runs a node, `import`
// pushes a data file through the HTTP API, `store` manages tenants, `bench`
// measures query latency, `eval` measures recommendation quality.
//
// Each subcommand lives in its own file and registers itself with root in
// an init function, so that the file list reads as the command list.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

var root = &cobra.Command{
	Use:           "sibyl",
	Short:         "Sibyl: a self-hosted customer-intent engine for e-commerce (Clerk.io v2 compatible API)",
	SilenceUsage:  true,
	SilenceErrors: true,
}

func main() {
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "sibyl:", err)
		os.Exit(1)
	}
}
