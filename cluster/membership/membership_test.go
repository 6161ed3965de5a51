package membership

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/cluster/reconcile"
)

func fastConfig(id string, seeds ...string) Config {
	c := DefaultConfig()
	c.NodeID = id
	c.BindAddr = "127.0.0.1:0"
	c.HTTPAddr = "127.0.0.1:8" + id[len(id)-1:]
	c.RaftAddr = "127.0.0.1:9" + id[len(id)-1:]
	c.Seeds = seeds
	c.RejoinInterval = 50 * time.Millisecond
	c.ProbeInterval = 50 * time.Millisecond
	c.ProbeTimeout = 25 * time.Millisecond
	c.GossipInterval = 10 * time.Millisecond
	c.PushPullInterval = 500 * time.Millisecond
	c.SuspicionMult = 2
	c.TCPTimeout = 500 * time.Millisecond
	c.DeadNodeReclaimTime = 100 * time.Millisecond
	c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return c
}

func start(t *testing.T, cfg Config) *Membership {
	t.Helper()
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	return m
}

// eventually polls cond until it holds or the deadline passes; cond
// returns a description of what it saw, for the failure message.
func eventually(t *testing.T, within time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, seen := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v: %s", within, seen)
		}
		<-tick.C
	}
}

// view renders a member list as "id:state" pairs.
func view(ms []Member) string {
	var b []string
	for _, m := range ms {
		b = append(b, m.ID+":"+m.State.String())
	}
	return strings.Join(b, " ")
}

func seesState(m *Membership, id string, st reconcile.MemberState) func() (bool, string) {
	return func() (bool, string) {
		got, ok := m.Member(id)
		return ok && got.State == st, m.cfg.NodeID + " sees " + view(m.Members())
	}
}

func TestConfigValidate(t *testing.T) {
	good := fastConfig("n1")
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Config){
		"no id":          func(c *Config) { c.NodeID = "" },
		"bad bind":       func(c *Config) { c.BindAddr = "nohost" },
		"bad port":       func(c *Config) { c.BindAddr = "127.0.0.1:99999" },
		"bad advertise":  func(c *Config) { c.AdvertiseAddr = "x" },
		"bad seed":       func(c *Config) { c.Seeds = []string{"host-without-port"} },
		"zero interval":  func(c *Config) { c.RejoinInterval = 0 },
		"timeout>probe":  func(c *Config) { c.ProbeTimeout = c.ProbeInterval },
		"suspicion":      func(c *Config) { c.SuspicionMult = 0 },
		"huge meta":      func(c *Config) { c.HTTPAddr = strings.Repeat("h", 600) },
		"negative ttl":   func(c *Config) { c.TombstoneTTL = -1 },
		"zero push-pull": func(c *Config) { c.PushPullInterval = 0 },
	} {
		c := good
		mut(&c)
		if err := c.Validate(); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%s: got %v", name, err)
		}
	}
}

func TestThreeMembersJoinFailLeave(t *testing.T) {
	before := runtime.NumGoroutine()
	m1 := start(t, fastConfig("n1"))
	changes, cancel := m1.Subscribe()
	defer cancel()
	select {
	case <-changes:
		t.Fatal("change signalled before anyone joined")
	default:
	}
	m2 := start(t, fastConfig("n2", m1.Addr()))
	m3 := start(t, fastConfig("n3", m1.Addr()))

	all := []*Membership{m1, m2, m3}
	for _, m := range all {
		for _, id := range []string{"n1", "n2", "n3"} {
			eventually(t, 5*time.Second, seesState(m, id, reconcile.Alive))
		}
	}
	// Metadata travels: every node knows every other node's addresses.
	for _, m := range all {
		for _, other := range all {
			got, _ := m.Member(other.cfg.NodeID)
			want := other.Local()
			if got.Meta != want.Meta || got.GossipAddr != want.GossipAddr {
				t.Fatalf("%s sees %s as %+v, want %+v", m.cfg.NodeID, other.cfg.NodeID, got, want)
			}
		}
	}
	select {
	case <-changes:
	default:
		t.Fatal("no change signalled to a subscriber after joins")
	}

	// Draining is gossiped as a metadata update.
	if err := m2.SetDraining(true); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() (bool, string) {
		got, _ := m1.Member("n2")
		return got.Draining, fmt.Sprintf("%+v", got)
	})

	// A crash-like stop is seen as failed; a leave as left.
	start3 := time.Now()
	if err := m3.Shutdown(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, seesState(m1, "n3", reconcile.Failed))
	eventually(t, 10*time.Second, seesState(m2, "n3", reconcile.Failed))
	got, _ := m1.Member("n3")
	if got.Since.Before(start3) {
		t.Fatalf("failed since %v, before the shutdown at %v", got.Since, start3)
	}
	if got.RaftAddr != m3.cfg.RaftAddr {
		t.Fatalf("tombstone lost its metadata: %+v", got)
	}

	t.Logf("before leave: %s", view(m1.Members()))
	if err := m2.Leave(time.Second); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, seesState(m1, "n2", reconcile.Left))
	if err := m2.Leave(time.Second); !errors.Is(err, ErrStopped) {
		t.Fatalf("second leave: %v", err)
	}
	if err := m2.SetDraining(false); !errors.Is(err, ErrStopped) {
		t.Fatalf("draining after leave: %v", err)
	}
	for _, m := range all {
		select {
		case <-m.loopDone:
			if m == m1 {
				t.Fatal("m1's rejoin loop stopped early")
			}
		default:
			if m != m1 {
				t.Fatalf("%s: rejoin loop still running after stop", m.cfg.NodeID)
			}
		}
	}
	if err := m1.Shutdown(); err != nil {
		t.Fatal(err)
	}
	// Every goroutine the three members started ends.
	eventually(t, 10*time.Second, func() (bool, string) {
		n := runtime.NumGoroutine()
		return n <= before, fmt.Sprintf("%d goroutines, %d before", n, before)
	})
}

