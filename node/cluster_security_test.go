package node

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sibylhq/sibyl/cluster/tlsconf"
)

// Cluster mode without credentials refuses to start, naming the way out;
// with --insecure-cluster, or with both credentials, the check passes.
func TestClusterModeRefusesToStartInsecure(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca")
	if err := tlsconf.CreateCA(ca, 0); err != nil {
		t.Fatal(err)
	}
	tlsDir := filepath.Join(t.TempDir(), "n1")
	if err := tlsconf.CreateNodeCert(ca, tlsconf.NodeCert{Node: "n1"}, tlsDir); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	f := func(name string, edit func(*Config), refused bool) {
		t.Helper()
		cfg := DefaultConfig()
		cfg.DataDir = t.TempDir()
		cfg.AdminToken = "test-admin-token-0123456789"
		cfg.Cluster.Join = []string{"127.0.0.1:7946"}
		edit(&cfg)
		err := cfg.Validate()
		if got := errors.Is(err, ErrInsecureCluster); got != refused {
			t.Fatalf("%s: Validate() = %v, want refused %v", name, err, refused)
		}
		if refused && !strings.Contains(err.Error(), "--insecure-cluster") {
			t.Fatalf("%s: the refusal does not name --insecure-cluster: %v", name, err)
		}
	}
	f("nothing", func(*Config) {}, true)
	f("TLS only", func(c *Config) { c.Cluster.TLSDir = tlsDir }, true)
	f("gossip key only", func(c *Config) { c.Cluster.GossipKeys = [][]byte{key} }, true)
	f("both", func(c *Config) { c.Cluster.TLSDir, c.Cluster.GossipKeys = tlsDir, [][]byte{key} }, false)
	f("insecure", func(c *Config) { c.Cluster.Insecure = true }, false)
	f("single node", func(c *Config) { c.Cluster.Join = nil }, false)

	// Open refuses too, before touching the data dir's Raft state.
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.AdminToken = "test-admin-token-0123456789"
	cfg.Cluster.Enabled = true
	if n, err := Open(cfg, nil); !errors.Is(err, ErrInsecureCluster) {
		if n != nil {
			n.Shutdown(t.Context())
		}
		t.Fatalf("Open without credentials: %v", err)
	}
}
