package testcluster

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/sibylhq/sibyl/cluster/membership"
	"github.com/sibylhq/sibyl/cluster/tlsconf"
	"github.com/sibylhq/sibyl/node"
	"github.com/sibylhq/sibyl/query"
	"github.com/sibylhq/sibyl/shard"
	"github.com/sibylhq/sibyl/shard/transport"
)

// TestHostileClusterCredentials replays the network attacks of issue 11
// against a cluster started the default (secure) way: a Raft injector
// without the cluster certificate, a stranger joining gossip without the
// key, and a client forging the forwarded mark. One cluster serves the
// three, to keep the suite fast.
func TestHostileClusterCredentials(t *testing.T) {
	opts := DefaultOptions()
	opts.Shards = 4
	// Advertise HTTP addresses nobody listens on: requests forwarded
	// between nodes must then travel over the Raft port's mutual TLS
	// (the "api" stream layer), or every forwarded write below fails.
	opts.Edit = func(i int, cfg *node.Config) { cfg.Cluster.HTTPAdvertise = fmt.Sprintf("127.0.0.1:%d", i+1) }
	c := Start(t, 3, opts)
	st := createStore(t, c.Members[0].HTTP, "victim")
	writeOrder(t, c.Members[0].HTTP, st, "o1", "p1")

	t.Run("RaftInjector", func(t *testing.T) { raftInjector(t, c, st) })
	t.Run("RogueGossipNode", func(t *testing.T) { rogueGossip(t, c) })
	t.Run("ForgedForwardHeader", func(t *testing.T) { forgedForward(t, c, st) })
	// Every acknowledged write reaches every node (reads forwarded where
	// the node is not a voter); the forged ones were refused.
	want := []string{"o1", "o-after-injector"}
	for i := range c.Running() {
		for j := range 3 {
			want = append(want, fmt.Sprintf("forged-%d-%d", i, j))
		}
	}
	expectOrders(t, c, st, want)
}

// injector is the attacker's program: hashicorp/raft's NetworkTransport
// over Sibyl's own stream layer, for the meta group.
func injector(t *testing.T, opts ...transport.Option) *raft.NetworkTransport {
	t.Helper()
	mux, err := transport.Listen("127.0.0.1:0", "", slog.New(slog.NewTextHandler(io.Discard, nil)), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mux.Close() })
	l, err := mux.Layer(shard.MetaGroupID)
	if err != nil {
		t.Fatal(err)
	}
	tr := raft.NewNetworkTransport(l, 1, 2*time.Second, io.Discard)
	t.Cleanup(func() { tr.Close() })
	return tr
}

func tlsOption(t *testing.T, caDir, name string) transport.Option {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := tlsconf.CreateNodeCert(caDir, tlsconf.NodeCert{Node: name}, dir); err != nil {
		t.Fatal(err)
	}
	b, err := tlsconf.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return transport.WithTLS(b.ServerConfig(), b.ClientConfig())
}

// metaTerm asks the meta group's leader for its term the harmless way:
// an AppendEntries with term 0 is rejected with the current term. It
// needs the cluster's certificate, which is also the positive control:
// the injector's transport does reach the group with the credentials.
func metaTerm(t *testing.T, tr *raft.NetworkTransport, target string) uint64 {
	t.Helper()
	var resp raft.AppendEntriesResponse
	req := &raft.AppendEntriesRequest{RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("probe"), Addr: []byte("probe")}}
	if err := tr.AppendEntries("probe", raft.ServerAddress(target), req, &resp); err != nil {
		t.Fatalf("AppendEntries with the cluster certificate failed: %v", err)
	}
	if resp.Success || resp.Term == 0 {
		t.Fatalf("term-0 probe answered %+v", resp)
	}
	return resp.Term
}

func memberOf(t *testing.T, c *Cluster, id string) *Member {
	t.Helper()
	for _, m := range c.Running() {
		if m.Node.ID() == id {
			return m
		}
	}
	t.Fatalf("no running member %q", id)
	return nil
}

func raftInjector(t *testing.T, c *Cluster, st store) {
	before := c.Status()
	leader := memberOf(t, c, before.MetaLeader)
	probe := injector(t, tlsOption(t, c.CADir, "probe"))
	term := metaTerm(t, probe, leader.Raft)

	// The attack: a higher term and an entry, as the program sent.
	attack := func(tr *raft.NetworkTransport) error {
		var resp raft.AppendEntriesResponse
		req := &raft.AppendEntriesRequest{
			RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("evil"), Addr: []byte("127.0.0.1:1")},
			Term:      term + 100,
			Entries:   []*raft.Log{{Index: 1 << 40, Term: term + 100, Type: raft.LogCommand, Data: []byte("evil")}},
		}
		return tr.AppendEntries("evil", raft.ServerAddress(leader.Raft), req, &resp)
	}
	foreignCA := filepath.Join(t.TempDir(), "evil-ca")
	if err := tlsconf.CreateCA(foreignCA, 0); err != nil {
		t.Fatal(err)
	}
	for name, tr := range map[string]*raft.NetworkTransport{
		"plain TCP":                 injector(t),
		"certificate of another CA": injector(t, tlsOption(t, foreignCA, "evil")),
	} {
		for range 3 {
			if err := attack(tr); err == nil {
				t.Fatalf("%s: AppendEntries with a higher term was answered", name)
			}
		}
	}

	if got := metaTerm(t, probe, leader.Raft); got != term {
		t.Fatalf("meta term moved from %d to %d under the injector", term, got)
	}
	after := c.Status()
	if after.MetaLeader != before.MetaLeader {
		t.Fatalf("meta leader changed from %s to %s", before.MetaLeader, after.MetaLeader)
	}
	for i, s := range after.Shards {
		if s.Leader != before.Shards[i].Leader {
			t.Fatalf("shard %d leader changed from %s to %s", s.Shard, before.Shards[i].Leader, s.Leader)
		}
	}
	writeOrder(t, leader.HTTP, st, "o-after-injector", "p1")
}

