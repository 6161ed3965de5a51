package reconcile

import (
	"slices"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/cluster/placement"
)

// ledAs returns the table's shards as settled voters with the given
// leaders, shard by shard.
func ledAs(tab placement.Table, leaders ...string) []ShardStatus {
	st := statusFrom(tab)
	for i := range st {
		st[i].Leader = leaders[i%len(leaders)]
	}
	return st
}

func transfers(p Plan) []string {
	var out []string
	for _, s := range p.Steps {
		if s.Kind == TransferLeadership {
			out = append(out, s.String())
		}
	}
	return out
}

func TestLeaderBalancing(t *testing.T) {
	cfg := testConfig()
	cfg.Shards = 6
	abc := []Member{member("a", Alive, time.Hour), member("b", Alive, time.Hour), member("c", Alive, time.Hour)}
	tab, err := placement.Assign(6, 3, []string{"a", "b", "c"})
	if err != nil {
		t.Fatal(err)
	}
	tab.Version = 2
	abcd, err := placement.Assign(6, 3, []string{"a", "b", "c", "d"})
	if err != nil {
		t.Fatal(err)
	}
	abcd.Version = 2
	cases := []struct {
		name      string
		mut       func(*Config)
		members   []Member
		table     placement.Table
		status    []ShardStatus
		want      []string
		wantLimit int
	}{
		{name: "one node leads all: two transfers to the least loaded",
			members: abc, table: tab, status: ledAs(tab, "a"),
			want:      []string{"shard 0: transfer-leadership a -> b", "shard 1: transfer-leadership a -> c"},
			wantLimit: 3},
		{name: "balanced", members: abc, table: tab, status: ledAs(tab, "a", "b", "c"), wantLimit: 3},
		{name: "within the slack", members: abc, table: tab, status: ledAs(tab, "a", "a", "a", "b", "b", "c"), wantLimit: 3},
		{name: "one over the limit",
			members: abc, table: tab, status: ledAs(tab, "a", "a", "a", "a", "b", "b"),
			want:      []string{"shard 0: transfer-leadership a -> c"},
			wantLimit: 3},
		{name: "no slack evens out fully",
			mut:     func(c *Config) { c.LeaderSlack = 0 },
			members: abc, table: tab, status: ledAs(tab, "a", "a", "a", "b", "b", "c"),
			want:      []string{"shard 0: transfer-leadership a -> c"},
			wantLimit: 2},
		{name: "cap of one transfer a round",
			mut:     func(c *Config) { c.MaxLeaderTransfers = 1 },
			members: abc, table: tab, status: ledAs(tab, "a"),
			want:      []string{"shard 0: transfer-leadership a -> b"},
			wantLimit: 3},
		{name: "balancing off",
			mut:     func(c *Config) { c.MaxLeaderTransfers = 0 },
			members: abc, table: tab, status: ledAs(tab, "a"), wantLimit: 3},
		{name: "an unhealthy node gets no leadership and does not count",
			members: []Member{abc[0], abc[1], member("c", Failed, 30*time.Second)},
			table:   tab, status: ledAs(tab, "a"),
			// fair = ceil(6/2) = 3, limit 4: a gives to b only.
			want:      []string{"shard 0: transfer-leadership a -> b", "shard 1: transfer-leadership a -> b"},
			wantLimit: 4},
		{name: "shards with a move in progress are left alone",
			members: abc, table: tab,
			status: func() []ShardStatus {
				st := ledAs(tab, "a")
				st[0] = withNonVoter(st[0], "d", false)
				st[1].Replicas = st[1].Replicas[:2] // missing a replica: an add is due
				return st
			}(),
			want:      []string{"shard 2: transfer-leadership a -> b", "shard 3: transfer-leadership a -> c"},
			wantLimit: 3},
		{name: "four nodes: only voters of the shard are targets",
			members: append(slices.Clone(abc), member("d", Alive, time.Hour)),
			table:   abcd, status: ledAs(abcd, "a"),
			wantLimit: 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			if tc.mut != nil {
				tc.mut(&c)
			}
			p := Next(c, Input{Now: t0, ViewSince: t0.Add(-time.Hour), Members: tc.members, Table: tc.table, Status: tc.status})
			if slices.ContainsFunc(p.Steps, func(s Step) bool { return s.Kind == CommitTable }) {
				t.Fatalf("table commit instead of balancing: %s", steps(p))
			}
			got := transfers(p)
			if tc.name == "four nodes: only voters of the shard are targets" {
				// Which shards d holds depends on the hash; every transfer
				// must go to a voter of its shard.
				for _, s := range p.Steps {
					if s.Kind != TransferLeadership {
						continue
					}
					if !slices.Contains(abcd.Shards[s.Shard], s.Node) || s.From != "a" {
						t.Fatalf("%v: target not a replica of the shard %v", s, abcd.Shards[s.Shard])
					}
				}
				if len(got) != 2 {
					t.Fatalf("got %d transfers (%v), want 2", len(got), got)
				}
			} else if !slices.Equal(got, tc.want) {
				t.Fatalf("transfers %q, want %q (all steps: %s)", got, tc.want, steps(p))
			}
			if p.LeaderLimit != tc.wantLimit {
				t.Fatalf("leader limit %d, want %d (leaders %v)", p.LeaderLimit, tc.wantLimit, p.Leaders)
			}
		})
	}
}

