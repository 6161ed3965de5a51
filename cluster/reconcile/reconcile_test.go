package reconcile

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/cluster/placement"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func testConfig() Config {
	c := DefaultConfig()
	c.Shards = 4
	c.GracePeriod = time.Minute
	c.StabilizeTime = 10 * time.Second
	return c
}

func member(id string, st MemberState, ago time.Duration) Member {
	return Member{ID: id, State: st, Since: t0.Add(-ago)}
}

// voters builds a shard whose replicas all vote, led by the first one.
func voters(shard int, nodes ...string) ShardStatus {
	st := ShardStatus{Shard: shard, Leader: nodes[0]}
	for _, n := range nodes {
		st.Replicas = append(st.Replicas, Replica{Node: n, Voter: true})
	}
	return st
}

func ledBy(st ShardStatus, leader string) ShardStatus {
	st.Leader = leader
	return st
}

func withNonVoter(st ShardStatus, node string, caughtUp bool) ShardStatus {
	st.Replicas = append(slices.Clone(st.Replicas), Replica{Node: node, CaughtUp: caughtUp})
	return st
}

// table assigns the given nodes like the reconciler would, at version v.
func table(t *testing.T, v uint64, nodes ...string) placement.Table {
	t.Helper()
	tab, err := placement.Assign(testConfig().Shards, 3, nodes)
	if err != nil {
		t.Fatal(err)
	}
	tab.Version = v
	return tab
}

func statusFrom(tab placement.Table) []ShardStatus {
	var out []ShardStatus
	for s, r := range tab.Shards {
		out = append(out, voters(s, r...))
	}
	return out
}

func steps(p Plan) string {
	var b []string
	for _, s := range p.Steps {
		b = append(b, s.String())
	}
	return strings.Join(b, "; ")
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, mut := range []func(*Config){
		func(c *Config) { c.Shards = 0 },
		func(c *Config) { c.Replicas = 0 },
		func(c *Config) { c.GracePeriod = -1 },
		func(c *Config) { c.MaxMovesInFlight = 0 },
		func(c *Config) { c.MetaVoters = 2 },
	} {
		c := DefaultConfig()
		mut(&c)
		if c.Validate() == nil {
			t.Errorf("%+v validated", c)
		}
	}
}

