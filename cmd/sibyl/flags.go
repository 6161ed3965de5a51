package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// envOverrides fills every flag the command line did not set from its
// environment variable SIBYL_<FLAG_NAME> (dashes become underscores), so
// `--data-dir` is also SIBYL_DATA_DIR. Containers configure by environment.
func envOverrides(cmd *cobra.Command) error {
	var firstErr error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed || firstErr != nil {
			return
		}
		name := envName(f.Name)
		if v, ok := os.LookupEnv(name); ok {
			if err := f.Value.Set(v); err != nil {
				firstErr = fmt.Errorf("environment %s=%q: %w", name, v, err)
			}
		}
	})
	return firstErr
}

func envName(flag string) string {
	return "SIBYL_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// withEnvHelp appends the environment variable to each flag's help.
func withEnvHelp(cmd *cobra.Command) {
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		f.Usage += " [$" + envName(f.Name) + "]"
	})
}
