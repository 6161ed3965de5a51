package engine

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sibylhq/sibyl/compute"
	"github.com/sibylhq/sibyl/ingest"
)

// models is the part of a store that holds the trained model, what
// decides when to rebuild it, and the answers it serves from a cache.
// It has no data lock: the model is published with one atomic pointer
// store, and the counters are atomic. visitor has its own lock (taken
// before the data locks, never after: see Store for the lock order).
type models struct {
	current atomic.Pointer[storeModel]
	gen     atomic.Uint64 // bumped at every publish; keys the answer caches
	changes atomic.Int64  // orders applied since the last snapshot
	// trainedAt is the wall clock (unix s) of the last training.
	trainedAt atomic.Int64
	// lastChange is the wall clock (unix ns) of the last applied command:
	// scheduling only, never state (apply stays deterministic).
	lastChange atomic.Int64

	// visitor caches session fold-in answers by session items, per model
	// generation (sessions are not part of the data version).
	visitor visitorAnswers
}

// visitorAnswers caches visitor/complementary answers by the session's
// items and kinds, at one model generation, bounded as seededAnswers.
type visitorAnswers struct {
	mu      sync.Mutex
	answers map[string][]ingest.ID
	gen     uint64
	bytes   int
}

// storeModel is a trained compute.Model with the id maps of the data
// version it was built at: the model speaks dense indices, the API ids.
type storeModel struct {
	m *compute.Model
	// users maps a buyer key (customer id, or "email:"+email) to its row;
	// buyers[u] is the reverse.
	users  map[string]int32
	buyers []string
	// dataTime is the newest order time of the snapshot.
	dataTime  int64
	trainTook time.Duration
}

// ModelInfo describes a store's current model, for status and debugging.
type ModelInfo struct {
	Trained      bool          `json:"trained"`
	Version      uint64        `json:"version"`
	Users        int           `json:"users"`
	Items        int           `json:"items"`
	TrainTook    time.Duration `json:"train_took_ns"`
	ChangesSince int64         `json:"changes_since"`
}

// ModelInfo reports the store's model state.
func (s *Store) ModelInfo() ModelInfo {
	info := ModelInfo{ChangesSince: s.models.changes.Load()}
	if sm := s.models.current.Load(); sm != nil {
		info.Trained = true
		info.Version = sm.m.Version
		info.Users = len(sm.buyers)
		info.Items = sm.m.NumItems()
		info.TrainTook = sm.trainTook
	}
	return info
}

// RetrainDue reports whether the store's factor model should be rebuilt
// at wall-clock time now. While data is streaming in (a change within
// quiet), training waits, so that a bulk import is learned once it is
// complete rather than from its first slice; a model older than the
// policy's MaxAge is rebuilt regardless.
func (s *Store) RetrainDue(now time.Time, quiet time.Duration) bool {
	m := &s.models
	sec := now.Unix()
	if !s.cfg.Retrain.Due(m.changes.Load(), m.trainedAt.Load(), sec) {
		return false
	}
	busy := now.Sub(time.Unix(0, m.lastChange.Load())) < quiet
	stale := m.trainedAt.Load() != 0 && sec-m.trainedAt.Load() >= s.cfg.Retrain.MaxAge
	return !busy || stale
}

// Retrain builds a model from the store's current data and publishes it.
// It runs in the caller's goroutine (the node's model loop) and never
// blocks queries: the snapshot is copied under the catalog's and the
// sales part's read locks, training runs unlocked, the swap is one atomic
// store.
func (s *Store) Retrain(ctx context.Context, now int64) error {
	start := time.Now()
	snap, users, buyers, changes := s.snapshot()
	stats := s.freshStats().Stats
	cfg := s.cfg.Model
	// Replicas agree without shipping matrices: the seed is derived from
	// the store and the data version.
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%d", s.ID, snap.Version)
	cfg.ALS.Seed = h.Sum64()
	m, err := compute.BuildModel(ctx, snap, stats, cfg, nil)
	if err != nil {
		return fmt.Errorf("store %s: %w", s.ID, err)
	}
	s.models.current.Store(&storeModel{m: m, users: users, buyers: buyers, dataTime: snap.Time, trainTook: time.Since(start)})
	s.models.gen.Add(1)
	s.models.changes.Add(-changes)
	s.models.trainedAt.Store(now)
	return nil
}

