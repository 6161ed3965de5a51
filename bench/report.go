package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Sweep is one target measured open-loop at increasing offered rates: the
// latency-against-load curve.
type Sweep struct {
	Name   string   `json:"name"`
	Points []Result `json:"points"`
}

// ClusterPoint is one cluster-size measurement, for the throughput
// against node count plot.
type ClusterPoint struct {
	Nodes  int    `json:"nodes"`
	Result Result `json:"result"`
}

// Report is everything one `sibyl bench` invocation measured.
type Report struct {
	Title   string         `json:"title"`
	Created time.Time      `json:"created"`
	Command string         `json:"command,omitempty"`
	Machine Machine        `json:"machine"`
	Notes   []string       `json:"notes,omitempty"`
	Runs    []Result       `json:"runs,omitempty"`
	Sweeps  []Sweep        `json:"sweeps,omitempty"`
	Cluster []ClusterPoint `json:"cluster,omitempty"`
}

// RunSweep runs cfg open-loop once per rate (each with its ceiling when
// cfg.Ceiling is set). A rate that gets no answer at all ends the sweep
// with the points so far and the error.
func RunSweep(ctx context.Context, cfg Config, rates []float64) (Sweep, error) {
	sw := Sweep{Name: cfg.Name}
	sorted := append([]float64(nil), rates...)
	sort.Float64s(sorted)
	for _, rate := range sorted {
		c := cfg
		c.Mode = OpenLoop
		c.Rate = rate
		c.Name = fmt.Sprintf("%s @%g/s", cfg.Name, rate)
		res, err := Run(ctx, c)
		if err != nil {
			return sw, fmt.Errorf("cannot sweep %q at %g/s: %w", cfg.Name, rate, err)
		}
		sw.Points = append(sw.Points, res)
	}
	return sw, nil
}

// Files written by WriteReport.
const (
	ReportJSON     = "results.json"
	ReportMarkdown = "report.md"
	NodesPlot      = "throughput_vs_nodes.png"
)

// SweepPlotName is the PNG file of a sweep's latency plot.
func SweepPlotName(sweep string) string {
	return "latency_vs_rate_" + slug(sweep) + ".png"
}

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

func slug(s string) string {
	return strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(s), "_"), "_")
}

// WriteReport writes results.json, report.md and the PNG plots into dir,
// creating it if needed.
func WriteReport(dir string, r Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot create report dir %s: %w", dir, err)
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("cannot encode the report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ReportJSON), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("cannot write the report: %w", err)
	}
	var plots []string
	for _, sw := range r.Sweeps {
		if len(sw.Points) == 0 {
			continue
		}
		name := SweepPlotName(sw.Name)
		if err := plotSweep(filepath.Join(dir, name), sw); err != nil {
			return err
		}
		plots = append(plots, name)
	}
	if len(r.Cluster) > 0 {
		if err := plotNodes(filepath.Join(dir, NodesPlot), r.Cluster); err != nil {
			return err
		}
	}
	md := markdown(r)
	if err := os.WriteFile(filepath.Join(dir, ReportMarkdown), []byte(md), 0o644); err != nil {
		return fmt.Errorf("cannot write the markdown report: %w", err)
	}
	return nil
}

func ms(us int64) string { return fmt.Sprintf("%.2f", float64(us)/1000) }

