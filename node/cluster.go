package node

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sibylhq/sibyl/cluster/control"
	"github.com/sibylhq/sibyl/cluster/membership"
	"github.com/sibylhq/sibyl/cluster/meta"
	"github.com/sibylhq/sibyl/cluster/placement"
	"github.com/sibylhq/sibyl/cluster/reconcile"
	"github.com/sibylhq/sibyl/cluster/route"
	"github.com/sibylhq/sibyl/cluster/tlsconf"
	"github.com/sibylhq/sibyl/query"
	"github.com/sibylhq/sibyl/shard"
	"github.com/sibylhq/sibyl/shard/transport"
)

// ClusterConfig is the multi-node part of a node's configuration. The zero
// Enabled with no Join is a single node, exactly as before clustering.
type ClusterConfig struct {
	// Enabled runs membership, the placement table and the reconciler.
	// A non-empty Join implies it.
	Enabled bool
	// Join lists gossip addresses of cluster members (`--join`). A node
	// whose own gossip address is the first seed, or an enabled node with
	// no seeds, bootstraps the meta group; the others wait to be added.
	Join []string
	// GossipAdvertise and HTTPAdvertise are what peers dial when the bind
	// addresses are not reachable as such ("" = derived from them).
	GossipAdvertise, HTTPAdvertise string
	// Membership is the gossip template (timings); the node fills in its
	// identity, addresses and seeds.
	Membership membership.Config
	// Control tunes the reconciler (replication factor, grace period).
	// Its shard count is the cluster's.
	Control control.Config
	// CatchUpLag is how many log entries a new replica may still miss
	// when it is promoted to voter.
	CatchUpLag uint64
	// WatchInterval is how often the node re-checks its shard groups
	// against the table (besides every table change).
	WatchInterval time.Duration

	// TLSDir holds ca.pem, node.pem and node-key.pem (`sibyl tls`): the
	// Raft port (Raft and control calls) then only talks mutual TLS with
	// nodes of the same CA. It applies to a single node too.
	TLSDir string
	// GossipKeys encrypt gossip (the first encrypts, all decrypt); they
	// also key the proof on forwarded API requests.
	GossipKeys [][]byte
	// Insecure lets cluster mode run without TLSDir and GossipKeys:
	// anyone who reaches the Raft or gossip port can then join, read and
	// write every store. Tests of other things and throwaway setups only.
	Insecure bool
}

// DefaultClusterConfig returns the defaults: replication factor 3, a five
// minute grace period before a failed node's replicas are replaced.
func DefaultClusterConfig() ClusterConfig {
	cc := control.DefaultConfig()
	cc.Reconcile.MetaFollowers = true
	return ClusterConfig{
		Membership:    membership.DefaultConfig(),
		Control:       cc,
		CatchUpLag:    256,
		WatchInterval: time.Second,
	}
}

// ErrInsecureCluster is the refusal to run a cluster without credentials.
var ErrInsecureCluster = errors.New("cluster mode needs --tls-dir (mutual TLS on the Raft port; make the files with " +
	"`sibyl tls ca create` and `sibyl tls cert create`) and --gossip-key (or SIBYL_GOSSIP_KEY; make one with " +
	"`sibyl tls gossip-key`): without them anyone who reaches the Raft or gossip port can join the cluster and read " +
	"and write every store. Pass --insecure-cluster to run without them anyway")

// raftOptions returns the Raft port's TLS settings from TLSDir.
func (c *Config) raftOptions() ([]transport.Option, error) {
	if c.Cluster.TLSDir == "" {
		return nil, nil
	}
	b, err := tlsconf.Load(c.Cluster.TLSDir)
	if err != nil {
		return nil, fmt.Errorf("cannot load the cluster TLS files (--tls-dir): %w", err)
	}
	return []transport.Option{transport.WithTLS(b.ServerConfig(), b.ClientConfig())}, nil
}

