package shard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/shard/statemachine"
)

func TestGroupCommitBatchesConcurrentProposals(t *testing.T) {
	n := newTestNode(t, "n1", t.TempDir())
	defer n.close()
	sm := newKV()
	g := openGroup(t, n.groupConfig("s0", sm, n.self()))
	defer g.Shutdown()
	waitLeader(t, g)
	// Let the leader's no-op entry land before counting entries.
	if err := g.Barrier(ctxTimeout(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}

	const proposals = 400
	before := g.LastIndex()
	type outcome struct {
		res   any
		index uint64
		err   error
	}
	out := make([]outcome, proposals)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range proposals {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			k := fmt.Sprintf("k%03d", i)
			cmd := setCmd("id-"+k, k, fmt.Sprint(i), 1_700_000_000_000)
			if i%50 == 0 {
				cmd.Op = "reject"
			}
			r, idx, err := g.Propose(ctxTimeout(t, 10*time.Second), cmd)
			out[i] = outcome{r, idx, err}
		}()
	}
	close(start)
	wg.Wait()

	entries := map[uint64]int{}
	for i, o := range out {
		if o.err != nil {
			t.Fatalf("proposal %d: %v", i, o.err)
		}
		want := any(fmt.Sprintf("set:k%03d", i))
		if i%50 == 0 {
			want = errRejected
		}
		if o.res != want {
			t.Fatalf("proposal %d got result %v, want its own %v", i, o.res, want)
		}
		entries[o.index]++
	}
	if len(entries) >= proposals/4 {
		t.Fatalf("%d proposals used %d raft entries; group commit should batch", proposals, len(entries))
	}
	if got := g.LastIndex() - before; got != uint64(len(entries)) {
		t.Fatalf("log grew by %d entries, futures name %d distinct entries", got, len(entries))
	}
	if v, _ := sm.get("k399"); v != "399" {
		t.Fatalf("state k399 = %q", v)
	}
	t.Logf("%d proposals in %d entries", proposals, len(entries))
}

