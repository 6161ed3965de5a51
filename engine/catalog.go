package engine

import (
	"slices"
	"sort"
	"sync"

	"github.com/sibylhq/sibyl/compute"
	"github.com/sibylhq/sibyl/ingest"
)

// catalog is the part of a store that holds its records other than orders
// (products, categories, customers, pages), the dense item index every
// statistic is keyed by, and the data version; views derives what is read
// from them per version (sorted ids, the newest list, text indexes, the
// query layer's catalog view).
//
// mu guards every field but views, which has its own lock (taken before
// mu, never after: see Store for the lock order).
type catalog struct {
	mu sync.RWMutex
	// version counts applied data commands (orders included); models
	// and every per-version view record the version they were made at.
	version uint64

	products   map[ingest.ID]*ingest.Product
	categories map[ingest.ID]*ingest.Category
	customers  map[ingest.ID]*ingest.Customer
	pages      map[ingest.ID]*ingest.Page
	// byEmail maps a lower-cased email to the customer id that has it.
	byEmail map[string]ingest.ID

	// items gives every product id seen (in the catalog or in an order) a
	// dense index for the statistics. Only apply adds to it (under mu
	// write-locked); indices are never reused.
	items *itemIndex

	// changes logs the product, category and page writes (changes.go).
	changes catalogChanges

	// views holds the lists and indexes derived from the catalog per data
	// version.
	views catalogViews
}

// catalogViews are lists and indexes derived from the catalog at a data
// version. mu is a leaf with respect to the other views' locks and is
// taken before catalog.mu.
type catalogViews struct {
	mu sync.Mutex
	// sorted is each kind's ids in id order (paging).
	sorted map[ingest.Kind]cachedIDs
	// newest is the New list.
	newest cachedIDs
	// text holds the product, category and page text indexes (text.go).
	text [3]*textIndex
	// derived holds values other layers derive from the catalog (the
	// query layer's filter index) at derivedVersion.
	derived        map[string]any
	derivedVersion uint64
}

func newCatalog() catalog {
	return catalog{
		products:   make(map[ingest.ID]*ingest.Product),
		categories: make(map[ingest.ID]*ingest.Category),
		customers:  make(map[ingest.ID]*ingest.Customer),
		pages:      make(map[ingest.ID]*ingest.Page),
		byEmail:    make(map[string]ingest.ID),
		items:      newItemIndex(),
	}
}

// currentVersion reads the data version under the catalog's read lock.
func (c *catalog) currentVersion() uint64 {
	c.mu.RLock()
	v := c.version
	c.mu.RUnlock()
	return v
}

// Version is the number of data commands applied to the store.
func (s *Store) Version() uint64 { return s.catalog.currentVersion() }

// Product returns a product, or nil.
func (s *Store) Product(id ingest.ID) *ingest.Product {
	s.catalog.mu.RLock()
	defer s.catalog.mu.RUnlock()
	return s.catalog.products[id]
}

// Recommendable reports whether a product exists and may be shown.
func Recommendable(p *ingest.Product) bool {
	return p != nil && (p.Index == nil || *p.Index)
}

// Products returns every product, sorted by id.
func (s *Store) Products() []*ingest.Product {
	ids := s.sortedIDs(ingest.KindProducts)
	c := &s.catalog
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]*ingest.Product, 0, len(ids))
	for _, id := range ids {
		if p := c.products[id]; p != nil {
			out = append(out, p)
		}
	}
	return out
}

// New ranks recommendable products by created_at, newest first.
func (s *Store) New() []ingest.ID {
	c := &s.catalog
	v := c.currentVersion()
	c.views.mu.Lock()
	defer c.views.mu.Unlock()
	if c.views.newest.ids != nil && c.views.newest.version == v {
		return c.views.newest.ids
	}
	c.mu.RLock()
	ps := make([]*ingest.Product, 0, len(c.products))
	for _, p := range c.products {
		if Recommendable(p) {
			ps = append(ps, p)
		}
	}
	c.mu.RUnlock()
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].CreatedAt != ps[j].CreatedAt {
			return ps[i].CreatedAt > ps[j].CreatedAt
		}
		return ps[i].ID < ps[j].ID
	})
	ids := make([]ingest.ID, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	c.views.newest = cachedIDs{v, ids}
	return ids
}

// CategoryScope returns the set of a category's id and, with
// subcategories, every category below it in the tree (cycle-safe). The
// boolean is false when the store has no such category.
func (s *Store) CategoryScope(cat ingest.ID, subcategories bool) (map[ingest.ID]bool, bool) {
	c := &s.catalog
	c.mu.RLock()
	defer c.mu.RUnlock()
	_, known := c.categories[cat]
	set := map[ingest.ID]bool{cat: true}
	if !subcategories {
		return set, known
	}
	queue := []ingest.ID{cat}
	for len(queue) > 0 {
		cg := c.categories[queue[0]]
		queue = queue[1:]
		if cg == nil {
			continue
		}
		for _, sub := range cg.Subcategories {
			if !set[sub] {
				set[sub] = true
				queue = append(queue, sub)
			}
		}
	}
	return set, known
}

