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

// sales is the part of a store that holds its orders, the buyer index and
// the live statistics every order updates (popular, trending, recently
// bought, most sold with, and the co-purchase half of complementary).
//
// mu guards every field but lists and seeded, which have their own locks
// (taken before the data locks, never after: see Store for the lock
// order). The statistics' compute structures lock themselves, so reading
// them needs only the stats pointer, which mu guards.
type sales struct {
	mu     sync.RWMutex
	orders map[ingest.ID]*heldOrder
	// buyerOrders maps a buyer (customer id, or "email:" + email when the
	// order has no customer id) to its order ids in time order.
	buyerOrders map[string][]ingest.ID
	stats       *salesStats
	// unknownProductLines counts order lines that named a product absent
	// from the catalog when applied (data health).
	unknownProductLines int64

	// lists caches the ranked lists of the live statistics per data
	// version.
	lists salesLists
	// seeded caches answers of logics with seed products.
	seeded seededAnswers
}

// salesLists are the store-wide rankings of the live statistics at a
// data version.
type salesLists struct {
	mu       sync.Mutex
	popular  cachedIDs
	trending cachedIDs
	recent   cachedIDs
}

// seededAnswers caches answers of the seeded logics (most_sold_with,
// complementary, substituting) by logic and seeds, at one data version
// and model generation, bounded in entries and bytes.
type seededAnswers struct {
	mu      sync.Mutex
	answers map[string][]ingest.ID
	version cacheVersion
	bytes   int
}

// cacheVersion is the data version and the model generation an answer
// was computed at.
type cacheVersion struct{ data, model uint64 }

func newSales(cfg Config) sales {
	return sales{
		orders:      make(map[ingest.ID]*heldOrder),
		buyerOrders: make(map[string][]ingest.ID),
		stats:       newSalesStats(cfg),
	}
}

// salesStats are the live statistics every order updates at once, before
// any model is retrained (compute.Stats: decayed popularity and trend,
// co-purchase and co-view counts), plus the most recent sales.
//
// The compute structures only add. An order that is replaced by a
// different version, or deleted, marks the statistics stale; they are
// recounted from the store's orders before the next read that needs them.
// Re-importing identical orders changes nothing and costs no recount.
type salesStats struct {
	*compute.Stats
	recent []recentSale
	// now is the newest order time seen: the store's clock for trending,
	// taken from the data so that every replica agrees.
	now   int64
	stale bool
}

type recentSale struct {
	item int32
	time int64
}

const recentSalesKept = 1000

func newSalesStats(cfg Config) *salesStats {
	st, err := compute.NewStats(0, cfg.Model)
	if err != nil {
		panic(err) // the config is validated by the node
	}
	return &salesStats{Stats: st}
}

func (s *salesStats) addOrder(o *heldOrder) {
	// One order line counts once whatever the quantity: popularity is how
	// many orders want the item, not wholesale volume.
	idx := o.items()
	s.AddOrder(compute.SnapshotOrder{User: -1, Time: o.Time, Items: idx})
	s.now = max(s.now, o.Time)
	for _, i := range idx {
		s.recent = append(s.recent, recentSale{i, o.Time})
	}
	if len(s.recent) > 2*recentSalesKept {
		sort.SliceStable(s.recent, func(a, b int) bool { return s.recent[a].time < s.recent[b].time })
		s.recent = append(s.recent[:0], s.recent[len(s.recent)-recentSalesKept:]...)
	}
}

// freshStats returns fresh statistics, recounting them first when an
// order was changed or deleted since the last count. It takes the locks
// itself: a recount takes the catalog's read lock, the sales write lock
// and the sessions' read lock, in that order.
func (s *Store) freshStats() *salesStats {
	s.sales.mu.RLock()
	st, stale := s.sales.stats, s.sales.stats.stale
	s.sales.mu.RUnlock()
	if !stale {
		return st
	}
	s.catalog.mu.RLock()
	s.sales.mu.Lock()
	s.sessions.mu.RLock()
	if s.sales.stats.stale {
		s.rebuildStatsLocked()
	}
	st = s.sales.stats
	s.sessions.mu.RUnlock()
	s.sales.mu.Unlock()
	s.catalog.mu.RUnlock()
	return st
}