func TestGroupBootstrapsOnlyOnce(t *testing.T) {
	dir := t.TempDir()
	n := newTestNode(t, "n1", dir)
	g := openGroup(t, n.groupConfig("s0", newKV(), n.self()))
	if !g.Bootstrapped() {
		t.Fatal("fresh group was not bootstrapped")
	}
	waitLeader(t, g)
	_, idx1, err := g.Propose(ctxTimeout(t, 5*time.Second), setCmd("a", "a", "1", 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Shutdown(); err != nil {
		t.Fatal(err)
	}
	n.close()

	// Same bootstrap configuration again: the state on disk wins.
	n = newTestNode(t, "n1", dir)
	defer n.close()
	sm := newKV()
	g = openGroup(t, n.groupConfig("s0", sm, n.self()))
	defer g.Shutdown()
	if g.Bootstrapped() {
		t.Fatal("restarted group bootstrapped again")
	}
	if v, _ := sm.get("a"); v != "1" {
		t.Fatalf("state not loaded on restart: a=%q", v)
	}
	// The listener port changed; a single voter with a stale address still
	// elects itself (it never dials itself).
	waitLeader(t, g)
	r, idx2, err := g.Propose(ctxTimeout(t, 5*time.Second), setCmd("a", "a", "2", 2))
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(asErr(r), ErrDuplicateCommand) || idx2 <= idx1 {
		t.Fatalf("re-proposed id after restart: result %v index %d (first index %d)", r, idx2, idx1)
	}
	if v, _ := sm.get("a"); v != "1" {
		t.Fatalf("duplicate id changed state: a=%q", v)
	}
}

func asErr(v any) error { e, _ := v.(error); return e }

func TestGroupSnapshotThenRestartKeepsState(t *testing.T) {
	dir := t.TempDir()
	n := newTestNode(t, "n1", dir)
	g := openGroup(t, n.groupConfig("s0", newKV(), n.self()))
	waitLeader(t, g)
	ctx := ctxTimeout(t, 10*time.Second)
	for i := range 20 {
		if _, _, err := g.Propose(ctx, setCmd(fmt.Sprint(i), fmt.Sprint(i), "v", int64(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Snapshot(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := g.Propose(ctx, setCmd("after", "after", "v", 100)); err != nil {
		t.Fatal(err)
	}
	applied := g.AppliedIndex()
	g.Shutdown()
	n.close()

	n = newTestNode(t, "n1", dir)
	defer n.close()
	sm := newKV()
	g = openGroup(t, n.groupConfig("s0", sm, n.self()))
	defer g.Shutdown()
	if g.AppliedIndex() != applied || len(sm.snapshot()) != 21 || sm.loads != 1 {
		t.Fatalf("after restart applied=%d (want %d), %d keys (want 21), %d loads",
			g.AppliedIndex(), applied, len(sm.snapshot()), sm.loads)
	}
	waitLeader(t, g)
	if sm.applyCount() != 0 {
		t.Fatalf("restart re-applied %d commands already in the state DB", sm.applyCount())
	}

	// The new term's first entry is a no-op the FSM never sees, so this
	// snapshot's raft index is above the applied index. That must not make
	// the next open restore the snapshot over complete state.
	if err := g.Barrier(ctxTimeout(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := g.Snapshot(); err != nil {
		t.Fatal(err)
	}
	g.Shutdown()
	n.close()
	n = newTestNode(t, "n1", dir)
	defer n.close()
	sm = newKV()
	g = openGroup(t, n.groupConfig("s0", sm, n.self()))
	defer g.Shutdown()
	if sm.loads != 1 || len(sm.snapshot()) != 21 {
		t.Fatalf("second restart: %d loads (want 1, no restore), %d keys", sm.loads, len(sm.snapshot()))
	}
}

func TestProposeOnShutdownGroupFails(t *testing.T) {
	n := newTestNode(t, "n1", t.TempDir())
	defer n.close()
	g := openGroup(t, n.groupConfig("s0", newKV(), n.self()))
	waitLeader(t, g)
	g.Shutdown()
	_, _, err := g.Propose(context.Background(), setCmd("x", "x", "1", 1))
	if !errors.Is(err, ErrNotLeader) && !errors.Is(err, ErrShutdown) {
		t.Fatalf("propose after shutdown: %v", err)
	}
}

// If the state DB lost writes the log no longer holds (or a restore was cut
// short), opening restores the newest snapshot and raft replays the rest.
func TestGroupRecoversLostStateFromSnapshot(t *testing.T) {
	dir := t.TempDir()
	n := newTestNode(t, "n1", dir)
	g := openGroup(t, n.groupConfig("s0", newKV(), n.self()))
	waitLeader(t, g)
	ctx := ctxTimeout(t, 10*time.Second)
	for i := range 10 {
		if _, _, err := g.Propose(ctx, setCmd(fmt.Sprint(i), fmt.Sprint(i), "v", int64(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Snapshot(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := g.Propose(ctx, setCmd("after", "after", "v", 100)); err != nil {
		t.Fatal(err)
	}
	g.Shutdown()
	n.close()
	if err := os.RemoveAll(filepath.Join(dir, "state")); err != nil {
		t.Fatal(err)
	}

	n = newTestNode(t, "n1", dir)
	defer n.close()
	sm := newKV()
	g = openGroup(t, n.groupConfig("s0", sm, n.self()))
	defer g.Shutdown()
	if len(sm.snapshot()) != 10 {
		t.Fatalf("after open %d keys, want the snapshot's 10", len(sm.snapshot()))
	}
	eventually(t, 10*time.Second, "replay of the entry after the snapshot", func() bool {
		_, ok := sm.get("after")
		return ok
	})
}

func BenchmarkProposeThroughput(b *testing.B) {
	for _, perCPU := range []int{1, 32, 256} {
		b.Run(fmt.Sprintf("callers=%d", perCPU*runtime.GOMAXPROCS(0)), func(b *testing.B) {
			n := newTestNode(b, "n1", b.TempDir())
			defer n.close()
			cfg := n.groupConfig("s0", newKV(), n.self())
			cfg.Logger = slog.New(slog.DiscardHandler)
			g := openGroup(b, cfg)
			defer g.Shutdown()
			waitLeader(b, g)
			body := make([]byte, 200)
			var seq atomic.Int64
			first := g.LastIndex()
			b.SetParallelism(perCPU)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					i := seq.Add(1)
					cmd := &statemachine.Command{ID: fmt.Sprint(i), Store: "s", Op: "set", Time: i, Body: append([]byte(fmt.Sprintf("k%d=", i%1000)), body...)}
					if _, _, err := g.Propose(ctx, cmd); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			entries := g.LastIndex() - first
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cmds/s")
			b.ReportMetric(float64(b.N)/float64(max(entries, 1)), "cmds/entry")
		})
	}
}

func TestGroupConfigValidate(t *testing.T) {
	n := newTestNode(t, "n1", t.TempDir())
	defer n.close()
	good := n.groupConfig("s0", newKV(), n.self())
	if err := good.Validate(); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	for name, mutate := range map[string]func(*GroupConfig){
		"group id with slash": func(c *GroupConfig) { c.GroupID = "../x" },
		"no node id":          func(c *GroupConfig) { c.NodeID = "" },
		"no state machine":    func(c *GroupConfig) { c.StateMachine = nil },
		"lease above heartbeat": func(c *GroupConfig) {
			c.Timers.LeaderLeaseTimeout = 2 * c.Timers.HeartbeatTimeout
		},
		"bad log level":       func(c *GroupConfig) { c.RaftLogLevel = "loud" },
		"peer without addr":   func(c *GroupConfig) { c.Bootstrap = []Peer{{ID: "x"}} },
		"zero proposer batch": func(c *GroupConfig) { c.Proposer.MaxCommands = 0 },
	} {
		c := good
		mutate(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// A new replica whose missing entries were compacted away gets the leader's
// snapshot through raft (FSM.Restore), then the entries after it.
func TestNewReplicaInstallsSnapshot(t *testing.T) {
	n1 := newTestNode(t, "n1", t.TempDir())
	defer n1.close()
	n2 := newTestNode(t, "n2", t.TempDir())
	defer n2.close()
	cfg1 := n1.groupConfig("s0", newKV(), n1.self())
	cfg1.Timers.TrailingLogs = 5
	g1 := openGroup(t, cfg1)
	defer g1.Shutdown()
	waitLeader(t, g1)
	ctx := ctxTimeout(t, 10*time.Second)
	for i := range 40 {
		if _, _, err := g1.Propose(ctx, setCmd(fmt.Sprint("id", i), fmt.Sprint(i), "v", int64(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := g1.Snapshot(); err != nil {
		t.Fatal(err)
	}

	sm2 := newKV()
	g2 := openGroup(t, n2.groupConfig("s0", sm2, nil))
	defer g2.Shutdown()
	if g2.Bootstrapped() {
		t.Fatal("a group without bootstrap peers bootstrapped")
	}
	if err := g1.AddVoter(ctx, Peer{ID: "n2", Addr: n2.mux.Addr().String()}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := g1.Propose(ctx, setCmd("after", "after", "v", 100)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the new replica to catch up", func() bool {
		_, ok := sm2.get("after")
		return ok && len(sm2.snapshot()) == 41
	})
	sm2.mu.Lock()
	loads, applies := sm2.loads, sm2.applies
	sm2.mu.Unlock()
	if loads != 2 || applies >= 40 {
		t.Fatalf("new replica: %d loads, %d applies; want a snapshot restore (2 loads), not a full replay", loads, applies)
	}
}
