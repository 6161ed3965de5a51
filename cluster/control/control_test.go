package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/cluster/membership"
	"github.com/sibylhq/sibyl/cluster/placement"
	"github.com/sibylhq/sibyl/cluster/reconcile"
)

var errInjected = errors.New("injected failure")

// fakeCluster implements Members, Meta and Shards over in-memory state.
type fakeCluster struct {
	mu      sync.Mutex
	leader  bool
	members []reconcile.Member
	table   placement.Table
	shards  map[int]*reconcile.ShardStatus
	failAdd int // fail this many AddNonVoter calls
	calls   []string
	statusN int
}

func newFake(nodes ...string) *fakeCluster {
	f := &fakeCluster{leader: true, shards: map[int]*reconcile.ShardStatus{}}
	// The first node bootstrapped the meta group alone.
	f.shards[reconcile.MetaShard] = &reconcile.ShardStatus{Shard: reconcile.MetaShard, Leader: nodes[0],
		Replicas: []reconcile.Replica{{Node: nodes[0], Voter: true}}}
	for _, n := range nodes {
		f.members = append(f.members, reconcile.Member{ID: n, State: reconcile.Alive, Since: time.Unix(0, 0)})
	}
	return f
}

func (f *fakeCluster) Members() []reconcile.Member {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.members)
}
func (f *fakeCluster) IsLeader() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.leader }
func (f *fakeCluster) Table() placement.Table {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.table.Clone()
}
func (f *fakeCluster) CommitTable(_ context.Context, t placement.Table) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("commit v%d", t.Version))
	if t.Version != f.table.Version+1 {
		return fmt.Errorf("stale: %w", errInjected)
	}
	f.table = t.Clone()
	// The node creates groups that do not exist yet on the table's nodes.
	for s, r := range t.Shards {
		if _, ok := f.shards[s]; !ok {
			st := &reconcile.ShardStatus{Shard: s, Leader: r[0]}
			for _, n := range r {
				st.Replicas = append(st.Replicas, reconcile.Replica{Node: n, Voter: true})
			}
			f.shards[s] = st
		}
	}
	return nil
}
func (f *fakeCluster) Status(_ context.Context, s int) (reconcile.ShardStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.statusN++
	st, ok := f.shards[s]
	if !ok {
		return reconcile.ShardStatus{Shard: s}, nil
	}
	out := *st
	out.Replicas = slices.Clone(st.Replicas)
	// Anything added last round has caught up by now.
	for i := range st.Replicas {
		st.Replicas[i].CaughtUp = true
	}
	return out, nil
}
func (f *fakeCluster) replica(s int, n string) int {
	return slices.IndexFunc(f.shards[s].Replicas, func(r reconcile.Replica) bool { return r.Node == n })
}
func (f *fakeCluster) AddNonVoter(_ context.Context, s int, n string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("add %d %s", s, n))
	if f.failAdd > 0 {
		f.failAdd--
		return errInjected
	}
	f.shards[s].Replicas = append(f.shards[s].Replicas, reconcile.Replica{Node: n})
	return nil
}
func (f *fakeCluster) Promote(_ context.Context, s int, n string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("promote %d %s", s, n))
	f.shards[s].Replicas[f.replica(s, n)].Voter = true
	return nil
}
func (f *fakeCluster) TransferLeadership(_ context.Context, s int, from, to string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("transfer %d %s %s", s, from, to))
	f.shards[s].Leader = to
	return nil
}
func (f *fakeCluster) RemoveReplica(_ context.Context, s int, n string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("remove %d %s", s, n))
	if f.shards[s].Leader == n {
		return errors.New("removing the leader")
	}
	i := f.replica(s, n)
	f.shards[s].Replicas = slices.Delete(f.shards[s].Replicas, i, i+1)
	return nil
}

func (f *fakeCluster) metaVoters() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.shards[reconcile.MetaShard].Replicas {
		if r.Voter {
			out = append(out, r.Node)
		}
	}
	slices.Sort(out)
	return out
}

func (f *fakeCluster) converged() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.shards[reconcile.MetaShard].Replicas {
		if !r.Voter {
			return false
		}
	}
	for s, want := range f.table.Shards {
		var got []string
		for _, r := range f.shards[s].Replicas {
			if !r.Voter {
				return false
			}
			got = append(got, r.Node)
		}
		if !placement.SameAssignment(placement.Table{Shards: [][]string{got}}, placement.Table{Shards: [][]string{want}}) {
			return false
		}
	}
	return true
}

func testConfig() Config {
	c := DefaultConfig()
	c.Reconcile.Shards = 16
	c.Reconcile.GracePeriod = time.Minute
	c.Interval = 5 * time.Millisecond
	c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return c
}

func newController(t *testing.T, f *fakeCluster, clock *time.Time) *Controller {
	t.Helper()
	c, err := New(testConfig(), f, f, f)
	if err != nil {
		t.Fatal(err)
	}
	c.now = func() time.Time { return *clock }
	return c
}

