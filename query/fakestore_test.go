package query

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/compute"
	"github.com/sibylhq/sibyl/engine"
	"github.com/sibylhq/sibyl/ingest"
)

// fakeStore is a StoreReader with fixed answers, for testing what the
// handlers do with a store's answers (filters, fallbacks, encoding)
// independently of how the engine ranks.
type fakeStore struct {
	products map[ingest.ID]*ingest.Product
	lists    map[string][]ingest.ID // by logic name

	mu      sync.Mutex
	derived map[string]any
	// attached has its own lock: Derived builds under mu, and a build may
	// attach (the doc numbers).
	attachedMu sync.Mutex
	attached   map[string]any
	labels     []string // CountImpressions calls
}

func (f *fakeStore) Version() uint64 { return 1 }
func (f *fakeStore) Get(kind ingest.Kind, ids []ingest.ID) []any {
	var out []any
	for _, id := range ids {
		if p := f.products[id]; p != nil && kind == ingest.KindProducts {
			out = append(out, p)
		}
	}
	return out
}
func (f *fakeStore) List(ingest.Kind, int, int) ([]any, int) { return nil, 0 }
func (f *fakeStore) Product(id ingest.ID) *ingest.Product    { return f.products[id] }
func (f *fakeStore) Products() []*ingest.Product {
	ids := slices.Sorted(func(yield func(ingest.ID) bool) {
		for id := range f.products {
			if !yield(id) {
				return
			}
		}
	})
	out := make([]*ingest.Product, len(ids))
	for i, id := range ids {
		out[i] = f.products[id]
	}
	return out
}
func (f *fakeStore) CategoryScope(cat ingest.ID, _ bool) (map[ingest.ID]bool, bool) {
	return map[ingest.ID]bool{cat: true}, false
}

// The fake's catalog never changes after the test sets it up: one
// sequence number, no changes.
func (f *fakeStore) CatalogSeq() uint64 { return 0 }
func (f *fakeStore) ProductChanges(since uint64) ([]ingest.ID, uint64, bool) {
	return nil, 0, since == 0
}
func (f *fakeStore) Attached(name string, create func() any) any {
	f.attachedMu.Lock()
	defer f.attachedMu.Unlock()
	if x, ok := f.attached[name]; ok {
		return x
	}
	if f.attached == nil {
		f.attached = make(map[string]any)
	}
	f.attached[name] = create()
	return f.attached[name]
}
func (f *fakeStore) Derived(name string, build func() any) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	if x, ok := f.derived[name]; ok {
		return x
	}
	if f.derived == nil {
		f.derived = make(map[string]any)
	}
	f.derived[name] = build()
	return f.derived[name]
}
func (f *fakeStore) Popular() []ingest.ID                  { return f.lists["popular"] }
func (f *fakeStore) Trending() []ingest.ID                 { return f.lists["trending"] }
func (f *fakeStore) New() []ingest.ID                      { return f.lists["new"] }
func (f *fakeStore) RecentlyBought() []ingest.ID           { return f.lists["recently_bought"] }
func (f *fakeStore) CurrentlyWatched() []ingest.ID         { return f.lists["currently_watched"] }
func (f *fakeStore) MostSoldWith([]ingest.ID) []ingest.ID  { return f.lists["most_sold_with"] }
func (f *fakeStore) Complementary([]ingest.ID) []ingest.ID { return f.lists["complementary"] }
func (f *fakeStore) Substituting([]ingest.ID) []ingest.ID  { return f.lists["substituting"] }
func (f *fakeStore) CustomerHistory(c ingest.ID, _ string) ([]ingest.ID, error) {
	if c != "known" {
		return nil, engine.ErrUnknownCustomer
	}
	return f.lists["customer/history"], nil
}
func (f *fakeStore) CustomerComplementary(c ingest.ID, e string) ([]ingest.ID, error) {
	return f.CustomerHistory(c, e)
}
func (f *fakeStore) CustomerSubstituting(c ingest.ID, e string) ([]ingest.ID, error) {
	return f.CustomerHistory(c, e)
}
func (f *fakeStore) Audience([]ingest.ID, int) []string { return nil }
func (f *fakeStore) VisitorItems(string) ([]ingest.ID, []compute.EventKind, []ingest.ID) {
	return nil, nil, nil
}
func (f *fakeStore) VisitorComplementary([]ingest.ID, []compute.EventKind) []ingest.ID { return nil }
func (f *fakeStore) Keywords(string) []ingest.ID                                       { return nil }
func (f *fakeStore) PageText(ingest.ID) (string, bool)                                 { return "", false }
func (f *fakeStore) CategoriesFor(string) []ingest.ID                                  { return nil }
func (f *fakeStore) PagesFor(string) []ingest.ID                                       { return nil }
func (f *fakeStore) CountImpressions(labels []string) {
	f.mu.Lock()
	f.labels = append(f.labels, labels...)
	f.mu.Unlock()
}
func (f *fakeStore) LabelsPage(int, int) ([]engine.LabelRow, int, engine.LabelStats) {
	return nil, 0, engine.LabelStats{}
}
func (f *fakeStore) ModelInfo() engine.ModelInfo                 { return engine.ModelInfo{} }
func (f *fakeStore) PopularSearches(time.Time, int) []string     { return nil }
func (f *fakeStore) SearchStats(int, int) engine.SearchStatsPage { return engine.SearchStatsPage{} }
func (f *fakeStore) SearchClicks(string) map[ingest.ID]int       { return nil }
func (f *fakeStore) ClickedSearches(string, int) []string        { return nil }