// forwardKeys key the proof a node puts on the API requests it forwards
// (query.ForwardConfig): derived from the gossip keys, which every node
// of a secure cluster holds (a key rotation rotates them too), else from
// the admin token every node of an insecure cluster shares. A single node
// forwards nothing and accepts no forwarded request.
func (c *Config) forwardKeys(adminToken string) [][]byte {
	if !c.clustered() {
		return nil
	}
	derive := func(secret []byte) []byte {
		h := hmac.New(sha256.New, secret)
		h.Write([]byte("sibyl forwarded-request proof v1"))
		return h.Sum(nil)
	}
	var keys [][]byte
	for _, k := range c.Cluster.GossipKeys {
		keys = append(keys, derive(k))
	}
	if len(keys) == 0 && adminToken != "" {
		keys = append(keys, derive([]byte(adminToken)))
	}
	return keys
}

// apiLayer names the stream layer on the Raft port that carries API
// requests forwarded between nodes.
const apiLayer = "api"

// forwardConfig is the HTTP server's forwarding setup: the proof keys and,
// in cluster mode, a dialer that reaches the target node's API through its
// Raft port (mutual TLS in a secure cluster), not its public HTTP port.
func (n *Node) forwardConfig() query.ForwardConfig {
	fc := query.ForwardConfig{Keys: n.cfg.forwardKeys(n.token)}
	if n.cl != nil {
		fc.Dial = n.cl.forwardDial
	}
	return fc
}

// forwardDial connects to the API of the member whose HTTP address is
// addr, over the api stream layer of its Raft port.
func (c *clusterNode) forwardDial(addr string) (net.Conn, error) {
	l := c.api.Load()
	if l == nil {
		return nil, errors.New("cluster not started")
	}
	for _, m := range c.members.Members() {
		if m.HTTPAddr == addr && m.RaftAddr != "" {
			return l.DialAddr(m.RaftAddr, 5*time.Second)
		}
	}
	return nil, fmt.Errorf("no cluster member serves HTTP address %s", addr)
}

// clustered reports whether the node runs in cluster mode.
func (c *Config) clustered() bool { return c.Cluster.Enabled || len(c.Cluster.Join) > 0 }

// bootstraps reports whether this node bootstraps the meta group.
func (c *Config) bootstraps() bool {
	j := c.Cluster.Join
	if len(j) == 0 {
		return true
	}
	if j[0] == c.GossipAddr || (c.Cluster.GossipAdvertise != "" && j[0] == c.Cluster.GossipAdvertise) {
		return true
	}
	// Bound to all interfaces: the advertised gossip address is the Raft
	// advertise host with the gossip port (containers, docker-compose).
	raftAdv := c.RaftAdvertise
	if raftAdv == "" {
		raftAdv = c.RaftAddr
	}
	return c.Cluster.GossipAdvertise == "" && j[0] == advertised(c.GossipAddr, raftAdv)
}

func (c *Config) validateCluster() []error {
	if !c.clustered() {
		return nil
	}
	var errs []error
	if !c.Cluster.Insecure && (c.Cluster.TLSDir == "" || len(c.Cluster.GossipKeys) == 0) {
		errs = append(errs, ErrInsecureCluster)
	}
	if c.AdminToken == "" {
		errs = append(errs, errors.New("cluster mode needs the admin token configured (SIBYL_ADMIN_TOKEN): every node must share it"))
	}
	if c.GossipAddr == "" {
		errs = append(errs, errors.New("cluster mode needs a gossip address"))
	}
	if err := c.Cluster.Control.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Cluster.WatchInterval <= 0 {
		errs = append(errs, errors.New("cluster watch interval must be positive"))
	}
	for _, s := range c.Cluster.Join {
		if _, _, err := net.SplitHostPort(s); err != nil {
			errs = append(errs, fmt.Errorf("join address %q: %w", s, err))
		}
	}
	return errs
}

