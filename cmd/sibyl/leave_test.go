package main

import (
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestLeaveOnTerminate: a node started with --leave-on-terminate drains
// on SIGTERM (its replicas move to the other nodes), announces its leave
// and exits cleanly; the others record it as left and keep every shard
// led on the remaining replicas.
func TestLeaveOnTerminate(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	procs := newClusterProcs(t, "l", 3)
	procs[2].extra = []string{"--leave-on-terminate", "--leave-timeout", "90s"}
	for _, p := range procs {
		p.first = procs[0].gossip
		p.start()
		t.Cleanup(p.kill)
	}
	logs := func() string {
		l, _ := os.ReadFile(procs[2].logPath)
		return tail(l, 3000)
	}
	status := func() (map[string]any, error) {
		out, code, err := getJSON("http://"+procs[0].http+"/v2/cluster/status", crashAdminToken)
		if err != nil || code != 200 {
			return nil, fmt.Errorf("status %d %v", code, err)
		}
		return out, nil
	}
	// Converged: every shard on all three nodes, no move pending, every
	// node ready (checked last: the table may have just given it a shard).
	waitForOrDump(t, 90*time.Second, func() error {
		st, err := status()
		if err != nil {
			return err
		}
		if m, _ := st["moves"].(map[string]any); m == nil || m["steps"] != nil || m["waiting"] != nil {
			return fmt.Errorf("moves pending: %v", st["moves"])
		}
		shards, _ := st["shards"].([]any)
		if len(shards) == 0 {
			return fmt.Errorf("no placement yet")
		}
		for _, s := range shards {
			if reps, _ := s.(map[string]any)["replicas"].([]any); len(reps) != 3 {
				return fmt.Errorf("shard placed on %v, want 3 nodes", reps)
			}
		}
		for _, p := range procs {
			if err := p.ready(); err != nil {
				return err
			}
		}
		return nil
	}, clusterLogs(procs))

	leaver := procs[2]
	start := time.Now()
	leaver.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-leaver.done:
	case <-time.After(120 * time.Second):
		t.Fatalf("%s did not exit after SIGTERM\n%s", leaver.id, logs())
	}
	if code := leaver.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("%s exited with %d\n%s", leaver.id, code, logs())
	}
	t.Logf("%s drained and exited %v after SIGTERM", leaver.id, time.Since(start).Round(time.Millisecond))
	waitFor(t, 30*time.Second, func() error {
		st, err := status()
		if err != nil {
			return err
		}
		for _, n := range st["nodes"].([]any) {
			n := n.(map[string]any)
			if n["id"] == leaver.id && (n["state"] != "left" || n["replicas"].(float64) != 0) {
				return fmt.Errorf("%s is %v with %v replicas, want left with 0", leaver.id, n["state"], n["replicas"])
			}
		}
		for _, s := range st["shards"].([]any) {
			s := s.(map[string]any)
			for _, r := range s["replicas"].([]any) {
				if r == leaver.id {
					return fmt.Errorf("shard %v still placed on %s", s["shard"], leaver.id)
				}
			}
			if s["leader"] == "" {
				return fmt.Errorf("shard %v has no leader", s["shard"])
			}
		}
		return nil
	})
}
