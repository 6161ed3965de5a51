package control

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/cluster/membership"
	"github.com/sibylhq/sibyl/cluster/reconcile"
)

func gossipConfig(id string, seeds ...string) membership.Config {
	c := membership.DefaultConfig()
	c.NodeID = id
	c.BindAddr = "127.0.0.1:0"
	c.HTTPAddr, c.RaftAddr = id+":8080", id+":7000"
	c.Seeds = seeds
	c.RejoinInterval = 50 * time.Millisecond
	c.ProbeInterval = 50 * time.Millisecond
	c.ProbeTimeout = 25 * time.Millisecond
	c.GossipInterval = 10 * time.Millisecond
	c.PushPullInterval = 500 * time.Millisecond
	c.SuspicionMult = 2
	c.TCPTimeout = 500 * time.Millisecond
	c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return c
}

// TestReconcileOverRealGossip drives the controller from a real memberlist
// view: a crashed node keeps its replicas during the grace period, a node
// that leaves is drained at once, and the crashed one is replaced once the
// grace period is over.
func TestReconcileOverRealGossip(t *testing.T) {
	var ms []*membership.Membership
	for i := range 3 {
		var seeds []string
		if i > 0 {
			seeds = []string{ms[0].Addr()}
		}
		m, err := membership.New(gossipConfig(fmt.Sprintf("n%d", i+1), seeds...))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = m.Shutdown() })
		ms = append(ms, m)
	}
	f := newFake("n1")
	cfg := testConfig()
	cfg.Reconcile.StabilizeTime = 0
	cfg.Reconcile.GracePeriod = time.Hour
	c, err := New(cfg, MembersOf(ms[0]), f, f)
	if err != nil {
		t.Fatal(err)
	}
	// until runs rounds until cond holds and the fake has converged.
	until := func(c *Controller, what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			p, err := c.Round(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if cond() && f.converged() && len(p.Steps) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: table %v, view %v", what, f.Table().Nodes(), ms[0].Members())
			}
			time.Sleep(5 * time.Millisecond) // poll interval
		}
	}
	tableIs := func(want string) func() bool {
		return func() bool { return fmt.Sprint(f.Table().Nodes()) == want }
	}
	until(c, "three nodes placed", tableIs("[n1 n2 n3]"))
	if got := fmt.Sprint(f.metaVoters()); got != "[n1 n2 n3]" {
		t.Fatalf("meta voters %s", got)
	}

	// Crash n3: it is failed in n1's view but keeps its replicas.
	if err := ms[2].Shutdown(); err != nil {
		t.Fatal(err)
	}
	until(c, "n3 seen failed", func() bool {
		m, _ := ms[0].Member("n3")
		return m.State == reconcile.Failed
	})
	version := f.Table().Version
	if p, _ := c.Round(context.Background()); slices.ContainsFunc(p.Steps, func(s reconcile.Step) bool { return s.Kind != reconcile.Promote }) ||
		fmt.Sprint(p.Unhealthy) != "[n3]" {
		t.Fatalf("within grace: steps %v unhealthy %v", p.Steps, p.Unhealthy)
	}

	// n2 leaves gracefully: drained at once, n3 still inside its grace.
	if err := ms[1].Leave(time.Second); err != nil {
		t.Fatal(err)
	}
	until(c, "n2 drained", tableIs("[n1 n3]"))
	if f.Table().Version != version+1 {
		t.Fatalf("table went from v%d to v%d", version, f.Table().Version)
	}

	// The grace period passes (a controller with a short one stands in
	// for waiting an hour): n3 is replaced, here by nobody but n1.
	short := cfg
	short.Reconcile.GracePeriod = time.Millisecond
	c2, err := New(short, MembersOf(ms[0]), f, f)
	if err != nil {
		t.Fatal(err)
	}
	until(c2, "n3 replaced after grace", tableIs("[n1]"))
	if got := fmt.Sprint(f.metaVoters()); got != "[n1]" {
		t.Fatalf("meta voters at the end %s", got)
	}
}
