package shard

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/shard/statemachine"
)

// machines records the state machine of every (node, group).
type machines struct {
	mu sync.Mutex
	m  map[string]*kvMachine
}

func (ms *machines) factory(node string) func(string) statemachine.StateMachine {
	return func(group string) statemachine.StateMachine {
		ms.mu.Lock()
		defer ms.mu.Unlock()
		if ms.m == nil {
			ms.m = map[string]*kvMachine{}
		}
		sm := newKV()
		ms.m[node+"/"+group] = sm
		return sm
	}
}

func (ms *machines) get(node, group string) *kvMachine {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return ms.m[node+"/"+group]
}

func testConfig(node, dir, bind string, shards int, ms *machines) Config {
	c := DefaultConfig()
	c.NodeID, c.DataDir, c.RaftBind, c.Shards = node, dir, bind, shards
	c.NewStateMachine = ms.factory(node)
	c.Group.Timers = FastRaftTimers()
	return c
}

func openManager(t *testing.T, c Config) *Manager {
	t.Helper()
	m, err := Open(c)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestManagerPersistsShardCount(t *testing.T) {
	dir := t.TempDir()
	ms := &machines{}
	m := openManager(t, testConfig("n1", dir, "127.0.0.1:0", 4, ms))
	if m.ShardCount() != 4 || m.Meta() == nil || m.Group(MetaGroupID) != m.Meta() || m.Group(ShardGroupID(3)) != m.Shard(3) {
		t.Fatalf("manager groups wrong: %d shards", m.ShardCount())
	}
	if err := m.WaitReady(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, g := range m.Groups() {
		if !g.IsLeader() {
			t.Fatalf("WaitReady returned before group %s had a leader", g.ID())
		}
	}
	cmd := &statemachine.Command{ID: "c1", Store: "store-42", Op: "set", Time: 1, Body: []byte("name=shop")}
	res, _, err := m.ProposeStore(ctxTimeout(t, 5*time.Second), cmd)
	if err != nil || res != "set:name" {
		t.Fatalf("ProposeStore = %v, %v", res, err)
	}
	shard := m.ShardFor("store-42")
	if v, _ := ms.get("n1", ShardGroupID(shard)).get("name"); v != "shop" {
		t.Fatalf("command not applied on shard %d", shard)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	// A different flag on restart is ignored: the data layout depends on it.
	m = openManager(t, testConfig("n1", dir, "127.0.0.1:0", 8, ms))
	defer m.Close()
	if m.ShardCount() != 4 || m.ShardFor("store-42") != shard {
		t.Fatalf("restart with Shards=8 gave %d shards, want the persisted 4", m.ShardCount())
	}
	if v, _ := ms.get("n1", ShardGroupID(shard)).get("name"); v != "shop" {
		t.Fatal("state not reloaded after restart")
	}
	for _, g := range m.shards {
		if g.Bootstrapped() {
			t.Fatalf("group %s bootstrapped again on restart", g.ID())
		}
	}
}

// clusterTimers are a little slower than FastRaftTimers so that a loaded
// 2-core CI machine does not lose leader leases mid-test.
func clusterTimers() RaftTimers {
	t := FastRaftTimers()
	t.HeartbeatTimeout, t.ElectionTimeout = 250*time.Millisecond, 250*time.Millisecond
	t.LeaderLeaseTimeout = 125 * time.Millisecond
	return t
}

// leaderOf polls until one of the managers leads group id.
func leaderOf(t *testing.T, ms []*Manager, id string) *Manager {
	t.Helper()
	var leader *Manager
	eventually(t, 10*time.Second, "a leader of "+id, func() bool {
		for _, m := range ms {
			if m.Group(id).IsLeader() {
				leader = m
				return true
			}
		}
		return false
	})
	return leader
}

// onLeader runs op on the group's current leader, again while leadership
// moves (ErrNotLeader, ErrNoQuorum); op must be safe to repeat.
func onLeader(t *testing.T, ms []*Manager, id string, op func(*Manager) error) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := op(leaderOf(t, ms, id))
		if err == nil {
			return
		}
		if !errors.Is(err, ErrNotLeader) && !errors.Is(err, ErrNoQuorum) || time.Now().After(deadline) {
			t.Fatalf("group %s: %v", id, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func proposeOn(ctxT *testing.T, cmd *statemachine.Command, id string) func(*Manager) error {
	return func(m *Manager) error {
		res, _, err := m.Group(id).Propose(ctxTimeout(ctxT, 5*time.Second), cmd)
		if err == nil && res != "set:"+strings.SplitN(string(cmd.Body), "=", 2)[0] && res != ErrDuplicateCommand {
			return fmt.Errorf("unexpected result %v", res)
		}
		return err
	}
}

func TestThreeNodeCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three in-process nodes")
	}
	ms := &machines{}
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	cfg := func(i int, join bool, bind string) Config {
		c := testConfig(fmt.Sprint("n", i+1), dirs[i], bind, 2, ms)
		c.Join = join
		c.Group.Timers = clusterTimers()
		return c
	}
	m1 := openManager(t, cfg(0, false, "127.0.0.1:0"))
	m2 := openManager(t, cfg(1, true, "127.0.0.1:0"))
	defer m2.Close()
	m3 := openManager(t, cfg(2, true, "127.0.0.1:0"))
	defer m3.Close()
	all := []*Manager{m1, m2, m3}
	groups := []string{MetaGroupID, ShardGroupID(0), ShardGroupID(1)}
	for _, id := range groups {
		for _, m := range []*Manager{m2, m3} {
			p := Peer{ID: m.cfg.NodeID, Addr: m.RaftAddr()}
			onLeader(t, all, id, func(l *Manager) error { return l.Group(id).AddVoter(ctxTimeout(t, 5*time.Second), p) })
		}
		onLeader(t, all, id, func(l *Manager) error {
			v, nv, err := l.Group(id).Configuration()
			if err == nil && (len(v) != 3 || len(nv) != 0) {
				t.Fatalf("group %s voters = %v, non-voters %v", id, v, nv)
			}
			return err
		})
	}

	// Membership steps of a shard move: demote, promote, hand over.
	p3 := Peer{ID: "n3", Addr: m3.RaftAddr()}
	onLeader(t, all, MetaGroupID, func(l *Manager) error {
		if l == m3 {
			return l.Meta().TransferLeadership(ctxTimeout(t, 5*time.Second), nil)
		}
		if err := l.Meta().DemoteVoter(ctxTimeout(t, 5*time.Second), "n3"); err != nil {
			return err
		}
		v, nv, err := l.Meta().Configuration()
		if err == nil && (len(v) != 2 || len(nv) != 1 || nv[0] != p3) {
			t.Fatalf("after demote: voters %v non-voters %v", v, nv)
		}
		return err
	})
	onLeader(t, all, MetaGroupID, func(l *Manager) error { return l.Meta().AddVoter(ctxTimeout(t, 5*time.Second), p3) })
	s1 := ShardGroupID(1)
	onLeader(t, all, s1, func(l *Manager) error {
		if l == m2 {
			return nil
		}
		return l.Group(s1).TransferLeadership(ctxTimeout(t, 5*time.Second), &Peer{ID: "n2", Addr: m2.RaftAddr()})
	})
	eventually(t, 5*time.Second, "n2 to lead "+s1, m2.Group(s1).IsLeader)

	// Replication: a write on the leader reaches every replica.
	s0 := ShardGroupID(0)
	onLeader(t, all, s0, proposeOn(t, setCmd("w1", "k", "v1", 1), s0))
	for _, n := range []string{"n1", "n2", "n3"} {
		eventually(t, 5*time.Second, "replication to "+n, func() bool {
			v, _ := ms.get(n, s0).get("k")
			return v == "v1"
		})
	}
	// A follower refuses writes and names the leader.
	eventually(t, 5*time.Second, "a follower to name the leader", func() bool {
		leader := leaderOf(t, all, s0)
		for _, f := range all {
			if f == leader {
				continue
			}
			_, _, err := f.Group(s0).Propose(ctxTimeout(t, time.Second), setCmd("w2", "k", "x", 2))
			var nl *NotLeaderError
			if !errors.As(err, &nl) || !errors.Is(err, ErrNotLeader) {
				t.Fatalf("follower propose err = %v, want a NotLeaderError", err)
			}
			return nl.LeaderAddr == leader.RaftAddr() && nl.LeaderID == leader.cfg.NodeID
		}
		return false
	})

	// Stop the leader of s0: the two others elect one and still commit.
	old := leaderOf(t, all, s0)
	oldIdx := slices.Index(all, old)
	addr := old.RaftAddr()
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	rest := slices.Delete(slices.Clone(all), oldIdx, oldIdx+1)
	onLeader(t, rest, s0, proposeOn(t, setCmd("w3", "k", "v3", 3), s0))
	for _, m := range rest {
		eventually(t, 5*time.Second, "replication to "+m.cfg.NodeID, func() bool {
			v, _ := ms.get(m.cfg.NodeID, s0).get("k")
			return v == "v3"
		})
	}

	// The stopped node restarts on its old address and catches up.
	back := openManager(t, cfg(oldIdx, oldIdx != 0, addr))
	defer back.Close()
	if m1 != old {
		defer m1.Close()
	}
	node := back.cfg.NodeID
	// Loaded from its own disk (v1), or already caught up (v3).
	if v, _ := ms.get(node, s0).get("k"); v != "v1" && v != "v3" {
		t.Fatalf("restarted node state = %q, want v1 from its own disk", v)
	}
	eventually(t, 10*time.Second, "restarted node to catch up", func() bool {
		v, _ := ms.get(node, s0).get("k")
		return v == "v3"
	})
	for _, g := range back.Groups() {
		if g.Bootstrapped() {
			t.Fatal("restarted node re-bootstrapped")
		}
	}
}

// Every goroutine the manager starts (badger, raft, transport, proposer,
// GC loops) is gone after Close.
func TestManagerCloseLeavesNoGoroutines(t *testing.T) {
	base := runtime.NumGoroutine()
	ms := &machines{}
	m := openManager(t, testConfig("n1", t.TempDir(), "127.0.0.1:0", 2, ms))
	waitLeader(t, m.Shard(0))
	if _, _, err := m.Shard(0).Propose(ctxTimeout(t, 5*time.Second), setCmd("a", "a", "1", 1)); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after Close, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDropShardData: a closed shard's Raft log, stable state, applied
// state and snapshots are deleted; an open shard refuses; the other
// shards keep theirs; reopening the dropped shard starts it empty.
func TestDropShardData(t *testing.T) {
	dir := t.TempDir()
	ms := &machines{}
	m := openManager(t, testConfig("n1", dir, "127.0.0.1:0", 4, ms))
	defer func() { m.Close() }()
	if err := m.WaitReady(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if _, _, err := m.Shard(i).Propose(ctxTimeout(t, 5*time.Second), setCmd(fmt.Sprintf("c%d", i), "k", fmt.Sprint(i), 1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Shard(1).Snapshot(); err != nil {
		t.Fatal(err)
	}
	snapDir := filepath.Join(dir, "snapshots", ShardGroupID(1))
	if ents, _ := os.ReadDir(snapDir); len(ents) == 0 {
		t.Fatal("no snapshot written")
	}
	if _, err := m.DropShardData(1); !errors.Is(err, ErrShardOpen) {
		t.Fatalf("drop of an open shard: %v, want ErrShardOpen", err)
	}
	if err := m.CloseShard(1); err != nil {
		t.Fatal(err)
	}
	if ok, err := m.HasShardData(1); !ok || err != nil {
		t.Fatalf("closed shard has data = %v, %v; want true", ok, err)
	}
	keys, err := m.DropShardData(1)
	if err != nil || keys == 0 {
		t.Fatalf("DropShardData = %d, %v", keys, err)
	}
	if ok, err := m.HasShardData(1); ok || err != nil {
		t.Fatalf("after the drop, has data = %v, %v", ok, err)
	}
	if _, err := os.Stat(snapDir); !os.IsNotExist(err) {
		t.Fatalf("snapshot dir still there: %v", err)
	}
	for _, i := range []int{0, 2, 3} {
		if ok, _ := m.HasShardData(i); !ok {
			t.Fatalf("shard %d lost its data", i)
		}
	}
	// Reopened, the group has no state: it bootstraps again (a cluster
	// node would instead wait for the leader's snapshot).
	g, err := m.OpenShard(1, m.Self())
	if err != nil {
		t.Fatal(err)
	}
	if !g.Bootstrapped() || g.AppliedIndex() != 0 {
		t.Fatalf("reopened shard: bootstrapped %v, applied %d; want a fresh group", g.Bootstrapped(), g.AppliedIndex())
	}
	if v, _ := ms.get("n1", ShardGroupID(1)).get("k"); v != "" {
		t.Fatalf("reopened shard still holds k=%q", v)
	}
	// The others survive a restart with their state.
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m = openManager(t, testConfig("n1", dir, "127.0.0.1:0", 4, ms))
	for _, i := range []int{0, 2, 3} {
		if v, _ := ms.get("n1", ShardGroupID(i)).get("k"); v != fmt.Sprint(i) {
			t.Fatalf("shard %d after restart: k=%q, want %d", i, v, i)
		}
	}
}

// TestManagerStartLogsOnce: a fresh node bootstraps every group, and says
// so in one Info line (not one per group), naming the node once per line.
func TestManagerStartLogsOnce(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	h := slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelInfo})
	c := testConfig("n1", t.TempDir(), "127.0.0.1:0", 8, &machines{})
	c.Logger = slog.New(h).With("node", "n1")
	m := openManager(t, c)
	defer m.Close()
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if n := strings.Count(out, "bootstrapped raft group"); n != 0 {
		t.Errorf("%d per-group bootstrap lines at Info", n)
	}
	var started string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "node=n1 node=n1") {
			t.Errorf("node named twice: %s", line)
		}
		if strings.Contains(line, `msg="raft groups started"`) {
			started = line
		}
	}
	if !strings.Contains(started, "bootstrapped=9") || !strings.Contains(started, "node=n1") {
		t.Fatalf("start line %q, want node=n1 and bootstrapped=9 (meta + 8 shards); log:\n%s", started, out)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
