package shard

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestRaftLogThrottle(t *testing.T) {
	var out bytes.Buffer
	now := time.Unix(0, 0)
	th := newLogThrottle(10 * time.Second)
	th.now = func() time.Time { return now }
	w := slogWriter{l: slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug})), throttle: th}

	for i := range 50 {
		w.Write([]byte("[ERROR] raft: failed to appendEntries to: peer=n2 attempt=" + string(rune('a'+i%26)) + "\n"))
		w.Write([]byte("[INFO]  raft: entering follower state\n"))
	}
	w.Write([]byte("[WARN]  raft: heartbeat timeout reached\n"))
	now = now.Add(11 * time.Second)
	w.Write([]byte("[ERROR] raft: failed to appendEntries to: peer=n2\n"))

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	count := func(sub string) int {
		n := 0
		for _, l := range lines {
			if strings.Contains(l, sub) {
				n++
			}
		}
		return n
	}
	if n := count("failed to appendEntries"); n != 2 {
		t.Fatalf("repeated error logged %d times, want 2 (first, then after the period):\n%s", n, out.String())
	}
	if count("suppressed=49") != 1 || count("level=ERROR") != 2 {
		t.Fatalf("suppressed count or level missing:\n%s", out.String())
	}
	if n := count("entering follower state"); n != 50 {
		t.Fatalf("info lines are not throttled, got %d of 50", n)
	}
	if count(`level=WARN msg="raft: heartbeat timeout reached"`) != 1 {
		t.Fatalf("warning with a different key suppressed or mislabeled:\n%s", out.String())
	}
}
