package engine

import (
	"errors"
	"math"

	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/sibylhq/sibyl/compute"

	"github.com/sibylhq/sibyl/ingest"
)

// ErrUnknownCustomer is returned when neither the customer id nor the email
// names a buyer of the store.
var ErrUnknownCustomer = errors.New("unknown customer")

// Every read below takes the store's read lock. Records are immutable once
// applied (an upsert swaps in a new value), so returned pointers stay valid
// after the lock is released.

// Version is the number of data commands applied to the store.
func (s *Store) Version() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.version
}

// Counts reports record counts and data-health counters.
type Counts struct {
	Products, Categories, Customers, Orders, Pages int
	UnknownProductLines                            int64
}

// Counts returns the store's record counts.
func (s *Store) Counts() Counts {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return Counts{len(s.products), len(s.categories), len(s.customers), len(s.orders), len(s.pages), s.unknownProductLines}
}

// Product returns a product, or nil.
func (s *Store) Product(id ingest.ID) *ingest.Product {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.products[id]
}

// Recommendable reports whether a product exists and may be shown.
func Recommendable(p *ingest.Product) bool {
	return p != nil && (p.Index == nil || *p.Index)
}

// Get returns the records of a kind with the given ids, skipping unknown
// ids, in the order asked.
func (s *Store) Get(kind ingest.Kind, ids []ingest.ID) []any {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]any, 0, len(ids))
	for _, id := range ids {
		if r := s.record(kind, id); r != nil {
			out = append(out, r)
		}
	}
	return out
}

func (s *Store) record(kind ingest.Kind, id ingest.ID) any {
	switch kind {
	case ingest.KindProducts:
		if r, ok := s.products[id]; ok {
			return r
		}
	case ingest.KindCategories:
		if r, ok := s.categories[id]; ok {
			return r
		}
	case ingest.KindCustomers:
		if r, ok := s.customers[id]; ok {
			return r
		}
	case ingest.KindOrders:
		if r, ok := s.orders[id]; ok {
			return s.order(r)
		}
	case ingest.KindPages:
		if r, ok := s.pages[id]; ok {
			return r
		}
	}
	return nil
}

// List pages through all records of a kind in id order. It returns the
// page and the total count.
func (s *Store) List(kind ingest.Kind, offset, limit int) ([]any, int) {
	ids := s.sortedIDs(kind)
	total := len(ids)
	if offset > total {
		offset = total
	}
	end := min(total, offset+limit)
	return s.Get(kind, ids[offset:end]), total
}

// sortedIDs caches the id order of each kind per store version: paging
// must not sort the catalog on every request.
func (s *Store) sortedIDs(kind ingest.Kind) []ingest.ID {
	s.mu.RLock()
	v := s.version
	s.mu.RUnlock()
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	if c, ok := s.cache.sorted[kind]; ok && c.version == v {
		return c.ids
	}
	s.mu.RLock()
	var ids []ingest.ID
	switch kind {
	case ingest.KindProducts:
		ids = keys(s.products)
	case ingest.KindCategories:
		ids = keys(s.categories)
	case ingest.KindCustomers:
		ids = keys(s.customers)
	case ingest.KindOrders:
		ids = keys(s.orders)
	case ingest.KindPages:
		ids = keys(s.pages)
	}
	s.mu.RUnlock()
	slices.Sort(ids)
	if s.cache.sorted == nil {
		s.cache.sorted = make(map[ingest.Kind]cachedIDs)
	}
	s.cache.sorted[kind] = cachedIDs{v, ids}
	return ids
}

