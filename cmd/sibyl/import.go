package main

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/sibylhq/sibyl/ingest"
	"github.com/spf13/cobra"
)

type importOptions struct {
	url, key, priv, format string
	batch, concurrency     int
	quiet                  bool
}

func init() {
	var o importOptions
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Push a data file into a store through the HTTP API",
		Long: `Import streams a file into a store through any node's HTTP API, in batches,
with a progress bar and a summary. Formats:
  retail  UCI Online Retail CSV (.csv or .csv.gz): products, customers and
          orders grouped by invoice; cancellations, rows without a customer,
          non-positive quantities or prices and non-product codes are skipped
          and counted.
  clerk   Clerk.io JSON feed v1 (.json or .json.gz):
          {"products":[],"categories":[],"orders":[],"customers":[],"pages":[]}
Re-running an import is safe: every record is an upsert by id.`,
		Example: `  sibyl import --key pk_... --private-key sk_... demo/online-retail.csv.gz`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := envOverrides(cmd); err != nil {
				return err
			}
			sum, err := runImport(args[0], o, os.Stderr)
			if sum != "" {
				fmt.Println(sum)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.url, "url", "http://127.0.0.1:8080", "base URL of any Sibyl node")
	f.StringVar(&o.key, "key", "", "the store's public key")
	f.StringVar(&o.priv, "private-key", "", "the store's private key (required: imports write data)")
	f.StringVar(&o.format, "format", "auto", "retail, clerk, or auto (by file extension)")
	f.IntVar(&o.batch, "batch", 500, "records per request")
	f.IntVar(&o.concurrency, "concurrency", 4, "requests in flight")
	f.BoolVar(&o.quiet, "quiet", false, "no progress bar")
	withEnvHelp(cmd)
	root.AddCommand(cmd)
}

// runImport streams path into the store and returns a printable summary.
func runImport(path string, o importOptions, progress io.Writer) (string, error) {
	if o.priv == "" {
		return "", fmt.Errorf("--private-key is required")
	}
	if o.batch < 1 || o.concurrency < 1 {
		return "", fmt.Errorf("--batch and --concurrency must be at least 1")
	}
	format := o.format
	if format == "auto" {
		switch {
		case strings.HasSuffix(path, ".csv"), strings.HasSuffix(path, ".csv.gz"):
			format = "retail"
		case strings.HasSuffix(path, ".json"), strings.HasSuffix(path, ".json.gz"):
			format = "clerk"
		default:
			return "", fmt.Errorf("%w: cannot tell the format of %s; pass --format retail or clerk", errUnknownFormat, path)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return "", err
	}
	var src io.Reader = f
	if !o.quiet {
		r := progressbar.NewReader(f, newImportBar(progress, info.Size(), path))
		src = &r
	}
	src = bufio.NewReaderSize(src, 1<<20)
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(src)
		if err != nil {
			return "", fmt.Errorf("cannot read %s: %w", path, err)
		}
		defer gz.Close()
		src = gz
	}
	key := o.key
	if key == "" {
		key = o.priv
	}
	p := newPusher(o.url, key, o.priv, o.concurrency)
	start := time.Now()
	var skipped map[string]int
	var bad []string
	switch format {
	case "retail":
		batcher, berr := ingest.NewRetailBatcher(p, o.batch)
		if berr != nil {
			return "", berr
		}
		stats, rerr := ingest.ReadOnlineRetail(src, batcher)
		if rerr == nil {
			rerr = batcher.Flush()
		}
		skipped = stats.Skipped
		for _, e := range stats.Broken {
			bad = append(bad, e.Error())
		}
		err = rerr
	case "clerk":
		fc := ingest.DefaultFeedConfig()
		fc.BatchSize = min(o.batch, fc.Limits.MaxRecords)
		stats, ferr := ingest.ReadFeed(src, p, fc)
		skipped = make(map[string]int)
		for k, n := range stats.Rejected {
			skipped["invalid "+string(k)] = n
		}
		for _, e := range stats.Errors {
			bad = append(bad, e.Error())
		}
		err = ferr
	default:
		return "", fmt.Errorf("%w: %q (want retail or clerk)", errUnknownFormat, format)
	}
	if cerr := p.close(); err == nil {
		err = cerr
	}
	return summary(p, time.Since(start), skipped, bad), err
}

func summary(p *pusher, d time.Duration, skipped map[string]int, bad []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "imported in %s:\n", d.Round(time.Millisecond))
	for _, k := range ingest.Kinds {
		if n := p.sent[k].Load(); n > 0 {
			fmt.Fprintf(&b, "  %-11s %d\n", k, n)
		}
	}
	if n := p.lines.Load(); n > 0 {
		fmt.Fprintf(&b, "  order lines %d (%.0f lines/s)\n", n, float64(n)/d.Seconds())
	}
	if n := p.unknown.Load(); n > 0 {
		fmt.Fprintf(&b, "  order lines naming products not in the catalog: %d (accepted)\n", n)
	}
	if n := p.retries.Load(); n > 0 {
		fmt.Fprintf(&b, "  retried requests: %d\n", n)
	}
	if len(skipped) > 0 {
		reasons := make([]string, 0, len(skipped))
		total := 0
		for r, n := range skipped {
			reasons = append(reasons, r)
			total += n
		}
		sort.Strings(reasons)
		fmt.Fprintf(&b, "  skipped rows: %d\n", total)
		for _, r := range reasons {
			fmt.Fprintf(&b, "    %-28s %d\n", r, skipped[r])
		}
	}
	if len(bad) > 0 {
		fmt.Fprintf(&b, "  broken or invalid records reported: %d (first: %s)\n", len(bad), bad[0])
	}
	return strings.TrimRight(b.String(), "\n")
}

// newImportBar is the file-read progress bar of sibyl import. It renders
// its blank state at once: that starts its clock now, so the first read
// (a whole buffer, microseconds after the bar appears) is averaged over
// the throttle period instead of being shown as a rate of hundreds of GB/s.
func newImportBar(w io.Writer, size int64, path string) *progressbar.ProgressBar {
	return progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(w),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetDescription("importing "+path),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
}
