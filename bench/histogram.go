package bench

import (
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in microseconds from 1 µs to maxLatency with three
// significant digits: any reported percentile is within 0.1% of the exact
// value of the recorded samples (HdrHistogram's guarantee).
const (
	maxLatency  = 10 * time.Minute
	sigFigs     = 3
	usPerSecond = 1e6
)

// Summary is the latency distribution of one run, in microseconds.
type Summary struct {
	Count     int64   `json:"count"`
	MeanUs    float64 `json:"mean_us"`
	StdDevUs  float64 `json:"stddev_us"`
	MinUs     int64   `json:"min_us"`
	P50Us     int64   `json:"p50_us"`
	P90Us     int64   `json:"p90_us"`
	P99Us     int64   `json:"p99_us"`
	P999Us    int64   `json:"p99_9_us"`
	MaxUs     int64   `json:"max_us"`
	Saturated int64   `json:"saturated,omitempty"` // samples clamped to the range's top
}

// Percentile returns the named percentile as a duration; p is one of 50,
// 90, 99, 99.9 or 100.
func (s Summary) Percentile(p float64) time.Duration {
	var us int64
	switch p {
	case 50:
		us = s.P50Us
	case 90:
		us = s.P90Us
	case 99:
		us = s.P99Us
	case 99.9:
		us = s.P999Us
	case 100:
		us = s.MaxUs
	default:
		return 0
	}
	return time.Duration(us) * time.Microsecond
}

// latencyHistogram wraps an HdrHistogram; it is not safe for concurrent
// use: each worker records into its own and they are merged at the end,
// which keeps the hot path free of locks.
type latencyHistogram struct {
	h         *hdrhistogram.Histogram
	saturated int64
}

func newLatencyHistogram() *latencyHistogram {
	return &latencyHistogram{h: hdrhistogram.New(1, maxLatency.Microseconds(), sigFigs)}
}

// Record adds one sample; values outside the range are clamped, and those
// clamped at the top are counted so a report can say the max is a floor.
func (l *latencyHistogram) Record(d time.Duration) {
	us := d.Microseconds()
	if us < 1 {
		us = 1
	}
	if top := l.h.HighestTrackableValue(); us > top {
		us = top
		l.saturated++
	}
	// The value is inside the range, so RecordValue cannot fail.
	_ = l.h.RecordValue(us)
}

// Merge adds other's samples into l.
func (l *latencyHistogram) Merge(other *latencyHistogram) {
	l.h.Merge(other.h)
	l.saturated += other.saturated
}

// Summary reports count, mean and the standard percentiles.
func (l *latencyHistogram) Summary() Summary {
	h := l.h
	if h.TotalCount() == 0 {
		return Summary{}
	}
	return Summary{
		Count:     h.TotalCount(),
		MeanUs:    h.Mean(),
		StdDevUs:  h.StdDev(),
		MinUs:     h.Min(),
		P50Us:     h.ValueAtQuantile(50),
		P90Us:     h.ValueAtQuantile(90),
		P99Us:     h.ValueAtQuantile(99),
		P999Us:    h.ValueAtQuantile(99.9),
		MaxUs:     h.Max(),
		Saturated: l.saturated,
	}
}