// clusterNode is the cluster half of a Node.
type clusterNode struct {
	n       *Node
	cfg     ClusterConfig
	self    string
	log     *slog.Logger
	ps      *meta.PlacementState
	members *membership.Membership
	router  *route.Router
	ctl     *control.Controller
	rpc     *rpc
	api     atomic.Pointer[transport.Layer] // forwarded API requests (apiLayer)
	httpAdv string
	ready   []atomic.Bool // per shard: the local replica votes and may serve reads
	// checked marks shards not open here whose leftover data (from a
	// move finished while this node was down) has been looked for;
	// only the table watch touches it.
	checked []bool

	tableOnce sync.Once // logs a shard-count mismatch once
	// announceLeave makes shutdown announce a gossip leave (after Leave).
	announceLeave atomic.Bool
	// started is set once startCluster has set every field above: the
	// HTTP listeners (public and peer) are up before it runs, and a
	// request that arrives meanwhile must not read a half-made node
	// (a forwarded write once found router nil and crashed the node).
	started atomic.Bool
}

// errStarting answers what needs the cluster before startCluster is done.
var errStarting = fmt.Errorf("%w: this node is still joining its cluster", query.ErrUnavailable)

// startCluster runs once storage, the Raft port and the HTTP server are up.
func (n *Node) startCluster(ctx context.Context) error {
	c := n.cl
	c.self = n.cfg.NodeID
	c.log = n.log
	c.ready = make([]atomic.Bool, n.shards.ShardCount())
	c.checked = make([]bool, n.shards.ShardCount())
	c.httpAdv = c.cfg.HTTPAdvertise
	if c.httpAdv == "" {
		c.httpAdv = advertised(n.http.Addr(), n.shards.RaftAddr())
	}
	var err error
	if c.rpc, err = newRPC(n); err != nil {
		return err
	}
	api, err := n.shards.Layer(apiLayer)
	if err != nil {
		c.rpc.close()
		return fmt.Errorf("cannot open the forwarding layer: %w", err)
	}
	// The HTTP server owns the layer from here: its shutdown closes it.
	n.http.ServePeers(api)
	c.api.Store(api)
	c.router = route.New(c.self, func(s int) bool { return s >= 0 && s < len(c.ready) && c.ready[s].Load() })
	mc := c.cfg.Membership
	mc.NodeID = c.self
	mc.BindAddr = n.cfg.GossipAddr
	mc.AdvertiseAddr = c.cfg.GossipAdvertise
	mc.HTTPAddr = c.httpAdv
	mc.RaftAddr = n.shards.RaftAddr()
	mc.Seeds = c.cfg.Join
	mc.Keys = c.cfg.GossipKeys
	mc.Logger = n.log
	if c.cfg.Insecure {
		// On every start, not only the first: the risk stays.
		n.log.Warn("INSECURE CLUSTER (--insecure-cluster)", "tls", c.cfg.TLSDir != "", "gossip_encryption", len(c.cfg.GossipKeys) > 0,
			"risk", "anyone who reaches the Raft or gossip port can join, read and write every store; see docs/operations.md#security")
	}
	if c.members, err = membership.New(mc); err != nil {
		c.rpc.close()
		return fmt.Errorf("cannot start membership: %w", err)
	}
	cc := c.cfg.Control
	cc.Reconcile.Shards = n.shards.ShardCount()
	cc.Logger = n.log
	members := control.MembersOf(c.members)
	if !c.cfg.Insecure {
		// Only peers that prove a certificate of the cluster CA count.
		members = newPeerCheck(ctx, &n.wg, c.self, func(ctx context.Context, raftAddr string) error {
			_, err := c.rpc.call(ctx, raftAddr, ctlRequest{Op: "local"}, 0)
			return err
		}).members(c.members)
	}
	if c.ctl, err = control.New(cc, members, metaOf{c}, shardOps{c}); err != nil {
		c.members.Shutdown()
		c.rpc.close()
		return err
	}
	n.wg.Add(3)
	go func() { defer n.wg.Done(); c.ctl.Run(ctx) }()
	go func() { defer n.wg.Done(); c.watchTable(ctx) }()
	go func() { defer n.wg.Done(); c.watchMembers(ctx) }()
	c.started.Store(true)
	n.log.Info("cluster mode", "gossip", c.members.Addr(), "raft_tls", c.cfg.TLSDir != "", "gossip_encryption", len(c.cfg.GossipKeys) > 0, "http_advertise", c.httpAdv, "join", c.cfg.Join, "bootstrap", n.cfg.bootstraps())
	return nil
}

