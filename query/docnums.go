package query

import (
	"sync"

	"github.com/sibylhq/sibyl/ingest"
)

// docNumbers gives each product id of a store a small number, for life:
// the filter view's bitmaps and the search index's postings count in
// these numbers, so a filter's bitmap intersects a search's matches
// directly, and the search index, which changes in place, keeps its
// numbers while the filter view is rebuilt. Numbers are never reused
// (a deleted product's number stays its own), so the table grows with
// the distinct ids a store ever had, about 60 bytes each; a Load of the
// store's data starts a new table (engine.Store.Attached).
type docNumbers struct {
	mu  sync.RWMutex
	num map[ingest.ID]uint32
	ids []ingest.ID
}

func docNumbersOf(st StoreReader) *docNumbers {
	return st.Attached("docnums", func() any { return &docNumbers{num: make(map[ingest.ID]uint32)} }).(*docNumbers)
}

// of is id's number, numbering it if new.
func (n *docNumbers) of(id ingest.ID) uint32 {
	n.mu.RLock()
	d, ok := n.num[id]
	n.mu.RUnlock()
	if ok {
		return d
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if d, ok := n.num[id]; ok {
		return d
	}
	d = uint32(len(n.ids))
	n.num[id] = d
	n.ids = append(n.ids, id)
	return d
}

// lookup is id's number if it has one.
func (n *docNumbers) lookup(id ingest.ID) (uint32, bool) {
	n.mu.RLock()
	d, ok := n.num[id]
	n.mu.RUnlock()
	return d, ok
}

// id is the product numbered d.
func (n *docNumbers) id(d uint32) ingest.ID {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.ids[d]
}

// idsOf maps numbers to ids in one lock.
func (n *docNumbers) idsOf(docs []uint32) []ingest.ID {
	out := make([]ingest.ID, len(docs))
	n.mu.RLock()
	for i, d := range docs {
		out[i] = n.ids[d]
	}
	n.mu.RUnlock()
	return out
}