func TestTableDecisions(t *testing.T) {
	abc := []Member{member("a", Alive, time.Hour), member("b", Alive, time.Hour), member("c", Alive, time.Hour)}
	cases := []struct {
		name          string
		members       []Member
		table         placement.Table
		viewSince     time.Time
		wantNodes     []string // nodes of the committed table; nil = no commit
		wantUnhealthy []string
	}{
		{name: "bootstrap", members: abc, wantNodes: []string{"a", "b", "c"}},
		{name: "steady", members: abc, table: table(t, 3, "a", "b", "c")},
		{name: "join after stabilising",
			members:   append(slices.Clone(abc), member("d", Alive, time.Minute)),
			table:     table(t, 3, "a", "b", "c"),
			wantNodes: []string{"a", "b", "c", "d"}},
		{name: "join not yet stable",
			members: append(slices.Clone(abc), member("d", Alive, time.Second)),
			table:   table(t, 3, "a", "b", "c")},
		{name: "suspect new node is not placed",
			members: append(slices.Clone(abc), member("d", Suspect, time.Minute)),
			table:   table(t, 3, "a", "b", "c")},
		{name: "failed within grace keeps its replicas",
			members:       []Member{abc[0], abc[1], member("c", Failed, 30*time.Second), member("d", Alive, time.Hour)},
			table:         table(t, 3, "a", "b", "c"),
			wantNodes:     []string{"a", "b", "c", "d"},
			wantUnhealthy: []string{"c"}},
		{name: "failed after grace is replaced",
			members:   []Member{abc[0], abc[1], member("c", Failed, 2*time.Minute), member("d", Alive, time.Hour)},
			table:     table(t, 3, "a", "b", "c"),
			wantNodes: []string{"a", "b", "d"}},
		{name: "left is drained at once",
			members:   []Member{abc[0], abc[1], member("c", Left, time.Second), member("d", Alive, time.Hour)},
			table:     table(t, 3, "a", "b", "c"),
			wantNodes: []string{"a", "b", "d"}},
		{name: "draining alive node is drained",
			members:   []Member{abc[0], abc[1], {ID: "c", State: Alive, Since: t0.Add(-time.Hour), Draining: true}, member("d", Alive, time.Hour)},
			table:     table(t, 3, "a", "b", "c"),
			wantNodes: []string{"a", "b", "d"}},
		{name: "flapping node back within grace: no change",
			members: []Member{abc[0], abc[1], member("c", Alive, time.Second)},
			table:   table(t, 3, "a", "b", "c")},
		{name: "failed past grace with nobody to take over shrinks the replica set",
			members:   []Member{abc[0], abc[1], member("c", Failed, time.Hour)},
			table:     table(t, 3, "a", "b", "c"),
			wantNodes: []string{"a", "b"}},
		{name: "everyone failed past grace: keep the table",
			members: []Member{member("a", Failed, time.Hour), member("b", Failed, time.Hour), member("c", Failed, time.Hour)},
			table:   table(t, 3, "a", "b", "c")},
		{name: "unknown node counts as failed since the view started (within grace)",
			members:       []Member{abc[0], abc[1], member("d", Alive, time.Hour)},
			table:         table(t, 3, "a", "b", "c"),
			viewSince:     t0.Add(-10 * time.Second),
			wantNodes:     []string{"a", "b", "c", "d"},
			wantUnhealthy: []string{"c"}},
		{name: "unknown node past grace is replaced",
			members:   []Member{abc[0], abc[1], member("d", Alive, time.Hour)},
			table:     table(t, 3, "a", "b", "c"),
			viewSince: t0.Add(-time.Hour),
			wantNodes: []string{"a", "b", "d"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vs := tc.viewSince
			if vs.IsZero() {
				vs = t0.Add(-time.Hour)
			}
			in := Input{Now: t0, ViewSince: vs, Members: tc.members, Table: tc.table, Status: statusFrom(tc.table)}
			p := Next(testConfig(), in)
			if fmt.Sprint(p.Unhealthy) != fmt.Sprint(tc.wantUnhealthy) && len(p.Unhealthy)+len(tc.wantUnhealthy) > 0 {
				t.Errorf("unhealthy = %v, want %v", p.Unhealthy, tc.wantUnhealthy)
			}
			if tc.wantNodes == nil {
				for _, s := range p.Steps {
					if s.Kind == CommitTable {
						t.Fatalf("unexpected %v (eligible %v)", s, p.Eligible)
					}
				}
				return
			}
			if len(p.Steps) != 1 || p.Steps[0].Kind != CommitTable {
				t.Fatalf("steps = %s, want one commit", steps(p))
			}
			got := p.Steps[0].Table
			if got.Version != tc.table.Version+1 {
				t.Errorf("version %d, want %d", got.Version, tc.table.Version+1)
			}
			if fmt.Sprint(got.Nodes()) != fmt.Sprint(tc.wantNodes) {
				t.Errorf("table nodes %v, want %v", got.Nodes(), tc.wantNodes)
			}
			if len(got.Shards) != testConfig().Shards {
				t.Errorf("%d shards", len(got.Shards))
			}
			if in.Table.Shards != nil && &got.Shards[0][0] == &in.Table.Shards[0][0] {
				t.Error("plan aliases the input table")
			}
		})
	}
}

