package bench

import (
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Mode selects how requests are paced.
type Mode string

const (
	// OpenLoop sends at a fixed arrival rate whatever the server does;
	// latency runs from the intended send time, so a slow server (or a
	// saturated client) shows up as queueing delay.
	OpenLoop Mode = "open"
	// ClosedLoop keeps Connections requests in flight, each sent as soon as
	// the previous one on its connection returns; it measures the maximum
	// throughput, and its latency hides queueing by construction.
	ClosedLoop Mode = "closed"
)

// ErrInvalidConfig is wrapped by every Validate error.
var ErrInvalidConfig = errors.New("invalid bench config")

// Config describes one measurement.
type Config struct {
	// Name labels the run in reports.
	Name string
	// URLs are the base URLs of the deployment (scheme://host:port); with
	// several, requests go round-robin over them (one per cluster node).
	URLs []string
	// Target generates the requests.
	Target Target
	// Mode is OpenLoop or ClosedLoop.
	Mode Mode
	// Rate is the offered load in requests per second (OpenLoop only).
	Rate float64
	// Connections bounds the requests in flight (and the TCP connections
	// per URL). In OpenLoop, when all are busy, later requests wait and that
	// wait is counted in their latency.
	Connections int
	// Warmup runs before Duration at the same pace; it is not counted.
	Warmup time.Duration
	// Duration is the measured window.
	Duration time.Duration
	// Timeout bounds one request.
	Timeout time.Duration
	// Drain bounds how long requests planned inside the window may still be
	// sent after it closes (OpenLoop, when overloaded). Planned requests
	// never sent are reported as Unsent.
	Drain time.Duration
	// Ceiling also measures a NullServer with the same settings and reports
	// the ratio to it.
	Ceiling bool
	// CeilingCommand, when set, runs the ceiling's NullServer in a child
	// process (see StartNullServerProcess), apart from the load generator
	// as the measured server is; unset, it runs in this process.
	CeilingCommand []string `json:"-"`
	// Seed makes the request sequence reproducible.
	Seed uint64
}

// DefaultConfig returns a closed-loop, 32-connection, 10 s run with a 2 s
// warm-up and the ceiling on. URLs and Target must still be set.
func DefaultConfig() Config {
	return Config{
		Name:        "run",
		Mode:        ClosedLoop,
		Rate:        1000,
		Connections: 32,
		Warmup:      2 * time.Second,
		Duration:    10 * time.Second,
		Timeout:     5 * time.Second,
		Drain:       5 * time.Second,
		Ceiling:     true,
		Seed:        1,
	}
}

// Validate checks the fields and their cross-field rules.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	if len(c.URLs) == 0 {
		return bad("no target URL")
	}
	for _, raw := range c.URLs {
		u, err := url.Parse(raw)
		if err != nil {
			return bad("url %q: %v", raw, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return bad("url %q: scheme must be http or https", raw)
		}
		if u.Host == "" {
			return bad("url %q: no host", raw)
		}
		if u.Path != "" && u.Path != "/" {
			return bad("url %q: give the base URL only; paths come from the target", raw)
		}
	}
	if c.Target == nil {
		return bad("no target")
	}
	switch c.Mode {
	case OpenLoop:
		if !(c.Rate > 0) {
			return bad("open-loop rate must be > 0, got %v", c.Rate)
		}
	case ClosedLoop:
	default:
		return bad("mode %q: want %q or %q", c.Mode, OpenLoop, ClosedLoop)
	}
	if c.Connections < 1 {
		return bad("connections must be >= 1, got %d", c.Connections)
	}
	if c.Duration <= 0 {
		return bad("duration must be > 0, got %v", c.Duration)
	}
	if c.Warmup < 0 {
		return bad("warm-up must be >= 0, got %v", c.Warmup)
	}
	if c.Timeout <= 0 {
		return bad("timeout must be > 0, got %v", c.Timeout)
	}
	if c.Timeout > maxLatency {
		return bad("timeout %v is above the histogram range %v", c.Timeout, maxLatency)
	}
	if c.Drain < 0 {
		return bad("drain must be >= 0, got %v", c.Drain)
	}
	return nil
}
