package bench

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// TestMain lets TestCeilingInChildProcess re-run this test binary as the
// null server: with SIBYL_NULL_CHILD=1 the binary serves instead of
// testing, and exits when its stdin closes.
func TestMain(m *testing.M) {
	if os.Getenv("SIBYL_NULL_CHILD") == "1" {
		if err := ServeNullServer(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// The ceiling measured in a child process answers like the in-process
// one, and the child exits when the run ends.
func TestCeilingInChildProcess(t *testing.T) {
	t.Setenv("SIBYL_NULL_CHILD", "1")
	cfg := DefaultConfig()
	cfg.URLs = []string{"http://127.0.0.1:1"} // not used by MeasureCeiling
	cfg.Target = Fixed{Label: "x", Method: "GET", Path: "/"}
	cfg.Connections, cfg.Warmup, cfg.Duration = 2, 100*time.Millisecond, 300*time.Millisecond
	cfg.CeilingCommand = []string{os.Args[0]}
	res, err := MeasureCeiling(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Responses == 0 || res.Status["200"] != res.Responses {
		t.Fatalf("ceiling in a child process: %d responses, status %v", res.Responses, res.Status)
	}
}
