package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/shard"
)

// testNode starts a real node on random loopback ports with storage in a
// temporary directory, waits until it is ready and stops it at cleanup.
func testNode(t *testing.T, dataDir string) *Node {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	n := openReadyNode(t, testNodeConfig(dataDir))
	t.Cleanup(func() {
		if err := n.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return n
}

// testNodeConfig is a node on random loopback ports with fast Raft
// timers and models retrained at once, its data in dir.
func testNodeConfig(dir string) Config {
	cfg := DefaultConfig()
	cfg.DataDir = dir
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.RaftAddr = "127.0.0.1:0"
	cfg.Shards = 4
	cfg.AdminToken = "test-admin-token-0123456789"
	cfg.Group.Timers = shard.FastRaftTimers()
	cfg.ModelCheckInterval = 50 * time.Millisecond
	cfg.ModelQuiet = 0
	return cfg
}

// openReadyNode opens a node with cfg and waits until it is ready; the
// caller stops it.
func openReadyNode(t *testing.T, cfg Config) *Node {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	n, err := Open(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.WaitReady(ctx); err != nil {
		n.Shutdown(context.Background())
		t.Fatal(err)
	}
	return n
}

// client is a tiny JSON HTTP client for tests.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newClient(t *testing.T, addr string) *client {
	return &client{t: t, base: "http://" + addr, hc: &http.Client{Timeout: 30 * time.Second}}
}

// answer is a decoded response.
type answer struct {
	Status int
	Body   map[string]any
	Raw    string
}

func (a answer) ids() []string {
	var out []string
	list, _ := a.Body["result"].([]any)
	for _, v := range list {
		out = append(out, fmt.Sprint(v))
	}
	return out
}

func (c *client) do(method, path string, body any, header ...string) answer {
	c.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{Status: resp.StatusCode, Raw: string(raw)}
	if err := json.Unmarshal(raw, &a.Body); err != nil {
		c.t.Fatalf("%s %s: non-JSON answer %d: %s", method, path, resp.StatusCode, raw)
	}
	return a
}

// expect fails unless the answer has the status (and, for errors, the
// error type).
func expect(t *testing.T, a answer, status int, errType string) {
	t.Helper()
	if a.Status != status {
		t.Fatalf("status %d, want %d: %s", a.Status, status, a.Raw)
	}
	if errType != "" && a.Body["type"] != errType {
		t.Fatalf("error type %v, want %s: %s", a.Body["type"], errType, a.Raw)
	}
	if status == 200 && a.Body["status"] != "ok" {
		t.Fatalf("status field %v: %s", a.Body["status"], a.Raw)
	}
}

type testStore struct {
	ID, Public, Private string
}

func (c *client) createStore(name string) testStore {
	c.t.Helper()
	a := c.do("POST", "/v2/stores", map[string]string{"name": name}, "Authorization", "Bearer test-admin-token-0123456789")
	expect(c.t, a, 200, "")
	return testStore{fmt.Sprint(a.Body["id"]), fmt.Sprint(a.Body["public_key"]), fmt.Sprint(a.Body["private_key"])}
}

// checkFor polls fn until it returns nil or the time is up.
func checkFor(t *testing.T, total time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func errf(format string, args ...any) error { return fmt.Errorf(format, args...) }
