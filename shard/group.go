package shard

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/sibylhq/sibyl/internal/logbridge"
	"github.com/sibylhq/sibyl/shard/kv"
	"github.com/sibylhq/sibyl/shard/raftstore"
	"github.com/sibylhq/sibyl/shard/statemachine"
	"github.com/sibylhq/sibyl/shard/transport"
)

// Peer is one voter of a group.
type Peer struct {
	ID   string // node id
	Addr string // raft address (host:port)
}

// RaftTimers are the group's Raft timings. They are longer than the
// library's defaults because a node runs tens to hundreds of groups and
// each leader heartbeats every HeartbeatTimeout/10.
type RaftTimers struct {
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration
	SnapshotInterval   time.Duration
	SnapshotThreshold  uint64
	TrailingLogs       uint64
}

// DefaultRaftTimers: 2 s heartbeat and election (raft's default is 1 s).
func DefaultRaftTimers() RaftTimers {
	return RaftTimers{
		HeartbeatTimeout:   2 * time.Second,
		ElectionTimeout:    2 * time.Second,
		LeaderLeaseTimeout: time.Second,
		CommitTimeout:      50 * time.Millisecond,
		SnapshotInterval:   5 * time.Minute,
		SnapshotThreshold:  16384,
		TrailingLogs:       10240,
	}
}

// FastRaftTimers suit tests and single-process clusters on loopback.
func FastRaftTimers() RaftTimers {
	t := DefaultRaftTimers()
	t.HeartbeatTimeout = 100 * time.Millisecond
	t.ElectionTimeout = 100 * time.Millisecond
	t.LeaderLeaseTimeout = 50 * time.Millisecond
	t.CommitTimeout = 5 * time.Millisecond
	return t
}

// GroupConfig configures one Raft group on a node.
type GroupConfig struct {
	GroupID string
	NodeID  string
	// DataDir holds the group's snapshots (DataDir/snapshots/GroupID).
	DataDir string
	// LogDB and StateDB are the node's shared databases; the group does
	// not close them.
	LogDB, StateDB *kv.DB
	// Mux is the node's shared Raft port; the group registers on it.
	Mux          *transport.Mux
	StateMachine statemachine.StateMachine
	// Bootstrap is the initial voter set, used only if the group has no
	// Raft state yet. Empty means wait to be added by an existing leader.
	Bootstrap []Peer

	Timers         RaftTimers
	Proposer       ProposerConfig
	DedupWindow    time.Duration
	SnapshotRetain int
	// RaftLogLevel is hashicorp/raft's level ("warn", "info", ...).
	RaftLogLevel string
	// LogThrottle: a repeated raft warning or error is logged at most once
	// per this period (0 logs every line).
	LogThrottle time.Duration
	Logger      *slog.Logger
}

// DefaultGroupConfig returns a config with everything but the identity,
// storage and state machine filled in.
func DefaultGroupConfig() GroupConfig {
	return GroupConfig{
		Timers:         DefaultRaftTimers(),
		Proposer:       DefaultProposerConfig(),
		DedupWindow:    DefaultDedupWindow,
		SnapshotRetain: 2,
		RaftLogLevel:   "warn",
		LogThrottle:    10 * time.Second,
	}
}

// Validate checks required fields and cross-field rules.
func (c GroupConfig) Validate() error {
	switch {
	case !validGroupID(c.GroupID):
		return fmt.Errorf("group: GroupID %q must be 1..255 of [A-Za-z0-9_.-] (it names a directory)", c.GroupID)
	case hclog.LevelFromString(c.RaftLogLevel) == hclog.NoLevel:
		return fmt.Errorf("group: unknown RaftLogLevel %q", c.RaftLogLevel)
	case c.NodeID == "":
		return errors.New("group: NodeID is required")
	case c.DataDir == "":
		return errors.New("group: DataDir is required")
	case c.LogDB == nil || c.StateDB == nil:
		return errors.New("group: LogDB and StateDB are required")
	case c.Mux == nil:
		return errors.New("group: Mux is required")
	case c.StateMachine == nil:
		return errors.New("group: StateMachine is required")
	case c.LogThrottle < 0:
		return errors.New("group: LogThrottle must not be negative")
	case c.DedupWindow <= 0:
		return errors.New("group: DedupWindow must be positive")
	case c.SnapshotRetain < 1:
		return errors.New("group: SnapshotRetain must be at least 1")
	case c.Timers.LeaderLeaseTimeout > c.Timers.HeartbeatTimeout:
		return errors.New("group: LeaderLeaseTimeout must not exceed HeartbeatTimeout")
	case c.Timers.HeartbeatTimeout < 5*time.Millisecond || c.Timers.ElectionTimeout < 5*time.Millisecond:
		return errors.New("group: raft timeouts must be at least 5ms")
	}
	for _, p := range c.Bootstrap {
		if p.ID == "" || p.Addr == "" {
			return fmt.Errorf("group: bootstrap peer %+v needs an id and an address", p)
		}
	}
	return c.Proposer.Validate()
}

