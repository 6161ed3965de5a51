package query

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/cluster/meta"
	"github.com/sibylhq/sibyl/engine"
	"github.com/sibylhq/sibyl/internal/apitest"
	"github.com/sibylhq/sibyl/shard/statemachine"
)

// engineBackend is a Backend over the real state machines without Raft:
// the meta registry and one engine.Engine, each command applied at once
// in the caller's goroutine (one at a time, as a shard's apply loop
// does). What the engine writes is kept in memory, as the FSM keeps it in
// Badger (only the writes of accepted commands), so restart can rebuild
// the engine from it as a node's start does. retrain trains the models
// the node's model loop would train in the background.
type engineBackend struct {
	mu  sync.Mutex
	reg *meta.Registry
	eng *engine.Engine
	kv  *memKV
	seq int
}

const testAdminToken = "test-admin-token-0123456789"

func newEngineBackend() *engineBackend {
	return &engineBackend{reg: meta.NewRegistry(), eng: engine.New(engine.DefaultConfig()), kv: newMemKV()}
}

func (b *engineBackend) Authenticate(key string) (string, meta.KeyKind, bool) {
	return b.reg.Authenticate(key)
}

func (b *engineBackend) AdminToken() string { return testAdminToken }

func (b *engineBackend) CreateStore(ctx context.Context, name string) (meta.StoreInfo, error) {
	st, err := meta.NewStoreInfo(name, time.Now().UnixMilli())
	if err != nil {
		return meta.StoreInfo{}, err
	}
	body, _ := json.Marshal(st.Sealed())
	b.mu.Lock()
	res := b.reg.Apply(discard{}, &statemachine.Command{ID: "create-" + st.ID, Op: meta.OpCreateStore, Time: st.CreatedAt, Body: body})
	b.mu.Unlock()
	switch v := res.(type) {
	case meta.StoreInfo:
		v.PrivateKey = st.PrivateKey
		return v, nil
	case error:
		return meta.StoreInfo{}, v
	}
	return meta.StoreInfo{}, fmt.Errorf("unexpected meta result %T", res)
}

func (b *engineBackend) StoreRateLimit(store string) (meta.RateLimit, bool) {
	return b.reg.Limits(store)
}

// Propose applies the command to the engine; the writes of a rejected
// command are dropped, as the FSM drops them.
func (b *engineBackend) Propose(ctx context.Context, store, op string, body []byte) (any, error) {
	if _, ok := b.reg.Store(store); !ok {
		return nil, fmt.Errorf("unknown store %q", store)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seq++
	w := &pendingWrites{}
	res := b.eng.Apply(w, &statemachine.Command{ID: fmt.Sprintf("w-%d", b.seq), Store: store, Op: op, Time: time.Now().UnixMilli(), Body: body})
	if _, rejected := res.(error); !rejected {
		w.commit(b.kv)
	}
	return res, nil
}

func (b *engineBackend) StoreData(store string) (StoreReader, error) {
	b.mu.Lock()
	e := b.eng
	b.mu.Unlock()
	if st := e.Store(store); st != nil {
		return st, nil
	}
	return nil, nil
}

func (b *engineBackend) Route(string, bool) (string, error) { return "", nil }
func (b *engineBackend) Ready() error                       { return nil }

// restart replaces the engine by one rebuilt from what was written, as a
// node's start rebuilds it from Badger (models are not kept).
func (b *engineBackend) restart(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	fresh := engine.New(engine.DefaultConfig())
	if err := fresh.Load(b.kv); err != nil {
		t.Fatal(err)
	}
	b.eng = fresh
}

// retrain trains every store's model now, as the node's model loop does.
func (b *engineBackend) retrain(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	e := b.eng
	b.mu.Unlock()
	for _, id := range e.StoreIDs() {
		if err := e.Store(id).Retrain(t.Context(), time.Now().Unix()); err != nil {
			t.Fatal(err)
		}
	}
}

type discard struct{}

func (discard) Set(key, value []byte) error { return nil }
func (discard) Delete(key []byte) error     { return nil }

// pendingWrites holds one command's writes until its result is known.
type pendingWrites struct{ ops []kvOp }

type kvOp struct {
	key, value []byte
	del        bool
}

func (w *pendingWrites) Set(key, value []byte) error {
	w.ops = append(w.ops, kvOp{key: bytes.Clone(key), value: bytes.Clone(value)})
	return nil
}

func (w *pendingWrites) Delete(key []byte) error {
	w.ops = append(w.ops, kvOp{key: bytes.Clone(key), del: true})
	return nil
}

func (w *pendingWrites) commit(kv *memKV) {
	for _, op := range w.ops {
		if op.del {
			delete(kv.m, string(op.key))
		} else {
			kv.m[string(op.key)] = op.value
		}
	}
}

// memKV is a shard's durable state in memory (a statemachine.Reader).
type memKV struct{ m map[string][]byte }

func newMemKV() *memKV { return &memKV{m: make(map[string][]byte)} }

func (kv *memKV) Iterate(prefix []byte, fn func(key, value []byte) error) error {
	keys := make([]string, 0, len(kv.m))
	for k := range kv.m {
		if strings.HasPrefix(k, string(prefix)) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := fn([]byte(k), kv.m[k]); err != nil {
			return err
		}
	}
	return nil
}

func (kv *memKV) Get(key []byte) ([]byte, error) {
	if v, ok := kv.m[string(key)]; ok {
		return v, nil
	}
	return nil, statemachine.ErrNotFound
}

// apiServer is a query.Server on a random loopback port over backend.
type apiServer struct {
	*Server
	addr string
}

// startAPI serves the API over the real engine (engineBackend).
func startAPI(t *testing.T) (*apiClient, *engineBackend) {
	t.Helper()
	b := newEngineBackend()
	s := startAPIServer(t, b)
	return newAPIClient(t, s.addr), b
}

func startAPIServer(t *testing.T, b Backend) apiServer {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	s, err := New(cfg, b, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return apiServer{s, s.Addr()}
}

// The API client is shared with node's tests (internal/apitest).
type (
	apiClient = apitest.Client
	answer    = apitest.Answer
	testStore = apitest.Store
)

var (
	newAPIClient = apitest.NewClient
	expect       = apitest.Expect
	q            = apitest.Q

	seedShop    = apitest.SeedShop
	twoNeedShop = apitest.TwoNeedShop
)

func createStore(c *apiClient, name string) testStore { return c.CreateStore(name, testAdminToken) }
