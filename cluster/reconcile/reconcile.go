// Package reconcile turns cluster membership into shard moves. It is pure
// logic in the style of etcd's raft package: the caller (the meta group's
// leader) gathers the inputs — member states with timestamps, the committed
// placement table, each shard's Raft configuration — calls Next, executes
// the returned steps, and calls Next again on the next tick or change. No
// clock, no I/O, no goroutines: every scenario is a table-driven test.
//
// Rules (Consul autopilot style):
//   - a member seen alive (and stable for StabilizeTime) is eligible;
//   - a failed member is unhealthy but keeps its replicas until it has been
//     failed for GracePeriod, so a flapping node causes no moves;
//   - a member that left, or that announces it is draining, is not
//     eligible: its replicas are moved away at once;
//   - a move is add non-voter -> wait until caught up -> promote ->
//     transfer leadership off the old replica if it leads -> remove it.
//     A running leader is never removed directly, and at most one step per
//     shard is issued per round so a shard never has two configuration
//     changes in flight;
//   - leaderships are spread: a healthy node leading more than its fair
//     share plus a slack hands some to other voters of the same shards, a
//     few per round, on shards with nothing else to do.
package reconcile

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/sibylhq/sibyl/cluster/placement"
)

// MemberState is a member's state as the failure detector sees it: the
// one enum of it, which cluster/membership reports and the planner reads.
type MemberState int

// Member states.
const (
	Alive MemberState = iota + 1
	Suspect
	Failed
	Left
)

func (s MemberState) String() string {
	switch s {
	case Alive:
		return "alive"
	case Suspect:
		return "suspect"
	case Failed:
		return "failed"
	case Left:
		return "left"
	}
	return fmt.Sprintf("MemberState(%d)", int(s))
}

// Member is one node as seen by the meta leader's membership view.
type Member struct {
	ID    string
	State MemberState
	// Since is when the member entered State.
	Since time.Time
	// Draining is set by an operator (`sibyl drain`) on a running node that
	// should hand its replicas over before it leaves.
	Draining bool
}

// Replica is one member of a shard's Raft configuration.
type Replica struct {
	Node  string
	Voter bool
	// CaughtUp is meaningful for non-voters: the shard leader reports it
	// once the replica's match index is close to the leader's last index.
	CaughtUp bool
}

// ShardStatus is a shard's current Raft configuration, as reported by its
// leader.
type ShardStatus struct {
	Shard int
	// Leader is the leading node, or "" when the shard has no known leader
	// (being created, or without quorum): no step is issued for it.
	Leader   string
	Replicas []Replica
}

// Errors callers branch on.
var ErrBadConfig = errors.New("invalid reconcile config")

// Config tunes the reconciler.
type Config struct {
	// Shards is the fixed shard count, used for the first table.
	Shards int
	// Replicas is the replication factor (fewer while the cluster is smaller).
	Replicas int
	// GracePeriod is how long a failed member keeps its replicas before
	// they are re-replicated elsewhere.
	GracePeriod time.Duration
	// StabilizeTime is how long a member not yet in the table must have been
	// alive before it receives replicas, so a node that restarts in a loop
	// does not pull data back and forth.
	StabilizeTime time.Duration
	// MaxMovesInFlight caps the shards that are catching up a new replica at
	// once, which bounds the snapshot traffic of a rebalance.
	MaxMovesInFlight int
	// MaxLeaderTransfers caps the leadership transfers one round issues to
	// balance leaders over the nodes (0 turns balancing off). A transfer
	// makes the shard refuse writes for a moment (until the new leader is
	// elected), so balancing goes a few shards at a time.
	MaxLeaderTransfers int
	// LeaderSlack is how many groups above its fair share
	// (ceil(led shards / healthy nodes)) a node may lead before leaderships
	// are moved off it: a little slack keeps an election here and there
	// from causing transfers.
	LeaderSlack int
	// MetaVoters is the meta group's size (fewer while the cluster is
	// smaller): 3 tolerates one failure, 5 two.
	MetaVoters int
	// MetaFollowers adds every other eligible node to the meta group as a
	// non-voter, so that each node holds the registry and the table.
	MetaFollowers bool
}

// MetaShard is the Shard of steps and status that concern the meta group.
const MetaShard = -1