func validGroupID(id string) bool {
	if id == "" || len(id) > 255 || id == "." || id == ".." {
		return false
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-'
		if !ok {
			return false
		}
	}
	return true
}

// Group is one Raft group of a node: log and stable store views, snapshot
// store, FSM, transport and the group-commit proposer.
type Group struct {
	cfg          GroupConfig
	raft         *raft.Raft
	fsm          *FSM
	trans        *raft.NetworkTransport
	prop         *proposer
	bootstrapped bool
	logger       *slog.Logger

	closeOnce sync.Once
	closeErr  error
}

// OpenGroup starts the group. The state machine is loaded from the state
// DB (raft's snapshot restore on start is off: state is already durable),
// unless the newest snapshot is ahead of it, e.g. after a crash in the
// middle of a restore.
func OpenGroup(cfg GroupConfig) (*Group, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	// The caller's logger already names the node (node=); a group adds only
	// itself, so that each line carries each attribute once.
	logger = logger.With("group", cfg.GroupID)
	g := &Group{cfg: cfg, logger: logger}
	if err := g.open(); err != nil {
		return nil, fmt.Errorf("cannot open group %s: %w", cfg.GroupID, err)
	}
	return g, nil
}

func (g *Group) open() error {
	cfg := g.cfg
	store, err := raftstore.New(cfg.LogDB, cfg.GroupID)
	if err != nil {
		return err
	}
	hlog := logbridge.New(g.logger, logbridge.Options{
		Name:     "raft",
		Level:    hclog.LevelFromString(cfg.RaftLogLevel),
		Throttle: cfg.LogThrottle,
	})
	snapDir := filepath.Join(cfg.DataDir, "snapshots", cfg.GroupID)
	if err := os.MkdirAll(snapDir, 0o700); err != nil {
		return err
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(snapDir, cfg.SnapshotRetain, hlog)
	if err != nil {
		return err
	}
	// Raft panics on a missing entry it needs ("log not found"); refuse a
	// log with a hole here, with an error, instead.
	from := uint64(1)
	if list, err := snaps.List(); err != nil {
		return err
	} else if len(list) > 0 {
		from = list[0].Index + 1
	}
	if err := store.CheckContiguous(from); err != nil {
		return err
	}
	g.fsm, err = NewFSM(cfg.StateDB, cfg.GroupID, cfg.StateMachine, cfg.DedupWindow, g.logger)
	if err != nil {
		return err
	}
	if err := g.catchUpFromSnapshot(snaps); err != nil {
		return err
	}

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.Logger = hlog
	rc.NoSnapshotRestoreOnStart = true
	rc.BatchApplyCh = true
	rc.HeartbeatTimeout = cfg.Timers.HeartbeatTimeout
	rc.ElectionTimeout = cfg.Timers.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.Timers.LeaderLeaseTimeout
	rc.CommitTimeout = cfg.Timers.CommitTimeout
	rc.SnapshotInterval = cfg.Timers.SnapshotInterval
	rc.SnapshotThreshold = cfg.Timers.SnapshotThreshold
	rc.TrailingLogs = cfg.Timers.TrailingLogs

	layer, err := cfg.Mux.Layer(cfg.GroupID)
	if err != nil {
		return err
	}
	g.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  layer,
		MaxPool: 3,
		Timeout: 10 * time.Second,
		// Pipelined replication off (1 RPC in flight per follower). In
		// hashicorp/raft v1.8 a pipeline deadlocks once a follower answers
		// an append with Success=false (a log mismatch after a leader
		// change, a replica being removed or restarting): pipelineDecode
		// returns, nothing reads the pipeline's unbuffered doneCh any more,
		// and the next pipelineSend blocks on inprogressCh for ever, since
		// the pipeline is closed only after that send returns. The follower
		// then gets heartbeats but no entries, and raft.Shutdown waits on
		// that replication goroutine for ever (seen as node shutdowns
		// hanging in node/testcluster; goroutine dump in the commit that
		// set this). Without the pipeline every append has a timeout.
		// Group commit already puts many commands in one entry, and raft
		// sends up to 64 entries per append, so little is lost.
		MaxRPCsInFlight: 1,
		Logger:          hlog,
	})

	// Bootstrap exactly once: only a group with no term, no log and no
	// snapshot is bootstrapped; a restart finds its state and skips this.
	has, err := raft.HasExistingState(store, store, snaps)
	if err != nil {
		g.trans.Close()
		return err
	}
	if !has && len(cfg.Bootstrap) > 0 {
		var servers []raft.Server
		for _, p := range cfg.Bootstrap {
			servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Addr)})
		}
		if err := raft.BootstrapCluster(rc, store, store, snaps, g.trans, raft.Configuration{Servers: servers}); err != nil {
			g.trans.Close()
			return fmt.Errorf("cannot bootstrap: %w", err)
		}
		g.bootstrapped = true
		// Debug: a fresh node bootstraps 65 groups at once; the manager
		// reports them in one line.
		g.logger.Debug("bootstrapped raft group", "voters", len(servers))
	}

	g.raft, err = raft.NewRaft(rc, g.fsm, store, store, snaps, g.trans)
	if err != nil {
		g.trans.Close()
		return err
	}
	g.prop = newProposer(cfg.GroupID, g.raft, cfg.Proposer)
	return nil
}

