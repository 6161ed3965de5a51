package node

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/sibylhq/sibyl/cluster/reconcile"
	"github.com/sibylhq/sibyl/query"
)

// LocalInfo is one node's own view of its groups.
type LocalInfo struct {
	Node       string      `json:"node"`
	MetaLeader bool        `json:"meta_leader"`
	Groups     []GroupInfo `json:"groups"`
	// Plan is the reconciler's last plan, on the meta leader only.
	Plan *PlanInfo `json:"plan,omitempty"`
}

// GroupInfo is one local Raft group.
type GroupInfo struct {
	Shard   int    `json:"shard"` // -1: the meta group
	Leader  string `json:"leader"`
	Applied uint64 `json:"applied"`
	Voter   bool   `json:"voter"`
}

// PlanInfo summarises the reconciler's last round.
type PlanInfo struct {
	Eligible  []string `json:"eligible"`
	Unhealthy []string `json:"unhealthy,omitempty"`
	// Waiting are shards with a new replica catching up; Stalled have no
	// known leader; Steps are the round's pending actions.
	Waiting []int    `json:"waiting,omitempty"`
	Stalled []int    `json:"stalled,omitempty"`
	Steps   []string `json:"steps,omitempty"`
	// Leaders counts the data shards each healthy node led at the start
	// of the round; LeaderLimit is the most one may lead before the
	// reconciler transfers leaderships off it.
	Leaders     map[string]int `json:"leaders,omitempty"`
	LeaderLimit int            `json:"leader_limit,omitempty"`
}

// ClusterStatus is the answer of GET /v2/cluster/status.
type ClusterStatus struct {
	Node             string        `json:"node"`
	MetaLeader       string        `json:"meta_leader"`
	PlacementVersion uint64        `json:"placement_version"`
	Nodes            []NodeStatus  `json:"nodes"`
	Shards           []ShardStatus `json:"shards"`
	Moves            *PlanInfo     `json:"moves,omitempty"`
}

// NodeStatus is one member.
type NodeStatus struct {
	ID       string `json:"id"`
	State    string `json:"state"`
	HTTPAddr string `json:"http"`
	RaftAddr string `json:"raft"`
	Draining bool   `json:"draining,omitempty"`
	// Replicas and Leads count the data shards the table places here and
	// the data shard groups it leads (-1 when the node did not answer;
	// the meta group is not counted: see ClusterStatus.MetaLeader).
	Replicas int `json:"replicas"`
	Leads    int `json:"leads"`
}

// ShardStatus is one shard's placement and leader.
type ShardStatus struct {
	Shard    int      `json:"shard"`
	Replicas []string `json:"replicas"`
	Leader   string   `json:"leader"`
}

func (c *clusterNode) localInfo() LocalInfo {
	info := LocalInfo{Node: c.self, MetaLeader: c.n.shards.Meta().IsLeader()}
	for _, g := range c.n.shards.Groups() {
		s := reconcile.MetaShard
		if g != c.n.shards.Meta() {
			fmt.Sscanf(g.ID(), "s%d", &s)
		}
		id, _ := g.Leader()
		voters, _, _ := g.Configuration()
		voter := false
		for _, p := range voters {
			voter = voter || p.ID == c.self
		}
		info.Groups = append(info.Groups, GroupInfo{Shard: s, Leader: id, Applied: g.RaftAppliedIndex(), Voter: voter})
	}
	if info.MetaLeader {
		p := c.ctl.LastPlan()
		pi := &PlanInfo{Eligible: p.Eligible, Unhealthy: p.Unhealthy, Waiting: p.Waiting, Stalled: p.Stalled,
			Leaders: p.Leaders, LeaderLimit: p.LeaderLimit}
		for _, s := range p.Steps {
			pi.Steps = append(pi.Steps, s.String())
		}
		info.Plan = pi
	}
	return info
}

// clusterStatus asks every live member for its local view and merges them
// with the table.
func (c *clusterNode) clusterStatus(ctx context.Context) ClusterStatus {
	tab := c.ps.Table()
	st := ClusterStatus{Node: c.self, PlacementVersion: tab.Version}
	st.MetaLeader, _ = c.n.shards.Meta().Leader()
	members := c.members.Members()
	infos := make([]*LocalInfo, len(members))
	var wg sync.WaitGroup
	for i, m := range members {
		if m.ID == c.self {
			info := c.localInfo()
			infos[i] = &info
			continue
		}
		if m.State != reconcile.Alive || m.RaftAddr == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			if res, err := c.rpc.call(cctx, m.RaftAddr, ctlRequest{Op: "local"}, 0); err == nil {
				infos[i] = res.Info
			}
		}()
	}
	wg.Wait()
	leaders := make(map[int]string)
	for i, m := range members {
		ns := NodeStatus{ID: m.ID, State: m.State.String(), HTTPAddr: m.HTTPAddr, RaftAddr: m.RaftAddr, Draining: m.Draining,
			Replicas: len(tab.ShardsOf(m.ID)), Leads: -1}
		if m.Leaving && m.State != reconcile.Left {
			ns.State = "leaving"
		}
		if info := infos[i]; info != nil {
			ns.Leads = 0
			for _, g := range info.Groups {
				if g.Shard == reconcile.MetaShard {
					continue
				}
				if g.Leader == m.ID {
					ns.Leads++
					leaders[g.Shard] = m.ID
				} else if _, ok := leaders[g.Shard]; !ok && g.Leader != "" {
					leaders[g.Shard] = g.Leader
				}
			}
			if info.Plan != nil {
				st.Moves = info.Plan
			}
		}
		st.Nodes = append(st.Nodes, ns)
	}
	for s, reps := range tab.Shards {
		st.Shards = append(st.Shards, ShardStatus{Shard: s, Replicas: reps, Leader: leaders[s]})
	}
	sort.Slice(st.Nodes, func(i, j int) bool { return st.Nodes[i].ID < st.Nodes[j].ID })
	return st
}

// ClusterCall implements query.ClusterAPI: "status" and "leave" (drain
// this node; poll status until it holds no replica).
func (n *Node) ClusterCall(ctx context.Context, op string, args map[string]string) (any, error) {
	if n.cl == nil {
		return nil, &query.APIError{Status: 404, Type: query.ErrTypeNotFound, Message: "this node runs alone (start it with --join or --cluster)"}
	}
	if !n.cl.started.Load() {
		return nil, errStarting
	}
	switch op {
	case "status":
		return n.cl.clusterStatus(ctx), nil
	case "leave":
		if err := n.cl.members.SetDraining(true); err != nil {
			return nil, fmt.Errorf("%w: %v", query.ErrUnavailable, err)
		}
		n.cl.ctl.Kick()
		n.log.Info("draining on request: the meta leader moves this node's replicas away")
		return map[string]any{"status": "ok", "node": n.cfg.NodeID, "draining": true}, nil
	}
	return nil, &query.APIError{Status: 404, Type: query.ErrTypeNotFound, Message: "no cluster operation " + op}
}

// ClusterStatus returns the cluster's status as this node sees it.
func (n *Node) ClusterStatus(ctx context.Context) (ClusterStatus, error) {
	if n.cl == nil {
		return ClusterStatus{}, errors.New("not in cluster mode")
	}
	return n.cl.clusterStatus(ctx), nil
}
