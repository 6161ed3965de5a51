package node

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/cluster/tlsconf"
	"github.com/sibylhq/sibyl/query"
	"github.com/sibylhq/sibyl/shard"
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

// --https-cert/--https-key serve the API over TLS beside plain HTTP.
func TestHTTPSListener(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca")
	if err := tlsconf.CreateCA(ca, 0); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "api")
	if err := tlsconf.CreateNodeCert(ca, tlsconf.NodeCert{Node: "api", IPs: []net.IP{net.ParseIP("127.0.0.1")}}, dir); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr, cfg.RaftAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Shards = 1
	cfg.AdminToken = "test-admin-token-0123456789"
	cfg.Group.Timers = shard.FastRaftTimers()
	cfg.HTTP.HTTPS = query.HTTPSConfig{Addr: "127.0.0.1:0", CertFile: filepath.Join(dir, tlsconf.NodeFile), KeyFile: filepath.Join(dir, tlsconf.NodeKeyFile)}
	n, err := Open(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown(t.Context())
	addr := n.http.HTTPSAddr()
	if addr == "" {
		t.Fatal("no HTTPS listener")
	}
	b, err := tlsconf.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: b.Roots}}}
	resp, err := c.Get("https://" + addr + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Fatalf("GET /health over HTTPS: %d, tls %v", resp.StatusCode, resp.TLS != nil)
	}
	// Plain HTTP on the HTTPS port is not served as the API.
	if resp, err := http.Get("http://" + addr + "/health"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plain HTTP answered on the HTTPS port")
		}
	}
	if resp, err := http.Get("http://" + n.HTTPAddr() + "/health"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("plain HTTP API: %v", err)
	}

	// Half a configuration is refused.
	bad := cfg
	bad.HTTP.HTTPS.KeyFile = ""
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "--https-key") {
		t.Fatalf("HTTPS without a key: %v", err)
	}
}