// DefaultConfig returns the defaults: 64 shards, 3 replicas, a 5 minute
// grace period, 10 s stabilisation, 4 concurrent moves, and leadership
// balancing 2 transfers a round with a slack of 1.
func DefaultConfig() Config {
	return Config{
		Shards:             64,
		Replicas:           placement.DefaultReplicas,
		GracePeriod:        5 * time.Minute,
		StabilizeTime:      10 * time.Second,
		MaxMovesInFlight:   4,
		MaxLeaderTransfers: 2,
		LeaderSlack:        1,
		MetaVoters:         3,
	}
}

// Validate checks the config.
func (c Config) Validate() error {
	switch {
	case c.Shards <= 0:
		return fmt.Errorf("%w: shards must be positive, got %d", ErrBadConfig, c.Shards)
	case c.Replicas <= 0:
		return fmt.Errorf("%w: replicas must be positive, got %d", ErrBadConfig, c.Replicas)
	case c.GracePeriod < 0 || c.StabilizeTime < 0:
		return fmt.Errorf("%w: durations must not be negative", ErrBadConfig)
	case c.MaxMovesInFlight <= 0:
		return fmt.Errorf("%w: max moves in flight must be positive, got %d", ErrBadConfig, c.MaxMovesInFlight)
	case c.MaxLeaderTransfers < 0 || c.LeaderSlack < 0:
		return fmt.Errorf("%w: max leader transfers and leader slack must not be negative", ErrBadConfig)
	case c.MetaVoters <= 0 || c.MetaVoters%2 == 0:
		return fmt.Errorf("%w: meta voters must be a positive odd number, got %d", ErrBadConfig, c.MetaVoters)
	}
	return nil
}

// Input is one observation of the cluster.
type Input struct {
	Now time.Time
	// ViewSince is when the caller's membership view started (when it
	// became meta leader, say). A node named by the table or a shard but
	// absent from Members counts as failed since ViewSince, so a fresh
	// leader waits a full grace period before it replaces unknown nodes.
	ViewSince time.Time
	Members   []Member
	// Table is the committed placement (empty before the first commit).
	Table placement.Table
	// Status holds the shards whose configuration is known; shards absent
	// here get no step this round.
	Status []ShardStatus
	// Meta is the meta group's configuration (nil: no meta steps).
	Meta *ShardStatus
}

// StepKind says what a Step asks the caller to do.
type StepKind int

// Step kinds.
const (
	// CommitTable: propose Step.Table to the meta group (a placement.set
	// command with version check). Issued alone; other steps wait for it.
	CommitTable StepKind = iota + 1
	// AddNonVoter: on the shard's leader, add Step.Node as a non-voter.
	AddNonVoter
	// Promote: on the shard's leader, make the caught-up Step.Node a voter.
	Promote
	// TransferLeadership: ask the shard's leader Step.From to hand over to
	// Step.Node.
	TransferLeadership
	// RemoveReplica: on the shard's leader, remove Step.Node (never the
	// leader itself).
	RemoveReplica
)

func (k StepKind) String() string {
	switch k {
	case CommitTable:
		return "commit-table"
	case AddNonVoter:
		return "add-nonvoter"
	case Promote:
		return "promote"
	case TransferLeadership:
		return "transfer-leadership"
	case RemoveReplica:
		return "remove"
	}
	return fmt.Sprintf("StepKind(%d)", int(k))
}

// Step is one action for the caller.
type Step struct {
	Kind  StepKind
	Shard int
	// Node is the replica added, promoted or removed, or the new leader.
	Node string
	// From is the current leader for TransferLeadership.
	From string
	// Table is the table to commit for CommitTable.
	Table *placement.Table
}

func (s Step) String() string {
	switch s.Kind {
	case CommitTable:
		return fmt.Sprintf("commit-table v%d", s.Table.Version)
	case TransferLeadership:
		return fmt.Sprintf("shard %d: transfer-leadership %s -> %s", s.Shard, s.From, s.Node)
	}
	return fmt.Sprintf("shard %d: %s %s", s.Shard, s.Kind, s.Node)
}