// TestShardSteps checks the per-shard move protocol on a shard whose
// desired replicas are {a, b, d}. Each case names the nodes the committed
// table was computed over (the eligible ones); the test picks a shard of
// that table placed on {a, b, d} and reports its configuration as status.
func TestShardSteps(t *testing.T) {
	cfg := testConfig()
	cfg.Shards = 64
	abd := []string{"a", "b", "d"}
	abcd := []string{"a", "b", "c", "d"}
	alive := []Member{member("a", Alive, time.Hour), member("b", Alive, time.Hour), member("d", Alive, time.Hour)}
	with := func(extra ...Member) []Member { return append(slices.Clone(alive), extra...) }
	cases := []struct {
		name    string
		members []Member
		over    []string // nodes the table was computed over
		status  ShardStatus
		want    string
		waiting bool
	}{
		{name: "converged", members: with(), over: abd, status: voters(0, "a", "b", "d"), want: ""},
		{name: "join: add the new node as non-voter",
			members: with(member("c", Alive, time.Hour)), over: abcd,
			status: voters(0, "a", "b", "c"), want: "add-nonvoter d"},
		{name: "join: wait while the non-voter catches up",
			members: with(member("c", Alive, time.Hour)), over: abcd,
			status: withNonVoter(voters(0, "a", "b", "c"), "d", false), want: "", waiting: true},
		{name: "join: promote once caught up",
			members: with(member("c", Alive, time.Hour)), over: abcd,
			status: withNonVoter(voters(0, "a", "b", "c"), "d", true), want: "promote d"},
		{name: "join: remove the surplus voter after promotion",
			members: with(member("c", Alive, time.Hour)), over: abcd,
			status: voters(0, "a", "b", "c", "d"), want: "remove c"},
		{name: "surplus voter is the running leader: transfer, never remove it",
			members: with(member("c", Alive, time.Hour)), over: abcd,
			status: ledBy(voters(0, "a", "b", "c", "d"), "c"), want: "transfer-leadership c -> *"},
		{name: "graceful leave: leader on the leaving node transfers before anything else",
			members: with(member("c", Left, time.Second)), over: abd,
			status: ledBy(voters(0, "a", "b", "c"), "c"), want: "transfer-leadership c -> *"},
		{name: "graceful leave: then the replacement is added",
			members: with(member("c", Left, time.Second)), over: abd,
			status: voters(0, "a", "b", "c"), want: "add-nonvoter d"},
		{name: "draining leader transfers off",
			members: with(Member{ID: "c", State: Alive, Since: t0.Add(-time.Hour), Draining: true}), over: abd,
			status: ledBy(voters(0, "c", "a", "b"), "c"), want: "transfer-leadership c -> *"},
		{name: "failed after grace: failed replica removed before a healthy surplus one",
			members: with(member("c", Failed, time.Hour), Member{ID: "e", State: Alive, Since: t0.Add(-time.Hour), Draining: true}), over: abd,
			status: voters(0, "a", "b", "d", "e", "c"), want: "remove c"},
		{name: "a running voter is not removed while it is needed for a majority",
			// Voters a, b, d, c with a and b failed inside the grace period:
			// without c only d of {a, b, d} would run.
			members: []Member{member("a", Failed, time.Second), member("b", Failed, time.Second), alive[2], {ID: "c", State: Alive, Since: t0.Add(-time.Hour), Draining: true}},
			over:    abd,
			status:  ledBy(voters(0, "a", "b", "c", "d"), "d"), want: ""},
		{name: "a failed voter is removed even when others are down",
			members: []Member{member("a", Failed, time.Second), alive[1], alive[2], member("c", Failed, time.Hour)},
			over:    abd,
			status:  ledBy(voters(0, "a", "b", "c", "d"), "d"), want: "remove c"},
		{name: "failed leader is not a transfer source; the new leader removes it later",
			members: with(member("c", Failed, time.Hour)), over: abd,
			status: ledBy(voters(0, "a", "b", "c"), "c"), want: "add-nonvoter d"},
		{name: "removal waits until every desired replica votes",
			members: with(member("c", Failed, time.Hour)), over: abd,
			status: withNonVoter(voters(0, "a", "b", "c"), "d", false), want: "", waiting: true},
		{name: "stray non-voter is removed at once",
			members: with(member("x", Failed, time.Hour)), over: abd,
			status: withNonVoter(voters(0, "a", "b", "d"), "x", false), want: "remove x"},
		{name: "no add onto a suspect node",
			members: []Member{alive[0], alive[1], member("d", Suspect, time.Second)}, over: abd,
			status: voters(0, "a", "b"), want: ""},
		{name: "no promotion of a suspect non-voter",
			members: []Member{alive[0], alive[1], member("d", Suspect, time.Second)}, over: abd,
			status: withNonVoter(voters(0, "a", "b"), "d", true), want: "", waiting: true},
		{name: "leaderless shard is left alone",
			members: with(member("c", Alive, time.Hour)), over: abcd,
			status: ledBy(voters(0, "a", "b", "c"), ""), want: ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tab, err := placement.Assign(cfg.Shards, 3, tc.over)
			if err != nil {
				t.Fatal(err)
			}
			tab.Version = 7
			shard := slices.IndexFunc(tab.Shards, func(r []string) bool {
				return placement.SameAssignment(placement.Table{Shards: [][]string{r}}, placement.Table{Shards: [][]string{abd}})
			})
			if shard < 0 {
				t.Fatalf("no shard on %v over %v", abd, tc.over)
			}
			st := tc.status
			st.Shard = shard
			in := Input{Now: t0, ViewSince: t0.Add(-time.Hour), Members: tc.members, Table: tab, Status: []ShardStatus{st}}
			p := Next(cfg, in)
			var got []string
			for _, s := range p.Steps {
				if s.Kind == CommitTable {
					t.Fatalf("case is inconsistent: the table would change (eligible %v)", p.Eligible)
				}
				if s.Shard != shard {
					t.Fatalf("step %v for shard %d", s, shard)
				}
				got = append(got, strings.TrimPrefix(s.String(), fmt.Sprintf("shard %d: ", shard)))
			}
			want := tc.want
			if strings.HasSuffix(want, "*") && len(p.Steps) == 1 && p.Steps[0].Kind == TransferLeadership {
				to := p.Steps[0].Node
				if !slices.Contains(abd, to) || !slices.ContainsFunc(st.Replicas, func(r Replica) bool { return r.Node == to && r.Voter }) {
					t.Fatalf("transfer to %s: not a desired voter", to)
				}
				want = strings.TrimSuffix(want, "*") + to
			}
			if g := strings.Join(got, "; "); g != want {
				t.Fatalf("steps = %q, want %q", g, want)
			}
			if w := len(p.Waiting) == 1; w != tc.waiting {
				t.Fatalf("waiting = %v, want %v", p.Waiting, tc.waiting)
			}
			wantStalled := cfg.Shards - 1
			if st.Leader == "" {
				wantStalled = cfg.Shards
			}
			if len(p.Stalled) != wantStalled {
				t.Fatalf("%d stalled shards, want every shard without status", len(p.Stalled))
			}
		})
	}
}