// catchUpFromSnapshot restores the newest snapshot when the state DB holds
// less than it: after a crash in the middle of a Restore, or when unsynced
// state writes were lost in an OS crash. Raft (NoSnapshotRestoreOnStart)
// replays only entries after the snapshot, so the state must be at least
// as new as the snapshot's content before raft starts.
func (g *Group) catchUpFromSnapshot(snaps raft.SnapshotStore) error {
	list, err := snaps.List()
	if err != nil || len(list) == 0 {
		return err
	}
	applied := g.fsm.AppliedIndex()
	if list[0].Index <= applied {
		return nil
	}
	_, rc, err := snaps.Open(list[0].ID)
	if err != nil {
		return err
	}
	defer rc.Close()
	r := bufio.NewReaderSize(rc, 256<<10)
	snapApplied, err := readSnapshotHeader(r)
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", list[0].ID, err)
	}
	// Entries between the snapshot's applied index and its raft index
	// carry no commands (no-ops), so this state is complete.
	if snapApplied <= applied {
		return nil
	}
	g.logger.Warn("state is behind the newest snapshot, restoring it",
		"applied", applied, "snapshot_applied", snapApplied, "snapshot_index", list[0].Index)
	if err := g.fsm.restore(r); err != nil {
		return fmt.Errorf("cannot restore snapshot %s: %w", list[0].ID, err)
	}
	return nil
}

// ID is the group id.
func (g *Group) ID() string { return g.cfg.GroupID }

// Bootstrapped reports whether this open bootstrapped the group.
func (g *Group) Bootstrapped() bool { return g.bootstrapped }

// Propose replicates cmd through group commit and returns the state
// machine's result and the entry's Raft index once applied on this node.
func (g *Group) Propose(ctx context.Context, cmd *statemachine.Command) (any, uint64, error) {
	f, err := g.prop.propose(ctx, cmd)
	if err != nil {
		return nil, 0, err
	}
	return f.Wait(ctx)
}

// ProposeAsync queues cmd and returns its future.
func (g *Group) ProposeAsync(ctx context.Context, cmd *statemachine.Command) (*Future, error) {
	return g.prop.propose(ctx, cmd)
}

// IsLeader reports whether this node leads the group.
func (g *Group) IsLeader() bool { return g.raft.State() == raft.Leader }

// Leader returns the leader's node id and raft address ("" if unknown).
func (g *Group) Leader() (id, addr string) {
	a, i := g.raft.LeaderWithID()
	return string(i), string(a)
}

// AppliedIndex is the last index whose effects are durable in the state DB.
func (g *Group) AppliedIndex() uint64 { return g.fsm.AppliedIndex() }

// LastIndex is the last index in this node's Raft log.
func (g *Group) LastIndex() uint64 { return g.raft.LastIndex() }