// Plan is the reconciler's answer.
type Plan struct {
	Steps []Step
	// Eligible are the nodes the table is computed over, sorted.
	Eligible []string
	// Unhealthy are failed members still inside their grace period, sorted:
	// routing should avoid them although they keep their replicas.
	Unhealthy []string
	// Waiting lists shards with a new replica that is still catching up.
	Waiting []int
	// Stalled lists table shards with no known leader or status.
	Stalled []int
	// Leaders counts the data shards each healthy eligible node leads, as
	// observed at the start of the round (before its transfers).
	Leaders map[string]int
	// LeaderLimit is the most shards a node may lead before balancing
	// moves leaderships off it (0: not computed this round).
	LeaderLimit int
}

type health struct {
	eligible  bool // counts for placement
	placeable bool // may receive a new replica now
	healthy   bool // a good leadership target
	leaving   bool // running but going away: move leadership off first
}

func classify(cfg Config, in Input, inTable map[string]bool) map[string]health {
	out := make(map[string]health)
	for _, m := range in.Members {
		var h health
		switch m.State {
		case Alive:
			stable := in.Now.Sub(m.Since) >= cfg.StabilizeTime || inTable[m.ID]
			h = health{eligible: stable, placeable: stable, healthy: true}
		case Suspect:
			h = health{eligible: inTable[m.ID]}
		case Failed:
			h = health{eligible: inTable[m.ID] && in.Now.Sub(m.Since) < cfg.GracePeriod}
		case Left:
			h = health{}
		}
		if m.Draining {
			h.eligible, h.placeable = false, false
			h.leaving = m.State == Alive || m.State == Suspect
		}
		if m.State == Left {
			// A node announcing its leave is usually still up for a moment.
			h.leaving = true
		}
		out[m.ID] = h
	}
	return out
}

// Next computes the next steps. It never mutates its input.
func Next(cfg Config, in Input) Plan {
	inTable := make(map[string]bool)
	for _, n := range in.Table.Nodes() {
		inTable[n] = true
	}
	hs := classify(cfg, in, inTable)
	// Nodes the view does not know: failed since the view started.
	unknown := func(id string) health {
		h, ok := hs[id]
		if ok {
			return h
		}
		return health{eligible: inTable[id] && in.Now.Sub(in.ViewSince) < cfg.GracePeriod}
	}
	var plan Plan
	for _, m := range in.Members {
		if hs[m.ID].eligible {
			plan.Eligible = append(plan.Eligible, m.ID)
		}
		if m.State == Failed && hs[m.ID].eligible {
			plan.Unhealthy = append(plan.Unhealthy, m.ID)
		}
	}
	for _, n := range in.Table.Nodes() {
		if _, ok := hs[n]; !ok && unknown(n).eligible {
			plan.Eligible = append(plan.Eligible, n)
			plan.Unhealthy = append(plan.Unhealthy, n)
		}
	}
	sort.Strings(plan.Eligible)
	plan.Eligible = slices.Compact(plan.Eligible)
	sort.Strings(plan.Unhealthy)
	plan.Unhealthy = slices.Compact(plan.Unhealthy)

	// 1. The table follows the eligible set. With nobody eligible the old
	// table stays: an empty placement would only lose data.
	shards := len(in.Table.Shards)
	if shards == 0 {
		shards = cfg.Shards
	}
	if len(plan.Eligible) > 0 {
		target, err := placement.Assign(shards, cfg.Replicas, plan.Eligible)
		if err == nil && !placement.SameAssignment(target, in.Table) {
			target.Version = in.Table.Version + 1
			plan.Steps = append(plan.Steps, Step{Kind: CommitTable, Table: &target})
			return plan
		}
	}

	// 2. The meta group keeps its voters while they stay eligible and
	// fills up to MetaVoters from the eligible nodes, so that joins do not
	// churn it. It moves like a shard, outside the move cap: it is small.
	if in.Meta != nil && in.Meta.Leader != "" && len(plan.Eligible) > 0 {
		desired := metaVoters(cfg, plan.Eligible, *in.Meta)
		st := *in.Meta
		st.Shard = MetaShard
		// Every other eligible node follows the meta group as a non-voter:
		// each node then holds the store registry and the placement table
		// locally (key checks and routing need no remote call).
		var learners []string
		for _, n := range plan.Eligible {
			if cfg.MetaFollowers && !slices.Contains(desired, n) {
				learners = append(learners, n)
			}
		}
		step, waiting, _ := shardStep(st, desired, unknown, true, learners)
		if step == nil {
			for _, n := range learners {
				if !slices.ContainsFunc(st.Replicas, func(r Replica) bool { return r.Node == n }) && unknown(n).placeable {
					step = &Step{Kind: AddNonVoter, Shard: MetaShard, Node: n}
					break
				}
			}
		}
		if waiting {
			plan.Waiting = append(plan.Waiting, MetaShard)
		}
		if step != nil {
			plan.Steps = append(plan.Steps, *step)
		}
	}

	// 3. Converge each shard's configuration to the table.
	status := make(map[int]ShardStatus, len(in.Status))
	inFlight := 0
	for _, st := range in.Status {
		status[st.Shard] = st
		for _, r := range st.Replicas {
			if !r.Voter {
				inFlight++
				break
			}
		}
	}
	for s, desired := range in.Table.Shards {
		st, ok := status[s]
		if !ok || st.Leader == "" {
			plan.Stalled = append(plan.Stalled, s)
			continue
		}
		step, waiting, startsMove := shardStep(st, desired, unknown, inFlight < cfg.MaxMovesInFlight, nil)
		if waiting {
			plan.Waiting = append(plan.Waiting, s)
		}
		if step != nil {
			plan.Steps = append(plan.Steps, *step)
			if startsMove {
				inFlight++
			}
		}
	}

	// 4. Spread leaderships over the healthy nodes, on shards that are
	// otherwise settled.
	balanceLeaders(cfg, in, unknown, &plan)
	return plan
}

