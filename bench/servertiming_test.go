package bench

import (
	"context"
	"testing"
	"time"
)

func TestServerTimingParse(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"app;dur=0.153":                  153 * time.Microsecond,
		"app;dur=12":                     12 * time.Millisecond,
		"db;dur=1.5, app;dur=2":          2 * time.Millisecond,
		"wire;dur=1.5, app;desc=x":       -1,
		"app;desc=\"no duration\"":       -1,
		"app;dur=abc":                    -1,
		"apps;dur=3":                     -1,
		"app;desc=x;dur=0.5, wire;dur=9": 500 * time.Microsecond,
	} {
		got, ok := serverTiming([]byte(in), "app")
		if want < 0 {
			if ok {
				t.Errorf("%q parsed as %v, want no value", in, got)
			}
			continue
		}
		if !ok || got != want {
			t.Errorf("%q = %v %v, want %v", in, got, ok, want)
		}
	}
}

// A server that spends 5 ms per request and says so: the run's server
// latency is those 5 ms, and the client-side latency is no less.
func TestServerLatencyRecorded(t *testing.T) {
	ns, err := StartNullServer(NullServerConfig{Delay: 5 * time.Millisecond, ServerTiming: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	cfg := DefaultConfig()
	cfg.URLs = []string{ns.URL()}
	cfg.Target = Fixed{Label: "x", Method: "GET", Path: "/"}
	cfg.Connections, cfg.Warmup, cfg.Duration, cfg.Ceiling = 2, 100*time.Millisecond, 500*time.Millisecond, false
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Handler == nil {
		t.Fatal("no handler latency recorded")
	}
	p50 := time.Duration(res.Handler.P50Us) * time.Microsecond
	if p50 < 5*time.Millisecond || p50 > 15*time.Millisecond {
		t.Fatalf("handler p50 = %v, want about 5ms", p50)
	}
	if res.Latency.P50Us < res.Handler.P50Us {
		t.Fatalf("client p50 %vus below handler p50 %vus", res.Latency.P50Us, res.Handler.P50Us)
	}
	if res.Server != nil {
		t.Fatalf("server (wire) time recorded from a server that sends none: %+v", res.Server)
	}
}