// snapshot copies what a model is built from, at the current version,
// under the catalog's and the sales part's read locks.
func (s *Store) snapshot() (*compute.Snapshot, map[string]int32, []string, int64) {
	c, sl := &s.catalog, &s.sales
	c.mu.RLock()
	defer c.mu.RUnlock()
	sl.mu.RLock()
	defer sl.mu.RUnlock()
	changes := s.models.changes.Load()
	buyers := make([]string, 0, len(sl.buyerOrders))
	for b := range sl.buyerOrders {
		buyers = append(buyers, b)
	}
	sort.Strings(buyers) // row order must not depend on map order
	users := make(map[string]int32, len(buyers))
	for i, b := range buyers {
		users[b] = int32(i)
	}
	snap := &compute.Snapshot{
		Version:  c.version,
		Time:     sl.stats.now,
		NumUsers: len(buyers),
		NumItems: len(c.items.ids),
	}
	for _, b := range buyers {
		for _, oid := range sl.buyerOrders[b] {
			// A held order's items never change: the snapshot shares them.
			o := sl.orders[oid]
			snap.Orders = append(snap.Orders, compute.SnapshotOrder{User: users[b], Time: o.Time, Items: o.items()})
		}
	}
	cats := make(map[ingest.ID]int32)
	snap.Items = make([]compute.ItemAttributes, len(c.items.ids))
	for i, id := range c.items.ids {
		p := c.products[id]
		if p == nil {
			continue
		}
		a := compute.ItemAttributes{Price: p.Price, Text: p.Name + " " + p.Description}
		for _, c := range p.Categories {
			ci, ok := cats[c]
			if !ok {
				ci = int32(len(cats))
				cats[c] = ci
			}
			a.Categories = append(a.Categories, ci)
		}
		snap.Items[i] = a
	}
	return snap, users, buyers, changes
}

// scratchPool holds per-query score buffers (one float per item).
var scratchPool = sync.Pool{New: func() any { return new([]float32) }}

func scratch(n int) (*[]float32, []float32) {
	p := scratchPool.Get().(*[]float32)
	if cap(*p) < n {
		*p = make([]float32, n)
	}
	return p, (*p)[:n]
}

// Substituting ranks products that could replace the given ones: close
// in taste, category, price and text, and not bought together with them
// (compute.Model.SubstitutesFor). Empty until a model is trained.
func (s *Store) Substituting(products []ingest.ID) []ingest.ID {
	sm := s.models.current.Load()
	if sm == nil {
		return nil
	}
	return s.seeded("substituting", products, func(_ *salesStats, i int32, dst []compute.Scored) []compute.Scored {
		return sm.m.Substitutes(i, seedDepth, nil, dst)
	})
}

// Complementary ranks what is bought with the given products, summed
// over the seeds. Without a model it is the normalised co-purchase score
// (compute.CoPurchase.Complementary); with one, each seed's list is the
// model's (compute.Model.Complementary): complements chosen at training
// time to cover the seed's past baskets, then the live co-purchase blend
// with factor cosine, which fills in for products with few orders.
func (s *Store) Complementary(products []ingest.ID) []ingest.ID {
	sm := s.models.current.Load()
	return s.seeded("complementary", products, func(st *salesStats, i int32, dst []compute.Scored) []compute.Scored {
		if sm == nil || sm.m.Factors == nil {
			return st.CoBought.Complementary(i, seedDepth, nil, dst)
		}
		buf, sc := scratch(sm.m.NumItems())
		defer scratchPool.Put(buf)
		return sm.m.Complementary(st.Stats, i, seedDepth, nil, sc, dst)
	})
}

// CustomerComplementary ranks what a customer is likely to buy next, from
// their factor vector (folded in from their purchases when they are newer
// than the model), leaving out what they already bought.
func (s *Store) CustomerComplementary(customer ingest.ID, email string) ([]ingest.ID, error) {
	sm := s.models.current.Load()
	items, err := s.customerItems(customer, email)
	if err != nil || sm == nil || sm.m.Factors == nil {
		return nil, err
	}
	var v []float32
	if u, ok := sm.users[s.buyerOf(customer, email)]; ok {
		v = sm.m.UserVector(u)
	}
	if v == nil {
		v = sm.m.FoldIn(items, nil)
	}
	return s.recommendVector(sm, v, items), nil
}

// CustomerSubstituting ranks alternatives to what the customer bought
// lately.
func (s *Store) CustomerSubstituting(customer ingest.ID, email string) ([]ingest.ID, error) {
	sm := s.models.current.Load()
	items, err := s.customerItems(customer, email)
	if err != nil || sm == nil {
		return nil, err
	}
	if len(items) > 20 {
		items = items[:20] // the latest purchases say what they need now
	}
	ranked := sm.m.SubstitutesFor(items, candidateDepth, nil, nil)
	s.catalog.mu.RLock()
	defer s.catalog.mu.RUnlock()
	return s.catalog.rankedIDs(ranked, nil), nil
}