// A node that lost everyone keeps dialling its seeds until one answers.
func TestLoneNodeRejoinsSeeds(t *testing.T) {
	seed := start(t, fastConfig("s1"))
	addr := seed.Addr()
	m := start(t, fastConfig("n2", addr))
	eventually(t, 5*time.Second, seesState(m, "s1", reconcile.Alive))
	if err := seed.Shutdown(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, seesState(m, "s1", reconcile.Failed))

	// A fresh process on the seed's address, which knows nobody.
	cfg := fastConfig("s9")
	cfg.BindAddr = addr
	var fresh *Membership
	eventually(t, 5*time.Second, func() (bool, string) {
		var err error
		fresh, err = New(cfg) // the port may take a moment to free up
		return err == nil, fmt.Sprint(err)
	})
	t.Cleanup(func() { _ = fresh.Shutdown() })
	eventually(t, 10*time.Second, seesState(fresh, "n2", reconcile.Alive))
	eventually(t, 10*time.Second, seesState(m, "s9", reconcile.Alive))
}

func TestStartsWithoutReachableSeeds(t *testing.T) {
	// Nothing listens on the seed: New must still succeed and keep trying.
	probe := start(t, fastConfig("p1"))
	dead := probe.Addr()
	if err := probe.Shutdown(); err != nil {
		t.Fatal(err)
	}
	m := start(t, fastConfig("n1", dead))
	if got := len(m.Members()); got != 1 {
		t.Fatalf("lone node sees %d members", got)
	}
	if _, err := m.Join([]string{dead}); err == nil {
		t.Fatal("join of a dead address succeeded")
	}
}

func mustKey(t *testing.T) []byte {
	t.Helper()
	s, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseKeys(s)
	if err != nil || len(k) != 1 {
		t.Fatalf("ParseKeys(NewKey()) = %v, %v", k, err)
	}
	return k[0]
}

// Members sharing the gossip key form a cluster; a node with another key,
// or with none, never enters anyone's view, and sees no one.
func TestGossipKeyKeepsStrangersOut(t *testing.T) {
	key, other := mustKey(t), mustKey(t)
	withKeys := func(c Config, keys ...[]byte) Config { c.Keys = keys; return c }
	a := start(t, withKeys(fastConfig("n1"), key))
	// n2 knows the old key as a secondary: rotation keeps it in.
	b := start(t, withKeys(fastConfig("n2", a.Addr()), key, other))
	eventually(t, 5*time.Second, seesState(a, "n2", reconcile.Alive))
	eventually(t, 5*time.Second, seesState(b, "n1", reconcile.Alive))

	wrong := start(t, withKeys(fastConfig("n3", a.Addr()), mustKey(t)))
	plain := start(t, fastConfig("n4", a.Addr()))
	// Several rejoin rounds and push/pulls of the strangers.
	time.Sleep(1500 * time.Millisecond)
	for _, m := range []*Membership{a, b} {
		for _, id := range []string{"n3", "n4"} {
			if _, ok := m.Member(id); ok {
				t.Errorf("%s let stranger %s in: %s", m.cfg.NodeID, id, view(m.Members()))
			}
		}
	}
	for _, m := range []*Membership{wrong, plain} {
		if _, ok := m.Member("n1"); ok {
			t.Errorf("stranger %s sees the cluster: %s", m.cfg.NodeID, view(m.Members()))
		}
	}
}

func TestParseKeys(t *testing.T) {
	k1, _ := NewKey()
	k2, _ := NewKey()
	keys, err := ParseKeys(k1 + ", " + k2)
	if err != nil || len(keys) != 2 {
		t.Fatalf("two keys: %v, %v", keys, err)
	}
	for _, bad := range []string{"not base64!", "c2hvcnQ="} {
		if _, err := ParseKeys(bad); err == nil {
			t.Errorf("ParseKeys(%q) accepted", bad)
		}
	}
	c := fastConfig("n1")
	c.Keys = [][]byte{[]byte("short")}
	if err := c.Validate(); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("short key: %v", err)
	}
}
