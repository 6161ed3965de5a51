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
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/sibylhq/sibyl/shard/kv"
	"github.com/sibylhq/sibyl/shard/raftstore"
	"github.com/sibylhq/sibyl/shard/statemachine"
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
	// RaftOptions configure the shared port (transport.WithTLS: mutual
	// TLS with the cluster CA).
	RaftOptions []transport.Option
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
	NewStateMachine func(groupID string) statemachine.StateMachine
	// Group is the template for every group's settings (timers, proposer,
	// dedup window); identity and storage fields are filled in.
	Group GroupConfig
	// InMemory keeps both databases in memory (tests).
	InMemory bool
	// RepairState: when the state database fails its integrity check at
	// open, move it aside (state.damaged-<time>, never deleted) and
	// rebuild every group's state from this node's Raft log and snapshots
	// instead of refusing to start. See DamagedStorageError.
	RepairState bool
	// MinFreeDisk is the free-space floor of DataDir's file system under
	// which ProposeStore refuses writes (ErrDiskFull); see kv.Floor.
	MinFreeDisk kv.Floor
	// FreeSpace measures the data dir's file system (nil: statfs; tests
	// inject their own).
	FreeSpace kv.FreeSpaceFunc
	// Logger receives the manager's and its groups' lines. It should
	// already name the node (node.Open adds node=); groups add group=.
	Logger *slog.Logger
}

// ErrDiskFull is matched by the error of a write refused because the disk
// is under the free-space floor (a *kv.DiskFullError).
var ErrDiskFull = kv.ErrDiskFull

// diskCheckEvery is how often the free-space floor is measured: a write
// burst between two measurements must fit in the floor's headroom, and one
// statfs per second costs nothing.
const diskCheckEvery = time.Second

// minFreeToStart is the least free space with which the databases are
// opened: below it Badger's first memtable or value-log writes would fault
// on their mmap'd files (SIGBUS) instead of failing with an error.
const minFreeToStart = 32 << 20