func errorsText(m map[string]int64) string {
	if len(m) == 0 {
		return "0"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s:%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

func resultRow(res Result) string {
	offered := "max"
	if res.Mode == OpenLoop {
		offered = fmt.Sprintf("%g", res.OfferedRate)
		if res.Behind {
			offered += " (behind)"
		}
	}
	l := res.Latency
	ceil, thr, p99 := "–", "–", "–"
	if res.Ceiling != nil && res.VsCeiling != nil {
		ceil = fmt.Sprintf("%.0f", res.Ceiling.RPS)
		if res.Ceiling.Behind {
			ceil += " (behind: loadgen-bound)"
		}
		thr = fmt.Sprintf("%.3f", res.VsCeiling.Throughput)
		p99 = fmt.Sprintf("%.2f", res.VsCeiling.P99)
	}
	unsent := ""
	if res.Unsent > 0 {
		unsent = fmt.Sprintf(" unsent:%d", res.Unsent)
	}
	h50, h99, srv50, srv99 := "–", "–", "–", "–"
	if res.Handler != nil {
		h50, h99 = ms(res.Handler.P50Us), ms(res.Handler.P99Us)
	}
	if res.Server != nil {
		srv50, srv99 = ms(res.Server.P50Us), ms(res.Server.P99Us)
	}
	return fmt.Sprintf("| %s | %s | %s | %d | %.0f | %.0f | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s%s | %s | %s | %s |\n",
		res.Name, res.Mode, offered, res.Connections, res.RPS, res.OKRPS,
		ms(l.P50Us), ms(l.P90Us), ms(l.P99Us), ms(l.P999Us), ms(l.MaxUs), h50, h99, srv50, srv99,
		errorsText(res.Errors), unsent, ceil, thr, p99)
}

const tableHeader = "| run | mode | offered/s | conns | rps | 2xx rps | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | handler p50 ms | handler p99 ms | server p50 ms | server p99 ms | errors | ceiling rps | rps ÷ ceiling | p99 ÷ ceiling |\n" +
	"|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"

func markdown(r Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", r.Title)
	m := r.Machine
	fmt.Fprintf(&b, "Measured %s on %d CPUs (GOMAXPROCS %d, %s, %s/%s, %s).\n\n",
		r.Created.UTC().Format(time.RFC3339), m.CPUs, m.GOMAXPROCS, orUnknown(m.CPUModel), m.GOOS, m.GOARCH, m.GoVersion)
	if m.Load1 > 0 {
		fmt.Fprintf(&b, "Load average (1 min) at the start: %.2f on %d CPUs", m.Load1, m.CPUs)
		if m.Load1 > float64(m.CPUs)/2 {
			b.WriteString(": **other work was running; expect noisy, pessimistic numbers**")
		}
		b.WriteString(".\n\n")
	}
	if m.Shared {
		fmt.Fprintf(&b, "**The load generator and the server shared these %d CPUs**, so every number here is "+
			"a lower bound of what the server does on its own. The ceiling (a do-nothing fasthttp "+
			"handler measured with the same settings in the same run) shares them too: compare "+
			"machines by the ratios to it.\n\n", m.CPUs)
	}
	if r.Command != "" {
		fmt.Fprintf(&b, "Command: `%s`\n\n", r.Command)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	if len(r.Notes) > 0 {
		b.WriteString("\n")
	}
	b.WriteString("Latency is client-side. \"handler p50/p99\" is the time the server's handler reports (Server-Timing app: request routed to answer handed to the connection's buffer); " +
		"\"server p50/p99\" is the server's time as a user means it (Server-Timing wire: first byte of the request read to last byte of the answer written, " +
		"reported on the next answer of the same connection); neither counts the network or the load generator. In open loop latency runs from each request's intended send time, " +
		"so queueing is counted; in closed loop it runs from the actual send. Throughput is answers " +
		"(any status) per second; errors are non-2xx answers and transport failures. \"behind\" marks an " +
		"open-loop run that did not keep its offered rate; on the ceiling it means the load generator " +
		"itself was the limit at that rate.\n\n")
	if len(r.Runs) > 0 {
		b.WriteString("## Runs\n\n" + tableHeader)
		for _, res := range r.Runs {
			b.WriteString(resultRow(res))
		}
		b.WriteString("\n")
		for _, res := range r.Runs {
			if len(res.Endpoints) == 0 {
				continue
			}
			fmt.Fprintf(&b, "### %s by endpoint\n\n| endpoint | rps | p50 ms | p99 ms | errors |\n|---|---|---|---|---|\n", res.Name)
			labels := make([]string, 0, len(res.Endpoints))
			for l := range res.Endpoints {
				labels = append(labels, l)
			}
			sort.Strings(labels)
			for _, l := range labels {
				e := res.Endpoints[l]
				fmt.Fprintf(&b, "| %s | %.0f | %s | %s | %s |\n", l, e.RPS, ms(e.Latency.P50Us), ms(e.Latency.P99Us), errorsText(e.Errors))
			}
			b.WriteString("\n")
		}
	}
	for _, sw := range r.Sweeps {
		if len(sw.Points) == 0 {
			continue
		}
		fmt.Fprintf(&b, "## Latency against offered rate: %s\n\n![latency against offered rate](%s)\n\n", sw.Name, SweepPlotName(sw.Name))
		b.WriteString(tableHeader)
		for _, res := range sw.Points {
			b.WriteString(resultRow(res))
		}
		b.WriteString("\n")
	}
	if len(r.Cluster) > 0 {
		fmt.Fprintf(&b, "## Throughput against node count\n\n![throughput against node count](%s)\n\n", NodesPlot)
		b.WriteString("| nodes | rps | p99 ms | rps ÷ ceiling |\n|---|---|---|---|\n")
		for _, c := range r.Cluster {
			ratio := "–"
			if c.Result.VsCeiling != nil {
				ratio = fmt.Sprintf("%.3f", c.Result.VsCeiling.Throughput)
			}
			fmt.Fprintf(&b, "| %d | %.0f | %s | %s |\n", c.Nodes, c.Result.RPS, ms(c.Result.Latency.P99Us), ratio)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func orUnknown(s string) string {
	if s == "" {
		return "CPU model unknown"
	}
	return s
}
