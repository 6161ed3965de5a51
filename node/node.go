// Package node assembles one Sibyl process from its configuration: it opens
// storage and the Raft groups (shard.Manager), builds each group's state
// machine (the store engine for data shards, the store registry for the
// meta group), and serves the HTTP API (query.Server) with itself as the
// API's Backend. Shutdown stops them in reverse order.
package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sibylhq/sibyl/cluster/meta"
	"github.com/sibylhq/sibyl/engine"
	"github.com/sibylhq/sibyl/internal/version"
	"github.com/sibylhq/sibyl/query"
	"github.com/sibylhq/sibyl/shard"
	"github.com/sibylhq/sibyl/shard/kv"
	"github.com/sibylhq/sibyl/shard/statemachine"
)

// Config is a node's configuration. `sibyl serve` fills it from flags and
// SIBYL_* environment variables.
type Config struct {
	// DataDir holds everything the node persists.
	DataDir string
	// HTTPAddr is where the API listens.
	HTTPAddr string
	// RaftAddr is the one TCP address all Raft groups share;
	// RaftAdvertise is what peers dial ("" = RaftAddr).
	RaftAddr, RaftAdvertise string
	// GossipAddr is the membership (gossip) address; used by the cluster
	// layer.
	GossipAddr string
	// NodeID names the node in Raft; "" = generated at first start and
	// kept in DataDir/node.id.
	NodeID string
	// Shards is the number of data shards, fixed at first start.
	Shards int
	// AdminToken authorises store creation; "" = generated at first start
	// and kept in DataDir/admin.token.
	AdminToken string

	// ModelCheckInterval is how often the model loop looks for stores
	// whose model is due; ModelQuiet is how long a store must have been
	// without writes before it is trained (bulk imports finish first).
	ModelCheckInterval, ModelQuiet time.Duration

	HTTP   query.Config
	Engine engine.Config
	// Group is the template of every Raft group's settings.
	Group shard.GroupConfig
	// InMemory keeps storage in memory (tests only: nothing survives).
	InMemory bool
	// MinFreeDisk is the free-space floor under which writes answer 507;
	// RepairState rebuilds a damaged state database from the node's Raft
	// log and snapshots; FreeSpace is for tests (nil: statfs). See
	// shard.Config.
	MinFreeDisk kv.Floor
	RepairState bool
	FreeSpace   kv.FreeSpaceFunc
	// Cluster is the multi-node mode (off unless enabled or joining).
	Cluster ClusterConfig
	// Sync tunes the Data Sync runner (node/sync.go).
	Sync SyncConfig
}

// DefaultConfig is `sibyl serve` with no flags: a single-node cluster with
// data in ./data.
func DefaultConfig() Config {
	g := shard.DefaultGroupConfig()
	// A whole import batch is one command; let the proposer carry it.
	g.Proposer.MaxBytes = 64 << 20
	return Config{
		DataDir:            "./data",
		HTTPAddr:           ":8080",
		RaftAddr:           "127.0.0.1:7000",
		GossipAddr:         "127.0.0.1:7946",
		Shards:             shard.DefaultShards,
		ModelCheckInterval: 2 * time.Second,
		ModelQuiet:         3 * time.Second,
		HTTP:               query.DefaultConfig(),
		Engine:             engine.DefaultConfig(),
		Group:              g,
		Cluster:            DefaultClusterConfig(),
		MinFreeDisk:        kv.DefaultFloor(),
		RepairState:        true,
		Sync:               DefaultSyncConfig(),
	}
}

// SingleNodeTimers are Raft timings for a node that is its groups' only
// voter: nobody else can win an election, so it need not wait long for a
// leader that will never call, and restarts are quick.
func SingleNodeTimers() shard.RaftTimers {
	t := shard.DefaultRaftTimers()
	t.HeartbeatTimeout = 300 * time.Millisecond
	t.ElectionTimeout = 300 * time.Millisecond
	t.LeaderLeaseTimeout = 300 * time.Millisecond
	t.CommitTimeout = 20 * time.Millisecond
	return t
}