func TestFlappingWithinGraceCausesNoMoves(t *testing.T) {
	cfg := testConfig()
	tab := table(t, 5, "a", "b", "c")
	st := statusFrom(tab)
	// c fails, comes back, fails again, all within the grace period; d is
	// around as a possible replacement the whole time.
	for i, c := range []Member{
		member("c", Failed, 5*time.Second),
		member("c", Alive, time.Second),
		member("c", Suspect, time.Second),
		member("c", Failed, 50*time.Second),
	} {
		ms := []Member{member("a", Alive, time.Hour), member("b", Alive, time.Hour), member("d", Alive, time.Hour), c}
		p := Next(cfg, Input{Now: t0, ViewSince: t0.Add(-time.Hour), Members: ms, Table: tab, Status: st})
		for _, s := range p.Steps {
			if s.Kind == RemoveReplica || (s.Kind == CommitTable && !slices.Contains(s.Table.Nodes(), "c")) {
				t.Fatalf("round %d (%v): step %v moves c's replicas", i, c.State, s)
			}
		}
	}
}

// world is a fake cluster the simulation applies steps to.
type world struct {
	t       *testing.T
	table   placement.Table
	shards  []ShardStatus
	members map[string]Member
	now     time.Time
}

func (w *world) input() Input {
	var ms []Member
	for _, m := range w.members {
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })
	st := make([]ShardStatus, len(w.shards))
	for i, s := range w.shards {
		st[i] = ShardStatus{Shard: s.Shard, Leader: s.Leader, Replicas: slices.Clone(s.Replicas)}
	}
	return Input{Now: w.now, ViewSince: w.now.Add(-time.Hour), Members: ms, Table: w.table.Clone(), Status: st}
}

func (w *world) up(n string) bool {
	m, ok := w.members[n]
	return ok && (m.State == Alive || m.State == Suspect)
}

