package node

import (
	"context"
	"sync"
	"time"

	"github.com/sibylhq/sibyl/cluster/control"
	"github.com/sibylhq/sibyl/cluster/membership"
	"github.com/sibylhq/sibyl/cluster/reconcile"
)

// peerCheck stands between gossip and the controller: a member is shown
// as alive only once it has answered a control call over the Raft port,
// whose mutual TLS admits only certificates of the cluster CA. Gossip
// encryption keeps strangers out of membership, but a holder of the
// gossip key without a certificate would otherwise be counted as a
// healthy node and given replicas it can never receive, stalling those
// moves. Until verified, an alive member is reported as suspect, which
// the reconciler never places (and keeps, if it is already in the table,
// for the second a new meta leader needs to verify it again).
//
// A member is verified for the Raft address it answered at: a node that
// comes back on another address is checked again.
type peerCheck struct {
	self  string
	probe func(ctx context.Context, raftAddr string) error
	// ctx and wg own the probe goroutines (one per member at most).
	ctx context.Context
	wg  *sync.WaitGroup

	mu       sync.Mutex
	verified map[string]string // node id -> Raft address that answered
	probing  map[string]bool
}

// peerProbeTimeout bounds one verification call; a failed member is
// probed again at the controller's next round.
const peerProbeTimeout = 3 * time.Second

func newPeerCheck(ctx context.Context, wg *sync.WaitGroup, self string, probe func(context.Context, string) error) *peerCheck {
	return &peerCheck{self: self, probe: probe, ctx: ctx, wg: wg,
		verified: make(map[string]string), probing: make(map[string]bool)}
}

// members is the controller's view of m: verified (or self) members as
// gossip sees them, unverified alive ones as suspect.
func (p *peerCheck) members(m interface{ Members() []membership.Member }) control.Members {
	return membersFunc(func() []reconcile.Member {
		ms := m.Members()
		out := make([]reconcile.Member, len(ms))
		for i, x := range ms {
			out[i] = control.ToReconcile(x)
			if x.ID == p.self || out[i].State != reconcile.Alive || p.isVerified(x) {
				continue
			}
			out[i].State = reconcile.Suspect
		}
		return out
	})
}

type membersFunc func() []reconcile.Member

func (f membersFunc) Members() []reconcile.Member { return f() }

// isVerified reports whether x answered at its current Raft address, and
// starts a probe of it when not (and none is running).
func (p *peerCheck) isVerified(x membership.Member) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.verified[x.ID] == x.RaftAddr && x.RaftAddr != "" {
		return true
	}
	if p.probing[x.ID] || x.RaftAddr == "" || p.ctx.Err() != nil {
		return false
	}
	p.probing[x.ID] = true
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		ctx, cancel := context.WithTimeout(p.ctx, peerProbeTimeout)
		err := p.probe(ctx, x.RaftAddr)
		cancel()
		p.mu.Lock()
		defer p.mu.Unlock()
		delete(p.probing, x.ID)
		if err == nil {
			p.verified[x.ID] = x.RaftAddr
		}
	}()
	return false
}
