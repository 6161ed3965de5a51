package engine

import (
	"sync"

	"github.com/sibylhq/sibyl/ingest"
)

// Catalog changes: a bounded log of the products written since a point,
// so that a reader that keeps its own index of the catalog (search) can
// bring it up to date by re-reading only those products instead of
// rebuilding from every record.
//
// The log counts what readers of the catalog care about: product,
// category and page records. Orders and customers leave it alone, so a
// stream of orders does not make the search index or the filter view
// stale. A category or page change (names every product's category text;
// pages are few) moves the floor: readers from before it rebuild.

// changesKept bounds the log. Past it, readers that fell behind rebuild,
// which costs what a bulk import of that size costs anyway.
const changesKept = 1 << 16

type catalogChanges struct {
	// seq counts product, category and page changes.
	seq uint64
	// floor: a reader at seq < floor cannot catch up from the log.
	floor uint64
	// log[i] is the product changed at seq start+i+1.
	log   []ingest.ID
	start uint64
}

// productChanged records an upserted or deleted product. Called by apply
// with the catalog write-locked.
func (c *catalogChanges) productChanged(id ingest.ID) {
	c.seq++
	if len(c.log) >= changesKept {
		// Drop the older half in one move (amortised O(1) a change).
		half := len(c.log) / 2
		c.log = append(c.log[:0], c.log[half:]...)
		c.start += uint64(half)
		c.floor = max(c.floor, c.start)
	}
	if len(c.log) == 0 {
		c.start = c.seq - 1
	}
	c.log = append(c.log, id)
}

// otherChanged records a category or page change: readers rebuild.
func (c *catalogChanges) otherChanged() {
	c.seq++
	c.floor = c.seq
	c.log = c.log[:0]
	c.start = c.seq
}

// CatalogSeq counts the store's product, category and page changes; the
// values derived from the catalog (Derived) are kept per CatalogSeq.
func (s *Store) CatalogSeq() uint64 {
	c := &s.catalog
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.changes.seq
}

// ProductChanges lists the products changed (upserted or deleted; a
// product may appear more than once) after since, with the sequence
// number they bring the reader to. ok is false when the log does not
// reach back to since, or a category or page changed since: the reader
// must rebuild from Products (reading CatalogSeq first).
//
// The list is bounded by changesKept.
func (s *Store) ProductChanges(since uint64) (ids []ingest.ID, now uint64, ok bool) {
	c := &s.catalog
	c.mu.RLock()
	defer c.mu.RUnlock()
	ch := &c.changes
	if since == ch.seq {
		return nil, ch.seq, true
	}
	if since > ch.seq || since < ch.floor || since < ch.start {
		return nil, ch.seq, false
	}
	return append([]ingest.ID(nil), ch.log[since-ch.start:]...), ch.seq, true
}

// attachments holds values other layers keep for the store's lifetime
// (the search index, which updates itself from ProductChanges). A Load
// makes new stores, so attached values start over with the data.
type attachments struct {
	mu sync.Mutex
	m  map[string]any
}

// Attached returns the value attached under name, creating it with
// create (outside the store's data locks) the first time.
func (s *Store) Attached(name string, create func() any) any {
	a := &s.attached
	a.mu.Lock()
	defer a.mu.Unlock()
	if x, ok := a.m[name]; ok {
		return x
	}
	if a.m == nil {
		a.m = make(map[string]any)
	}
	x := create()
	a.m[name] = x
	return x
}
