package logbridge

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

func debugLogger(out *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func count(out, sub string) int {
	n := 0
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.Contains(l, sub) {
			n++
		}
	}
	return n
}

func TestRaftThrottle(t *testing.T) {
	var out bytes.Buffer
	now := time.Unix(0, 0)
	hl := newLogger(debugLogger(&out), Options{Name: "raft", Level: hclog.Debug, Throttle: 10 * time.Second}, func() time.Time { return now })
	for i := range 50 {
		hl.Error("failed to appendEntries to", "peer", "n2", "attempt", i)
		hl.Info("entering follower state")
	}
	hl.Warn("heartbeat timeout reached")
	now = now.Add(11 * time.Second)
	hl.Error("failed to appendEntries to", "peer", "n2")
	hl.Trace("below the level")

	got := out.String()
	if n := count(got, "failed to appendEntries"); n != 2 {
		t.Fatalf("repeated error logged %d times, want 2 (first, then after the period):\n%s", n, got)
	}
	if count(got, `level=ERROR msg="raft: failed to appendEntries to" peer=n2 attempt=0`) != 1 ||
		count(got, `level=ERROR msg="raft: failed to appendEntries to" peer=n2 suppressed=49`) != 1 {
		t.Fatalf("first line or suppressed count missing:\n%s", got)
	}
	if n := count(got, "entering follower state"); n != 50 {
		t.Fatalf("info lines are not throttled, got %d of 50", n)
	}
	if count(got, `level=WARN msg="raft: heartbeat timeout reached"`) != 1 {
		t.Fatalf("warning with a different key suppressed or mislabeled:\n%s", got)
	}
	if count(got, "below the level") != 0 {
		t.Fatalf("a trace line passed a debug level:\n%s", got)
	}
}

func TestStandardLoggerLevels(t *testing.T) {
	var out bytes.Buffer
	l := StandardLogger(debugLogger(&out), Options{Name: "memberlist"})
	l.Printf("[WARN] memberlist: Was able to connect to n2")
	l.Printf("[DEBUG] memberlist: Stream connection from=127.0.0.1:1")
	l.Printf("[ERR] memberlist: Failed to send ping")
	l.Printf("[ERROR] memberlist: Failed to send gossip")
	l.Printf("[INFO] memberlist: Marking n3 as failed")
	fmt.Fprintln(l.Writer(), "no tag at all")
	got := out.String()
	for _, want := range []string{
		`level=WARN msg="memberlist: Was able to connect to n2"`,
		`level=DEBUG msg="memberlist: Stream connection from=127.0.0.1:1"`,
		`level=ERROR msg="memberlist: Failed to send ping"`,
		`level=ERROR msg="memberlist: Failed to send gossip"`,
		`level=INFO msg="memberlist: Marking n3 as failed"`,
		`level=INFO msg="memberlist: no tag at all"`,
	} {
		if count(got, want) != 1 {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}