// Configuration returns the group's current voters and non-voters.
func (g *Group) Configuration() (voters, nonvoters []Peer, err error) {
	f := g.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, nil, g.prop.mapErr(err)
	}
	for _, s := range f.Configuration().Servers {
		p := Peer{ID: string(s.ID), Addr: string(s.Address)}
		if s.Suffrage == raft.Voter {
			voters = append(voters, p)
		} else {
			nonvoters = append(nonvoters, p)
		}
	}
	return voters, nonvoters, nil
}

// AddVoter adds (or updates) a voter; only the leader can.
func (g *Group) AddVoter(ctx context.Context, p Peer) error {
	return g.wait(ctx, g.raft.AddVoter(raft.ServerID(p.ID), raft.ServerAddress(p.Addr), 0, timeoutOf(ctx)))
}

// AddNonvoter adds a replica that receives the log but does not vote: the
// first step of a shard move (promote it with AddVoter once caught up).
func (g *Group) AddNonvoter(ctx context.Context, p Peer) error {
	return g.wait(ctx, g.raft.AddNonvoter(raft.ServerID(p.ID), raft.ServerAddress(p.Addr), 0, timeoutOf(ctx)))
}

// DemoteVoter turns a voter into a non-voter; only the leader can.
func (g *Group) DemoteVoter(ctx context.Context, id string) error {
	return g.wait(ctx, g.raft.DemoteVoter(raft.ServerID(id), 0, timeoutOf(ctx)))
}

// TransferLeadership hands leadership to the given voter, or to the most
// up-to-date one when to is nil. The leader never removes itself directly:
// it transfers first.
func (g *Group) TransferLeadership(ctx context.Context, to *Peer) error {
	if to == nil {
		return g.wait(ctx, g.raft.LeadershipTransfer())
	}
	return g.wait(ctx, g.raft.LeadershipTransferToServer(raft.ServerID(to.ID), raft.ServerAddress(to.Addr)))
}

// RemoveServer removes a server from the group; only the leader can.
func (g *Group) RemoveServer(ctx context.Context, id string) error {
	return g.wait(ctx, g.raft.RemoveServer(raft.ServerID(id), 0, timeoutOf(ctx)))
}

// Barrier waits until every entry committed before it is applied on this
// node (leader only): read-your-writes for queries served by the leader.
func (g *Group) Barrier(ctx context.Context) error {
	return g.wait(ctx, g.raft.Barrier(timeoutOf(ctx)))
}

// Snapshot asks raft for a snapshot now.
func (g *Group) Snapshot() error { return g.raft.Snapshot().Error() }

func timeoutOf(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return max(time.Until(d), time.Millisecond)
	}
	return 0
}

func (g *Group) wait(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }() // ends when raft resolves f (at the latest on shutdown)
	select {
	case err := <-done:
		if err != nil {
			return g.prop.mapErr(err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("group %s: %w: %w", g.cfg.GroupID, ErrNoQuorum, ctx.Err())
	}
}

// Shutdown stops the proposer (failing queued commands), raft and the
// transport. It does not close the shared databases or mux.
func (g *Group) Shutdown() error {
	g.closeOnce.Do(func() {
		g.prop.close()
		done := make(chan error, 1)
		go func() { done <- g.raft.Shutdown().Error() }() // ends when raft has stopped
		select {
		case g.closeErr = <-done:
		case <-time.After(2*g.cfg.Timers.ElectionTimeout + time.Second):
			// A backstop: raft waits for its replication goroutines, and
			// one blocked in an RPC to an unresponsive peer ends with the
			// transport's timeout. Closing the transport ends it sooner.
			// (The hang once seen here was the pipeline deadlock that
			// MaxRPCsInFlight: 1 above avoids.)
			g.logger.Warn("raft did not stop in time; closing its transport")
			g.trans.CloseStreams()
			g.trans.Close()
			g.closeErr = <-done
		}
		g.prop.wait()
		g.trans.CloseStreams()
		if err := g.trans.Close(); err != nil && g.closeErr == nil {
			g.closeErr = err
		}
	})
	return g.closeErr
}

// RaftAppliedIndex is the last log index Raft has applied on this node,
// configuration changes and no-ops included: how far a new replica has
// caught up.
func (g *Group) RaftAppliedIndex() uint64 { return g.raft.AppliedIndex() }

// CommitIndex is the latest committed index this node knows.
func (g *Group) CommitIndex() uint64 { return g.raft.CommitIndex() }