// Derived memoises a value derived from the store's products, categories
// and pages (not orders, customers or sessions) at the current CatalogSeq:
// build runs at most once per sequence number and name, outside the
// store's locks. Orders do not invalidate it: a shop taking orders keeps
// its filter view.
func (s *Store) Derived(name string, build func() any) any {
	c := &s.catalog
	v := s.CatalogSeq()
	views := &c.views
	views.mu.Lock()
	if views.derivedVersion == v {
		if x, ok := views.derived[name]; ok {
			views.mu.Unlock()
			return x
		}
	}
	views.mu.Unlock()
	x := build()
	views.mu.Lock()
	if views.derivedVersion != v || views.derived == nil {
		views.derived = make(map[string]any)
		views.derivedVersion = v
	}
	views.derived[name] = x
	views.mu.Unlock()
	return x
}

// rankedIDs maps ranked indices to the ids of recommendable products,
// skipping seeds. Called with c.mu read-locked.
//
// Scores are rounded to 5 significant digits and ties broken by product
// id: item indices and the order of floating-point sums depend on the
// order records arrived in, and a restarted node (which counts in time
// order) must answer exactly as before.
func (c *catalog) rankedIDs(ranked []compute.Scored, seeds []ingest.ID) []ingest.ID {
	for i := range ranked {
		ranked[i].Score = roundSignificant(ranked[i].Score)
	}
	sort.SliceStable(ranked, func(a, b int) bool {
		if ranked[a].Score != ranked[b].Score {
			return ranked[a].Score > ranked[b].Score
		}
		return c.items.ids[ranked[a].Index] < c.items.ids[ranked[b].Index]
	})
	skip := idSet(seeds)
	ids := make([]ingest.ID, 0, len(ranked))
	for _, r := range ranked {
		id := c.items.ids[r.Index]
		if _, seed := skip[id]; seed || !Recommendable(c.products[id]) {
			continue
		}
		ids = append(ids, id)
	}
	return ids
}

// itemsOf returns the dense indices of the known ids among ids, in order.
// Called with c.mu read-locked.
func (c *catalog) itemsOf(ids []ingest.ID) []int32 {
	out := make([]int32, 0, len(ids))
	for _, id := range ids {
		if i, ok := c.items.lookup(id); ok {
			out = append(out, i)
		}
	}
	return out
}

// itemIndex maps product ids to dense indices and back. Indices are never
// reused, so statistics keyed by index stay valid when products come and go.
type itemIndex struct {
	idx map[ingest.ID]int32
	ids []ingest.ID
}

func newItemIndex() *itemIndex { return &itemIndex{idx: make(map[ingest.ID]int32)} }

func (x *itemIndex) add(id ingest.ID) int32 {
	if i, ok := x.idx[id]; ok {
		return i
	}
	i := int32(len(x.ids))
	x.idx[id] = i
	x.ids = append(x.ids, id)
	return i
}

func (x *itemIndex) lookup(id ingest.ID) (int32, bool) {
	i, ok := x.idx[id]
	return i, ok
}

func keys[V any](m map[ingest.ID]V) []ingest.ID {
	out := make([]ingest.ID, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// cachedIDs is a list computed at a data version.
type cachedIDs struct {
	version uint64
	ids     []ingest.ID
}

// idSet is a set of ids, for membership tests in loops over lists that a
// request can make long (slices.Contains in such a loop was quadratic).
func idSet(ids []ingest.ID) map[ingest.ID]struct{} {
	m := make(map[ingest.ID]struct{}, len(ids))
	for _, id := range ids {
		m[id] = struct{}{}
	}
	return m
}

// uniqueIDs returns ids without repeats, first occurrence kept.
func uniqueIDs(ids []ingest.ID) []ingest.ID {
	seen := make(map[ingest.ID]struct{}, len(ids))
	out := make([]ingest.ID, 0, len(ids))
	for _, id := range ids {
		if _, ok := seen[id]; !ok {
			seen[id] = struct{}{}
			out = append(out, id)
		}
	}
	return out
}

// keepLast returns the last n ids (a copy when it cuts, so the dropped
// head is not kept alive).
func keepLast(ids []ingest.ID, n int) []ingest.ID {
	if len(ids) <= n {
		return ids
	}
	return slices.Clone(ids[len(ids)-n:])
}
