package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/internal/apitest"
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

// The API client is shared with query's tests (internal/apitest).
type (
	client    = apitest.Client
	answer    = apitest.Answer
	testStore = apitest.Store
)

var (
	newClient = apitest.NewClient
	expect    = apitest.Expect
	q         = apitest.Q

	seedShop    = apitest.SeedShop
	twoNeedShop = apitest.TwoNeedShop
)

const testAdminToken = "test-admin-token-0123456789"

func createStore(c *client, name string) testStore { return c.CreateStore(name, testAdminToken) }

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
