package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"

	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/shard/statemachine"
)

// memKV is an in-memory statemachine.Writer and statemachine.Reader.
type memKV map[string][]byte

func (m memKV) Set(k, v []byte) error { m[string(k)] = bytes.Clone(v); return nil }
func (m memKV) Delete(k []byte) error { delete(m, string(k)); return nil }
func (m memKV) Get(k []byte) ([]byte, error) {
	v, ok := m[string(k)]
	if !ok {
		return nil, errors.New("not found")
	}
	return v, nil
}
func (m memKV) Iterate(prefix []byte, fn func(k, v []byte) error) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		if bytes.HasPrefix([]byte(k), prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := fn([]byte(k), m[k]); err != nil {
			return err
		}
	}
	return nil
}

type harness struct {
	t  *testing.T
	e  *Engine
	kv memKV
	n  int
}

func newHarness(t *testing.T) *harness {
	return &harness{t: t, e: New(DefaultConfig()), kv: memKV{}}
}

func (h *harness) apply(store, op string, body any) any {
	h.t.Helper()
	var b []byte
	var err error
	if orders, ok := body.([]ingest.Order); ok && op == "orders.upsert" {
		b, err = EncodeUpsert(ingest.KindOrders, orders)
	} else if evs, ok := body.([]Event); ok && op == OpEvents {
		b = EncodeEvents(evs)
	} else {
		b, err = json.Marshal(body)
	}
	if err != nil {
		h.t.Fatal(err)
	}
	h.n++
	return h.e.Apply(h.kv, &statemachine.Command{ID: fmt.Sprint(h.n), Store: store, Op: op, Time: 1, Body: b})
}

func (h *harness) mustApply(store, op string, body any) Result {
	h.t.Helper()
	res := h.apply(store, op, body)
	r, ok := res.(Result)
	if !ok {
		h.t.Fatalf("%s: %v", op, res)
	}
	return r
}

func products(ids ...string) []ingest.Product {
	out := make([]ingest.Product, len(ids))
	for i, id := range ids {
		out[i] = ingest.Product{ID: ingest.ID(id), Name: "product " + id, Price: float64(i + 1), CreatedAt: int64(100 + i)}
	}
	return out
}

func order(id, customer string, t int64, items ...string) ingest.Order {
	o := ingest.Order{ID: ingest.ID(id), Customer: ingest.ID(customer), Time: t}
	for _, it := range items {
		o.Products = append(o.Products, ingest.OrderLine{ID: ingest.ID(it), Quantity: 1, Price: 1})
	}
	return o
}

const day = 86400

// seed loads a small store where a sells most, a+b are bought together
// most often, and c+d once.
func seed(h *harness) {
	h.mustApply("s1", "products.upsert", products("a", "b", "c", "d", "e"))
	h.mustApply("s1", "orders.upsert", []ingest.Order{
		order("o1", "u1", 10*day, "a", "b"),
		order("o2", "u2", 11*day, "a", "b", "c"),
		order("o3", "u1", 12*day, "a", "e"),
		order("o4", "u3", 13*day, "c", "d"),
		order("o5", "u2", 14*day, "a", "b"),
	})
}

func TestPopularAndCoPurchase(t *testing.T) {
	h := newHarness(t)
	seed(h)
	s := h.e.Store("s1")
	if got := s.Popular(); len(got) < 3 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("popular = %v, want a then b first", got)
	}
	if got := s.MostSoldWith([]ingest.ID{"a"}); len(got) == 0 || got[0] != "b" {
		t.Fatalf("most_sold_with(a) = %v, want b first", got)
	}
	if got := s.MostSoldWith([]ingest.ID{"d"}); !slices.Equal(got, []ingest.ID{"c"}) {
		t.Fatalf("most_sold_with(d) = %v, want [c]", got)
	}
	if got := s.Complementary([]ingest.ID{"a", "b"}); slices.Contains(got, "a") || slices.Contains(got, "b") || len(got) == 0 {
		t.Fatalf("complementary(a,b) = %v: must not contain the seeds and must not be empty", got)
	}
	hist, err := s.CustomerHistory("u1", "")
	if err != nil || !slices.Equal(hist, []ingest.ID{"a", "e", "b"}) {
		t.Fatalf("history(u1) = %v, %v; want [a e b] (most recent order first)", hist, err)
	}
	if _, err := s.CustomerHistory("nobody", ""); !errors.Is(err, ErrUnknownCustomer) {
		t.Fatalf("history of unknown customer: %v", err)
	}
	if got := s.New(); got[0] != "e" {
		t.Fatalf("new = %v, want e (latest created_at) first", got)
	}
}

func TestHiddenProductsNeverRecommended(t *testing.T) {
	h := newHarness(t)
	seed(h)
	h.mustApply("s1", "products.patch", []map[string]any{{"id": "b", "index": false}})
	s := h.e.Store("s1")
	for name, list := range map[string][]ingest.ID{
		"popular": s.Popular(), "most_sold_with": s.MostSoldWith([]ingest.ID{"a"}), "trending": s.Trending(),
	} {
		if slices.Contains(list, "b") {
			t.Errorf("%s returns hidden product b: %v", name, list)
		}
	}
	if p := s.Product("b"); p == nil || p.Name != "product b" {
		t.Fatalf("patch lost fields: %+v", p)
	}
}