// apply executes one step and checks the safety rules.
func (w *world) apply(s Step) {
	w.t.Helper()
	if s.Kind == CommitTable {
		if s.Table.Version != w.table.Version+1 {
			w.t.Fatalf("commit v%d over v%d", s.Table.Version, w.table.Version)
		}
		w.table = s.Table.Clone()
		return
	}
	sh := &w.shards[s.Shard]
	idx := slices.IndexFunc(sh.Replicas, func(r Replica) bool { return r.Node == s.Node })
	switch s.Kind {
	case AddNonVoter:
		if idx >= 0 {
			w.t.Fatalf("%v: already a replica", s)
		}
		sh.Replicas = append(sh.Replicas, Replica{Node: s.Node})
	case Promote:
		if idx < 0 || !sh.Replicas[idx].CaughtUp {
			w.t.Fatalf("%v: promoting a replica that is not caught up", s)
		}
		sh.Replicas[idx].Voter = true
	case TransferLeadership:
		if s.From != sh.Leader || idx < 0 || !sh.Replicas[idx].Voter || !w.up(s.Node) {
			w.t.Fatalf("%v: bad transfer (leader %s)", s, sh.Leader)
		}
		sh.Leader = s.Node
	case RemoveReplica:
		if s.Node == sh.Leader {
			w.t.Fatalf("%v: removing the running leader", s)
		}
		if idx < 0 {
			w.t.Fatalf("%v: not a replica", s)
		}
		sh.Replicas = slices.Delete(sh.Replicas, idx, idx+1)
	}
}

// tick advances time: non-voters on running nodes catch up, and a shard
// whose leader is down elects a running voter.
func (w *world) tick(d time.Duration) {
	w.now = w.now.Add(d)
	for i := range w.shards {
		sh := &w.shards[i]
		for j := range sh.Replicas {
			if w.up(sh.Replicas[j].Node) {
				sh.Replicas[j].CaughtUp = true
			}
		}
		if !w.up(sh.Leader) {
			sh.Leader = ""
			for _, r := range sh.Replicas {
				if r.Voter && w.up(r.Node) {
					sh.Leader = r.Node
					break
				}
			}
		}
	}
}

// run reconciles until no step is left and checks the end state matches
// the table and that every shard kept a running voter throughout.
func (w *world) run(cfg Config) (rounds, moves int) {
	w.t.Helper()
	for rounds = 1; rounds < 500; rounds++ {
		p := Next(cfg, w.input())
		if len(p.Steps) == 0 && len(p.Waiting) == 0 {
			break
		}
		for _, s := range p.Steps {
			w.apply(s)
			if s.Kind == AddNonVoter {
				moves++
			}
		}
		for _, sh := range w.shards {
			ok := false
			for _, r := range sh.Replicas {
				ok = ok || (r.Voter && w.up(r.Node))
			}
			if !ok {
				w.t.Fatalf("shard %d lost every running voter: %+v", sh.Shard, sh)
			}
		}
		w.tick(time.Second)
	}
	for s, want := range w.table.Shards {
		var got []string
		for _, r := range w.shards[s].Replicas {
			if !r.Voter {
				w.t.Fatalf("shard %d ends with non-voter %s", s, r.Node)
			}
			got = append(got, r.Node)
		}
		if !placement.SameAssignment(placement.Table{Shards: [][]string{got}}, placement.Table{Shards: [][]string{want}}) {
			w.t.Fatalf("shard %d ends on %v, table says %v", s, got, want)
		}
	}
	return rounds, moves
}

func newWorld(t *testing.T, cfg Config, nodes ...string) *world {
	w := &world{t: t, members: map[string]Member{}, now: t0}
	for _, n := range nodes {
		w.members[n] = Member{ID: n, State: Alive, Since: t0.Add(-time.Hour)}
	}
	p := Next(cfg, w.input())
	if len(p.Steps) != 1 || p.Steps[0].Kind != CommitTable {
		t.Fatalf("bootstrap: %s", steps(p))
	}
	w.table = p.Steps[0].Table.Clone()
	for s, r := range w.table.Shards {
		w.shards = append(w.shards, voters(s, r...))
	}
	return w
}

