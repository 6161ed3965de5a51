package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func fakeResult(name string, rate, rps float64, p99us int64) Result {
	return Result{
		Name: name, Mode: OpenLoop, OfferedRate: rate, Connections: 4, RPS: rps, OKRPS: rps,
		Latency: Summary{Count: 100, P50Us: p99us / 4, P90Us: p99us / 2, P99Us: p99us, P999Us: 2 * p99us, MaxUs: 3 * p99us},
		Status:  map[string]int64{"200": 100},
		Errors:  map[string]int64{"http_503": 2},
	}
}

func TestWriteReport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	ceil := fakeResult("c", 100, 100, 500)
	run := fakeResult("popular", 100, 99, 2000)
	ceil.Behind = true
	run.Ceiling, run.VsCeiling = &ceil, compare(run, ceil)
	run.Endpoints = map[string]EndpointResult{"a": {Responses: 5, RPS: 5}, "b": {Responses: 7, RPS: 7}}
	rep := Report{
		Title:   "test report",
		Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Machine: CurrentMachine(true),
		Runs:    []Result{run},
		Sweeps: []Sweep{{Name: "popular sweep", Points: []Result{
			fakeResult("p@100", 100, 100, 1000), fakeResult("p@200", 200, 200, 3000), fakeResult("p@400", 400, 300, 90000),
		}}},
		Cluster: []ClusterPoint{{1, fakeResult("n1", 0, 1000, 1)}, {3, fakeResult("n3", 0, 2500, 1)}},
	}
	if err := WriteReport(dir, rep); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{SweepPlotName("popular sweep"), NodesPlot} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) || len(b) < 5000 {
			t.Errorf("%s is not a plausible PNG (%d bytes)", f, len(b))
		}
	}
	js, err := os.ReadFile(filepath.Join(dir, ReportJSON))
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if back.Runs[0].VsCeiling.P99 != 4 || back.Sweeps[0].Points[2].Latency.P99Us != 90000 {
		t.Errorf("JSON round trip lost data: %+v", back.Runs[0].VsCeiling)
	}
	md, err := os.ReadFile(filepath.Join(dir, ReportMarkdown))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"# test report",
		"shared these", // the shared-CPU warning
		"| popular | open | 100 | 4 | 99 | 99 | 0.50 | 1.00 | 2.00 | 4.00 | 6.00 | – | – | – | – | http_503:2 | 100 (behind: loadgen-bound) | 0.990 | 4.00 |",
		"](" + SweepPlotName("popular sweep") + ")",
		"](" + NodesPlot + ")",
		"### popular by endpoint",
		"| 3 | 2500 |",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestRunSweepOrdersRates(t *testing.T) {
	ns := startNull(t, 0)
	cfg := testConfig(ns.URL())
	cfg.Warmup = 0
	cfg.Duration = 200 * time.Millisecond
	cfg.Connections = 2
	sw, err := RunSweep(context.Background(), cfg, []float64{100, 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(sw.Points) != 2 || sw.Points[0].OfferedRate != 50 || sw.Points[1].OfferedRate != 100 {
		t.Fatalf("points %+v", sw.Points)
	}
	for _, p := range sw.Points {
		if p.Mode != OpenLoop || p.Planned != int64(p.OfferedRate*0.2) {
			t.Errorf("point %s: mode %s planned %d", p.Name, p.Mode, p.Planned)
		}
	}
}