// DefaultConfig is a single-node cluster with data in ./data.
func DefaultConfig() Config {
	return Config{
		NodeID:      "node1",
		DataDir:     "data",
		RaftBind:    transport.DefaultRaftAddr,
		Shards:      DefaultShards,
		Group:       DefaultGroupConfig(),
		RepairState: true,
		MinFreeDisk: kv.DefaultFloor(),
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
	return c.MinFreeDisk.Validate()
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

	// disk refuses writes under the free-space floor; stopDisk and diskWG
	// stop and wait for its refresh loop.
	disk     *kv.SpaceGuard
	stopDisk context.CancelFunc
	diskWG   sync.WaitGroup

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
	m := &Manager{cfg: cfg, byID: make(map[string]*Group), logger: logger}
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
	if err := m.openDiskGuard(); err != nil {
		return err
	}
	logSizing, stateSizing := kv.LogSizing(), kv.StateSizing()
	logSizing.InMemory, stateSizing.InMemory = cfg.InMemory, cfg.InMemory
	var err error
	if m.logDB, err = kv.Open(filepath.Join(cfg.DataDir, "raft-log"), logSizing, m.logger); err != nil {
		if damaged(err) {
			return &DamagedStorageError{DB: "raft-log", Err: err, Remedy: m.remedy("raft-log")}
		}
		return err
	}
	if m.stateDB, err = m.openState(stateSizing); err != nil {
		return err
	}
	n, err := m.shardCount()
	if err != nil {
		return err
	}
	if m.mux, err = transport.Listen(cfg.RaftBind, cfg.RaftAdvertise, m.logger, cfg.RaftOptions...); err != nil {
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
	bootstrapped := 0
	if m.meta.Bootstrapped() {
		bootstrapped++
	}
	for i := range n {
		g, err := m.start(ShardGroupID(i), boot)
		if err != nil {
			return fmt.Errorf("cannot open shard %d: %w", i, err)
		}
		m.shards[i] = g
		if g.Bootstrapped() {
			bootstrapped++
		}
	}
	m.logger.Info("raft groups started", "shards", n, "bootstrapped", bootstrapped, "raft_addr", m.mux.Addr().String())
	return nil
}

// openDiskGuard measures the data dir's free space, refuses to start on a
// disk too full to open the databases, and starts the refresh loop.
func (m *Manager) openDiskGuard() error {
	floor, free := m.cfg.MinFreeDisk, m.cfg.FreeSpace
	if m.cfg.InMemory && free == nil {
		floor = kv.Floor{} // nothing on disk to protect
	}
	if floor != (kv.Floor{}) {
		measure := free
		if measure == nil {
			measure = kv.StatFS
		}
		if avail, _, err := measure(m.cfg.DataDir); err == nil && avail < minFreeToStart {
			return fmt.Errorf("cannot start: only %d MiB free on the file system of %s, and opening the databases needs %d MiB; free space (or move the data dir to a larger disk) and start again: %w",
				avail>>20, m.cfg.DataDir, minFreeToStart>>20, ErrDiskFull)
		}
	}
	m.disk = kv.NewSpaceGuard(m.cfg.DataDir, floor, free, m.logger)
	ctx, cancel := context.WithCancel(context.Background())
	m.stopDisk = cancel
	m.diskWG.Add(1)
	go func() {
		defer m.diskWG.Done()
		m.disk.Run(ctx, diskCheckEvery)
	}()
	return nil
}

// DiskFull returns a *kv.DiskFullError while the data dir's disk is under
// the free-space floor, else nil (a cached answer, refreshed every second).
func (m *Manager) DiskFull() error { return m.disk.Check() }

// openState opens the state database, moving a damaged one aside when
// RepairState allows: the groups then rebuild their state from their
// snapshots and Raft log as they open (Group.catchUpFromSnapshot restores
// the newest snapshot into the empty state, raft replays the log after it).
func (m *Manager) openState(sizing kv.Sizing) (*kv.DB, error) {
	dir := filepath.Join(m.cfg.DataDir, "state")
	db, err := kv.Open(dir, sizing, m.logger)
	if err == nil || !damaged(err) {
		return db, err
	}
	if !m.cfg.RepairState {
		return nil, &DamagedStorageError{DB: "state", Err: err, Remedy: m.remedy("state")}
	}
	aside, merr := moveAside(dir)
	if merr != nil {
		return nil, &DamagedStorageError{DB: "state", Err: err, Remedy: fmt.Sprintf("%v; %s", merr, m.remedy("state"))}
	}
	m.logger.Error("the state database is damaged: moved it aside; every group rebuilds its state from this node's Raft log and snapshots",
		"err", err, "moved_to", aside)
	return kv.Open(dir, sizing, m.logger)
}

// readErrors returns a DamagedStorageError when Badger failed to read a
// value while group id opened, i.e. its read-error counters went up from
// logBefore and stateBefore. Opening reads everything that must be intact
// (the state machine loads every value of the group; the log check reads
// every entry raft will need), and Badger hands out empty values instead
// of errors: a group loaded from them would serve incomplete data.
func (m *Manager) readErrors(id string, logBefore, stateBefore int64) error {
	if n := m.logDB.ReadErrors() - logBefore; n > 0 {
		return &DamagedStorageError{DB: "raft-log", Remedy: m.remedy("raft-log"),
			Err: fmt.Errorf("%d value(s) of the log database could not be read while group %s opened (the log above names them): %w", n, id, kv.ErrCorrupt)}
	}
	if n := m.stateDB.ReadErrors() - stateBefore; n > 0 {
		return &DamagedStorageError{DB: "state", Remedy: m.remedy("state-loaded"),
			Err: fmt.Errorf("%d value(s) of the state database could not be read while group %s loaded (the log above names them): %w", n, id, kv.ErrCorrupt)}
	}
	return nil
}

// groupErr turns a group's open error caused by damaged storage into the
// refusal that says what to do.
func (m *Manager) groupErr(err error) error {
	switch {
	case errors.Is(err, raftstore.ErrMissingLog) || errors.Is(err, raftstore.ErrCorruptLog):
		return &DamagedStorageError{DB: "raft-log", Err: err, Remedy: m.remedy("raft-log")}
	case strings.Contains(err.Error(), "checksum"):
		// Badger's read errors carry no sentinel (it formats them with
		// %+v); past the log checks above, a checksum failure is the
		// state's: a value-log entry read by StateMachine.Load.
		return &DamagedStorageError{DB: "state", Err: err, Remedy: m.remedy("state-loaded")}
	}
	return err
}

func (m *Manager) start(id string, boot []Peer) (*Group, error) {
	cfg := m.cfg
	gc := cfg.Group
	gc.GroupID, gc.NodeID, gc.DataDir = id, cfg.NodeID, cfg.DataDir
	gc.LogDB, gc.StateDB, gc.Mux = m.logDB, m.stateDB, m.mux
	gc.StateMachine = cfg.NewStateMachine(id)
	gc.Bootstrap = boot
	gc.Logger = m.logger
	logErrs, stateErrs := m.logDB.ReadErrors(), m.stateDB.ReadErrors()
	g, err := OpenGroup(gc)
	if err == nil {
		err = m.readErrors(id, logErrs, stateErrs)
		if err != nil {
			g.Shutdown()
		}
	}
	if err != nil {
		return nil, m.groupErr(err)
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
// first start. The count is kept in both databases: a state database
// rebuilt after damage (RepairState) gets it back from the log database
// rather than from a flag that may differ from the cluster's.
func (m *Manager) shardCount() (int, error) {
	var n int
	read := func(db *kv.DB) (uint64, error) {
		var v uint64
		err := db.View(func(txn *badger.Txn) error {
			var err error
			v, err = getUint64(txn, shardCountKey)
			return err
		})
		return v, err
	}
	stored, err := read(m.stateDB)
	if err == nil && stored == 0 {
		stored, err = read(m.logDB)
	}
	if err != nil {
		return 0, fmt.Errorf("cannot read shard count: %w", err)
	}
	n = int(stored)
	if n == 0 {
		n = m.cfg.Shards
	}
	for _, db := range []*kv.DB{m.stateDB, m.logDB} {
		if err := db.Update(func(txn *badger.Txn) error {
			return txn.Set(shardCountKey, binary.BigEndian.AppendUint64(nil, uint64(n)))
		}); err != nil {
			return 0, fmt.Errorf("cannot persist shard count: %w", err)
		}
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
//
// Under the free-space floor it refuses with a *kv.DiskFullError (ErrDiskFull)
// before proposing: the entry would have to be written by every replica,
// and Badger crashes rather than fails when the disk fills. Only this
// node's disk is checked: in cluster mode writes reach the shard's leader,
// so the leader refuses when its own disk is low. A follower cannot refuse
// what its leader sends without stalling the group, so it keeps appending
// and applying into its floor's headroom (docs/architecture.md).
func (m *Manager) ProposeStore(ctx context.Context, cmd *statemachine.Command) (any, uint64, error) {
	if err := m.disk.Check(); err != nil {
		return nil, 0, err
	}
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
		if m.stopDisk != nil {
			m.stopDisk()
			m.diskWG.Wait()
		}
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