// VisitorComplementary ranks products for a session from the items the
// visitor viewed, clicked or carted (kinds), solved against the item
// factors in real time, leaving out the session's own items.
func (s *Store) VisitorComplementary(items []ingest.ID, kinds []compute.EventKind) []ingest.ID {
	sm := s.models.current.Load()
	if sm == nil || sm.m.Factors == nil || len(items) == 0 {
		return nil
	}
	s.catalog.mu.RLock()
	idx := make([]int32, 0, len(items))
	ks := make([]compute.EventKind, 0, len(items))
	for j, id := range items {
		if i, ok := s.catalog.items.lookup(id); ok {
			idx = append(idx, i)
			ks = append(ks, kinds[j])
		}
	}
	s.catalog.mu.RUnlock()
	// A page shows several slots for one session state: answer them from
	// a cache keyed by the session's items and the model generation.
	var key strings.Builder
	for j, i := range idx {
		key.WriteString(strconv.Itoa(int(i)))
		key.WriteByte(byte('a' + ks[j]))
	}
	gen := s.models.gen.Load()
	c := &s.models.visitor
	c.mu.Lock()
	if c.gen == gen {
		if ids, ok := c.answers[key.String()]; ok {
			c.mu.Unlock()
			return ids
		}
	}
	c.mu.Unlock()
	ids := s.recommendVector(sm, sm.m.FoldIn(idx, ks), idx)
	size := cacheEntryBytes(key.String(), ids)
	c.mu.Lock()
	if c.gen != gen || len(c.answers) >= seededCacheMax || c.bytes+size > seededCacheBytes {
		c.answers = make(map[string][]ingest.ID)
		c.gen = gen
		c.bytes = 0
	}
	if _, dup := c.answers[key.String()]; !dup {
		c.bytes += size
	}
	c.answers[key.String()] = ids
	c.mu.Unlock()
	return ids
}

func (s *Store) recommendVector(sm *storeModel, v []float32, exclude []int32) []ingest.ID {
	if v == nil {
		return nil
	}
	buf, sc := scratch(sm.m.NumItems())
	defer scratchPool.Put(buf)
	ranked := sm.m.Recommend(v, 200, nil, sc, nil)
	ranked = slices.DeleteFunc(ranked, func(c compute.Scored) bool { return slices.Contains(exclude, c.Index) })
	s.catalog.mu.RLock()
	defer s.catalog.mu.RUnlock()
	return s.catalog.rankedIDs(ranked, nil)
}

// customerItems lists a customer's purchased items, latest first.
func (s *Store) customerItems(customer ingest.ID, email string) ([]int32, error) {
	ids, err := s.CustomerHistory(customer, email)
	if err != nil {
		return nil, err
	}
	s.catalog.mu.RLock()
	defer s.catalog.mu.RUnlock()
	return s.catalog.itemsOf(ids), nil
}

// buyerOf names a buyer as the sales part's buyerOrders does.
func (s *Store) buyerOf(customer ingest.ID, email string) string {
	if customer != "" {
		return string(customer)
	}
	s.catalog.mu.RLock()
	defer s.catalog.mu.RUnlock()
	e := strings.ToLower(email)
	if id, ok := s.catalog.byEmail[e]; ok {
		return string(id)
	}
	return "email:" + e
}

// Audience ranks the customers most likely to buy the given products
// (an offer): their factor vectors against the products', leaving out
// customers who bought any of them in the last AudienceRecentDays before
// the store's newest order, including purchases newer than the model.
// Customers are returned by id, or by email for guest buyers.
func (s *Store) Audience(products []ingest.ID, limit int) []string {
	products = seedsOf(products)
	sm := s.models.current.Load()
	if sm == nil || sm.m.Factors == nil {
		return nil
	}
	s.catalog.mu.RLock()
	s.sales.mu.RLock()
	var items []int32
	for _, id := range products {
		if i, ok := s.catalog.items.lookup(id); ok {
			items = append(items, i)
		}
	}
	since := s.sales.stats.now - int64(s.cfg.AudienceRecentDays)*86400
	if s.cfg.AudienceRecentDays == 0 {
		since = math.MaxInt64
	}
	// Buyers of the products since the model's data: the model cannot
	// know them.
	recent := make(map[string]bool)
	for b, oids := range s.sales.buyerOrders {
		for k := len(oids) - 1; k >= 0; k-- {
			o := s.sales.orders[oids[k]]
			if o.Time <= sm.dataTime || o.Time < since {
				break
			}
			for _, i := range o.items() {
				if slices.Contains(items, i) {
					recent[b] = true
				}
			}
		}
	}
	s.sales.mu.RUnlock()
	s.catalog.mu.RUnlock()
	if len(items) == 0 {
		return nil
	}
	buf, sc := scratch(len(sm.buyers))
	defer scratchPool.Put(buf)
	ranked := sm.m.Audience(items, limit, since, func(u int32) bool { return recent[sm.buyers[u]] }, sc, nil)
	out := make([]string, len(ranked))
	for i, c := range ranked {
		out[i] = strings.TrimPrefix(sm.buyers[c.Index], "email:")
	}
	return out
}
