package node

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/shard"
	"github.com/sibylhq/sibyl/shard/kv"
)

// writesRefusedReadsServed checks the degraded mode: every kind of write
// answers 507 insufficient_storage, reads answer.
func writesRefusedReadsServed(t *testing.T, c *client, st testStore) {
	t.Helper()
	checkFor(t, 10*time.Second, func() error {
		a := c.Do("POST", "/v2/products"+q(st, true), `[{"id":"late","name":"Late","price":1}]`)
		if a.Status != 507 || a.Body["type"] != "insufficient_storage" {
			return errf("product write under the floor: %d %s", a.Status, a.Raw)
		}
		return nil
	})
	a := c.Do("POST", "/v2/products"+q(st, true), `[{"id":"late","name":"Late","price":1}]`)
	if msg, _ := a.Body["message"].(string); !strings.Contains(msg, "disk is nearly full") || !strings.Contains(msg, "reads still work") {
		t.Fatalf("the 507 does not say what is wrong: %s", a.Raw)
	}
	expect(t, c.Do("POST", "/v2/stores", map[string]string{"name": "more"}, "Authorization", "Bearer test-admin-token-0123456789"), 507, "insufficient_storage")
	expect(t, c.Do("GET", "/v2/log/product"+q(st, false, "product", "lamp", "visitor", "v1"), nil), 507, "insufficient_storage")
	got := c.Do("GET", "/v2/products"+q(st, true, "products", "lamp"), nil)
	expect(t, got, 200, "")
	if res, _ := got.Body["result"].([]any); len(res) != 1 {
		t.Fatalf("read under the floor: %s", got.Raw)
	}
	expect(t, c.Do("GET", "/v2/recommendations/popular"+q(st, false), nil), 200, "")
}

// writesResume checks that writes succeed again without a restart.
func writesResume(t *testing.T, c *client, st testStore) {
	t.Helper()
	checkFor(t, 10*time.Second, func() error {
		if a := c.Do("POST", "/v2/products"+q(st, true), `[{"id":"late","name":"Late","price":1}]`); a.Status != 200 {
			return errf("write after space returned: %d %s", a.Status, a.Raw)
		}
		return nil
	})
	if res, _ := c.Do("GET", "/v2/products"+q(st, true, "products", "late"), nil).Body["result"].([]any); len(res) != 1 {
		t.Fatal("the write accepted after space returned is not readable")
	}
}

// The free-space floor with an injected measurement (fast): under it writes
// answer 507 and reads work; above it again, writes resume by themselves.
func TestDiskFloorRefusesWritesServesReads(t *testing.T) {
	var free atomic.Uint64
	free.Store(50 << 30)
	cfg := testNodeConfig(t.TempDir())
	cfg.MinFreeDisk = kv.Floor{Bytes: 1 << 30}
	cfg.FreeSpace = func(string) (uint64, uint64, error) { return free.Load(), 100 << 30, nil }
	n := openReadyNode(t, cfg)
	defer n.Shutdown(context.Background())
	c := newClient(t, n.HTTPAddr())
	st := createStore(c, "shop")
	seedShop(t, c, st)

	free.Store(512 << 20)
	writesRefusedReadsServed(t, c, st)
	free.Store(2 << 30)
	writesResume(t, c, st)
}

// A node does not start on a disk too full to open its databases (Badger
// would fault on its mmap'd files): it says so and exits cleanly.
func TestDiskTooFullToStart(t *testing.T) {
	cfg := testNodeConfig(t.TempDir())
	cfg.FreeSpace = func(string) (uint64, uint64, error) { return 1 << 20, 100 << 30, nil }
	n, err := Open(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		n.Shutdown(context.Background())
		t.Fatal("started with 1 MiB free")
	}
	if !errors.Is(err, shard.ErrDiskFull) || !strings.Contains(err.Error(), "free space") {
		t.Fatalf("unclear refusal: %v", err)
	}
}