// advertised turns a listen address into one peers can dial: an
// unspecified host takes the Raft advertise address's host.
func advertised(listen, raftAdv string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		if rh, _, err := net.SplitHostPort(raftAdv); err == nil {
			host = rh
		}
	}
	return net.JoinHostPort(host, port)
}

// watchTable keeps the node's shard groups in line with the committed
// table: it opens the groups the table gives this node, closes the ones
// it no longer lists once the shard's leader has removed this node, and
// commits the first table on the bootstrapping node.
func (c *clusterNode) watchTable(ctx context.Context) {
	t := time.NewTicker(c.cfg.WatchInterval)
	defer t.Stop()
	for {
		changed := c.ps.Changed()
		c.syncTable(ctx)
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-t.C:
		}
	}
}

func (c *clusterNode) syncTable(ctx context.Context) {
	n := c.n
	tab := c.ps.Table()
	if tab.Version == 0 {
		if n.cfg.bootstraps() && n.shards.Meta().IsLeader() {
			c.commitFirstTable(ctx)
		}
		return
	}
	if len(tab.Shards) != n.shards.ShardCount() {
		c.tableOnce.Do(func() {
			c.log.Error("the cluster's shard count differs from this node's; start it with --shards matching the cluster and an empty data dir",
				"cluster", len(tab.Shards), "node", n.shards.ShardCount())
		})
		return
	}
	c.router.SetTable(tab)
	for s := range tab.Shards {
		mine := tab.Has(s, c.self)
		g := n.shards.Shard(s)
		switch {
		case mine && g == nil:
			var boot []shard.Peer
			if tab.Version == 1 && len(tab.Shards[s]) == 1 {
				// The first table: this node's groups start alone, as on
				// a single node; every later placement is a move.
				boot = n.shards.Self()
			}
			if _, err := n.shards.OpenShard(s, boot); err != nil {
				c.log.Error("cannot open shard group", "shard", s, "err", err)
			}
			c.checked[s] = false
		case !mine && g != nil:
			c.maybeClose(ctx, s)
		case !mine && !c.checked[s]:
			c.dropLeftovers(ctx, s)
		}
		c.ready[s].Store(c.localVoter(s))
	}
}

// commitFirstTable places every shard on this node alone (v1).
func (c *clusterNode) commitFirstTable(ctx context.Context) {
	t, err := placement.Assign(c.n.shards.ShardCount(), 1, []string{c.self})
	if err != nil {
		c.log.Error("cannot build the first placement", "err", err)
		return
	}
	t.Version = 1
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := (metaOf{c}).CommitTable(cctx, t); err != nil && !errors.Is(err, meta.ErrStalePlacement) {
		c.log.Warn("cannot commit the first placement", "err", err)
		return
	}
	c.log.Info("committed the first placement", "shards", len(t.Shards))
}

// maybeClose closes shard s's group once its leader no longer lists this
// node: the table moved the shard away and the move is complete. Closing
// earlier would take a voter out from under a quorum.
func (c *clusterNode) maybeClose(ctx context.Context, s int) {
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	st, err := c.status(sctx, s, 1)
	cancel()
	if err != nil || st.Leader == "" || st.Leader == c.self {
		return
	}
	for _, r := range st.Replicas {
		if r.Node == c.self {
			return
		}
	}
	c.ready[s].Store(false)
	gid := shard.ShardGroupID(s)
	if err := c.n.shards.CloseShard(s); err != nil {
		c.log.Warn("cannot close shard group", "shard", s, "err", err)
	}
	c.n.mu.Lock()
	delete(c.n.engines, gid)
	c.n.mu.Unlock()
	c.log.Info("closed shard group moved off this node", "shard", s)
	c.dropData(s)
}

// dropData deletes closed shard s's Raft log, state and snapshots from
// this node. The caller has seen the group's leader configuration without
// this node; the committed table is checked once more here, so that data
// of a group the table (again) places on this node is never deleted.
func (c *clusterNode) dropData(s int) {
	if c.ps.Table().Has(s, c.self) || c.n.shards.Shard(s) != nil {
		return
	}
	start := time.Now()
	keys, err := c.n.shards.DropShardData(s)
	if err != nil {
		c.log.Warn("cannot delete the data of a shard moved off this node", "shard", s, "err", err)
		return
	}
	c.checked[s] = true
	c.log.Info("deleted the data of a shard moved off this node", "shard", s, "keys", keys, "took", time.Since(start).Round(time.Millisecond).String())
}

