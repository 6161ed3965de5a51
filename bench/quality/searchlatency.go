package quality

import (
	"runtime"
	"slices"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Latency is one engine's per-query latency, recorded with HdrHistogram
// in nanoseconds (3 significant digits).
type Latency struct {
	Count    int64
	P50, P99 time.Duration
	Max      time.Duration
}

type latencyRecorder struct{ h *hdrhistogram.Histogram }

func newLatencyRecorder() latencyRecorder {
	return latencyRecorder{hdrhistogram.New(1, int64(10*time.Second), 3)}
}

func (r latencyRecorder) record(d time.Duration) { _ = r.h.RecordValue(max(1, int64(d))) }

func (r latencyRecorder) summary() Latency {
	return Latency{Count: r.h.TotalCount(), P50: time.Duration(r.h.ValueAtQuantile(50)),
		P99: time.Duration(r.h.ValueAtQuantile(99)), Max: time.Duration(r.h.Max())}
}

// LatencyPasses is how many times sibyl eval times every query per
// engine; the median pass is reported (the machine is shared: one pass
// can catch another process's burst).
const LatencyPasses = 3

// timeQueries times search on every query in passes passes after
// an unrecorded warm-up pass, and returns the median pass's latency,
// overall and per kind (each the median of its passes).
func timeQueries(qs []KnownQuery, passes int, search func(KnownQuery) error) (Latency, map[QueryKind]Latency, error) {
	for _, q := range qs {
		if err := search(q); err != nil {
			return Latency{}, nil, err
		}
	}
	var overall []Latency
	byKind := map[QueryKind][]Latency{}
	for range passes {
		runtime.GC()
		all := newLatencyRecorder()
		kinds := map[QueryKind]latencyRecorder{}
		for _, q := range qs {
			start := time.Now()
			if err := search(q); err != nil {
				return Latency{}, nil, err
			}
			el := time.Since(start)
			all.record(el)
			r, ok := kinds[q.Kind]
			if !ok {
				r = newLatencyRecorder()
				kinds[q.Kind] = r
			}
			r.record(el)
		}
		overall = append(overall, all.summary())
		for k, r := range kinds {
			byKind[k] = append(byKind[k], r.summary())
		}
	}
	med := map[QueryKind]Latency{}
	for k, ls := range byKind {
		med[k] = medianLatency(ls)
	}
	return medianLatency(overall), med, nil
}

// medianLatency takes the median of each percentile over passes.
func medianLatency(ls []Latency) Latency {
	pick := func(f func(Latency) time.Duration) time.Duration {
		v := make([]time.Duration, len(ls))
		for i, l := range ls {
			v[i] = f(l)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return Latency{Count: ls[0].Count, P50: pick(func(l Latency) time.Duration { return l.P50 }),
		P99: pick(func(l Latency) time.Duration { return l.P99 }), Max: pick(func(l Latency) time.Duration { return l.Max })}
}
