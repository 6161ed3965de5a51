package shard

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/sibylhq/sibyl/shard/kv"
	"github.com/sibylhq/sibyl/shard/raftstore"
	"github.com/sibylhq/sibyl/shard/transport"
)

// MetaGroupID is the id of the cluster metadata group.
const MetaGroupID = "meta"

// DefaultShards is the number of data shards chosen at first bootstrap.
const DefaultShards = 64

// ShardGroupID is the Raft group id of data shard i.
func ShardGroupID(i int) string { return "s" + strconv.Itoa(i) }

// Config configures a node's set of Raft groups.
type Config struct {
	NodeID  string
	DataDir string
	// RaftBind is the one TCP address all groups share; RaftAdvertise is
	// what peers dial ("" = RaftBind).
	RaftBind      string
	RaftAdvertise string
	// Shards is used only at first start; afterwards the persisted count
	// wins (a different value is logged and ignored).
	Shards int
	// Bootstrap is the initial voter set of every group. Empty means a
	// single-node cluster of this node, unless Join is set.
	Bootstrap []Peer
	// Join: start without bootstrapping; an existing leader adds us.
	Join bool
	// Lazy opens only the meta group; data shard groups are opened and
	// closed by the caller (OpenShard, CloseShard) as the cluster's
	// placement table assigns them to this node.
	Lazy bool
	// NewStateMachine builds the state machine of a group (a shard id from
	// ShardGroupID, or MetaGroupID).
	NewStateMachine func(groupID string) StateMachine
	// Group is the template for every group's settings (timers, proposer,
	// dedup window); identity and storage fields are filled in.
	Group GroupConfig
	// InMemory keeps both databases in memory (tests).
	InMemory bool
	Logger   *slog.Logger
}

// DefaultConfig is a single-node cluster with data in ./data.
func DefaultConfig() Config {
	return Config{
		NodeID:   "node1",
		DataDir:  "data",
		RaftBind: transport.DefaultRaftAddr,
		Shards:   DefaultShards,
		Group:    DefaultGroupConfig(),
	}
}

// Validate checks the config.
func (c Config) Validate() error {
	switch {
	case c.NodeID == "":
		return errors.New("shard: NodeID is required")
	case c.DataDir == "":
		return errors.New("shard: DataDir is required")
	case c.RaftBind == "":
		return errors.New("shard: RaftBind is required")
	case c.Shards < 1 || c.Shards > 4096:
		return errors.New("shard: Shards must be in 1..4096")
	case c.NewStateMachine == nil:
		return errors.New("shard: NewStateMachine is required")
	case c.Join && len(c.Bootstrap) > 0:
		return errors.New("shard: Join and Bootstrap are mutually exclusive")
	}
	return nil
}

// Manager owns a node's two Badgers, its Raft port and all its groups.
type Manager struct {
	cfg     Config
	logDB   *kv.DB
	stateDB *kv.DB
	mux     *transport.Mux
	meta    *Group
	count   int
	logger  *slog.Logger

	mu     sync.RWMutex // guards shards and byID
	shards []*Group     // nil where the shard is not open here
	byID   map[string]*Group

	closeOnce sync.Once
	closeErr  error
}

var shardCountKey = []byte{nsNode, 'n', 's', 'h', 'a', 'r', 'd', 's'}

// Open opens the databases under DataDir/raft-log and DataDir/state, binds
// the Raft port and starts the meta group and every data shard.
func Open(cfg Config) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	m := &Manager{cfg: cfg, byID: make(map[string]*Group), logger: logger.With("node", cfg.NodeID)}
	if err := m.open(); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

func (m *Manager) open() error {
	cfg := m.cfg
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("cannot create data dir: %w", err)
	}
	logSizing, stateSizing := kv.LogSizing(), kv.StateSizing()
	logSizing.InMemory, stateSizing.InMemory = cfg.InMemory, cfg.InMemory
	var err error
	if m.logDB, err = kv.Open(filepath.Join(cfg.DataDir, "raft-log"), logSizing, m.logger); err != nil {
		return err
	}
	if m.stateDB, err = kv.Open(filepath.Join(cfg.DataDir, "state"), stateSizing, m.logger); err != nil {
		return err
	}
	n, err := m.shardCount()
	if err != nil {
		return err
	}
	if m.mux, err = transport.Listen(cfg.RaftBind, cfg.RaftAdvertise, m.logger); err != nil {
		return err
	}
	m.count = n
	m.shards = make([]*Group, n)
	boot := cfg.Bootstrap
	if len(boot) == 0 && !cfg.Join {
		boot = m.Self()
	}
	if m.meta, err = m.start(MetaGroupID, boot); err != nil {
		return err
	}
	if cfg.Lazy {
		m.logger.Info("meta group started; shard groups follow the placement table", "shards", n, "raft_addr", m.mux.Addr().String())
		return nil
	}
	for i := range n {
		g, err := m.start(ShardGroupID(i), boot)
		if err != nil {
			return fmt.Errorf("cannot open shard %d: %w", i, err)
		}
		m.shards[i] = g
	}
	m.logger.Info("raft groups started", "shards", n, "raft_addr", m.mux.Addr().String())
	return nil
}