// TestLeaderBalancingConverges: a 32-shard cluster led entirely by one
// node ends with every node within the limit and at least one leadership
// each, in a bounded number of rounds, and then stays put.
func TestLeaderBalancingConverges(t *testing.T) {
	cfg := testConfig()
	cfg.Shards = 32
	w := newWorld(t, cfg, "a", "b", "c")
	for i := range w.shards {
		w.shards[i].Leader = "a"
	}
	rounds, moves := w.run(cfg)
	if moves != 0 {
		t.Fatalf("balancing moved %d replicas", moves)
	}
	p := Next(cfg, w.input())
	if len(p.Steps) != 0 {
		t.Fatalf("not stable after %d rounds: %s", rounds, steps(p))
	}
	for _, n := range []string{"a", "b", "c"} {
		if c := p.Leaders[n]; c == 0 || c > p.LeaderLimit {
			t.Fatalf("after %d rounds: leaders %v, limit %d", rounds, p.Leaders, p.LeaderLimit)
		}
	}
	// 32 shards: fair share 11, limit 12; a gives away 20, 2 per round.
	if rounds > 12 {
		t.Fatalf("took %d rounds", rounds)
	}
	t.Logf("balanced in %d rounds: %v (limit %d)", rounds, p.Leaders, p.LeaderLimit)
}

// TestLeaderBalancingFeedsAStarvedNode: a fourth node that joins after
// the other three filled up to the limit (12 shards, 4/4/4/0: nobody is
// above ceil(12/4)+1) still gets leaderships, from nodes above the fair
// share, until it is no longer starved; then balancing stops.
func TestLeaderBalancingFeedsAStarvedNode(t *testing.T) {
	cfg := testConfig()
	cfg.Shards = 12
	nodes := []string{"a", "b", "c", "d"}
	var members []Member
	for _, n := range nodes {
		members = append(members, member(n, Alive, time.Hour))
	}
	tab, err := placement.Assign(12, 3, nodes)
	if err != nil {
		t.Fatal(err)
	}
	tab.Version = 2
	// Every shard led by one of its voters other than d.
	status := statusFrom(tab)
	counts := map[string]int{}
	for i := range status {
		for _, n := range []string{"a", "b", "c"} {
			if slices.Contains(tab.Shards[i], n) && counts[n] < 4 {
				status[i].Leader = n
				counts[n]++
				break
			}
		}
		if status[i].Leader == "" {
			t.Fatalf("test setup: placement puts shard %d out of reach of a 4/4/4 start: %v", i, tab.Shards)
		}
	}
	p := Next(cfg, Input{Now: t0, ViewSince: t0.Add(-time.Hour), Members: members, Table: tab, Status: status})
	if p.LeaderLimit != 4 {
		t.Fatalf("leader limit %d, want 4", p.LeaderLimit)
	}
	got := transfers(p)
	if len(got) == 0 {
		t.Fatalf("no transfer to the node leading nothing (leaders %v)", p.Leaders)
	}
	for _, s := range p.Steps {
		if s.Kind == TransferLeadership && (s.Node != "d" || !slices.Contains(tab.Shards[s.Shard], "d")) {
			t.Fatalf("%v: want transfers to d, a voter of the shard", s)
		}
	}
	// Once d leads fair - slack (2), nobody is starved: no more transfers.
	moved := 0
	for i := range status {
		if moved < 2 && slices.Contains(tab.Shards[i], "d") && counts[status[i].Leader] > 3 {
			counts[status[i].Leader]--
			status[i].Leader = "d"
			moved++
		}
	}
	if moved < 2 {
		t.Fatalf("test setup: placement gives d too few shards to test the stop: %v", tab.Shards)
	}
	p = Next(cfg, Input{Now: t0, ViewSince: t0.Add(-time.Hour), Members: members, Table: tab, Status: status})
	if got := transfers(p); len(got) != 0 {
		t.Fatalf("transfers %v after d leads 2 (leaders %v): balancing should stop", got, p.Leaders)
	}
}