// Validate checks the configuration, including cross-field rules.
func (c *Config) Validate() error {
	var errs []error
	if c.DataDir == "" && !c.InMemory {
		errs = append(errs, errors.New("data dir is required"))
	}
	if c.HTTPAddr == "" {
		errs = append(errs, errors.New("http address is required"))
	}
	if c.RaftAddr == "" {
		errs = append(errs, errors.New("raft address is required"))
	}
	if c.RaftAddr != "" && c.RaftAddr == c.HTTPAddr && !strings.HasSuffix(c.RaftAddr, ":0") {
		errs = append(errs, fmt.Errorf("raft and http addresses must differ (both %s)", c.RaftAddr))
	}
	if c.Shards < 1 || c.Shards > 4096 {
		errs = append(errs, fmt.Errorf("shards must be in 1..4096, got %d", c.Shards))
	}
	if c.AdminToken != "" && len(c.AdminToken) < 16 {
		errs = append(errs, errors.New("the admin token must be at least 16 characters"))
	}
	if c.ModelCheckInterval <= 0 || c.ModelQuiet < 0 {
		errs = append(errs, errors.New("model check interval must be positive and model quiet time not negative"))
	}
	errs = append(errs, c.validateCluster()...)
	if err := c.Sync.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Engine.Validate(); err != nil {
		errs = append(errs, err)
	}
	h := c.HTTP
	h.Addr = c.HTTPAddr
	if err := h.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Node is one running Sibyl process.
type Node struct {
	cfg     Config
	log     *slog.Logger
	shards  *shard.Manager
	reg     *meta.Registry
	cl      *clusterNode // nil on a single node
	http    *query.Server
	token   string
	started time.Time

	mu      sync.Mutex
	engines map[string]*engine.Engine // by group id

	// keyWaiters counts requests waiting for the local meta group to
	// apply a key it has not seen yet (Authenticate).
	keyWaiters atomic.Int32

	stop context.CancelFunc // stops the background loops
	wg   sync.WaitGroup
	// sync runs the Data Sync of the stores this node leads (sync.go).
	sync atomic.Pointer[syncRunner]
}

// Open starts storage, the Raft groups and the HTTP server.
func Open(cfg Config, log *slog.Logger) (*Node, error) {
	if log == nil {
		log = slog.Default()
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration: %w", err)
	}
	n := &Node{cfg: cfg, log: log, reg: meta.NewRegistry(), engines: make(map[string]*engine.Engine), started: time.Now()}
	if cfg.clustered() {
		n.cl = &clusterNode{n: n, cfg: cfg.Cluster, ps: meta.NewPlacementState()}
	}
	if !cfg.InMemory {
		restrictFileModes()
		if err := privateDir(cfg.DataDir, log); err != nil {
			return nil, err
		}
	}
	var err error
	if n.cfg.NodeID, err = n.persisted("node.id", cfg.NodeID, func() string { return "node-" + randomHex(6) }); err != nil {
		return nil, err
	}
	if n.token, err = n.persisted("admin.token", cfg.AdminToken, func() string { return randomHex(24) }); err != nil {
		return nil, err
	}
	n.log = log.With("node", n.cfg.NodeID)

	sc := shard.DefaultConfig()
	sc.NodeID = n.cfg.NodeID
	sc.DataDir = cfg.DataDir
	if cfg.InMemory && sc.DataDir == "" {
		sc.DataDir = os.TempDir()
	}
	sc.RaftBind, sc.RaftAdvertise = cfg.RaftAddr, cfg.RaftAdvertise
	if sc.RaftOptions, err = cfg.raftOptions(); err != nil {
		return nil, err
	}
	sc.Shards = cfg.Shards
	sc.Group = cfg.Group
	sc.InMemory = cfg.InMemory
	sc.MinFreeDisk, sc.RepairState, sc.FreeSpace = cfg.MinFreeDisk, cfg.RepairState, cfg.FreeSpace
	sc.Logger = n.log
	sc.NewStateMachine = n.newStateMachine
	if n.cl != nil {
		// Groups follow the placement table; only the first node
		// bootstraps the meta group, the others are added by its leader.
		sc.Lazy = true
		sc.Join = !cfg.bootstraps()
	}
	if n.shards, err = shard.Open(sc); err != nil {
		return nil, fmt.Errorf("cannot open raft groups: %w", err)
	}
	hc := cfg.HTTP
	hc.Addr = cfg.HTTPAddr
	hc.Forward = n.forwardConfig()
	if n.http, err = query.New(hc, n, n.log); err != nil {
		n.shards.Close()
		return nil, err
	}
	if err := n.http.Start(); err != nil {
		n.shards.Close()
		return nil, err
	}
	loopCtx, stop := context.WithCancel(context.Background())
	n.stop = stop
	if n.cl != nil {
		if err := n.startCluster(loopCtx); err != nil {
			stop()
			n.http.Shutdown(context.Background())
			n.shards.Close()
			return nil, err
		}
	}
	n.wg.Add(1)
	go n.modelLoop(loopCtx)
	if err := n.startSync(loopCtx); err != nil {
		n.log.Error("the data sync runner did not start", "err", err)
	}
	n.log.Info("sibyl node started", "version", version.Get().String(), "http", n.http.Addr(), "https", n.http.HTTPSAddr(), "raft", n.shards.RaftAddr(), "data_dir", cfg.DataDir, "shards", n.shards.ShardCount())
	return n, nil
}

func (n *Node) newStateMachine(groupID string) statemachine.StateMachine {
	if groupID == shard.MetaGroupID {
		if n.cl != nil {
			return meta.NewMachine(n.reg, n.cl.ps)
		}
		return n.reg
	}
	e := engine.New(n.cfg.Engine)
	n.mu.Lock()
	n.engines[groupID] = e
	n.mu.Unlock()
	return e
}

// persisted returns the configured value, else the value kept in
// DataDir/name, else a generated one that is then kept there.
func (n *Node) persisted(name, configured string, generate func() string) (string, error) {
	if configured != "" {
		return configured, nil
	}
	if n.cfg.InMemory {
		return generate(), nil
	}
	path := filepath.Join(n.cfg.DataDir, name)
	if b, err := os.ReadFile(path); err == nil {
		if v := strings.TrimSpace(string(b)); v != "" {
			return v, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("cannot read %s: %w", path, err)
	}
	v := generate()
	if err := writeFileSync(path, []byte(v+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("cannot write %s: %w", path, err)
	}
	if name == "admin.token" {
		// Where, never what: stderr ends up in container logs and log
		// collectors, which are not the place for a cluster secret.
		n.log.Warn("generated the cluster admin token; read it from its file (mode 0600)", "file", path)
	}
	return v, nil
}

// privateDir creates the data dir readable by the node's user only, and
// narrows an existing one that is open to others (it holds the admin
// token, the Raft logs and every store's data).
func privateDir(dir string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cannot create data dir %s: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("cannot stat data dir %s: %w", dir, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("cannot make data dir %s private (mode %v): %w", dir, fi.Mode().Perm(), err)
		}
		log.Warn("narrowed the data dir's mode to 0700", "dir", dir, "was", fi.Mode().Perm().String())
	}
	return nil
}

func writeFileSync(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// HTTPAddr is the address the API listens on.
func (n *Node) HTTPAddr() string { return n.http.Addr() }

// AdminToken implements query.Backend.
func (n *Node) AdminToken() string { return n.token }

// Authenticate implements query.Backend.
//
// A store created a moment ago through another node may not be known here
// yet: POST /v2/stores answers once a majority of the meta group stored
// the entry and the meta leader applied it, while this node may not have
// received it yet (a follower outside that majority) or not learnt that
// it is committed (the leader says so with its next append, within a
// commit timeout). So on a follower a key it does not know waits, briefly
// and boundedly, for the meta group to catch up: up to keyUnseenWait, or
// keyWaitMax while the local log holds entries not yet applied. The meta
// leader, which applied everything it acknowledged, refuses at once.
//
// Asking the meta leader on a miss was the alternative; it would make
// every invalid key cost the leader a call, and the node serving a
// forwarded write (a shard leader) would have to ask again. A wait costs
// only the caller, and at most keyWaitersMax requests wait at once:
// beyond that (a flood of invalid keys) a miss is refused at once.
func (n *Node) Authenticate(key string) (string, meta.KeyKind, bool) {
	if st, kind, ok := n.reg.Authenticate(key); ok {
		return st, kind, true
	}
	return n.awaitKey(key)
}

const (
	keyUnseenWait = 100 * time.Millisecond
	keyWaitMax    = 500 * time.Millisecond
	keyWaitersMax = 64
	keyWaitPoll   = 5 * time.Millisecond
)

func (n *Node) awaitKey(key string) (string, meta.KeyKind, bool) {
	if n.shards == nil {
		return "", 0, false
	}
	g := n.shards.Meta()
	if g == nil || (g.IsLeader() && !n.metaLogPending()) {
		return "", 0, false
	}
	if n.keyWaiters.Add(1) > keyWaitersMax {
		n.keyWaiters.Add(-1)
		return "", 0, false
	}
	defer n.keyWaiters.Add(-1)
	start := time.Now()
	for {
		changed := n.reg.Changed()
		if st, kind, ok := n.reg.Authenticate(key); ok {
			return st, kind, true
		}
		limit := keyUnseenWait
		if n.metaLogPending() {
			limit = keyWaitMax
		}
		if time.Since(start) >= limit {
			return "", 0, false
		}
		select {
		case <-changed:
		case <-time.After(keyWaitPoll):
		}
	}
}

// metaLogPending reports whether the local meta log holds entries Raft
// has not applied yet.
func (n *Node) metaLogPending() bool {
	g := n.shards.Meta()
	return g != nil && g.RaftAppliedIndex() < g.LastIndex()
}

// CreateStore implements query.Backend: the store's id and keys are minted
// here and replicated through the meta group. Only the private key's hash
// is replicated; the key itself is returned to be shown once.
func (n *Node) CreateStore(ctx context.Context, name string) (meta.StoreInfo, error) {
	if err := n.shards.DiskFull(); err != nil {
		return meta.StoreInfo{}, diskFullErr(err)
	}
	st, err := meta.NewStoreInfo(name, time.Now().UnixMilli())
	if err != nil {
		return meta.StoreInfo{}, err
	}
	body, _ := json.Marshal(st.Sealed())
	got, err := n.proposeMeta(ctx, &statemachine.Command{
		ID: "create-" + st.ID, Op: meta.OpCreateStore, Time: st.CreatedAt, Body: body,
	})
	if err != nil {
		return meta.StoreInfo{}, err
	}
	n.log.Info("store created", "store", got.ID, "name", got.Name)
	got.PrivateKey = st.PrivateKey
	return got, nil
}

// RotateKeys implements query.StoreAdmin.
func (n *Node) RotateKeys(ctx context.Context, store string, overlapUntil time.Time) (meta.StoreInfo, error) {
	rk, priv := meta.NewRotation(store, overlapUntil.UnixMilli())
	body, _ := json.Marshal(rk)
	got, err := n.proposeMeta(ctx, &statemachine.Command{
		ID: "rotate-" + randomHex(12), Op: meta.OpRotateKeys, Time: time.Now().UnixMilli(), Body: body,
	})
	if err != nil {
		return meta.StoreInfo{}, err
	}
	n.log.Info("store keys rotated", "store", got.ID, "old_keys_until", overlapUntil.UTC().Format(time.RFC3339))
	got.PrivateKey = priv
	return got, nil
}

// SetStoreLimits implements query.StoreAdmin.
func (n *Node) SetStoreLimits(ctx context.Context, store string, l *meta.RateLimit) (meta.StoreInfo, error) {
	body, _ := json.Marshal(meta.SetLimits{Store: store, Limits: l})
	return n.proposeMeta(ctx, &statemachine.Command{
		ID: "limits-" + randomHex(12), Op: meta.OpSetLimits, Time: time.Now().UnixMilli(), Body: body,
	})
}

// StoreRateLimit implements query.StoreLimiter.
func (n *Node) StoreRateLimit(store string) (meta.RateLimit, bool) { return n.reg.Limits(store) }

// proposeMeta replicates a registry command and returns the store it
// produced (see Authenticate for how the other nodes catch up).
func (n *Node) proposeMeta(ctx context.Context, cmd *statemachine.Command) (meta.StoreInfo, error) {
	res, _, err := n.shards.Meta().Propose(ctx, cmd)
	if err != nil {
		return meta.StoreInfo{}, n.proposeErr(err)
	}
	switch v := res.(type) {
	case meta.StoreInfo:
		return v, nil
	case error:
		return meta.StoreInfo{}, v
	}
	return meta.StoreInfo{}, fmt.Errorf("unexpected meta result %T", res)
}

// Propose implements query.Backend.
func (n *Node) Propose(ctx context.Context, store, op string, body []byte) (any, error) {
	if _, ok := n.reg.Store(store); !ok {
		return nil, fmt.Errorf("unknown store %q", store)
	}
	cmd := &statemachine.Command{ID: "w-" + randomHex(12), Store: store, Op: op, Time: time.Now().UnixMilli(), Body: body}
	res, _, err := n.shards.ProposeStore(ctx, cmd)
	if err != nil {
		return nil, n.proposeErr(err)
	}
	return res, nil
}

func (n *Node) proposeErr(err error) error {
	if errors.Is(err, shard.ErrDiskFull) {
		return diskFullErr(err)
	}
	if errors.Is(err, shard.ErrNoQuorum) || errors.Is(err, shard.ErrNotLeader) || errors.Is(err, shard.ErrShutdown) ||
		errors.Is(err, shard.ErrNotLocal) ||
		errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %v", query.ErrUnavailable, err)
	}
	return err
}

// StoreData implements query.Backend: the store's local engine state.
func (n *Node) StoreData(store string) (query.StoreReader, error) {
	gid := shard.ShardGroupID(n.shards.ShardFor(store))
	n.mu.Lock()
	e := n.engines[gid]
	n.mu.Unlock()
	if e == nil {
		return nil, fmt.Errorf("shard %s is not on this node", gid)
	}
	if st := e.Store(store); st != nil {
		return st, nil
	}
	return nil, nil // not a typed nil: the API tests st == nil
}

// Route implements query.Backend: a single node serves everything itself.
func (n *Node) Route(store string, write bool) (string, error) {
	if n.cl == nil {
		return "", nil
	}
	return n.cl.route(store, write)
}

// Drain moves every replica off this node (cluster mode) and returns once
// neither the placement table nor the meta group's voters list it.
func (n *Node) Drain(ctx context.Context) error {
	if n.cl == nil {
		return errors.New("not in cluster mode")
	}
	return n.cl.leave(ctx)
}

// Leave removes this node from the cluster for good: it drains (Drain)
// and makes the following Shutdown announce a gossip leave, so the others
// record the node as left rather than failed. When ctx ends before the
// drain finishes, the leave is still announced: the meta leader then
// re-creates the remaining replicas elsewhere at once, without waiting
// for the grace period.
func (n *Node) Leave(ctx context.Context) error {
	if n.cl == nil {
		return errors.New("not in cluster mode")
	}
	n.cl.announceLeave.Store(true)
	return n.cl.leave(ctx)
}

// HasShardData reports whether this node's storage holds any Raft log,
// snapshot index or state of data shard s (a shard moved off the node has
// none once its group is closed and its data deleted).
func (n *Node) HasShardData(s int) (bool, error) { return n.shards.HasShardData(s) }

// ID is the node's id.
func (n *Node) ID() string { return n.cfg.NodeID }

// GossipAddr is the node's membership address ("" on a single node).
func (n *Node) GossipAddr() string {
	if n.cl == nil {
		return ""
	}
	return n.cl.members.Addr()
}

// Ready implements query.Backend: ready when the meta group and every
// shard have a leader.
func (n *Node) Ready() error {
	if n.cl != nil {
		return n.cl.readyErr()
	}
	if id, _ := n.shards.Meta().Leader(); id == "" {
		return errors.New("the meta group has no leader yet")
	}
	for i := range n.shards.ShardCount() {
		if id, _ := n.shards.Shard(i).Leader(); id == "" {
			return fmt.Errorf("shard %d has no leader yet", i)
		}
	}
	return nil
}

// WaitReady polls Ready until it succeeds or ctx ends.
func (n *Node) WaitReady(ctx context.Context) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		err := n.Ready()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node not ready: %w", err)
		case <-t.C:
		}
	}
}

// Shutdown stops the HTTP server (finishing in-flight requests), then the
// Raft groups and storage.
func (n *Node) Shutdown(ctx context.Context) error {
	var errs []error
	if n.http != nil {
		errs = append(errs, n.http.Shutdown(ctx))
	}
	if n.stop != nil {
		n.stop()
		n.wg.Wait()
	}
	if n.cl != nil {
		errs = append(errs, n.cl.shutdown(ctx))
	}
	if n.shards != nil {
		errs = append(errs, n.shards.Close())
	}
	n.log.Info("sibyl node stopped")
	return errors.Join(errs...)
}