func (m *Manager) start(id string, boot []Peer) (*Group, error) {
	cfg := m.cfg
	gc := cfg.Group
	gc.GroupID, gc.NodeID, gc.DataDir = id, cfg.NodeID, cfg.DataDir
	gc.LogDB, gc.StateDB, gc.Mux = m.logDB, m.stateDB, m.mux
	gc.StateMachine = cfg.NewStateMachine(id)
	gc.Bootstrap = boot
	gc.Logger = cfg.Logger
	if gc.Logger == nil {
		gc.Logger = slog.Default()
	}
	g, err := OpenGroup(gc)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.byID[id] = g
	m.mu.Unlock()
	return g, nil
}

// Self is this node as a lone bootstrap voter.
func (m *Manager) Self() []Peer {
	return []Peer{{ID: m.cfg.NodeID, Addr: m.mux.Addr().String()}}
}

// ErrNotLocal means a data shard has no open group on this node.
var ErrNotLocal = errors.New("shard is not open on this node")

// OpenShard opens data shard i's group if it is not open yet. bootstrap
// is used only when the group has no Raft state (see GroupConfig); empty
// means wait to be added by the shard's leader.
func (m *Manager) OpenShard(i int, bootstrap []Peer) (*Group, error) {
	if i < 0 || i >= m.count {
		return nil, fmt.Errorf("cannot open shard %d: out of range 0..%d", i, m.count-1)
	}
	if g := m.Shard(i); g != nil {
		return g, nil
	}
	g, err := m.start(ShardGroupID(i), bootstrap)
	if err != nil {
		return nil, fmt.Errorf("cannot open shard %d: %w", i, err)
	}
	m.mu.Lock()
	m.shards[i] = g
	m.mu.Unlock()
	return g, nil
}

// CloseShard shuts data shard i's group down on this node; its Raft log
// and state stay in the databases (a later OpenShard resumes from them and
// the leader brings them up to date) until DropShardData deletes them.
func (m *Manager) CloseShard(i int) error {
	m.mu.Lock()
	if i < 0 || i >= m.count || m.shards[i] == nil {
		m.mu.Unlock()
		return nil
	}
	g := m.shards[i]
	m.shards[i] = nil
	delete(m.byID, g.ID())
	m.mu.Unlock()
	if err := g.Shutdown(); err != nil {
		return fmt.Errorf("cannot close shard %d: %w", i, err)
	}
	return nil
}

// ErrShardOpen means an operation needs a closed shard group.
var ErrShardOpen = errors.New("shard group is open on this node")

// HasShardData reports whether this node's databases hold any Raft or
// state data of data shard i.
func (m *Manager) HasShardData(i int) (bool, error) {
	gid := ShardGroupID(i)
	for _, p := range raftstore.GroupPrefixes(gid) {
		if ok, err := m.logDB.HasPrefix(p); ok || err != nil {
			return ok, err
		}
	}
	return m.stateDB.HasPrefix(groupPrefix(gid))
}

// DropShardData deletes a closed data shard's Raft log and stable state,
// its applied state (the stores' keys) and its snapshots from this node.
// The caller must know this node is no longer part of the group: the
// replica's log may be needed for a quorum otherwise. A later OpenShard
// starts the group empty; its leader sends a snapshot.
func (m *Manager) DropShardData(i int) (keys int, err error) {
	if i < 0 || i >= m.count {
		return 0, fmt.Errorf("cannot drop shard %d: out of range 0..%d", i, m.count-1)
	}
	if m.Shard(i) != nil {
		return 0, fmt.Errorf("cannot drop shard %d: %w", i, ErrShardOpen)
	}
	gid := ShardGroupID(i)
	// Raft state first, then snapshots, then the applied state: a drop cut
	// short leaves a group that reopens safely. Without Raft state the
	// group starts empty and waits for its leader; applied state left
	// behind is a consistent prefix of the same log (entries at or below
	// its applied index are skipped, a snapshot replaces it). The other
	// way round, a compacted log with neither snapshot nor state could not
	// be replayed.
	for _, p := range raftstore.GroupPrefixes(gid) {
		n, err := m.logDB.DeletePrefix(p)
		if err != nil {
			return keys, fmt.Errorf("cannot drop shard %d's raft log: %w", i, err)
		}
		keys += n
	}
	if err := os.RemoveAll(filepath.Join(m.cfg.DataDir, "snapshots", gid)); err != nil {
		return keys, fmt.Errorf("cannot drop shard %d's snapshots: %w", i, err)
	}
	n, err := m.stateDB.DeletePrefix(groupPrefix(gid))
	if err != nil {
		return keys, fmt.Errorf("cannot drop shard %d's state: %w", i, err)
	}
	keys += n
	return keys, nil
}

