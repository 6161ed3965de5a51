package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/sibylhq/sibyl/bench"
	"github.com/sibylhq/sibyl/bench/tenants"
	"github.com/spf13/cobra"
)

// benchOptions are the `sibyl bench` flags.
type benchOptions struct {
	urls        []string
	key, priv   string
	endpoints   []string
	scenarios   []string
	mode        string
	rate        float64
	rates       []float64
	connections int
	duration    time.Duration
	warmup      time.Duration
	timeout     time.Duration
	out         string
	ceiling     bool
	data        string
	demo        string
	nodesSweep  bool
	tenants     int
	adminToken  string
}

// benchProfile is what `quick` and `full` preset.
type benchProfile struct {
	duration, warmup time.Duration
	tenants          int
	sweepScenarios   []string
	// sweepFractions of the closed-loop throughput are the offered rates
	// of the latency sweep, so every machine sees its own knee.
	sweepFractions []float64
}

var benchProfiles = map[string]benchProfile{
	"quick": {duration: 3 * time.Second, warmup: time.Second, sweepScenarios: []string{"popular", "complementary"},
		sweepFractions: []float64{0.1, 0.3, 0.6, 0.9, 1.1}},
	"full": {duration: 20 * time.Second, warmup: 5 * time.Second, tenants: 1000, sweepScenarios: []string{"popular", "complementary", "ingest_orders"},
		sweepFractions: []float64{0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2}},
}

func init() {
	def := bench.DefaultConfig()
	o := benchOptions{mode: string(def.Mode), rate: def.Rate, connections: def.Connections,
		duration: def.Duration, warmup: def.Warmup, timeout: def.Timeout, ceiling: def.Ceiling}
	cmd := &cobra.Command{
		Use:   "bench [quick|full]",
		Short: "Measure query and ingest latency and throughput under load (writes JSON, markdown and plots)",
		Long: `bench drives a Sibyl deployment with fasthttp's client and reports HdrHistogram latency
percentiles, throughput and errors by status, each also as a ratio to a do-nothing fasthttp
server measured in the same run (the ceiling), so numbers from different machines compare.

With --url it measures a running deployment: each --endpoint (path and query; {product} and
{customer} are replaced by ids drawn from --data) or --scenario alone, or an open-loop sweep
with --rates. "quick" (make bench) and "full" (make bench-full) run every scenario closed-loop
and a latency sweep; without --url they start a local node with the demo data first.`,
		Example: `  sibyl bench quick --out bench/results
  sibyl bench --url http://127.0.0.1:8080 --key PUB --scenario popular,complementary
  sibyl bench --url http://127.0.0.1:8080 --key PUB --endpoint '/v2/recommendations/popular?limit=5' --mode open --rate 2000
  sibyl bench --url http://127.0.0.1:8080 --key PUB --scenario complementary --rates 500,1000,2000,4000`,
		Args:      cobra.MaximumNArgs(1),
		ValidArgs: []string{"quick", "full"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := envOverrides(cmd); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			profile := ""
			if len(args) == 1 {
				profile = args[0]
				p, ok := benchProfiles[profile]
				if !ok {
					return fmt.Errorf("unknown profile %q: want quick or full", profile)
				}
				if !cmd.Flags().Changed("duration") {
					o.duration = p.duration
				}
				if !cmd.Flags().Changed("warmup") {
					o.warmup = p.warmup
				}
				if !cmd.Flags().Changed("tenants") {
					o.tenants = p.tenants
				}
			}
			return runBench(ctx, o, profile, strings.Join(os.Args, " "))
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.urls, "url", nil, "base URL of a running Sibyl node; repeat for several nodes (round-robin)")
	f.StringVar(&o.key, "key", "", "the store's public key (added as key= when a path has none)")
	f.StringVar(&o.priv, "private-key", "", "the store's private key (ingest and customer scenarios)")
	f.StringArrayVar(&o.endpoints, "endpoint", nil, "path and query to measure alone, e.g. '/v2/recommendations/popular?limit=5'; repeatable")
	f.StringSliceVar(&o.scenarios, "scenario", nil, "scenarios to measure alone: "+strings.Join(bench.ScenarioNames(), ", "))
	f.StringVar(&o.mode, "mode", o.mode, "closed (N connections as fast as possible) or open (fixed --rate)")
	f.Float64Var(&o.rate, "rate", o.rate, "offered requests/s in open mode")
	f.Float64SliceVar(&o.rates, "rates", nil, "offered rates of an open-loop latency sweep, e.g. 500,1000,2000")
	f.IntVar(&o.connections, "connections", o.connections, "connections (requests in flight) per run")
	f.DurationVar(&o.duration, "duration", o.duration, "measured time per run")
	f.DurationVar(&o.warmup, "warmup", o.warmup, "uncounted warm-up before each run")
	f.DurationVar(&o.timeout, "timeout", o.timeout, "timeout of one request")
	f.StringVar(&o.out, "out", "bench/results", "report directory (results.json, report.md, PNG plots)")
	f.BoolVar(&o.ceiling, "ceiling", o.ceiling, "also measure a do-nothing fasthttp server with the same settings and report ratios to it")
	f.StringVar(&o.data, "data", "demo/online-retail.csv.gz", "Online Retail CSV, or Clerk JSON feed (.json, .json.gz), to draw product ids, names and customers from (a synthetic store if absent)")
	f.StringVar(&o.demo, "demo", "demo/online-retail.csv.gz", "data the local node of quick/full imports when no --url is given")
	f.IntVar(&o.tenants, "tenants", 0, "also create this many generated stores and query across all of them (full: 1000)")
	f.BoolVar(&o.nodesSweep, "nodes-sweep", false, "also measure the first read scenario on the first 1, 2, ... of the --url nodes (throughput against node count)")
	f.StringVar(&o.adminToken, "admin-token", "", "cluster admin token for --tenants (default: $SIBYL_ADMIN_TOKEN; the local node's own)")
	withEnvHelp(cmd)
	// The ceiling's do-nothing server, run by bench as a child process so
	// that it does not share the load generator's process.
	cmd.AddCommand(&cobra.Command{
		Use:    "null-server",
		Short:  "Serve the do-nothing ceiling server: print its URL, serve until stdin closes",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return bench.ServeNullServer(os.Stdin, cmd.OutOrStdout())
		},
	})
	root.AddCommand(cmd)
}

