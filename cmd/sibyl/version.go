package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sibylhq/sibyl/internal/version"
)

func init() {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the build of this binary (the same as GET /health answers)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b := version.Get()
			if asJSON {
				out, err := json.Marshal(b)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintln(cmd.OutOrStdout(), string(out))
				return err
			}
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "sibyl", b)
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the build as JSON")
	root.AddCommand(cmd)
	root.Version = version.Get().String()
}