// Layer registers an extra stream layer on the node's Raft port, for
// node-to-node control calls that should not need a port of their own.
func (m *Manager) Layer(name string) (*transport.Layer, error) { return m.mux.Layer(name) }

// shardCount reads the persisted shard count, persisting cfg.Shards on
// first start.
func (m *Manager) shardCount() (int, error) {
	var n int
	err := m.stateDB.Update(func(txn *badger.Txn) error {
		stored, err := getUint64(txn, shardCountKey)
		if err != nil {
			return err
		}
		if stored == 0 {
			n = m.cfg.Shards
			return txn.Set(shardCountKey, binary.BigEndian.AppendUint64(nil, uint64(n)))
		}
		n = int(stored)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("cannot read shard count: %w", err)
	}
	if n != m.cfg.Shards {
		m.logger.Warn("ignoring configured shard count: the cluster was created with another",
			"configured", m.cfg.Shards, "persisted", n)
	}
	// Sync now: the count must survive even if no shard ever writes.
	return n, m.stateDB.Sync()
}

// ShardCount is the fixed number of data shards.
func (m *Manager) ShardCount() int { return m.count }

// ShardFor returns the shard index of a store.
func (m *Manager) ShardFor(storeID string) int { return ShardFor(storeID, m.count) }

// Shard returns data shard i, or nil when it is not open on this node.
func (m *Manager) Shard(i int) *Group {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if i < 0 || i >= len(m.shards) {
		return nil
	}
	return m.shards[i]
}

// Meta returns the meta group.
func (m *Manager) Meta() *Group { return m.meta }

// Groups returns the meta group followed by the open data shards in order.
func (m *Manager) Groups() []*Group {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := []*Group{m.meta}
	for _, g := range m.shards {
		if g != nil {
			out = append(out, g)
		}
	}
	return out
}

// Group returns a group by id, or nil.
func (m *Manager) Group(id string) *Group {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.byID[id]
}

// RaftAddr is the node's advertised Raft address.
func (m *Manager) RaftAddr() string { return m.mux.Addr().String() }

// ProposeStore proposes a store-scoped command to its shard.
func (m *Manager) ProposeStore(ctx context.Context, cmd *Command) (any, uint64, error) {
	i := m.ShardFor(cmd.Store)
	g := m.Shard(i)
	if g == nil {
		return nil, 0, fmt.Errorf("shard %d: %w", i, ErrNotLocal)
	}
	return g.Propose(ctx, cmd)
}

// WaitReady blocks until every group knows a leader (on any node), or ctx
// ends. A fresh single node needs one election timeout or two.
func (m *Manager) WaitReady(ctx context.Context) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		missing := ""
		for _, g := range m.Groups() {
			if id, _ := g.Leader(); id == "" {
				missing = g.ID()
				break
			}
		}
		if missing == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: group %s has no leader: %w", ErrNoQuorum, missing, ctx.Err())
		case <-t.C:
		}
	}
}

// Close shuts down every group, then the Raft port and the databases.
func (m *Manager) Close() error {
	m.closeOnce.Do(func() {
		var errs []error
		var wg sync.WaitGroup
		var mu sync.Mutex
		m.mu.Lock()
		groups := make([]*Group, 0, len(m.byID))
		for _, g := range m.byID {
			groups = append(groups, g)
		}
		m.mu.Unlock()
		for _, g := range groups {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := g.Shutdown(); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("group %s: %w", g.ID(), err))
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if m.mux != nil {
			errs = append(errs, m.mux.Close())
		}
		if m.stateDB != nil {
			errs = append(errs, m.stateDB.Close())
		}
		if m.logDB != nil {
			errs = append(errs, m.logDB.Close())
		}
		m.closeErr = errors.Join(errs...)
	})
	return m.closeErr
}