// rebuildStatsLocked recounts the statistics from every order, in time
// order so that the recent-sales list is right, then the sessions'
// co-views. The caller holds the sales part write-locked and the catalog
// and sessions at least read-locked (or owns a store not yet published).
func (s *Store) rebuildStatsLocked() {
	fresh := newSalesStats(s.cfg)
	orders := make([]*heldOrder, 0, len(s.sales.orders))
	for _, o := range s.sales.orders {
		orders = append(orders, o)
	}
	slices.SortFunc(orders, func(a, b *heldOrder) int {
		if a.Time != b.Time {
			return int(a.Time - b.Time)
		}
		return compareIDs(a.ID, b.ID)
	})
	for _, o := range orders {
		fresh.addOrder(o)
	}
	s.sales.stats = fresh
	s.replayCoViewsLocked()
}

func compareIDs(a, b ingest.ID) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// candidateDepth is how many ranked candidates a list logic keeps: enough
// for any page after exclusions and hidden products.
const candidateDepth = 2000

// salesList returns the list c caches when it is current, else rebuilds
// it with build, called with the catalog and sales read-locked.
func (s *Store) salesList(c *cachedIDs, build func(*salesStats) []ingest.ID) []ingest.ID {
	st := s.freshStats()
	v := s.catalog.currentVersion()
	l := &s.sales.lists
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.ids != nil && c.version == v {
		return c.ids
	}
	s.catalog.mu.RLock()
	s.sales.mu.RLock()
	ids := build(st)
	s.sales.mu.RUnlock()
	s.catalog.mu.RUnlock()
	*c = cachedIDs{v, ids}
	return ids
}

// Popular ranks recommendable products by decayed sales, best first.
func (s *Store) Popular() []ingest.ID {
	return s.salesList(&s.sales.lists.popular, func(st *salesStats) []ingest.ID {
		return s.catalog.rankedIDs(st.Popularity.Popular(candidateDepth, nil, nil), nil)
	})
}

// Trending ranks products by the growth of their recent sales against
// their baseline (compute.Popularity.Trending), at the store's newest sale.
func (s *Store) Trending() []ingest.ID {
	return s.salesList(&s.sales.lists.trending, func(st *salesStats) []ingest.ID {
		return s.catalog.rankedIDs(st.Popularity.Trending(st.now, candidateDepth, nil, nil), nil)
	})
}

