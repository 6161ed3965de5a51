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
	shards  []*Group
	meta    *Group
	byID    map[string]*Group
	logger  *slog.Logger

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
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
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
	boot := cfg.Bootstrap
	if len(boot) == 0 && !cfg.Join {
		boot = []Peer{{ID: cfg.NodeID, Addr: m.mux.Addr().String()}}
	}
	start := func(id string) (*Group, error) {
		gc := cfg.Group
		gc.GroupID, gc.NodeID, gc.DataDir = id, cfg.NodeID, cfg.DataDir
		gc.LogDB, gc.StateDB, gc.Mux = m.logDB, m.stateDB, m.mux
		gc.StateMachine = cfg.NewStateMachine(id)
		gc.Bootstrap = boot
		gc.Logger = logger
		g, err := OpenGroup(gc)
		if err != nil {
			return nil, err
		}
		m.byID[id] = g
		return g, nil
	}
	if m.meta, err = start(MetaGroupID); err != nil {
		return err
	}
	for i := range n {
		g, err := start(ShardGroupID(i))
		if err != nil {
			return fmt.Errorf("cannot open shard %d: %w", i, err)
		}
		m.shards = append(m.shards, g)
	}
	m.logger.Info("raft groups started", "shards", n, "raft_addr", m.mux.Addr().String())
	return nil
}

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
func (m *Manager) ShardCount() int { return len(m.shards) }

// ShardFor returns the shard index of a store.
func (m *Manager) ShardFor(storeID string) int { return ShardFor(storeID, len(m.shards)) }

// Shard returns data shard i.
func (m *Manager) Shard(i int) *Group { return m.shards[i] }

// Meta returns the meta group.
func (m *Manager) Meta() *Group { return m.meta }

// Groups returns the meta group followed by the data shards in order.
func (m *Manager) Groups() []*Group { return append([]*Group{m.meta}, m.shards...) }

// Group returns a group by id, or nil.
func (m *Manager) Group(id string) *Group { return m.byID[id] }

// RaftAddr is the node's advertised Raft address.
func (m *Manager) RaftAddr() string { return m.mux.Addr().String() }

// ProposeStore proposes a store-scoped command to its shard.
func (m *Manager) ProposeStore(ctx context.Context, cmd *Command) (any, uint64, error) {
	return m.shards[m.ShardFor(cmd.Store)].Propose(ctx, cmd)
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
		for _, g := range m.byID {
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