func runBench(ctx context.Context, o benchOptions, profile, command string) error {
	rep := bench.Report{Title: "Sibyl load benchmark", Created: time.Now().UTC(), Command: command}
	if profile != "" {
		rep.Title += " (" + profile + ")"
	}
	if len(o.urls) == 0 {
		if profile == "" {
			return fmt.Errorf("--url is required (or run `sibyl bench quick` to start a local node)")
		}
		local, err := startLocalNode(ctx, o.demo)
		if err != nil {
			return err
		}
		defer local.stop()
		o.urls, o.key, o.priv = []string{local.url}, local.key, local.priv
		if o.adminToken == "" {
			o.adminToken = local.adminToken
		}
		rep.Notes = append(rep.Notes, "Target: a local single-node `sibyl serve` started by the benchmark, loaded with "+o.demo+" (UCI Online Retail, Chen et al. 2012, CC BY 4.0).")
	}
	rep.Machine = bench.CurrentMachine(allLoopback(o.urls))

	load := bench.LoadOnlineRetail
	if strings.HasSuffix(o.data, ".json") || strings.HasSuffix(o.data, ".json.gz") {
		load = bench.LoadClerkFeed // a generated store (make bench-search)
	}
	data, err := load(o.data)
	if errors.Is(err, bench.ErrNoData) {
		data = bench.SyntheticDataset(2000, 500, 5000, 1)
		rep.Notes = append(rep.Notes, "Ids drawn from a synthetic store ("+o.data+" not found): expect not-found answers.")
	} else if err != nil {
		return err
	}
	keys := bench.Keys{Public: o.key, Private: o.priv}
	targets, err := benchTargets(o, profile, data, keys)
	if err != nil {
		return err
	}
	for _, t := range targets {
		if p, ok := t.(bench.Preparer); ok {
			fmt.Fprintf(os.Stderr, "bench: preparing %s...\n", t.Name())
			if err := p.Prepare(ctx, o.urls); err != nil {
				return fmt.Errorf("preparing %s: %w", t.Name(), err)
			}
		}
	}
	base := bench.DefaultConfig()
	base.URLs = o.urls
	base.Mode = bench.Mode(o.mode)
	base.Rate = o.rate
	base.Connections = o.connections
	base.Duration, base.Warmup, base.Timeout = o.duration, o.warmup, o.timeout
	base.Ceiling = o.ceiling
	if exe, err := os.Executable(); err == nil {
		base.CeilingCommand = []string{exe, "bench", "null-server"}
	}

	writeErr := func(err error) error {
		// Keep whatever was measured before the failure.
		if werr := bench.WriteReport(o.out, rep); werr != nil {
			return errors.Join(err, werr)
		}
		return err
	}
	// Reads first, writes last (ingest, and the replay with its sales):
	// writes change the store and set off
	// model recomputation, which would disturb the read measurements.
	var reads, writes []bench.Target
	for _, t := range targets {
		if strings.HasPrefix(t.Name(), "ingest") || strings.HasPrefix(t.Name(), "log_") || t.Name() == "retail_replay" {
			writes = append(writes, t)
		} else {
			reads = append(reads, t)
		}
	}
	for _, group := range [][]bench.Target{reads, writes} {
		if err := benchGroup(ctx, &rep, base, o, profile, group); err != nil {
			return writeErr(err)
		}
	}
	if o.tenants > 0 {
		if err := benchTenants(ctx, &rep, base, o); err != nil {
			return writeErr(err)
		}
	}
	if o.nodesSweep {
		if err := benchNodes(ctx, &rep, base, reads); err != nil {
			return writeErr(err)
		}
	}
	if err := bench.WriteReport(o.out, rep); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench: report in %s\n", filepath.Join(o.out, bench.ReportMarkdown))
	return nil
}

