// Package testcluster starts N real Sibyl nodes in one process, on random
// loopback ports with storage in temporary directories, for cluster tests:
// join, leave, failure, restart. Every node keeps its ports across a
// restart (Raft configurations hold addresses).
package testcluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/cluster/membership"
	"github.com/sibylhq/sibyl/cluster/tlsconf"
	"github.com/sibylhq/sibyl/node"
	"github.com/sibylhq/sibyl/shard"
)

// AdminToken is every test node's admin token.
const AdminToken = "test-admin-token-0123456789"

// Options shape a test cluster.
type Options struct {
	Shards   int
	Replicas int
	// GracePeriod before a failed node's replicas are replaced.
	GracePeriod time.Duration
	// Insecure runs without TLS and gossip encryption (--insecure-cluster);
	// by default every node has a certificate of the cluster's own CA and
	// the cluster's gossip key, as in production.
	Insecure bool
	// Edit, if set, changes member i's configuration before it starts.
	Edit func(i int, cfg *node.Config)
}

// DefaultOptions: 8 shards, replication factor 3, 2 s grace.
func DefaultOptions() Options {
	return Options{Shards: 8, Replicas: 3, GracePeriod: 2 * time.Second}
}

// Member is one node slot: its ports and data dir outlive restarts.
type Member struct {
	Index   int
	DataDir string
	HTTP    string // host:port
	Raft    string
	Gossip  string
	// TLSDir is the member's certificate directory ("" if insecure).
	TLSDir string
	// Node is the running node, nil while stopped.
	Node *node.Node
}

// Cluster is a set of in-process nodes.
type Cluster struct {
	t       testing.TB
	opts    Options
	base    string
	Members []*Member
	// CADir holds the cluster CA (with its key); GossipKey is the
	// cluster's gossip key. Both are empty for an insecure cluster.
	CADir     string
	GossipKey []byte
}

// Start starts n nodes: the first bootstraps, the others join it. It
// waits until the cluster has converged.
func Start(t testing.TB, n int, opts Options) *Cluster {
	t.Helper()
	// The base dir is made before the stop is registered, so that
	// cleanup stops the nodes before it removes their data.
	c := &Cluster{t: t, opts: opts, base: t.(interface{ TempDir() string }).TempDir()}
	t.Cleanup(c.StopAll)
	if !opts.Insecure {
		c.CADir = filepath.Join(c.base, "ca")
		if err := tlsconf.CreateCA(c.CADir, 0); err != nil {
			t.Fatal(err)
		}
		key, err := membership.NewKey()
		if err != nil {
			t.Fatal(err)
		}
		keys, err := membership.ParseKeys(key)
		if err != nil {
			t.Fatal(err)
		}
		c.GossipKey = keys[0]
	}
	for range n {
		c.Add()
	}
	c.WaitConverged(60 * time.Second)
	return c
}

// Add starts one more node that joins the cluster; it does not wait for
// convergence.
func (c *Cluster) Add() *Member {
	c.t.Helper()
	m := &Member{Index: len(c.Members), DataDir: filepath.Join(c.base, fmt.Sprintf("n%d", len(c.Members))),
		HTTP: freePort(c.t), Raft: freePort(c.t), Gossip: freePort(c.t)}
	if c.CADir != "" {
		m.TLSDir = filepath.Join(c.base, fmt.Sprintf("tls-n%d", m.Index))
		if err := tlsconf.CreateNodeCert(c.CADir, tlsconf.NodeCert{Node: fmt.Sprintf("n%d", m.Index)}, m.TLSDir); err != nil {
			c.t.Fatal(err)
		}
	}
	c.Members = append(c.Members, m)
	c.Restart(m.Index)
	return m
}

// Config is the configuration member i runs with.
func (c *Cluster) Config(i int) node.Config {
	m := c.Members[i]
	cfg := node.DefaultConfig()
	cfg.DataDir = m.DataDir
	cfg.HTTPAddr, cfg.RaftAddr, cfg.GossipAddr = m.HTTP, m.Raft, m.Gossip
	cfg.NodeID = fmt.Sprintf("n%d", i)
	cfg.Shards = c.opts.Shards
	cfg.AdminToken = AdminToken
	// Loopback, but many groups on two cores: timers between the fast
	// test ones and the production ones keep leaders from stepping down
	// under load.
	cfg.Group.Timers = shard.FastRaftTimers()
	cfg.Group.Timers.HeartbeatTimeout = time.Second
	cfg.Group.Timers.ElectionTimeout = time.Second
	cfg.Group.Timers.LeaderLeaseTimeout = 500 * time.Millisecond
	cfg.ModelCheckInterval = 50 * time.Millisecond
	cfg.ModelQuiet = 0
	cc := &cfg.Cluster
	cc.Enabled = true
	cc.Join = []string{c.Members[0].Gossip}
	cc.Insecure = c.opts.Insecure
	cc.TLSDir = m.TLSDir
	if c.GossipKey != nil {
		cc.GossipKeys = [][]byte{c.GossipKey}
	}
	cc.WatchInterval = 100 * time.Millisecond
	mc := &cc.Membership
	mc.ProbeInterval = 200 * time.Millisecond
	mc.ProbeTimeout = 100 * time.Millisecond
	mc.GossipInterval = 50 * time.Millisecond
	mc.PushPullInterval = time.Second
	mc.SuspicionMult = 2
	mc.TCPTimeout = time.Second
	mc.RejoinInterval = 300 * time.Millisecond
	mc.DeadNodeReclaimTime = time.Millisecond
	ctl := &cc.Control
	ctl.Interval = 100 * time.Millisecond
	ctl.StepTimeout = 3 * time.Second
	ctl.Reconcile.Replicas = c.opts.Replicas
	ctl.Reconcile.GracePeriod = c.opts.GracePeriod
	ctl.Reconcile.StabilizeTime = 100 * time.Millisecond
	if c.opts.Edit != nil {
		c.opts.Edit(i, &cfg)
	}
	return cfg
}