// rogueGossip starts strangers that know a seed's address: one with its
// own gossip key and CA, one with no credentials at all. Neither ever
// enters the membership view or the placement table.
func rogueGossip(t *testing.T, c *Cluster) {
	otherKey, err := membership.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := membership.ParseKeys(otherKey)
	if err != nil {
		t.Fatal(err)
	}
	foreignCA := filepath.Join(t.TempDir(), "rogue-ca")
	if err := tlsconf.CreateCA(foreignCA, 0); err != nil {
		t.Fatal(err)
	}
	rogueTLS := filepath.Join(t.TempDir(), "rogue-tls")
	if err := tlsconf.CreateNodeCert(foreignCA, tlsconf.NodeCert{Node: "rogue1"}, rogueTLS); err != nil {
		t.Fatal(err)
	}
	start := func(id string, edit func(*node.Config)) {
		cfg := c.Config(0)
		cfg.NodeID = id
		cfg.DataDir = filepath.Join(t.TempDir(), id)
		cfg.HTTPAddr, cfg.RaftAddr, cfg.GossipAddr = freePort(t), freePort(t), freePort(t)
		cfg.AdminToken = "rogue-admin-token-0123456789"
		edit(&cfg)
		n, err := node.Open(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatalf("cannot start %s: %v", id, err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			n.Shutdown(ctx)
		})
	}
	start("rogue1", func(cfg *node.Config) { cfg.Cluster.GossipKeys, cfg.Cluster.TLSDir = keys, rogueTLS })
	start("rogue2", func(cfg *node.Config) {
		cfg.Cluster.GossipKeys, cfg.Cluster.TLSDir, cfg.Cluster.Insecure = nil, "", true
	})
	// A holder of the gossip key without a certificate of the cluster CA
	// enters membership but never answers a control call over mutual TLS:
	// it must never be placed (it could never receive the data, and the
	// moves to it would stall).
	start("rogue3", func(cfg *node.Config) { cfg.Cluster.TLSDir = rogueTLS })
	// Several probe, push/pull and rejoin rounds (testcluster timings:
	// 200 ms probes, 1 s push/pull, 300 ms rejoin) and controller rounds.
	deadline := time.Now().Add(6 * time.Second)
	sawRogue3 := false
	for time.Now().Before(deadline) {
		st := c.Status()
		sawRogue3 = sawRogue3 || slices.ContainsFunc(st.Nodes, func(n node.NodeStatus) bool { return n.ID == "rogue3" })
		for _, n := range st.Nodes {
			if strings.HasPrefix(n.ID, "rogue") && n.ID != "rogue3" {
				t.Fatalf("stranger %s is a member: %+v", n.ID, st.Nodes)
			}
		}
		for _, s := range st.Shards {
			if slices.ContainsFunc(s.Replicas, func(r string) bool { return strings.HasPrefix(r, "rogue") }) {
				t.Fatalf("stranger placed on shard %d: %v", s.Shard, s.Replicas)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !sawRogue3 {
		// Otherwise the check above proves nothing about it.
		t.Fatalf("rogue3 (with the gossip key) never entered membership")
	}
}

// forgedForward sends writes carrying the forwarded mark (with and without
// a made-up proof) to every node: each is refused (a node trusting the
// mark would serve the write itself, which fails on a replica that does
// not lead the shard, with 503). The same writes unmarked succeed through
// every node, forwarded with a valid proof.
func forgedForward(t *testing.T, c *Cluster, st store) {
	// "2" is the last hop: a node trusting it serves the request itself.
	forged := [][]string{
		{query.ForwardedHeader, "1"},
		{query.ForwardedHeader, "2"},
		{query.ForwardedHeader, "2", query.ForwardProofHeader, fmt.Sprintf("%d:%s", time.Now().UnixMilli(), strings.Repeat("A", 43))},
	}
	for i, m := range c.Running() {
		for j, h := range forged {
			id := fmt.Sprintf("forged-%d-%d", i, j)
			body := fmt.Sprintf(`{"orders":[{"id":%q,"time":1700000000,"customer":"c1","products":[{"id":"p1","quantity":1,"price":3}]}]}`, id)
			if a := do(t, "POST", m.HTTP, "/v2/orders"+q(st, true), body, h...); a.Status != 403 {
				t.Fatalf("write with forged %v via node %d: %d %s, want 403", h, m.Index, a.Status, a.Raw)
			}
			if a := do(t, "POST", m.HTTP, "/v2/orders"+q(st, true), body); a.Status != 200 {
				t.Fatalf("write via node %d: %d %s", m.Index, a.Status, a.Raw)
			}
		}
	}
}