// benchNodes measures the first read scenario against the first k of the
// --url nodes for k = 1..len(urls): throughput against node count, the
// cluster plot of the report.
func benchNodes(ctx context.Context, rep *bench.Report, base bench.Config, reads []bench.Target) error {
	if len(reads) == 0 {
		return fmt.Errorf("--nodes-sweep needs a read scenario or endpoint")
	}
	for k := 1; k <= len(base.URLs); k++ {
		cfg := base
		cfg.URLs = base.URLs[:k]
		cfg.Target = reads[0]
		cfg.Name = fmt.Sprintf("%s on %d node(s)", reads[0].Name(), k)
		fmt.Fprintf(os.Stderr, "bench: %s...\n", cfg.Name)
		res, err := bench.Run(ctx, cfg)
		if err != nil {
			return err
		}
		rep.Cluster = append(rep.Cluster, bench.ClusterPoint{Nodes: k, Result: res})
	}
	return nil
}

// benchTenants creates o.tenants generated stores and measures queries
// spread over all of them.
func benchTenants(ctx context.Context, rep *bench.Report, base bench.Config, o benchOptions) error {
	tok := o.adminToken
	if tok == "" {
		tok = os.Getenv("SIBYL_ADMIN_TOKEN")
	}
	cfg := tenants.DefaultConfig()
	cfg.URL, cfg.AdminToken, cfg.Stores = o.urls[0], tok, o.tenants
	fmt.Fprintf(os.Stderr, "bench: creating %d stores of %d order lines each...\n", cfg.Stores, cfg.Store.OrderLines)
	start := time.Now()
	stores, err := tenants.Setup(ctx, cfg)
	if err != nil {
		return fmt.Errorf("many-tenant setup (%d of %d stores done): %w", len(stores), cfg.Stores, err)
	}
	took := time.Since(start)
	rep.Notes = append(rep.Notes, fmt.Sprintf("Many-tenant runs: %d generated stores (%d products, %d customers, %d order lines each, Online Retail shape), created and filled in %v (%.1f stores/s).",
		len(stores), cfg.Store.Products, cfg.Store.Customers, cfg.Store.OrderLines, took.Round(time.Second), float64(len(stores))/took.Seconds()))
	for _, q := range []struct {
		logic   string
		product bool
	}{{"popular", false}, {"complementary", true}} {
		t, err := tenants.Target(stores, q.logic, q.product)
		if err != nil {
			return err
		}
		c := base
		c.Name, c.Target, c.Mode = t.Name(), t, bench.ClosedLoop
		fmt.Fprintf(os.Stderr, "bench: %s over %d stores (%s, %v)...\n", c.Name, len(stores), c.Mode, c.Duration)
		res, err := bench.Run(ctx, c)
		if err != nil {
			return err
		}
		rep.Runs = append(rep.Runs, res)
	}
	return nil
}