// fakeStoreBackend is the edge tests' fakeBackend serving a fakeStore.
type fakeStoreBackend struct {
	*fakeBackend
	st *fakeStore
}

func (b fakeStoreBackend) StoreData(string) (StoreReader, error) { return b.st, nil }

// TestRecsOverAFakeStore checks what a recommendation handler does with
// the store's answers: hidden products and excludes and seeds left out,
// the fallback chain in its order, debug sources, impressions, a 404 for
// an unknown customer, and product_data against the filter's view of a
// product (on_sale is derived for filters only).
func TestRecsOverAFakeStore(t *testing.T) {
	no := false
	p := func(id string, price, list float64) *ingest.Product {
		return &ingest.Product{ID: ingest.ID(id), Name: "P " + id, Price: price, ListPrice: list}
	}
	fs := &fakeStore{
		products: map[ingest.ID]*ingest.Product{
			"a": p("a", 1, 0), "b": p("b", 2, 0), "c": p("c", 3, 0),
			"d": p("d", 4, 5), "e": p("e", 5, 0), "f": p("f", 6, 0),
			"h": {ID: "h", Name: "hidden", Price: 1, Index: &no},
		},
		lists: map[string][]ingest.ID{
			"complementary": {"b", "h", "zz"}, // zz is no product
			"trending":      {"c"},
			"popular":       {"h", "a", "b"},
			"new":           {"d", "e", "f", "a"},
		},
	}
	s := startAPIServer(t, fakeStoreBackend{&fakeBackend{}, fs})
	c := newAPIClient(t, s.addr)
	st := testStore{ID: tStore, Public: tPublic, Private: tPrivate}

	a := c.Do("GET", "/v2/recommendations/complementary"+q(st, false, "products", "a", "limit", "5",
		"exclude", `["c"]`, "debug", "true", "labels", `["pdp"]`), nil)
	expect(t, a, 200, "")
	if got := a.IDs(); !slices.Equal(got, []string{"b", "d", "e", "f"}) {
		t.Fatalf("complementary = %v, want b (the logic), then d e f (fallback new; c excluded, a the seed, h hidden)", got)
	}
	srcs, _ := a.Body["debug"].(map[string]any)["sources"].([]any)
	if len(srcs) != 2 || srcs[0].(map[string]any)["count"] != 1.0 || srcs[1].(map[string]any)["name"] != "fallback:new" || srcs[1].(map[string]any)["count"] != 3.0 {
		t.Fatalf("debug sources = %v, want complementary 1, fallback:new 3", srcs)
	}
	if !slices.Equal(fs.labels, []string{"pdp"}) {
		t.Fatalf("impressions counted for %v, want [pdp]", fs.labels)
	}
	off := c.Do("GET", "/v2/recommendations/complementary"+q(st, false, "products", "a", "limit", "2", "offset", "2"), nil)
	if got := off.IDs(); !slices.Equal(got, []string{"d", "e"}) {
		t.Fatalf("complementary offset 2 limit 2 = %v, want d e (b, then c from trending, skipped)", got)
	}

	expect(t, c.Do("GET", "/v2/recommendations/customer/history"+q(st, true, "customer", "nobody"), nil), 404, "not_found")

	// product_data answers the fields as sent; the filter sees on_sale.
	pd := c.Do("GET", "/v2/recommendations/new"+q(st, false, "limit", "1", "attributes", `["list_price","on_sale","name"]`), nil)
	data, _ := pd.Body["product_data"].([]any)
	if len(data) != 1 {
		t.Fatalf("product_data = %s", pd.Raw)
	}
	d := data[0].(map[string]any)
	if _, derived := d["on_sale"]; derived || d["list_price"] != 5.0 || d["name"] != "P d" || d["id"] != "d" {
		t.Fatalf("product_data of d = %v, want id, name and list_price, no on_sale", d)
	}
	f := c.Do("GET", "/v2/recommendations/new"+q(st, false, "filter", "on_sale = true"), nil)
	if got := f.IDs(); !slices.Equal(got, []string{"d"}) {
		t.Fatalf("new with on_sale = true = %v, want [d]", got)
	}
	all := c.Do("GET", "/v2/product/attributes"+q(st, false, "products", `["d"]`, "attributes", `["*"]`), nil)
	res, _ := all.Body["result"].([]any)
	if len(res) != 1 {
		t.Fatalf("product/attributes = %s", all.Raw)
	}
	want := map[string]any{"id": "d", "name": "P d", "price": 4.0, "list_price": 5.0}
	if got := res[0].(map[string]any); len(got) != len(want) || got["name"] != want["name"] || got["price"] != want["price"] || got["list_price"] != want["list_price"] {
		t.Fatalf("product/attributes * = %v, want %v", got, want)
	}
}