// Restart starts member i again (or for the first time) with its data.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	m := c.Members[i]
	if m.Node != nil {
		c.t.Fatalf("node %d is running", i)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("SIBYL_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("member", i)
	}
	n, err := node.Open(c.Config(i), log)
	if err != nil {
		c.t.Fatalf("cannot start node %d: %v", i, err)
	}
	m.Node = n
}

// Stop shuts member i down (a restart-like stop: no leave).
func (c *Cluster) Stop(i int) {
	m := c.Members[i]
	if m.Node == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	n := m.Node
	go func() { done <- n.Shutdown(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			c.t.Logf("shutdown of node %d: %v", i, err)
		}
	case <-time.After(90 * time.Second):
		// Report instead of hanging the whole package; the node's
		// goroutines are leaked. The stacks say where it hangs.
		var b bytes.Buffer
		pprof.Lookup("goroutine").WriteTo(&b, 2)
		path := filepath.Join(os.TempDir(), fmt.Sprintf("sibyl-stuck-shutdown-n%d-%d.txt", i, time.Now().UnixNano()))
		os.WriteFile(path, b.Bytes(), 0o644)
		c.t.Errorf("shutdown of node %d did not finish in 90s; goroutine stacks in %s", i, path)
	}
	m.Node = nil
}

// StopAll stops every running member.
func (c *Cluster) StopAll() {
	for i := range c.Members {
		c.Stop(i)
	}
}

// Running returns the running members.
func (c *Cluster) Running() []*Member {
	var out []*Member
	for _, m := range c.Members {
		if m.Node != nil {
			out = append(out, m)
		}
	}
	return out
}

// Status is the cluster status as the first running member sees it.
func (c *Cluster) Status() node.ClusterStatus {
	c.t.Helper()
	for _, m := range c.Running() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := m.Node.ClusterStatus(ctx)
		cancel()
		if err == nil {
			return st
		}
	}
	c.t.Fatal("no running node")
	return node.ClusterStatus{}
}

// Converged reports nil when every running node is ready, the table
// places each shard on min(Replicas, running) running nodes, every shard
// has a leader, and each node's groups match the table (moves finished).
func (c *Cluster) Converged() error {
	running := c.Running()
	if len(running) == 0 {
		return fmt.Errorf("no running node")
	}
	ids := make(map[string]bool)
	for _, m := range running {
		if err := m.Node.Ready(); err != nil {
			return fmt.Errorf("node %d: %w", m.Index, err)
		}
		ids[m.Node.ID()] = true
	}
	st := c.Status()
	want := min(c.opts.Replicas, len(running))
	if st.Moves == nil {
		return fmt.Errorf("no reconciler plan yet")
	}
	if len(st.Moves.Steps) > 0 || len(st.Moves.Waiting) > 0 || len(st.Moves.Stalled) > 0 {
		return fmt.Errorf("moves in progress: %+v", *st.Moves)
	}
	for _, s := range st.Shards {
		if len(s.Replicas) != want {
			return fmt.Errorf("shard %d has replicas %v, want %d", s.Shard, s.Replicas, want)
		}
		for _, r := range s.Replicas {
			if !ids[r] {
				return fmt.Errorf("shard %d placed on stopped node %s", s.Shard, r)
			}
		}
		if s.Leader == "" {
			return fmt.Errorf("shard %d has no leader", s.Shard)
		}
	}
	return nil
}

// WaitConverged polls Converged.
func (c *Cluster) WaitConverged(total time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(total)
	for {
		err := c.Converged()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			b, _ := json.MarshalIndent(c.Status(), "", " ")
			c.t.Fatalf("cluster did not converge in %v: %v\nstatus: %s", total, err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePort returns a loopback address with a port that was free a moment
// ago (TCP and UDP: gossip needs both).
func freePort(t testing.TB) string {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		u, err := net.ListenPacket("udp", addr)
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		return addr
	}
	t.Fatal("no free port")
	return ""
}