// benchGroup measures each target alone (closed loop in a profile), then
// sweeps the offered rate for those that have a sweep.
func benchGroup(ctx context.Context, rep *bench.Report, base bench.Config, o benchOptions, profile string, targets []bench.Target) error {
	closedRPS := map[string]float64{}
	if len(o.rates) == 0 || profile != "" {
		for _, t := range targets {
			cfg := base
			cfg.Name, cfg.Target = t.Name(), t
			if profile != "" {
				cfg.Mode = bench.ClosedLoop
			}
			fmt.Fprintf(os.Stderr, "bench: %s (%s, %v)...\n", cfg.Name, cfg.Mode, cfg.Duration)
			res, err := bench.Run(ctx, cfg)
			if errors.Is(err, bench.ErrNoResponses) {
				// Too short a window for this endpoint's latency, or it is
				// down: say so and measure the rest.
				rep.Notes = append(rep.Notes, fmt.Sprintf("%s: %v", cfg.Name, err))
				fmt.Fprintf(os.Stderr, "  %v\n", err)
				continue
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "  %.0f rps, p50 %v, p99 %v, errors %v\n", res.RPS,
				res.Latency.Percentile(50), res.Latency.Percentile(99), res.Errors)
			rep.Runs = append(rep.Runs, res)
			closedRPS[t.Name()] = res.RPS
		}
	}
	for _, t := range targets {
		rates := o.rates
		if profile != "" {
			if !slices.Contains(benchProfiles[profile].sweepScenarios, t.Name()) {
				continue
			}
			if closedRPS[t.Name()] == 0 {
				continue // its closed-loop run got nothing to scale from
			}
			rates = nil
			for _, f := range benchProfiles[profile].sweepFractions {
				r := f * closedRPS[t.Name()]
				if r >= 10 {
					r = math.Round(r)
				} else {
					r = max(0.1, math.Round(r*10)/10)
				}
				if len(rates) == 0 || rates[len(rates)-1] != r {
					rates = append(rates, r)
				}
			}
		}
		if len(rates) == 0 {
			continue
		}
		cfg := base
		cfg.Name, cfg.Target = t.Name(), t
		fmt.Fprintf(os.Stderr, "bench: sweep %s at %v/s...\n", cfg.Name, rates)
		sw, err := bench.RunSweep(ctx, cfg, rates)
		rep.Sweeps = append(rep.Sweeps, sw)
		if errors.Is(err, bench.ErrNoResponses) {
			rep.Notes = append(rep.Notes, fmt.Sprintf("sweep %s stopped: %v", cfg.Name, err))
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// benchTargets turns --endpoint and --scenario (or a profile's defaults)
// into targets.
func benchTargets(o benchOptions, profile string, data *bench.Dataset, keys bench.Keys) ([]bench.Target, error) {
	names := o.scenarios
	if len(names) == 0 && len(o.endpoints) == 0 {
		if profile == "" {
			return nil, fmt.Errorf("name what to measure: --endpoint PATH or --scenario NAME (%s)", strings.Join(bench.ScenarioNames(), ", "))
		}
		for _, n := range bench.ScenarioNames() {
			if keys.Private == "" && (n == "ingest_orders" || n == "customer_history") {
				continue
			}
			names = append(names, n)
		}
	}
	var out []bench.Target
	for _, n := range names {
		t, err := bench.Scenario(n, data, keys)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	products, err := bench.NewChoice(data.Products, data.Sales)
	if err != nil {
		return nil, err
	}
	customers, err := bench.NewChoice(data.Customers, nil)
	if err != nil {
		return nil, err
	}
	for _, e := range o.endpoints {
		if !strings.HasPrefix(e, "/") {
			return nil, fmt.Errorf("--endpoint %q: give a path starting with /", e)
		}
		path := e
		if !strings.Contains(path, "key=") && keys.Public != "" {
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			path += sep + "key=" + url.QueryEscape(keys.Public)
		}
		t, err := bench.NewTemplate(e, "GET", path, map[string]*bench.Choice{"product": products, "customer": customers})
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func allLoopback(urls []string) bool {
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil {
			return false
		}
		ip := net.ParseIP(u.Hostname())
		if u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return false
		}
	}
	return true
}

// localNode is a `sibyl serve` child process with the demo store, so that
// the load generator and the server are separate processes as in
// production (they still share the machine's CPUs).
type localNode struct {
	cmd        *exec.Cmd
	dir        string
	url        string
	key, priv  string
	adminToken string
	exited     chan error
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func startLocalNode(ctx context.Context, demo string) (*localNode, error) {
	if _, err := os.Stat(demo); err != nil {
		return nil, fmt.Errorf("cannot start a local node: demo data %s: %w (give --url of a running node instead)", demo, err)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("cannot find the sibyl binary: %w", err)
	}
	dir, err := os.MkdirTemp("", "sibyl-bench-")
	if err != nil {
		return nil, fmt.Errorf("cannot make a data dir: %w", err)
	}
	var addrs [3]string
	for i := range addrs {
		if addrs[i], err = freeAddr(); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("cannot find a free port: %w", err)
		}
	}
	n := &localNode{dir: dir, url: "http://" + addrs[0], exited: make(chan error, 1)}
	n.cmd = exec.Command(self, "serve", "--data-dir", dir, "--http-addr", addrs[0], "--raft-addr", addrs[1],
		"--gossip-addr", addrs[2], "--demo", demo, "--log-level", "warn",
		// One load generator on one host: the rate limits are lifted out
		// of the way but still checked, so their cost is measured.
		"--rate-per-ip", "1e9", "--burst-per-ip", "1000000000", "--rate-per-store", "1e9", "--burst-per-store", "1000000000")
	logf, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("cannot create the node's log: %w", err)
	}
	n.cmd.Stdout, n.cmd.Stderr = logf, logf
	if err := n.cmd.Start(); err != nil {
		logf.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("cannot start %s serve: %w", self, err)
	}
	go func() {
		n.exited <- n.cmd.Wait()
		logf.Close()
	}()
	fmt.Fprintf(os.Stderr, "bench: starting a local node at %s and importing %s (log: %s)...\n", n.url, demo, logf.Name())
	if err := n.waitImported(ctx, 10*time.Minute); err != nil {
		n.stop()
		return nil, err
	}
	return n, nil
}

// waitImported polls demo.json until the node says the demo data is in,
// and then /ready.
func (n *localNode) waitImported(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		var st struct {
			PublicKey  string `json:"public_key"`
			PrivateKey string `json:"private_key"`
			Imported   bool   `json:"imported"`
		}
		if b, err := os.ReadFile(filepath.Join(n.dir, "demo.json")); err == nil && json.Unmarshal(b, &st) == nil && st.Imported {
			if resp, err := http.Get(n.url + "/ready"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					n.key, n.priv = st.PublicKey, st.PrivateKey
					if tok, err := os.ReadFile(filepath.Join(n.dir, "admin.token")); err == nil {
						n.adminToken = strings.TrimSpace(string(tok))
					}
					return nil
				}
			}
		}
		select {
		case err := <-n.exited:
			n.exited <- err
			return fmt.Errorf("the local node exited during start-up (%v); see %s", err, filepath.Join(n.dir, "serve.log"))
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the local node did not finish importing within %v; see %s", limit, filepath.Join(n.dir, "serve.log"))
		}
	}
}

// stop sends SIGTERM, waits for exit (SIGKILL after 30 s) and removes the
// data dir.
func (n *localNode) stop() {
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(30 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.exited
	}
	os.RemoveAll(n.dir)
}