func TestSimulatedLifecycle(t *testing.T) {
	cfg := testConfig()
	cfg.Shards = 32
	cfg.MaxMovesInFlight = 3
	w := newWorld(t, cfg, "a", "b", "c")
	if r, m := w.run(cfg); m != 0 {
		t.Fatalf("steady state moved %d replicas in %d rounds", m, r)
	}

	// Join: d takes about a quarter of the replicas.
	w.members["d"] = Member{ID: "d", State: Alive, Since: w.now.Add(-time.Minute)}
	_, moves := w.run(cfg)
	if want := len(w.table.ShardsOf("d")); moves != want || moves == 0 || moves > 32*3/3+8 {
		t.Fatalf("join moved %d replicas, d holds %d", moves, want)
	}
	t.Logf("join 3->4: %d replica moves of %d", moves, 32*3)

	// Graceful leave of a node that leads some shards.
	leader := w.shards[0].Leader
	w.members[leader] = Member{ID: leader, State: Left, Since: w.now}
	_, moves = w.run(cfg)
	if len(w.table.ShardsOf(leader)) != 0 {
		t.Fatalf("left node %s still placed", leader)
	}
	t.Logf("leave of %s: %d moves", leader, moves)

	// Failure: nothing moves inside the grace period, then it is replaced.
	w.members["e"] = Member{ID: "e", State: Alive, Since: w.now.Add(-time.Hour)}
	w.run(cfg)
	var victim string
	for _, n := range w.table.Nodes() {
		if w.members[n].State == Alive {
			victim = n
			break
		}
	}
	w.members[victim] = Member{ID: victim, State: Failed, Since: w.now}
	before := w.table.Version
	for range 10 { // 10 s < 1 min grace
		for _, s := range Next(cfg, w.input()).Steps {
			if s.Kind != TransferLeadership && s.Kind != Promote {
				t.Fatalf("within grace: %v", s)
			}
			w.apply(s)
		}
		w.tick(time.Second)
	}
	if w.table.Version != before {
		t.Fatal("table changed within the grace period")
	}
	w.tick(cfg.GracePeriod)
	w.run(cfg)
	if len(w.table.ShardsOf(victim)) != 0 {
		t.Fatalf("failed node %s still placed after grace", victim)
	}
	for s, r := range w.table.Shards {
		if len(r) != 3 {
			t.Fatalf("shard %d has %d replicas with 3 live nodes", s, len(r))
		}
	}
}

func TestMaxMovesInFlight(t *testing.T) {
	cfg := testConfig()
	cfg.Shards = 32
	cfg.MaxMovesInFlight = 2
	w := newWorld(t, cfg, "a", "b", "c")
	w.members["d"] = Member{ID: "d", State: Alive, Since: w.now.Add(-time.Hour)}
	w.apply(Next(cfg, w.input()).Steps[0]) // commit the 4-node table
	for range 30 {
		p := Next(cfg, w.input())
		adds := 0
		for _, s := range p.Steps {
			if s.Kind == AddNonVoter {
				adds++
			}
			w.apply(s)
		}
		inFlight := 0
		for _, sh := range w.shards {
			if slices.ContainsFunc(sh.Replicas, func(r Replica) bool { return !r.Voter }) {
				inFlight++
			}
		}
		if inFlight > cfg.MaxMovesInFlight {
			t.Fatalf("%d shards catching up at once, max %d", inFlight, cfg.MaxMovesInFlight)
		}
		// Half the rounds, nothing catches up: the cap must hold anyway.
		if adds == 0 {
			w.tick(time.Second)
		}
	}
}

func BenchmarkNext64Shards10Nodes(b *testing.B) {
	cfg := DefaultConfig()
	var ms []Member
	var ids []string
	for i := range 10 {
		id := fmt.Sprintf("node-%d", i)
		ids = append(ids, id)
		ms = append(ms, Member{ID: id, State: Alive, Since: t0.Add(-time.Hour)})
	}
	tab, _ := placement.Assign(cfg.Shards, 3, ids)
	tab.Version = 1
	in := Input{Now: t0, ViewSince: t0.Add(-time.Hour), Members: ms, Table: tab, Status: statusFrom(tab)}
	for b.Loop() {
		if p := Next(cfg, in); len(p.Steps) != 0 {
			b.Fatal(p.Steps)
		}
	}
}