// balanceLeaders adds up to MaxLeaderTransfers transfers from nodes that
// lead more than LeaderLimit shards to voters of the same shards that lead
// fewer than their fair share. Only shards with no other step this round,
// no non-voter and exactly the table's replicas are touched, so balancing
// never competes with a move. Every transfer takes one leadership from a
// node above the limit to one below the fair share: the spread strictly
// improves and cannot oscillate.
func balanceLeaders(cfg Config, in Input, h func(string) health, plan *Plan) {
	var cands []string
	for _, n := range plan.Eligible {
		if hn := h(n); hn.healthy && !hn.leaving {
			cands = append(cands, n)
		}
	}
	if len(cands) == 0 {
		return
	}
	counts := make(map[string]int, len(cands))
	for _, n := range cands {
		counts[n] = 0
	}
	led := 0
	for _, st := range in.Status {
		if st.Leader == "" || st.Shard < 0 {
			continue
		}
		led++
		if _, ok := counts[st.Leader]; ok {
			counts[st.Leader]++
		}
	}
	plan.Leaders = maps.Clone(counts)
	fair := (led + len(cands) - 1) / len(cands)
	plan.LeaderLimit = fair + cfg.LeaderSlack
	if len(cands) < 2 || cfg.MaxLeaderTransfers == 0 {
		return
	}
	busy := make(map[int]bool)
	for _, s := range plan.Steps {
		busy[s.Shard] = true
	}
	settled := func(st ShardStatus) bool {
		if busy[st.Shard] || st.Shard < 0 || st.Shard >= len(in.Table.Shards) {
			return false
		}
		desired := in.Table.Shards[st.Shard]
		if len(st.Replicas) != len(desired) {
			return false
		}
		for _, r := range st.Replicas {
			if !r.Voter || !slices.Contains(desired, r.Node) {
				return false
			}
		}
		return true
	}
	for range cfg.MaxLeaderTransfers {
		// Sources from the busiest down; the first with a feasible
		// transfer gives it, to the least loaded voter (then lowest
		// shard), which keeps the choice deterministic.
		sources := slices.Clone(cands)
		slices.SortStableFunc(sources, func(a, b string) int { return counts[b] - counts[a] })
		var best *Step
		bestLoad := 0
		for _, src := range sources {
			// Above the limit, a node gives to any voter below the fair
			// share. Above the fair share only, it gives to a starved
			// voter (fewer than fair - slack): without this, a node that
			// joins after the others filled up to the limit (4/4/4/0)
			// would never lead. Either transfer moves one leadership
			// from above the fair share to below it, so balancing still
			// terminates.
			below := fair
			switch {
			case counts[src] > plan.LeaderLimit:
			case counts[src] > fair:
				below = fair - cfg.LeaderSlack
			default:
				below = 0
			}
			if below <= 0 {
				break
			}
			for _, st := range in.Status {
				if st.Leader != src || !settled(st) {
					continue
				}
				for _, r := range st.Replicas {
					c, ok := counts[r.Node]
					if !ok || r.Node == src || c >= below {
						continue
					}
					if best == nil || c < bestLoad || c == bestLoad && r.Node < best.Node {
						best = &Step{Kind: TransferLeadership, Shard: st.Shard, From: src, Node: r.Node}
						bestLoad = c
					}
				}
			}
			if best != nil {
				break
			}
		}
		if best == nil {
			return
		}
		plan.Steps = append(plan.Steps, *best)
		busy[best.Shard] = true
		counts[best.From]--
		counts[best.Node]++
	}
}