// rounds runs rounds until the fake converges with no steps left.
func rounds(t *testing.T, c *Controller, f *fakeCluster, clock *time.Time) int {
	t.Helper()
	for i := 1; i <= 200; i++ {
		p, err := c.Round(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		*clock = clock.Add(time.Second)
		if len(p.Steps) == 0 && len(p.Waiting) == 0 && f.converged() {
			return i
		}
	}
	t.Fatalf("no convergence; calls %v", f.calls)
	return 0
}

func TestFollowerDoesNothing(t *testing.T) {
	clock := time.Unix(1000, 0)
	f := newFake("a", "b", "c")
	f.leader = false
	c := newController(t, f, &clock)
	p, err := c.Round(context.Background())
	if err != nil || len(p.Steps) != 0 || len(f.calls) != 0 || f.statusN != 0 {
		t.Fatalf("follower acted: plan %+v calls %v status reads %d err %v", p, f.calls, f.statusN, err)
	}
}

func TestBootstrapJoinAndRetry(t *testing.T) {
	clock := time.Unix(1000, 0)
	f := newFake("a", "b", "c")
	c := newController(t, f, &clock)
	rounds(t, c, f, &clock)
	if f.table.Version != 1 || len(f.table.Shards) != 16 || fmt.Sprint(f.table.Nodes()) != "[a b c]" {
		t.Fatalf("bootstrap table %+v", f.table)
	}
	if got := fmt.Sprint(f.metaVoters()); got != "[a b c]" {
		t.Fatalf("meta voters %s after bootstrap", got)
	}

	// d joins; the first two adds fail and must be retried.
	f.mu.Lock()
	f.members = append(f.members, reconcile.Member{ID: "d", State: reconcile.Alive, Since: clock.Add(-time.Hour)})
	f.failAdd = 2
	f.calls = nil
	f.mu.Unlock()
	rounds(t, c, f, &clock)
	if f.table.Version != 2 || len(f.table.ShardsOf("d")) == 0 {
		t.Fatalf("join table %+v", f.table)
	}
	adds := 0
	for _, call := range f.calls {
		if call[:3] == "add" {
			adds++
		}
	}
	if want := len(f.table.ShardsOf("d")) + 2; adds != want {
		t.Fatalf("%d add calls, want %d (one per moved replica plus 2 retries): %v", adds, want, f.calls)
	}
	if p := c.LastPlan(); len(p.Steps) != 0 || fmt.Sprint(p.Eligible) != "[a b c d]" {
		t.Fatalf("last plan %+v", p)
	}
}

// A node that becomes meta leader gives nodes it has not heard of a full
// grace period from the moment it took over.
func TestNewLeaderWaitsGraceForUnknownNodes(t *testing.T) {
	clock := time.Unix(1000, 0)
	f := newFake("a", "b", "c", "d")
	c := newController(t, f, &clock)
	rounds(t, c, f, &clock)

	// Leadership moves away and comes back while c vanished from the view
	// (memberlist forgot it).
	f.mu.Lock()
	f.leader = false
	f.members = slices.DeleteFunc(f.members, func(m reconcile.Member) bool { return m.ID == "c" })
	f.mu.Unlock()
	c.Round(context.Background())
	clock = clock.Add(time.Hour)
	f.mu.Lock()
	f.leader = true
	f.mu.Unlock()
	took := clock
	for clock.Sub(took) < testConfig().Reconcile.GracePeriod-time.Second {
		p, _ := c.Round(context.Background())
		if len(p.Steps) != 0 {
			t.Fatalf("%v after taking over: %v", clock.Sub(took), p.Steps)
		}
		clock = clock.Add(10 * time.Second)
	}
	clock = took.Add(testConfig().Reconcile.GracePeriod)
	rounds(t, c, f, &clock)
	if slices.Contains(f.table.Nodes(), "c") {
		t.Fatal("unknown node never replaced")
	}
}

// Run owns its loop: it reacts to Kick and returns when ctx ends.
func TestRunLoop(t *testing.T) {
	f := newFake("a", "b", "c")
	cfg := testConfig()
	cfg.Interval = time.Hour // only Kick and the first round can trigger rounds
	c, err := New(cfg, f, f, f)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	waitFor := func(cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out; calls %v", f.calls)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitFor(func() bool { return f.Table().Version == 1 }) // first round
	f.mu.Lock()
	f.members = append(f.members, reconcile.Member{ID: "d", State: reconcile.Alive, Since: time.Unix(0, 0)})
	f.mu.Unlock()
	c.Kick()
	waitFor(func() bool { return f.Table().Version == 2 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestMembershipConversion(t *testing.T) {
	for _, st := range []reconcile.MemberState{reconcile.Alive, reconcile.Suspect, reconcile.Failed, reconcile.Left} {
		m := membership.Member{Meta: membership.Meta{ID: "x", Draining: true}, State: st, Since: time.Unix(5, 0)}
		got := ToReconcile(m)
		if got.State != st || got.ID != "x" || !got.Draining || !got.Since.Equal(time.Unix(5, 0)) {
			t.Errorf("%v -> %+v", st, got)
		}
	}
	src := MembersOf(staticView{{Meta: membership.Meta{ID: "a"}, State: reconcile.Left}})
	if got := src.Members(); len(got) != 1 || got[0].State != reconcile.Left {
		t.Fatalf("MembersOf = %+v", got)
	}
}

type staticView []membership.Member

func (v staticView) Members() []membership.Member { return v }

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.Interval = 0
	if !errors.Is(c.Validate(), ErrBadConfig) {
		t.Fatal("zero interval accepted")
	}
	c = DefaultConfig()
	c.Reconcile.Replicas = 0
	if !errors.Is(c.Validate(), reconcile.ErrBadConfig) {
		t.Fatal("bad reconcile config accepted")
	}
}