func keys[V any](m map[ingest.ID]V) []ingest.ID {
	out := make([]ingest.ID, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// readCache holds lists derived lazily from the store at a version.
type readCache struct {
	mu       sync.Mutex
	sorted   map[ingest.Kind]cachedIDs
	popular  cachedIDs
	trending cachedIDs
	newest   cachedIDs
	recent   cachedIDs
	// seeded caches answers of logics with seed products at
	// seededVersion.
	seeded        map[string][]ingest.ID
	seededVersion cacheVersion
	seededBytes   int
	// text holds the product, category and page text indexes.
	text [3]*textIndex
	// visitor caches session fold-in answers by session items, per model
	// generation (sessions are not part of the data version).
	visitor      map[string][]ingest.ID
	visitorGen   uint64
	visitorBytes int
	// derived holds values other layers derive from the store (the
	// query layer's filter index) at derivedVersion.
	derived        map[string]any
	derivedVersion uint64
}

// cacheVersion is the data version and the model generation an answer
// was computed at.
type cacheVersion struct{ data, model uint64 }

type cachedIDs struct {
	version uint64
	ids     []ingest.ID
}

// cached returns c's list when it is current, else rebuilds it with build
// (called under the store's read lock).
func (s *Store) cached(c *cachedIDs, build func() []ingest.ID) []ingest.ID {
	s.mu.RLock()
	v := s.version
	s.mu.RUnlock()
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	if c.ids != nil && c.version == v {
		return c.ids
	}
	s.mu.RLock()
	ids := build()
	s.mu.RUnlock()
	*c = cachedIDs{v, ids}
	return ids
}

// salesLocked returns fresh statistics, recounting them first when an
// order was changed or deleted since the last count.
func (s *Store) salesLocked() *salesStats {
	s.mu.RLock()
	st, stale := s.sales, s.sales.stale
	s.mu.RUnlock()
	if !stale {
		return st
	}
	s.mu.Lock()
	if s.sales.stale {
		s.rebuildSales()
	}
	st = s.sales
	s.mu.Unlock()
	return st
}

// candidateDepth is how many ranked candidates a list logic keeps: enough
// for any page after exclusions and hidden products.
const candidateDepth = 2000

// Popular ranks recommendable products by decayed sales, best first.
func (s *Store) Popular() []ingest.ID {
	sales := s.salesLocked()
	return s.cached(&s.cache.popular, func() []ingest.ID {
		return s.scoredIDs(sales.Popularity.Popular(candidateDepth, nil, nil), nil)
	})
}

// Trending ranks products by the growth of their recent sales against
// their baseline (compute.Popularity.Trending), at the store's newest sale.
func (s *Store) Trending() []ingest.ID {
	sales := s.salesLocked()
	return s.cached(&s.cache.trending, func() []ingest.ID {
		return s.scoredIDs(sales.Popularity.Trending(sales.now, candidateDepth, nil, nil), nil)
	})
}

// New ranks recommendable products by created_at, newest first.
func (s *Store) New() []ingest.ID {
	return s.cached(&s.cache.newest, func() []ingest.ID {
		ps := make([]*ingest.Product, 0, len(s.products))
		for _, p := range s.products {
			if Recommendable(p) {
				ps = append(ps, p)
			}
		}
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
		return ids
	})
}

// scoredIDs maps ranked indices to the ids of recommendable products,
// skipping seeds. Called with the read lock held.
//
// Scores are rounded to 5 significant digits and ties broken by product
// id: item indices and the order of floating-point sums depend on the
// order records arrived in, and a restarted node (which counts in time
// order) must answer exactly as before.
func (s *Store) scoredIDs(ranked []compute.Scored, seeds []ingest.ID) []ingest.ID {
	for i := range ranked {
		ranked[i].Score = roundSignificant(ranked[i].Score)
	}
	sort.SliceStable(ranked, func(a, b int) bool {
		if ranked[a].Score != ranked[b].Score {
			return ranked[a].Score > ranked[b].Score
		}
		return s.items.ids[ranked[a].Index] < s.items.ids[ranked[b].Index]
	})
	skip := idSet(seeds)
	ids := make([]ingest.ID, 0, len(ranked))
	for _, c := range ranked {
		id := s.items.ids[c.Index]
		if _, seed := skip[id]; seed || !Recommendable(s.products[id]) {
			continue
		}
		ids = append(ids, id)
	}
	return ids
}

// RecentlyBought lists the products of the latest sales, newest first,
// each once. The list is cached per data version: only orders change it.
func (s *Store) RecentlyBought() []ingest.ID {
	sales := s.salesLocked()
	return s.cached(&s.cache.recent, func() []ingest.ID {
		rs := slices.Clone(sales.recent)
		sort.SliceStable(rs, func(a, b int) bool { return rs[a].time > rs[b].time })
		seen := make(map[int32]bool, len(rs))
		var ids []ingest.ID
		for _, r := range rs {
			if seen[r.item] {
				continue
			}
			seen[r.item] = true
			id := s.items.ids[r.item]
			if Recommendable(s.products[id]) {
				ids = append(ids, id)
			}
		}
		return ids
	})
}

// seedDepth bounds the neighbours taken per seed product.
const seedDepth = 200

// MostSoldWith ranks products by the number of orders they share with the
// given products (raw co-purchase counts, summed over the seeds).
func (s *Store) MostSoldWith(products []ingest.ID) []ingest.ID {
	return s.seeded("most_sold_with", products, func(sales *salesStats, i int32, dst []compute.Scored) []compute.Scored {
		return sales.CoBought.MostSoldWith(i, seedDepth, nil, dst)
	})
}

// Complementary ranks what is bought with the given products, summed
// over the seeds. Without a model it is the normalised co-purchase score
// (compute.CoPurchase.Complementary); with one, each seed's list is the
// model's (compute.Model.Complementary): complements chosen at training
// time to cover the seed's past baskets, then the live co-purchase blend
// with factor cosine, which fills in for products with few orders.
func (s *Store) Complementary(products []ingest.ID) []ingest.ID {
	sm := s.model.Load()
	return s.seeded("complementary", products, func(sales *salesStats, i int32, dst []compute.Scored) []compute.Scored {
		if sm == nil || sm.m.Factors == nil {
			return sales.CoBought.Complementary(i, seedDepth, nil, dst)
		}
		buf, sc := scratch(sm.m.NumItems())
		defer scratchPool.Put(buf)
		return sm.m.Complementary(sales.Stats, i, seedDepth, nil, sc, dst)
	})
}

// seededCacheMax bounds the answers kept per store version; a product page
// asks about one product, so the working set is the catalog.
// seededCacheBytes bounds their size (ids and keys): a flood of requests
// with many long seed ids once added 0.6 GB with the count bound alone.
// When either is reached the cache starts over.
const (
	seededCacheMax   = 50000
	seededCacheBytes = 32 << 20
)

// cacheEntryBytes estimates the memory of a cached answer: the key, the
// slice of ids (16-byte headers) and their bytes, and map overhead.
func cacheEntryBytes(key string, ids []ingest.ID) int {
	n := len(key) + 64 + 16*len(ids)
	for _, id := range ids {
		n += len(id)
	}
	return n
}

// seedsOf returns the seeds a logic uses: each once, at most
// ApplyLimits.MaxSeeds (the API refuses more; a caller inside the node
// gets the first ones), so one request's work is bounded by the seed
// limit times seedDepth neighbours.
func seedsOf(products []ingest.ID) []ingest.ID {
	if len(products) <= 1 {
		return products
	}
	out := uniqueIDs(products)
	return out[:min(len(out), ApplyLimits.MaxSeeds)]
}

// seeded answers a logic of seed products from the cache of the current
// store version, computing it on a miss: scanning a best-seller's
// neighbour row costs far more than the request budget.
func (s *Store) seeded(logic string, products []ingest.ID, top func(*salesStats, int32, []compute.Scored) []compute.Scored) []ingest.ID {
	products = seedsOf(products)
	var kb strings.Builder
	kb.WriteString(logic)
	for _, p := range products {
		kb.WriteByte(0)
		kb.WriteString(string(p))
	}
	key := kb.String()
	sales := s.salesLocked()
	s.mu.RLock()
	v := cacheVersion{s.version, s.modelGen.Load()}
	s.mu.RUnlock()
	c := &s.cache
	c.mu.Lock()
	if c.seededVersion == v {
		if ids, ok := c.seeded[key]; ok {
			c.mu.Unlock()
			return ids
		}
	}
	c.mu.Unlock()
	s.mu.RLock()
	ids := s.mergeSeeds(products, func(i int32, dst []compute.Scored) []compute.Scored { return top(sales, i, dst) })
	s.mu.RUnlock()
	size := cacheEntryBytes(key, ids)
	c.mu.Lock()
	if c.seededVersion != v || len(c.seeded) >= seededCacheMax || c.seededBytes+size > seededCacheBytes {
		c.seeded = make(map[string][]ingest.ID)
		c.seededVersion = v
		c.seededBytes = 0
	}
	if size <= seededCacheBytes/16 { // one answer never takes a large share
		if _, dup := c.seeded[key]; !dup {
			c.seededBytes += size
		}
		c.seeded[key] = ids
	}
	c.mu.Unlock()
	return ids
}

func (s *Store) mergeSeeds(products []ingest.ID, top func(int32, []compute.Scored) []compute.Scored) []ingest.ID {
	var ranked []compute.Scored
	if len(products) == 1 {
		if i, ok := s.items.lookup(products[0]); ok {
			ranked = top(i, nil)
		}
		return s.scoredIDs(ranked, products)
	}
	sum := make(map[int32]float32)
	var buf []compute.Scored
	for _, id := range products {
		i, ok := s.items.lookup(id)
		if !ok {
			continue
		}
		buf = top(i, buf[:0])
		for _, c := range buf {
			sum[c.Index] += c.Score
		}
	}
	ranked = make([]compute.Scored, 0, len(sum))
	for i, sc := range sum {
		ranked = append(ranked, compute.Scored{Index: i, Score: sc})
	}
	sort.Slice(ranked, func(a, b int) bool {
		if ranked[a].Score != ranked[b].Score {
			return ranked[a].Score > ranked[b].Score
		}
		return ranked[a].Index < ranked[b].Index
	})
	return s.scoredIDs(ranked, products)
}

// CustomerHistory lists the products a customer bought, most recent first,
// each once. The customer is named by id or, failing that, by email.
func (s *Store) CustomerHistory(customer ingest.ID, email string) ([]ingest.ID, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	orders := s.buyerOrdersLocked(customer, email)
	if orders == nil {
		return nil, ErrUnknownCustomer
	}
	seen := make(map[ingest.ID]bool)
	var ids []ingest.ID
	for k := len(orders) - 1; k >= 0; k-- {
		for _, i := range s.orders[orders[k]].items() {
			if id := s.items.ids[i]; !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	return ids, nil
}

func (s *Store) buyerOrdersLocked(customer ingest.ID, email string) []ingest.ID {
	if customer != "" {
		if o, ok := s.buyerOrders[string(customer)]; ok {
			return o
		}
		if _, ok := s.customers[customer]; ok {
			return []ingest.ID{}
		}
	}
	if email != "" {
		e := strings.ToLower(email)
		if id, ok := s.byEmail[e]; ok {
			if o, ok := s.buyerOrders[string(id)]; ok {
				return o
			}
		}
		if o, ok := s.buyerOrders["email:"+e]; ok {
			return o
		}
		if _, ok := s.byEmail[e]; ok {
			return []ingest.ID{}
		}
	}
	return nil
}

func roundSignificant(x float32) float32 {
	if x == 0 || math.IsInf(float64(x), 0) || x != x {
		return x
	}
	e := math.Floor(math.Log10(math.Abs(float64(x))))
	scale := math.Pow(10, 4-e)
	return float32(math.Round(float64(x)*scale) / scale)
}

// CategoryScope returns the set of a category's id and, with
// subcategories, every category below it in the tree (cycle-safe). The
// boolean is false when the store has no such category.
func (s *Store) CategoryScope(cat ingest.ID, subcategories bool) (map[ingest.ID]bool, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, known := s.categories[cat]
	set := map[ingest.ID]bool{cat: true}
	if !subcategories {
		return set, known
	}
	queue := []ingest.ID{cat}
	for len(queue) > 0 {
		c := s.categories[queue[0]]
		queue = queue[1:]
		if c == nil {
			continue
		}
		for _, sub := range c.Subcategories {
			if !set[sub] {
				set[sub] = true
				queue = append(queue, sub)
			}
		}
	}
	return set, known
}

// CurrentlyWatched lists the products visitors viewed most recently,
// newest first, each once.
func (s *Store) CurrentlyWatched() []ingest.ID {
	s.mu.RLock()
	defer s.mu.RUnlock()
	seen := make(map[ingest.ID]bool)
	var out []ingest.ID
	for k := len(s.watched) - 1; k >= 0; k-- {
		id := s.watched[k]
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// Derived memoises a value derived from the store's records (not from
// sessions) at the current data version: build runs at most once per
// version and name, outside the store's locks.
func (s *Store) Derived(name string, build func() any) any {
	s.mu.RLock()
	v := s.version
	s.mu.RUnlock()
	c := &s.cache
	c.mu.Lock()
	if c.derivedVersion == v {
		if x, ok := c.derived[name]; ok {
			c.mu.Unlock()
			return x
		}
	}
	c.mu.Unlock()
	x := build()
	c.mu.Lock()
	if c.derivedVersion != v || c.derived == nil {
		c.derived = make(map[string]any)
		c.derivedVersion = v
	}
	c.derived[name] = x
	c.mu.Unlock()
	return x
}

// Products returns every product, sorted by id.
func (s *Store) Products() []*ingest.Product {
	ids := s.sortedIDs(ingest.KindProducts)
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*ingest.Product, 0, len(ids))
	for _, id := range ids {
		if p := s.products[id]; p != nil {
			out = append(out, p)
		}
	}
	return out
}
