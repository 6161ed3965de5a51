package bench

import (
	"fmt"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// plotSweep draws latency percentiles (log scale, ms) against offered rate,
// with the ceiling's p99 dashed for reference.
func plotSweep(path string, sw Sweep) error {
	p := plot.New()
	p.Title.Text = "Latency against offered rate: " + sw.Name
	p.X.Label.Text = "offered rate (requests/s)"
	p.Y.Label.Text = "latency (ms, log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = true
	p.Legend.Left = true
	series := []struct {
		name string
		us   func(Summary) int64
	}{
		{"p50", func(s Summary) int64 { return s.P50Us }},
		{"p90", func(s Summary) int64 { return s.P90Us }},
		{"p99", func(s Summary) int64 { return s.P99Us }},
		{"p99.9", func(s Summary) int64 { return s.P999Us }},
	}
	for i, s := range series {
		xys := make(plotter.XYs, len(sw.Points))
		for j, r := range sw.Points {
			xys[j] = plotter.XY{X: r.OfferedRate, Y: float64(max(s.us(r.Latency), 1)) / 1000}
		}
		if err := addLine(p, s.name, xys, i, false); err != nil {
			return err
		}
	}
	var ceil plotter.XYs
	for _, r := range sw.Points {
		if r.Ceiling != nil {
			ceil = append(ceil, plotter.XY{X: r.OfferedRate, Y: float64(max(r.Ceiling.Latency.P99Us, 1)) / 1000})
		}
	}
	if len(ceil) > 0 {
		if err := addLine(p, "ceiling p99", ceil, len(series), true); err != nil {
			return err
		}
	}
	return save(p, path)
}

// plotNodes draws throughput against cluster size.
func plotNodes(path string, pts []ClusterPoint) error {
	p := plot.New()
	p.Title.Text = "Throughput against node count"
	p.X.Label.Text = "nodes"
	p.Y.Label.Text = "throughput (requests/s)"
	p.Legend.Top = true
	p.Legend.Left = true
	xys := make(plotter.XYs, len(pts))
	for i, c := range pts {
		xys[i] = plotter.XY{X: float64(c.Nodes), Y: c.Result.RPS}
	}
	if err := addLine(p, "rps", xys, 0, false); err != nil {
		return err
	}
	p.Y.Min = 0
	return save(p, path)
}

func addLine(p *plot.Plot, name string, xys plotter.XYs, i int, dashed bool) error {
	line, points, err := plotter.NewLinePoints(xys)
	if err != nil {
		return fmt.Errorf("cannot plot %s: %w", name, err)
	}
	line.Color = plotutil.Color(i)
	points.Color = plotutil.Color(i)
	points.Shape = plotutil.Shape(i)
	if dashed {
		line.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
	}
	p.Add(line, points)
	p.Legend.Add(name, line, points)
	return nil
}

func save(p *plot.Plot, path string) error {
	if err := p.Save(7*vg.Inch, 4.5*vg.Inch, path); err != nil {
		return fmt.Errorf("cannot save plot %s: %w", path, err)
	}
	return nil
}