// metaRun reconciles only the meta group (and the table) until nothing is
// left to do, and returns the meta group's final voters, sorted.
func metaRun(t *testing.T, cfg Config, members []Member, tab *placement.Table, meta *ShardStatus) []string {
	t.Helper()
	for range 50 {
		in := Input{Now: t0, ViewSince: t0.Add(-time.Hour), Members: members, Table: tab.Clone(), Meta: meta}
		p := Next(cfg, in)
		if len(p.Steps) == 0 {
			var out []string
			for _, r := range meta.Replicas {
				if !r.Voter {
					t.Fatalf("meta group ends with non-voter %s", r.Node)
				}
				out = append(out, r.Node)
			}
			slices.Sort(out)
			return out
		}
		for _, s := range p.Steps {
			if s.Kind == CommitTable {
				*tab = s.Table.Clone()
				continue
			}
			if s.Shard != MetaShard {
				t.Fatalf("shard step without shard status: %v", s)
			}
			i := slices.IndexFunc(meta.Replicas, func(r Replica) bool { return r.Node == s.Node })
			switch s.Kind {
			case AddNonVoter:
				meta.Replicas = append(meta.Replicas, Replica{Node: s.Node, CaughtUp: true})
			case Promote:
				meta.Replicas[i].Voter = true
			case TransferLeadership:
				meta.Leader = s.Node
			case RemoveReplica:
				if s.Node == meta.Leader {
					t.Fatalf("removing the meta leader %s", s.Node)
				}
				meta.Replicas = slices.Delete(meta.Replicas, i, i+1)
			}
		}
	}
	t.Fatal("meta group did not converge")
	return nil
}

func TestMetaGroupVoters(t *testing.T) {
	cfg := testConfig()
	alive := func(ids ...string) []Member {
		var out []Member
		for _, id := range ids {
			out = append(out, member(id, Alive, time.Hour))
		}
		return out
	}
	tab := placement.Table{}
	meta := voters(MetaShard, "a")

	// Grows with the cluster up to three voters.
	if got := metaRun(t, cfg, alive("a", "b"), &tab, &meta); fmt.Sprint(got) != "[a b]" {
		t.Fatalf("2 nodes: meta voters %v", got)
	}
	if got := metaRun(t, cfg, alive("a", "b", "c"), &tab, &meta); fmt.Sprint(got) != "[a b c]" {
		t.Fatalf("3 nodes: meta voters %v", got)
	}
	// A fourth and fifth node do not churn it.
	if got := metaRun(t, cfg, alive("a", "b", "c", "d", "e"), &tab, &meta); fmt.Sprint(got) != "[a b c]" {
		t.Fatalf("5 nodes: meta voters %v", got)
	}
	// A voter failing past the grace period is replaced by an eligible node.
	ms := append(alive("a", "b", "d", "e"), member("c", Failed, time.Hour))
	got := metaRun(t, cfg, ms, &tab, &meta)
	if len(got) != 3 || slices.Contains(got, "c") || !slices.Contains(got, "a") || !slices.Contains(got, "b") {
		t.Fatalf("after c failed: meta voters %v", got)
	}
	// The leader draining hands leadership over before it is removed.
	leader := meta.Leader
	ms = nil
	for _, id := range []string{"a", "b", "d", "e"} {
		m := member(id, Alive, time.Hour)
		m.Draining = id == leader
		ms = append(ms, m)
	}
	got = metaRun(t, cfg, ms, &tab, &meta)
	if len(got) != 3 || slices.Contains(got, leader) || meta.Leader == leader {
		t.Fatalf("after %s drained: voters %v leader %s", leader, got, meta.Leader)
	}
	// Five voters when configured.
	cfg.MetaVoters = 5
	if got := metaRun(t, cfg, alive("a", "b", "d", "e", "f", "g"), &tab, &meta); len(got) != 5 {
		t.Fatalf("MetaVoters=5: %v", got)
	}
}
