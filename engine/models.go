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
	"time"

	"github.com/sibylhq/sibyl/compute"
	"github.com/sibylhq/sibyl/ingest"
)

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
	info := ModelInfo{ChangesSince: s.changes.Load()}
	if sm := s.model.Load(); sm != nil {
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
	sec := now.Unix()
	if !s.cfg.Retrain.Due(s.changes.Load(), s.trainedAt.Load(), sec) {
		return false
	}
	busy := now.Sub(time.Unix(0, s.lastChange.Load())) < quiet
	stale := s.trainedAt.Load() != 0 && sec-s.trainedAt.Load() >= s.cfg.Retrain.MaxAge
	return !busy || stale
}

// Retrain builds a model from the store's current data and publishes it.
// It runs in the caller's goroutine (the node's model loop) and never
// blocks queries: the snapshot is copied under the read lock, training
// runs unlocked, the swap is one atomic store.
func (s *Store) Retrain(ctx context.Context, now int64) error {
	start := time.Now()
	snap, users, buyers, changes := s.snapshot()
	stats := s.salesLocked().Stats
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
	s.model.Store(&storeModel{m: m, users: users, buyers: buyers, dataTime: snap.Time, trainTook: time.Since(start)})
	s.modelGen.Add(1)
	s.changes.Add(-changes)
	s.trainedAt.Store(now)
	return nil
}

// snapshot copies what a model is built from, at the current version.
func (s *Store) snapshot() (*compute.Snapshot, map[string]int32, []string, int64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	changes := s.changes.Load()
	buyers := make([]string, 0, len(s.buyerOrders))
	for b := range s.buyerOrders {
		buyers = append(buyers, b)
	}
	sort.Strings(buyers) // row order must not depend on map order
	users := make(map[string]int32, len(buyers))
	for i, b := range buyers {
		users[b] = int32(i)
	}
	snap := &compute.Snapshot{
		Version:  s.version,
		Time:     s.sales.now,
		NumUsers: len(buyers),
		NumItems: len(s.items.ids),
	}
	for _, b := range buyers {
		for _, oid := range s.buyerOrders[b] {
			// A held order's items never change: the snapshot shares them.
			o := s.orders[oid]
			snap.Orders = append(snap.Orders, compute.SnapshotOrder{User: users[b], Time: o.Time, Items: o.items()})
		}
	}
	cats := make(map[ingest.ID]int32)
	snap.Items = make([]compute.ItemAttributes, len(s.items.ids))
	for i, id := range s.items.ids {
		p := s.products[id]
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
	sm := s.model.Load()
	if sm == nil {
		return nil
	}
	return s.seeded("substituting", products, func(_ *salesStats, i int32, dst []compute.Scored) []compute.Scored {
		return sm.m.Substitutes(i, seedDepth, nil, dst)
	})
}

// CustomerComplementary ranks what a customer is likely to buy next, from
// their factor vector (folded in from their purchases when they are newer
// than the model), leaving out what they already bought.
func (s *Store) CustomerComplementary(customer ingest.ID, email string) ([]ingest.ID, error) {
	sm := s.model.Load()
	items, err := s.customerItems(customer, email)
	if err != nil || sm == nil || sm.m.Factors == nil {
		return nil, err
	}
	var v []float32
	if u, ok := sm.users[s.buyerKey(customer, email)]; ok {
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
	sm := s.model.Load()
	items, err := s.customerItems(customer, email)
	if err != nil || sm == nil {
		return nil, err
	}
	if len(items) > 20 {
		items = items[:20] // the latest purchases say what they need now
	}
	ranked := sm.m.SubstitutesFor(items, candidateDepth, nil, nil)
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.scoredIDs(ranked, nil), nil
}

// VisitorComplementary ranks products for a session from the items the
// visitor viewed, clicked or carted (kinds), solved against the item
// factors in real time, leaving out the session's own items.
func (s *Store) VisitorComplementary(items []ingest.ID, kinds []compute.EventKind) []ingest.ID {
	sm := s.model.Load()
	if sm == nil || sm.m.Factors == nil || len(items) == 0 {
		return nil
	}
	s.mu.RLock()
	idx := make([]int32, 0, len(items))
	ks := make([]compute.EventKind, 0, len(items))
	for j, id := range items {
		if i, ok := s.items.lookup(id); ok {
			idx = append(idx, i)
			ks = append(ks, kinds[j])
		}
	}
	s.mu.RUnlock()
	// A page shows several slots for one session state: answer them from
	// a cache keyed by the session's items and the model generation.
	var key strings.Builder
	for j, i := range idx {
		key.WriteString(strconv.Itoa(int(i)))
		key.WriteByte(byte('a' + ks[j]))
	}
	gen := s.modelGen.Load()
	c := &s.cache
	c.mu.Lock()
	if c.visitorGen == gen {
		if ids, ok := c.visitor[key.String()]; ok {
			c.mu.Unlock()
			return ids
		}
	}
	c.mu.Unlock()
	ids := s.recommendVector(sm, sm.m.FoldIn(idx, ks), idx)
	size := cacheEntryBytes(key.String(), ids)
	c.mu.Lock()
	if c.visitorGen != gen || len(c.visitor) >= seededCacheMax || c.visitorBytes+size > seededCacheBytes {
		c.visitor = make(map[string][]ingest.ID)
		c.visitorGen = gen
		c.visitorBytes = 0
	}
	if _, dup := c.visitor[key.String()]; !dup {
		c.visitorBytes += size
	}
	c.visitor[key.String()] = ids
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
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.scoredIDs(ranked, nil)
}

// customerItems lists a customer's purchased items, latest first.
func (s *Store) customerItems(customer ingest.ID, email string) ([]int32, error) {
	ids, err := s.CustomerHistory(customer, email)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]int32, 0, len(ids))
	for _, id := range ids {
		if i, ok := s.items.lookup(id); ok {
			out = append(out, i)
		}
	}
	return out, nil
}

// buyerKey names a buyer as buyerOrders does.
func (s *Store) buyerKey(customer ingest.ID, email string) string {
	if customer != "" {
		return string(customer)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := strings.ToLower(email)
	if id, ok := s.byEmail[e]; ok {
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
	sm := s.model.Load()
	if sm == nil || sm.m.Factors == nil {
		return nil
	}
	s.mu.RLock()
	var items []int32
	for _, id := range products {
		if i, ok := s.items.lookup(id); ok {
			items = append(items, i)
		}
	}
	since := s.sales.now - int64(s.cfg.AudienceRecentDays)*86400
	if s.cfg.AudienceRecentDays == 0 {
		since = math.MaxInt64
	}
	// Buyers of the products since the model's data: the model cannot
	// know them.
	recent := make(map[string]bool)
	for b, oids := range s.buyerOrders {
		for k := len(oids) - 1; k >= 0; k-- {
			o := s.orders[oids[k]]
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
	s.mu.RUnlock()
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
