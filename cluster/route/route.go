// Package route decides which node answers a request for a shard: any node
// accepts any request, serves reads from its own replica when it has a
// ready one, forwards other reads to a healthy replica (spreading load
// round-robin) and forwards writes to the shard's leader. It only chooses;
// the forwarding itself (keep-alive HTTP) belongs to the API layer.
//
// The replica set comes from the committed placement table, never from the
// gossip view; gossip only supplies addresses and health.
package route

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/sibylhq/sibyl/cluster/placement"
)

// ErrNoRoute means no replica of the shard is known to be reachable.
var ErrNoRoute = errors.New("no reachable replica")

// Peer is what routing needs to know about a node.
type Peer struct {
	ID       string
	HTTPAddr string
	// Up is false for failed or left members (and unhealthy ones inside the
	// grace period): they keep their replicas but get no traffic.
	Up bool
}

// Target is where to send a request.
type Target struct {
	Node     string
	HTTPAddr string
	// Local means this node serves the request itself.
	Local bool
}

// Router is safe for concurrent use; SetTable and SetPeers swap state
// atomically with respect to lookups.
type Router struct {
	self string
	// localReady reports whether this node's replica of a shard is caught
	// up enough to serve reads (a replica being added is not).
	localReady func(shard int) bool

	mu    sync.RWMutex
	table placement.Table
	peers map[string]Peer
	next  atomic.Uint64
}

// New returns a router for node self. localReady may be nil (every local
// replica in the table is ready).
func New(self string, localReady func(shard int) bool) *Router {
	if localReady == nil {
		localReady = func(int) bool { return true }
	}
	return &Router{self: self, localReady: localReady, peers: map[string]Peer{}}
}

// SetTable installs a newly committed placement table.
func (r *Router) SetTable(t placement.Table) {
	t = t.Clone()
	r.mu.Lock()
	r.table = t
	r.mu.Unlock()
}

// SetPeers replaces the address book.
func (r *Router) SetPeers(peers []Peer) {
	m := make(map[string]Peer, len(peers))
	for _, p := range peers {
		m[p.ID] = p
	}
	r.mu.Lock()
	r.peers = m
	r.mu.Unlock()
}

// Read picks the node that serves a read of shard.
func (r *Router) Read(shard int) (Target, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	reps := r.table.Replicas(shard)
	if r.hasLocal(reps) && r.localReady(shard) {
		return Target{Node: r.self, Local: true}, nil
	}
	var up []Peer
	for _, n := range reps {
		if p, ok := r.peers[n]; ok && p.Up && p.HTTPAddr != "" && n != r.self {
			up = append(up, p)
		}
	}
	if len(up) == 0 {
		return Target{}, fmt.Errorf("cannot route a read of shard %d: %w", shard, ErrNoRoute)
	}
	p := up[r.next.Add(1)%uint64(len(up))]
	return Target{Node: p.ID, HTTPAddr: p.HTTPAddr}, nil
}

// Write picks the node that takes a write for shard. leader is the shard's
// leader if this node knows it (it does when it holds a replica), else "".
// Without a known, reachable leader the write goes to a replica, whose
// Raft layer knows the leader and forwards again.
func (r *Router) Write(shard int, leader string) (Target, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if leader == r.self {
		return Target{Node: r.self, Local: true}, nil
	}
	if p, ok := r.peers[leader]; ok && p.Up && p.HTTPAddr != "" {
		return Target{Node: p.ID, HTTPAddr: p.HTTPAddr}, nil
	}
	for _, n := range r.table.Replicas(shard) {
		if n == r.self {
			continue // we do not know the leader ourselves
		}
		if p, ok := r.peers[n]; ok && p.Up && p.HTTPAddr != "" {
			return Target{Node: p.ID, HTTPAddr: p.HTTPAddr}, nil
		}
	}
	return Target{}, fmt.Errorf("cannot route a write to shard %d: %w", shard, ErrNoRoute)
}

func (r *Router) hasLocal(reps []string) bool {
	for _, n := range reps {
		if n == r.self {
			return true
		}
	}
	return false
}