// dropLeftovers deletes data of a shard this node does not hold, left
// behind when the move away finished while the node was down (or before
// deleting was done): only once the shard's leader is known and its
// configuration does not list this node.
func (c *clusterNode) dropLeftovers(ctx context.Context, s int) {
	has, err := c.n.shards.HasShardData(s)
	if err != nil || !has {
		c.checked[s] = err == nil
		return
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	st, err := c.status(sctx, s, 2)
	cancel()
	if err != nil || st.Leader == "" || st.Leader == c.self {
		return // try again on the next pass
	}
	for _, r := range st.Replicas {
		if r.Node == c.self {
			return // still a member: the leader removes it first
		}
	}
	c.dropData(s)
}

// localVoter reports whether this node's replica of shard s is open and a
// voter in its own view of the configuration.
func (c *clusterNode) localVoter(s int) bool {
	g := c.n.shards.Shard(s)
	if g == nil {
		return false
	}
	voters, _, err := g.Configuration()
	if err != nil {
		return false
	}
	return slices.ContainsFunc(voters, func(p shard.Peer) bool { return p.ID == c.self })
}

// watchMembers feeds membership changes to the router and the reconciler.
func (c *clusterNode) watchMembers(ctx context.Context) {
	ch, cancel := c.members.Subscribe()
	defer cancel()
	t := time.NewTicker(c.cfg.WatchInterval)
	defer t.Stop()
	for {
		c.setPeers()
		select {
		case <-ctx.Done():
			return
		case <-ch:
			c.ctl.Kick()
		case <-t.C:
		}
	}
}

func (c *clusterNode) setPeers() {
	unhealthy := c.ctl.LastPlan().Unhealthy
	var peers []route.Peer
	for _, m := range c.members.Members() {
		up := m.State == reconcile.Alive && !m.Leaving && !slices.Contains(unhealthy, m.ID)
		peers = append(peers, route.Peer{ID: m.ID, HTTPAddr: m.HTTPAddr, Up: up})
	}
	c.router.SetPeers(peers)
}

// route implements Node.Route in cluster mode.
func (c *clusterNode) route(store string, write bool) (string, error) {
	if !c.started.Load() {
		return "", errStarting
	}
	n := c.n
	if store == "" {
		g := n.shards.Meta()
		if g.IsLeader() {
			return "", nil
		}
		id, _ := g.Leader()
		if id == "" {
			return "", fmt.Errorf("%w: the meta group has no leader (no quorum)", query.ErrUnavailable)
		}
		return c.httpOf(id)
	}
	s := n.shards.ShardFor(store)
	g := n.shards.Shard(s)
	if write {
		leader := ""
		if g != nil {
			if leader = c.waitLeader(g); leader == "" {
				// A replica without a leader: the local proposal fails
				// at once with a clear no-quorum error (503).
				return "", nil
			}
		}
		t, err := c.router.Write(s, leader)
		if err != nil {
			return "", fmt.Errorf("%w: shard %d has no reachable leader: %v", query.ErrUnavailable, s, err)
		}
		if t.Local {
			return "", nil
		}
		return t.HTTPAddr, nil
	}
	t, err := c.router.Read(s)
	if err != nil {
		if g != nil {
			return "", nil // any live replica serves reads, even cut off
		}
		return "", fmt.Errorf("%w: no reachable replica of shard %d: %v", query.ErrUnavailable, s, err)
	}
	if t.Local {
		return "", nil
	}
	return t.HTTPAddr, nil
}

// waitLeader returns g's leader, waiting up to one election timeout while
// an election may be in progress.
func (c *clusterNode) waitLeader(g *shard.Group) string {
	deadline := time.Now().Add(c.n.cfg.Group.Timers.ElectionTimeout)
	for {
		if id, _ := g.Leader(); id != "" || time.Now().After(deadline) {
			return id
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (c *clusterNode) httpOf(id string) (string, error) {
	m, ok := c.members.Member(id)
	if !ok || m.HTTPAddr == "" || m.State != reconcile.Alive {
		return "", fmt.Errorf("%w: node %s is not reachable", query.ErrUnavailable, id)
	}
	return m.HTTPAddr, nil
}

func (c *clusterNode) raftOf(id string) (string, error) {
	if id == c.self {
		return c.n.shards.RaftAddr(), nil
	}
	m, ok := c.members.Member(id)
	if !ok || m.RaftAddr == "" {
		return "", fmt.Errorf("node %s is not a known member", id)
	}
	return m.RaftAddr, nil
}

// group returns the local group of shard s (reconcile.MetaShard for the
// meta group), or nil.
func (c *clusterNode) group(s int) *shard.Group {
	if s == reconcile.MetaShard {
		return c.n.shards.Meta()
	}
	return c.n.shards.Shard(s)
}

// ready reports whether the cluster part can serve.
func (c *clusterNode) readyErr() error {
	if !c.started.Load() {
		return errStarting
	}
	n := c.n
	if id, _ := n.shards.Meta().Leader(); id == "" {
		return errors.New("the meta group has no leader yet")
	}
	tab := c.ps.Table()
	if tab.Version == 0 {
		return errors.New("no placement table yet")
	}
	for _, s := range tab.ShardsOf(c.self) {
		g := n.shards.Shard(s)
		if g == nil {
			return fmt.Errorf("shard %d is not open yet", s)
		}
		if id, _ := g.Leader(); id == "" {
			return fmt.Errorf("shard %d has no leader yet", s)
		}
	}
	return nil
}

// shutdown stops gossip without a leave announcement: a stopped node is
// treated as failed (its replicas stay for the grace period), because a
// stop is usually a restart; after Node.Leave it announces the leave, so
// the others record it as left. `sibyl cluster leave` (or serve's
// --leave-on-terminate) is the way to remove a node for good. Leadership
// is not handed over first: the other voters elect a new leader within an
// election timeout, and a node that drained leads nothing.
func (c *clusterNode) shutdown(ctx context.Context) error {
	var err error
	if c.announceLeave.Load() {
		err = c.members.Leave(2 * time.Second)
	} else {
		err = c.members.Shutdown()
	}
	c.rpc.close()
	return err
}

// leave drains this node: it asks the meta leader (through gossip) to move
// every replica away and waits until neither the table nor the meta group
// lists it. The process may then be stopped.
func (c *clusterNode) leave(ctx context.Context) error {
	if err := c.members.SetDraining(true); err != nil {
		return err
	}
	c.log.Info("draining: waiting for the replicas to move away")
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		c.ctl.Kick()
		left := len(c.ps.Table().ShardsOf(c.self))
		st, err := c.status(ctx, reconcile.MetaShard, 1)
		inMeta := err != nil || slices.ContainsFunc(st.Replicas, func(r reconcile.Replica) bool { return r.Node == c.self && r.Voter })
		if left == 0 && !inMeta {
			c.log.Info("drained")
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("drain not finished (%d shards still here, meta voter %v): %w", left, inMeta, ctx.Err())
		case <-t.C:
		}
	}
}

// metaOf is the controller's view of the meta group.
type metaOf struct{ c *clusterNode }

// IsLeader is false until the bootstrapping node committed the first
// table (each shard on that node alone): a table with several replicas
// per shard could bootstrap no shard group.
func (m metaOf) IsLeader() bool {
	return m.c.n.shards.Meta().IsLeader() && m.c.ps.Version() > 0
}
func (m metaOf) Table() placement.Table { return m.c.ps.Table() }

func (m metaOf) CommitTable(ctx context.Context, t placement.Table) error {
	cmd, err := meta.NewSetPlacementCommand(t, time.Now().UnixMilli())
	if err != nil {
		return err
	}
	res, _, err := m.c.n.shards.Meta().Propose(ctx, cmd)
	if err != nil {
		return fmt.Errorf("cannot commit placement v%d: %w", t.Version, err)
	}
	if e, ok := res.(error); ok {
		return e
	}
	return nil
}