// metaVoters picks the meta group's desired voters: current voters that
// are still eligible, topped up in rendezvous order.
func metaVoters(cfg Config, eligible []string, st ShardStatus) []string {
	n := min(cfg.MetaVoters, len(eligible))
	var out []string
	for _, id := range placement.Rank("meta", eligible) {
		if len(out) == n {
			return out
		}
		if slices.ContainsFunc(st.Replicas, func(r Replica) bool { return r.Node == id && r.Voter }) {
			out = append(out, id)
		}
	}
	for _, id := range placement.Rank("meta", eligible) {
		if len(out) == n {
			break
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// shardStep returns at most one step for a shard, in priority order: get
// leadership off a leaving node, promote a caught-up replica, add a missing
// replica, remove a surplus one.
// Non-voters listed in learners are kept.
func shardStep(st ShardStatus, desired []string, h func(string) health, mayStart bool, learners []string) (step *Step, waiting, startsMove bool) {
	replica := func(n string) (Replica, bool) {
		for _, r := range st.Replicas {
			if r.Node == n {
				return r, true
			}
		}
		return Replica{}, false
	}
	// A leadership target: a healthy voter in the desired set, in table
	// preference order.
	target := func() string {
		for _, n := range desired {
			if r, ok := replica(n); ok && r.Voter && n != st.Leader && h(n).healthy {
				return n
			}
		}
		return ""
	}
	shard := st.Shard

	if !slices.Contains(desired, st.Leader) && h(st.Leader).leaving {
		if to := target(); to != "" {
			return &Step{Kind: TransferLeadership, Shard: shard, From: st.Leader, Node: to}, false, false
		}
	}

	allVoters := true
	for _, n := range desired {
		r, ok := replica(n)
		if ok && r.Voter {
			continue
		}
		allVoters = false
		if ok && r.CaughtUp && h(n).placeable {
			return &Step{Kind: Promote, Shard: shard, Node: n}, false, false
		}
		if ok {
			waiting = true
		}
	}
	if !allVoters {
		for _, n := range desired {
			if _, ok := replica(n); !ok && h(n).placeable && mayStart {
				return &Step{Kind: AddNonVoter, Shard: shard, Node: n}, waiting, true
			}
		}
	}

	// Surplus replicas: non-voters go at once (they hold no quorum), voters
	// only once every desired replica votes (add before remove). Replicas on
	// unreachable nodes go first.
	var surplus []Replica
	for _, r := range st.Replicas {
		if !r.Voter && slices.Contains(learners, r.Node) {
			continue
		}
		if !slices.Contains(desired, r.Node) && (!r.Voter || allVoters) {
			surplus = append(surplus, r)
		}
	}
	sort.SliceStable(surplus, func(i, j int) bool {
		hi, hj := h(surplus[i].Node).healthy, h(surplus[j].Node).healthy
		if hi != hj {
			return !hi
		}
		return surplus[i].Node < surplus[j].Node
	})
	voters, up := 0, 0
	for _, r := range st.Replicas {
		if r.Voter {
			voters++
			if h(r.Node).healthy {
				up++
			}
		}
	}
	for _, r := range surplus {
		if r.Voter && h(r.Node).healthy && 2*(up-1) <= voters-1 {
			// Removing a running voter while others are down would leave
			// the running ones short of a majority: wait for the failed
			// ones to return or to be removed first.
			continue
		}
		if r.Node != st.Leader {
			return &Step{Kind: RemoveReplica, Shard: shard, Node: r.Node}, waiting, false
		}
		if to := target(); to != "" {
			return &Step{Kind: TransferLeadership, Shard: shard, From: st.Leader, Node: to}, waiting, false
		}
	}
	return nil, waiting, false
}
