package bench

import (
	"context"
	"os"
	"testing"
	"time"
)

// TestNullServerChild is the child of TestCeilingInChildProcess: this
// test binary re-run with SIBYL_NULL_CHILD=1 serves a null server.
func TestNullServerChild(t *testing.T) {
	if os.Getenv("SIBYL_NULL_CHILD") != "1" {
		t.Skip("child process of TestCeilingInChildProcess")
	}
	if err := ServeNullServer(os.Stdin, os.Stdout); err != nil {
		t.Fatal(err)
	}
	os.Exit(0) // no test summary on stdout after the URL
}

// The ceiling measured in a child process answers like the in-process
// one, and the child exits when the run ends.
func TestCeilingInChildProcess(t *testing.T) {
	t.Setenv("SIBYL_NULL_CHILD", "1")
	cfg := DefaultConfig()
	cfg.URLs = []string{"http://127.0.0.1:1"} // not used by MeasureCeiling
	cfg.Target = Fixed{Label: "x", Method: "GET", Path: "/"}
	cfg.Connections, cfg.Warmup, cfg.Duration = 2, 100*time.Millisecond, 300*time.Millisecond
	cfg.CeilingCommand = []string{os.Args[0], "-test.run=^TestNullServerChild$"}
	res, err := MeasureCeiling(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Responses == 0 || res.Status["200"] != res.Responses {
		t.Fatalf("ceiling in a child process: %d responses, status %v", res.Responses, res.Status)
	}
}