// RecentlyBought lists the products of the latest sales, newest first,
// each once. The list is cached per data version: only orders change it.
func (s *Store) RecentlyBought() []ingest.ID {
	return s.salesList(&s.sales.lists.recent, func(st *salesStats) []ingest.ID {
		rs := slices.Clone(st.recent)
		sort.SliceStable(rs, func(a, b int) bool { return rs[a].time > rs[b].time })
		seen := make(map[int32]bool, len(rs))
		var ids []ingest.ID
		for _, r := range rs {
			if seen[r.item] {
				continue
			}
			seen[r.item] = true
			id := s.catalog.items.ids[r.item]
			if Recommendable(s.catalog.products[id]) {
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
	return s.seeded("most_sold_with", products, func(st *salesStats, i int32, dst []compute.Scored) []compute.Scored {
		return st.CoBought.MostSoldWith(i, seedDepth, nil, dst)
	})
}

// seededCacheMax bounds the answers kept per store version; a product page
// asks about one product, so the working set is the catalog.
// seededCacheBytes bounds their size (ids and keys): a flood of requests
// with many long seed ids once added 0.6 GB with the count bound alone.
// When either is reached the cache starts over. The visitor answers of
// the models part have the same bounds.
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
// data version and model generation, computing it on a miss (under the
// catalog's read lock): scanning a best-seller's neighbour row costs far
// more than the request budget.
func (s *Store) seeded(logic string, products []ingest.ID, top func(*salesStats, int32, []compute.Scored) []compute.Scored) []ingest.ID {
	products = seedsOf(products)
	var kb strings.Builder
	kb.WriteString(logic)
	for _, p := range products {
		kb.WriteByte(0)
		kb.WriteString(string(p))
	}
	key := kb.String()
	st := s.freshStats()
	v := cacheVersion{s.catalog.currentVersion(), s.models.gen.Load()}
	c := &s.sales.seeded
	c.mu.Lock()
	if c.version == v {
		if ids, ok := c.answers[key]; ok {
			c.mu.Unlock()
			return ids
		}
	}
	c.mu.Unlock()
	s.catalog.mu.RLock()
	ids := s.catalog.mergeSeeds(products, func(i int32, dst []compute.Scored) []compute.Scored { return top(st, i, dst) })
	s.catalog.mu.RUnlock()
	size := cacheEntryBytes(key, ids)
	c.mu.Lock()
	if c.version != v || len(c.answers) >= seededCacheMax || c.bytes+size > seededCacheBytes {
		c.answers = make(map[string][]ingest.ID)
		c.version = v
		c.bytes = 0
	}
	if size <= seededCacheBytes/16 { // one answer never takes a large share
		if _, dup := c.answers[key]; !dup {
			c.bytes += size
		}
		c.answers[key] = ids
	}
	c.mu.Unlock()
	return ids
}

// mergeSeeds sums each seed's neighbours as top ranks them. Called with
// c.mu read-locked; top must not take the store's locks.
func (c *catalog) mergeSeeds(products []ingest.ID, top func(int32, []compute.Scored) []compute.Scored) []ingest.ID {
	var ranked []compute.Scored
	if len(products) == 1 {
		if i, ok := c.items.lookup(products[0]); ok {
			ranked = top(i, nil)
		}
		return c.rankedIDs(ranked, products)
	}
	sum := make(map[int32]float32)
	var buf []compute.Scored
	for _, id := range products {
		i, ok := c.items.lookup(id)
		if !ok {
			continue
		}
		buf = top(i, buf[:0])
		for _, r := range buf {
			sum[r.Index] += r.Score
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
	return c.rankedIDs(ranked, products)
}

// CustomerHistory lists the products a customer bought, most recent first,
// each once. The customer is named by id or, failing that, by email.
func (s *Store) CustomerHistory(customer ingest.ID, email string) ([]ingest.ID, error) {
	s.catalog.mu.RLock()
	defer s.catalog.mu.RUnlock()
	s.sales.mu.RLock()
	defer s.sales.mu.RUnlock()
	orders := s.buyerOrdersLocked(customer, email)
	if orders == nil {
		return nil, ErrUnknownCustomer
	}
	seen := make(map[ingest.ID]bool)
	var ids []ingest.ID
	for k := len(orders) - 1; k >= 0; k-- {
		for _, i := range s.sales.orders[orders[k]].items() {
			if id := s.catalog.items.ids[i]; !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	return ids, nil
}

// buyerOrdersLocked returns a buyer's order ids, empty for a known
// customer without orders, nil for an unknown one. The caller holds the
// catalog's and the sales part's read locks.
func (s *Store) buyerOrdersLocked(customer ingest.ID, email string) []ingest.ID {
	buyers := s.sales.buyerOrders
	if customer != "" {
		if o, ok := buyers[string(customer)]; ok {
			return o
		}
		if _, ok := s.catalog.customers[customer]; ok {
			return []ingest.ID{}
		}
	}
	if email != "" {
		e := strings.ToLower(email)
		id, known := s.catalog.byEmail[e]
		if known {
			if o, ok := buyers[string(id)]; ok {
				return o
			}
		}
		if o, ok := buyers["email:"+e]; ok {
			return o
		}
		if known {
			return []ingest.ID{}
		}
	}
	return nil
}

func buyerKey(o *heldOrder) string {
	if o.Customer != "" {
		return string(o.Customer)
	}
	if o.Email != "" {
		return "email:" + strings.ToLower(o.Email)
	}
	return ""
}

// insertByTime keeps a buyer's order list sorted by (time, id); orders
// mostly arrive in time order, so this is an append.
func insertByTime(list []ingest.ID, o *heldOrder, orders map[ingest.ID]*heldOrder) []ingest.ID {
	less := func(a *heldOrder) bool { // a sorts after o
		return a.Time > o.Time || (a.Time == o.Time && a.ID > o.ID)
	}
	i := len(list)
	for i > 0 && less(orders[list[i-1]]) {
		i--
	}
	list = append(list, "")
	copy(list[i+1:], list[i:])
	list[i] = o.ID
	return list
}

func roundSignificant(x float32) float32 {
	if x == 0 || math.IsInf(float64(x), 0) || x != x {
		return x
	}
	e := math.Floor(math.Log10(math.Abs(float64(x))))
	scale := math.Pow(10, 4-e)
	return float32(math.Round(float64(x)*scale) / scale)
}
