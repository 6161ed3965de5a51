package main

import (
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sibylhq/sibyl/bench/quality"
)

func init() {
	opts := quality.DefaultOptions()
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Measure recommendation and search quality (retail-temporal, ml100k-5fold, basket, search-known-item, search-sales)",
		Long: `eval runs the offline evaluation protocols described in docs/quality.md and
prints one Markdown table per protocol, with the popularity baseline beside
each model. Data is read from ../shared/data relative to the module root, or
from --data (or SIBYL_DATA); the search protocols (search-known-item: Sibyl
against Bleve on known-item queries; search-sales: ranking with and without
the store's sales) read the repository's bundled Online Retail file (outside
the repository, the copy in --data).`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			opts.Progress = func(msg string) { fmt.Fprintln(os.Stderr, msg) }
			tables, err := quality.Run(ctx, opts)
			if err != nil {
				return fmt.Errorf("cannot evaluate: %w", err)
			}
			return quality.WriteMarkdown(cmd.OutOrStdout(), tables)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.DataDir, "data", "", "shared data folder (default: ../shared/data next to the module root, or $SIBYL_DATA)")
	f.StringSliceVar(&opts.Protocols, "protocol", opts.Protocols, "protocols to run: "+strings.Join(quality.Protocols, ", "))
	f.BoolVar(&opts.Search, "search", false, "also tune ALS hyper-parameters on a validation split of the training data")
	f.Uint64Var(&opts.Seed, "seed", opts.Seed, "training seed, and the seed of the search protocols' queries")
	f.IntVar(&opts.SearchQueries, "queries", opts.SearchQueries, "search protocols: queries per query kind (a seeded sample of products or purchases)")
	root.AddCommand(cmd)
}
