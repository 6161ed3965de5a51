package bench

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// within reports whether got is within rel (relative) of want.
func within(got, want int64, rel float64) bool {
	return math.Abs(float64(got-want)) <= rel*float64(want)
}

func TestSummaryUniformKnownPercentiles(t *testing.T) {
	// 1..100000 µs once each: the q-th percentile is q% of 100000.
	h := newLatencyHistogram()
	for us := 1; us <= 100000; us++ {
		h.Record(time.Duration(us) * time.Microsecond)
	}
	s := h.Summary()
	if s.Count != 100000 {
		t.Fatalf("count = %d, want 100000", s.Count)
	}
	cases := []struct {
		name string
		got  int64
		want int64
	}{
		{"p50", s.P50Us, 50000},
		{"p90", s.P90Us, 90000},
		{"p99", s.P99Us, 99000},
		{"p99.9", s.P999Us, 99900},
		{"max", s.MaxUs, 100000},
		{"min", s.MinUs, 1},
	}
	for _, c := range cases {
		// Three significant digits: within 0.1%.
		if !within(c.got, c.want, 0.001) {
			t.Errorf("%s = %d µs, want %d ±0.1%%", c.name, c.got, c.want)
		}
	}
	if math.Abs(s.MeanUs-50000.5) > 50 {
		t.Errorf("mean = %v, want 50000.5", s.MeanUs)
	}
}

func TestSummaryExponentialKnownPercentiles(t *testing.T) {
	// Exponential with mean m has quantile q at -m·ln(1-q). With 400k
	// samples the sampling error at p99.9 is a few percent.
	const mean = 2000.0 // µs
	rng := rand.New(rand.NewPCG(7, 7))
	h := newLatencyHistogram()
	for range 400000 {
		h.Record(time.Duration(rng.ExpFloat64()*mean) * time.Microsecond)
	}
	s := h.Summary()
	for _, c := range []struct {
		q   float64
		got int64
		tol float64
	}{
		{0.50, s.P50Us, 0.02},
		{0.90, s.P90Us, 0.02},
		{0.99, s.P99Us, 0.03},
		{0.999, s.P999Us, 0.08},
	} {
		want := int64(-mean * math.Log(1-c.q))
		if !within(c.got, want, c.tol) {
			t.Errorf("q=%v: got %d µs, want %d ±%.0f%%", c.q, c.got, want, c.tol*100)
		}
	}
	if math.Abs(s.MeanUs-mean)/mean > 0.01 {
		t.Errorf("mean = %v, want %v ±1%%", s.MeanUs, mean)
	}
}

func TestMergeEqualsSingleHistogram(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	single := newLatencyHistogram()
	parts := []*latencyHistogram{newLatencyHistogram(), newLatencyHistogram(), newLatencyHistogram()}
	for i := range 30000 {
		d := time.Duration(rng.IntN(1_000_000)) * time.Microsecond
		single.Record(d)
		parts[i%3].Record(d)
	}
	merged := newLatencyHistogram()
	for _, p := range parts {
		merged.Merge(p)
	}
	if got, want := merged.Summary(), single.Summary(); got != want {
		t.Fatalf("merged %+v\nwant    %+v", got, want)
	}
}

func TestRecordClampsAndCountsSaturation(t *testing.T) {
	h := newLatencyHistogram()
	h.Record(0)
	h.Record(2 * maxLatency)
	s := h.Summary()
	if s.MinUs != 1 {
		t.Errorf("min = %d, want 1 (clamped)", s.MinUs)
	}
	if s.Saturated != 1 {
		t.Errorf("saturated = %d, want 1", s.Saturated)
	}
	if !within(s.MaxUs, maxLatency.Microseconds(), 0.001) {
		t.Errorf("max = %d, want about %d", s.MaxUs, maxLatency.Microseconds())
	}
	if s.Percentile(100) != time.Duration(s.MaxUs)*time.Microsecond || s.Percentile(42) != 0 {
		t.Errorf("Percentile accessor disagrees with fields")
	}
}

func TestEmptySummaryIsZero(t *testing.T) {
	if s := newLatencyHistogram().Summary(); s != (Summary{}) {
		t.Fatalf("empty summary = %+v", s)
	}
}
