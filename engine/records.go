package engine

import (
	"slices"

	"github.com/sibylhq/sibyl/ingest"
)

// The record reads of the data endpoints (GET /v2/<kind>) span two parts:
// orders live in sales, every other kind in the catalog. They take the
// catalog's read lock, then, for orders, the sales part's. Records are
// immutable once applied (an upsert swaps in a new value), so returned
// pointers stay valid after the locks are released.

// Counts reports record counts and data-health counters.
type Counts struct {
	Products, Categories, Customers, Orders, Pages int
	UnknownProductLines                            int64
}

// Counts returns the store's record counts.
func (s *Store) Counts() Counts {
	s.catalog.mu.RLock()
	defer s.catalog.mu.RUnlock()
	s.sales.mu.RLock()
	defer s.sales.mu.RUnlock()
	c := &s.catalog
	return Counts{len(c.products), len(c.categories), len(c.customers), len(s.sales.orders), len(c.pages), s.sales.unknownProductLines}
}

// Get returns the records of a kind with the given ids, skipping unknown
// ids, in the order asked.
func (s *Store) Get(kind ingest.Kind, ids []ingest.ID) []any {
	s.catalog.mu.RLock()
	defer s.catalog.mu.RUnlock()
	if kind == ingest.KindOrders {
		s.sales.mu.RLock()
		defer s.sales.mu.RUnlock()
	}
	out := make([]any, 0, len(ids))
	for _, id := range ids {
		if r := s.recordLocked(kind, id); r != nil {
			out = append(out, r)
		}
	}
	return out
}

// recordLocked returns a record, or nil. The caller holds the catalog's
// lock and, for orders, the sales part's.
func (s *Store) recordLocked(kind ingest.Kind, id ingest.ID) any {
	c := &s.catalog
	switch kind {
	case ingest.KindProducts:
		if r, ok := c.products[id]; ok {
			return r
		}
	case ingest.KindCategories:
		if r, ok := c.categories[id]; ok {
			return r
		}
	case ingest.KindCustomers:
		if r, ok := c.customers[id]; ok {
			return r
		}
	case ingest.KindOrders:
		if r, ok := s.sales.orders[id]; ok {
			return c.items.order(r)
		}
	case ingest.KindPages:
		if r, ok := c.pages[id]; ok {
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

// sortedIDs caches the id order of each kind per data version: paging
// must not sort the catalog on every request.
func (s *Store) sortedIDs(kind ingest.Kind) []ingest.ID {
	c := &s.catalog
	v := c.currentVersion()
	c.views.mu.Lock()
	defer c.views.mu.Unlock()
	if ids, ok := c.views.sorted[kind]; ok && ids.version == v {
		return ids.ids
	}
	var ids []ingest.ID
	c.mu.RLock()
	switch kind {
	case ingest.KindProducts:
		ids = keys(c.products)
	case ingest.KindCategories:
		ids = keys(c.categories)
	case ingest.KindCustomers:
		ids = keys(c.customers)
	case ingest.KindOrders:
		s.sales.mu.RLock()
		ids = keys(s.sales.orders)
		s.sales.mu.RUnlock()
	case ingest.KindPages:
		ids = keys(c.pages)
	}
	c.mu.RUnlock()
	slices.Sort(ids)
	if c.views.sorted == nil {
		c.views.sorted = make(map[ingest.Kind]cachedIDs)
	}
	c.views.sorted[kind] = cachedIDs{v, ids}
	return ids
}
