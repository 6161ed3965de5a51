package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/sibylhq/sibyl/cluster/membership"
	"github.com/sibylhq/sibyl/cluster/placement"
	"github.com/sibylhq/sibyl/cluster/reconcile"
)

// Members is the membership view.
type Members interface {
	Members() []reconcile.Member
}

// Meta is the meta group as the controller needs it.
type Meta interface {
	// IsLeader reports whether this node leads the meta group. Only the
	// leader reconciles.
	IsLeader() bool
	// Table returns the committed placement table.
	Table() placement.Table
	// CommitTable proposes t (version = committed + 1) and waits until it
	// is applied; a stale version fails with an error wrapping
	// meta.ErrStalePlacement.
	CommitTable(ctx context.Context, t placement.Table) error
}

// Shards reaches each shard's Raft leader, locally or through a peer.
// Shard reconcile.MetaShard (-1) is the meta group itself, whose voters
// the controller manages the same way.
type Shards interface {
	// Status returns the shard's configuration as its leader sees it,
	// with CaughtUp set for non-voters close to the leader's log. A shard
	// without a leader returns a status with Leader "".
	Status(ctx context.Context, shard int) (reconcile.ShardStatus, error)
	AddNonVoter(ctx context.Context, shard int, node string) error
	Promote(ctx context.Context, shard int, node string) error
	TransferLeadership(ctx context.Context, shard int, from, to string) error
	RemoveReplica(ctx context.Context, shard int, node string) error
}

// ErrBadConfig reports an invalid Config.
var ErrBadConfig = errors.New("invalid control config")

// Config configures the controller.
type Config struct {
	Reconcile reconcile.Config
	// Interval is the longest time between two rounds.
	Interval time.Duration
	// StepTimeout bounds each call into Meta or Shards.
	StepTimeout time.Duration
	Logger      *slog.Logger
}

// DefaultConfig returns a 1 s round interval and 10 s step timeout.
func DefaultConfig() Config {
	return Config{Reconcile: reconcile.DefaultConfig(), Interval: time.Second, StepTimeout: 10 * time.Second}
}

// Validate checks the config.
func (c Config) Validate() error {
	if err := c.Reconcile.Validate(); err != nil {
		return err
	}
	if c.Interval <= 0 || c.StepTimeout <= 0 {
		return fmt.Errorf("%w: interval and step timeout must be positive", ErrBadConfig)
	}
	return nil
}

// Controller is the reconcile loop of one node. It acts only while its
// node leads the meta group.
type Controller struct {
	cfg     Config
	log     *slog.Logger
	members Members
	meta    Meta
	shards  Shards
	now     func() time.Time

	mu         sync.Mutex
	leader     bool
	leaderFrom time.Time
	last       reconcile.Plan
	kick       chan struct{}
}

// New returns a controller; Run starts it.
func New(cfg Config, members Members, meta Meta, shards Shards) (*Controller, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	lg := cfg.Logger
	if lg == nil {
		lg = slog.Default()
	}
	return &Controller{
		cfg: cfg, log: lg.With("component", "reconciler"),
		members: members, meta: meta, shards: shards,
		now:  time.Now,
		kick: make(chan struct{}, 1),
	}, nil
}

// Kick asks for a round soon (a membership change, a new table). It never
// blocks.
func (c *Controller) Kick() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// LastPlan returns the most recent round's plan, for status pages.
func (c *Controller) LastPlan() reconcile.Plan {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// Run reconciles until ctx ends. The caller owns the goroutine:
// `go c.Run(ctx)` and cancel ctx on shutdown, then wait for Run to return.
func (c *Controller) Run(ctx context.Context) error {
	t := time.NewTicker(c.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := c.Round(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("reconcile round failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-c.kick:
		}
	}
}

// Round runs one reconcile round and returns its plan; it does nothing on
// a node that does not lead the meta group. Step failures are logged and
// retried next round; the error reports only failures to gather input.
func (c *Controller) Round(ctx context.Context) (reconcile.Plan, error) {
	now := c.now()
	if !c.meta.IsLeader() {
		c.mu.Lock()
		c.leader = false
		c.mu.Unlock()
		return reconcile.Plan{}, nil
	}
	c.mu.Lock()
	if !c.leader {
		// A new leader has watched membership only from now on.
		c.leader, c.leaderFrom = true, now
	}
	viewSince := c.leaderFrom
	c.mu.Unlock()

	in := reconcile.Input{Now: now, ViewSince: viewSince, Members: c.members.Members(), Table: c.meta.Table()}
	var statusErrs []error
	mctx, cancel := context.WithTimeout(ctx, c.cfg.StepTimeout)
	ms, err := c.shards.Status(mctx, reconcile.MetaShard)
	cancel()
	if err != nil {
		statusErrs = append(statusErrs, fmt.Errorf("cannot read status of the meta group: %w", err))
	} else {
		ms.Shard = reconcile.MetaShard
		in.Meta = &ms
	}
	for s := range in.Table.Shards {
		sctx, cancel := context.WithTimeout(ctx, c.cfg.StepTimeout)
		st, err := c.shards.Status(sctx, s)
		cancel()
		if err != nil {
			statusErrs = append(statusErrs, fmt.Errorf("cannot read status of shard %d: %w", s, err))
			continue
		}
		st.Shard = s
		in.Status = append(in.Status, st)
	}
	plan := reconcile.Next(c.cfg.Reconcile, in)
	for _, step := range plan.Steps {
		if ctx.Err() != nil {
			break
		}
		if err := c.execute(ctx, step); err != nil {
			c.log.Warn("reconcile step failed", "step", step.String(), "err", err)
			continue
		}
		c.log.Info("reconcile step", "step", step.String())
	}
	c.mu.Lock()
	c.last = plan
	c.mu.Unlock()
	return plan, errors.Join(statusErrs...)
}

func (c *Controller) execute(ctx context.Context, s reconcile.Step) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.StepTimeout)
	defer cancel()
	switch s.Kind {
	case reconcile.CommitTable:
		return c.meta.CommitTable(ctx, *s.Table)
	case reconcile.AddNonVoter:
		return c.shards.AddNonVoter(ctx, s.Shard, s.Node)
	case reconcile.Promote:
		return c.shards.Promote(ctx, s.Shard, s.Node)
	case reconcile.TransferLeadership:
		return c.shards.TransferLeadership(ctx, s.Shard, s.From, s.Node)
	case reconcile.RemoveReplica:
		return c.shards.RemoveReplica(ctx, s.Shard, s.Node)
	}
	return fmt.Errorf("unknown step kind %v", s.Kind)
}

// MembersOf adapts a membership view to the controller.
func MembersOf(m interface{ Members() []membership.Member }) Members {
	return membersFunc(func() []reconcile.Member {
		ms := m.Members()
		out := make([]reconcile.Member, len(ms))
		for i, x := range ms {
			out[i] = ToReconcile(x)
		}
		return out
	})
}

// ToReconcile converts one membership entry (both speak
// reconcile.MemberState).
func ToReconcile(m membership.Member) reconcile.Member {
	return reconcile.Member{ID: m.ID, State: m.State, Since: m.Since, Draining: m.Draining}
}

type membersFunc func() []reconcile.Member

func (f membersFunc) Members() []reconcile.Member { return f() }
