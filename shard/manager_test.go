package shard

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
)

// machines records the state machine of every (node, group).
type machines struct {
	mu sync.Mutex
	m  map[string]*kvMachine
}

func (ms *machines) factory(node string) func(string) StateMachine {
	return func(group string) StateMachine {
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
	cmd := &Command{ID: "c1", Store: "store-42", Op: "set", Time: 1, Body: []byte("name=shop")}
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

func TestThreeNodeCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three in-process nodes")
	}
	ms := &machines{}
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	m1 := openManager(t, testConfig("n1", dirs[0], "127.0.0.1:0", 2, ms))
	c2 := testConfig("n2", dirs[1], "127.0.0.1:0", 2, ms)
	c2.Join = true
	m2 := openManager(t, c2)
	defer m2.Close()
	c3 := testConfig("n3", dirs[2], "127.0.0.1:0", 2, ms)
	c3.Join = true
	m3 := openManager(t, c3)
	defer m3.Close()
	groups := []string{MetaGroupID, ShardGroupID(0), ShardGroupID(1)}
	for _, id := range groups {
		g := m1.Group(id)
		waitLeader(t, g)
		for _, m := range []*Manager{m2, m3} {
			if err := g.AddVoter(ctxTimeout(t, 5*time.Second), Peer{ID: m.cfg.NodeID, Addr: m.RaftAddr()}); err != nil {
				t.Fatalf("add voter to %s: %v", id, err)
			}
		}
		if v, nv, err := g.Configuration(); err != nil || len(v) != 3 || len(nv) != 0 {
			t.Fatalf("group %s voters = %v, non-voters %v, %v", id, v, nv, err)
		}
	}

	// Membership steps of a shard move: demote, promote, hand over.
	meta := m1.Meta()
	p3 := Peer{ID: "n3", Addr: m3.RaftAddr()}
	if err := meta.DemoteVoter(ctxTimeout(t, 5*time.Second), "n3"); err != nil {
		t.Fatal(err)
	}
	if v, nv, _ := meta.Configuration(); len(v) != 2 || len(nv) != 1 || nv[0] != p3 {
		t.Fatalf("after demote: voters %v non-voters %v", v, nv)
	}
	if err := meta.AddVoter(ctxTimeout(t, 5*time.Second), p3); err != nil {
		t.Fatal(err)
	}
	s1 := ShardGroupID(1)
	if err := m1.Group(s1).TransferLeadership(ctxTimeout(t, 5*time.Second), &Peer{ID: "n2", Addr: m2.RaftAddr()}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "n2 to lead "+s1, m2.Group(s1).IsLeader)

	// Replication: a write on the leader reaches every replica.
	s0 := ShardGroupID(0)
	if _, _, err := m1.Group(s0).Propose(ctxTimeout(t, 5*time.Second), setCmd("w1", "k", "v1", 1)); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"n1", "n2", "n3"} {
		eventually(t, 5*time.Second, "replication to "+n, func() bool {
			v, _ := ms.get(n, s0).get("k")
			return v == "v1"
		})
	}
	// A follower refuses writes and names the leader.
	_, _, err := m2.Group(s0).Propose(ctxTimeout(t, time.Second), setCmd("w2", "k", "x", 2))
	var nl *NotLeaderError
	if !errors.As(err, &nl) || !errors.Is(err, ErrNotLeader) || nl.LeaderAddr != m1.RaftAddr() || nl.LeaderID != "n1" {
		t.Fatalf("follower propose err = %v, want NotLeaderError naming n1 at %s", err, m1.RaftAddr())
	}

	// Stop the leader: the two others elect one and still commit.
	addr1 := m1.RaftAddr()
	if err := m1.Close(); err != nil {
		t.Fatal(err)
	}
	var leader *Manager
	eventually(t, 10*time.Second, "a new leader of "+s0, func() bool {
		for _, m := range []*Manager{m2, m3} {
			if m.Group(s0).IsLeader() {
				leader = m
				return true
			}
		}
		return false
	})
	if _, _, err := leader.Group(s0).Propose(ctxTimeout(t, 5*time.Second), setCmd("w3", "k", "v3", 3)); err != nil {
		t.Fatalf("commit with one node down: %v", err)
	}
	for _, n := range []string{"n2", "n3"} {
		eventually(t, 5*time.Second, "replication to "+n, func() bool {
			v, _ := ms.get(n, s0).get("k")
			return v == "v3"
		})
	}

	// The stopped node restarts on its old address and catches up.
	m1 = openManager(t, testConfig("n1", dirs[0], addr1, 2, ms))
	defer m1.Close()
	// Loaded from its own disk (v1), or already caught up (v3).
	if v, _ := ms.get("n1", s0).get("k"); v != "v1" && v != "v3" {
		t.Fatalf("restarted node state = %q, want v1 from its own disk", v)
	}
	eventually(t, 10*time.Second, "restarted node to catch up", func() bool {
		v, _ := ms.get("n1", s0).get("k")
		return v == "v3"
	})
	for _, g := range m1.shards {
		if g.Bootstrapped() {
			t.Fatal("restarted node re-bootstrapped")
		}
	}
	_ = fmt.Sprint()
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