func TestPatchUnknownRecordRejectsWholeBatch(t *testing.T) {
	h := newHarness(t)
	seed(h)
	res := h.apply("s1", "products.patch", []map[string]any{{"id": "a", "name": "renamed"}, {"id": "zzz", "name": "x"}})
	if err, ok := res.(error); !ok || !errors.Is(err, ErrRejected) {
		t.Fatalf("patch with unknown id = %v, want ErrRejected", res)
	}
	if p := h.e.Store("s1").Product("a"); p.Name != "product a" {
		t.Fatalf("half-applied patch: a renamed to %q", p.Name)
	}
}

func TestPatchTypeErrorRejected(t *testing.T) {
	h := newHarness(t)
	seed(h)
	res := h.apply("s1", "products.patch", []map[string]any{{"id": "a", "price": "cheap"}})
	if err, ok := res.(error); !ok || !errors.Is(err, ErrRejected) {
		t.Fatalf("patch with a string price = %v, want ErrRejected", res)
	}
}

func TestDeleteAndChangedOrdersRecount(t *testing.T) {
	h := newHarness(t)
	seed(h)
	s := h.e.Store("s1")
	// Change o1 and o5 so that a is no longer bought with b; delete o2.
	h.mustApply("s1", "orders.upsert", []ingest.Order{order("o1", "u1", 10*day, "a", "d"), order("o5", "u2", 14*day, "a", "d")})
	h.mustApply("s1", "orders.delete", []string{"o2"})
	if got := s.MostSoldWith([]ingest.ID{"a"}); len(got) == 0 || got[0] != "d" || slices.Contains(got, "b") {
		t.Fatalf("after edits most_sold_with(a) = %v, want d first and no b", got)
	}
	if c := s.Counts(); c.Orders != 4 {
		t.Fatalf("orders = %d, want 4", c.Orders)
	}
}

func TestLoadRebuildsTheSameState(t *testing.T) {
	h := newHarness(t)
	seed(h)
	h.mustApply("s2", "products.upsert", products("x", "y"))
	h.mustApply("s2", "customers.upsert", []ingest.Customer{{ID: "c1", Email: "C1@example.com"}})
	h.mustApply("s2", "orders.upsert", []ingest.Order{order("q1", "", 5*day, "x", "y")})
	before := h.e.Store("s1")
	fresh := New(DefaultConfig())
	if err := fresh.Load(h.kv); err != nil {
		t.Fatal(err)
	}
	after := fresh.Store("s1")
	if !slices.Equal(before.Popular(), after.Popular()) || !slices.Equal(before.MostSoldWith([]ingest.ID{"a"}), after.MostSoldWith([]ingest.ID{"a"})) {
		t.Fatalf("reloaded answers differ: popular %v vs %v", before.Popular(), after.Popular())
	}
	if before.Version() != after.Version() || before.Version() == 0 {
		t.Fatalf("version %d after reload, %d before", after.Version(), before.Version())
	}
	if before.Counts() != after.Counts() {
		t.Fatalf("counts %+v vs %+v", before.Counts(), after.Counts())
	}
	if h1, _ := after.CustomerHistory("u2", ""); !slices.Equal(h1, []ingest.ID{"a", "b", "c"}) {
		t.Fatalf("reloaded history(u2) = %v", h1)
	}
	if fresh.Store("s2").Counts().Customers != 1 {
		t.Fatal("store s2 customers lost on reload")
	}
	if _, err := fresh.Store("s2").CustomerHistory("", "c1@EXAMPLE.com"); !errors.Is(err, nil) {
		// c1 has no orders: known customer, empty history.
		t.Fatalf("history by email: %v", err)
	}
}

func TestStoresAreIsolated(t *testing.T) {
	h := newHarness(t)
	seed(h)
	h.mustApply("other", "products.upsert", products("a"))
	if got := h.e.Store("other").Popular(); len(got) != 0 {
		t.Fatalf("store other sees sales of s1: %v", got)
	}
	if got := h.e.Store("other").Get(ingest.KindOrders, []ingest.ID{"o1"}); len(got) != 0 {
		t.Fatalf("store other reads s1's order: %v", got)
	}
}

func TestUnknownProductsCounted(t *testing.T) {
	h := newHarness(t)
	seed(h)
	r := h.mustApply("s1", "orders.upsert", []ingest.Order{order("o9", "u9", 20*day, "a", "ghost")})
	if r.UnknownProducts != 1 || h.e.Store("s1").Counts().UnknownProductLines != 1 {
		t.Fatalf("unknown products = %d / %d, want 1", r.UnknownProducts, h.e.Store("s1").Counts().UnknownProductLines)
	}
}

func TestReimportIsNoop(t *testing.T) {
	h := newHarness(t)
	seed(h)
	s := h.e.Store("s1")
	pop := s.Popular()
	seed(h) // same records again
	if got := s.Popular(); !slices.Equal(got, pop) {
		t.Fatalf("popular changed on re-import: %v vs %v", got, pop)
	}
	if s.sales.stats.stale {
		t.Fatal("re-importing identical orders marked the statistics stale")
	}
}
