package mirror

import (
	"slices"

	"github.com/cespare/xxhash/v2"

	"github.com/sibylhq/sibyl/ingest"
)

// Seen is the set of ids a sync read, per kind.
//
// It keeps the 64-bit xxhash of each id, appended to a slice during the
// read and sorted (and deduplicated) once when first queried: 8 bytes per
// id plus the slice's spare capacity (8.4 bytes per id measured by
// BenchmarkSeen), so a 1M-customer store costs about 9 MB, where a
// map[string]struct{} would take about 56 bytes per id plus the strings
// themselves, and a map[uint64]struct{} about 38.
//
// The trade-off is collisions. If an id the store holds but the shop no
// longer has hashes like an id the shop still has, Seen reports it seen
// and the record is not deleted. That is the safe direction: a hash can
// only keep a record, never delete one that was read. With n ids read and
// m held, the chance of any collision is about n*m/2^64: 5e-8 for a
// million of each. (xxhash is not a keyed hash, so a shop could craft
// colliding ids on purpose; all it would gain is keeping its own stale
// record.)
//
// Orders are not recorded: they are never deleted, and they are the
// largest kind. Seen is not safe for concurrent use; sources deliver
// their batches one at a time.
type Seen struct {
	hashes map[ingest.Kind][]uint64
	// sorted marks the kinds whose slice is sorted and deduplicated.
	sorted map[ingest.Kind]bool
}

// NewSeen returns an empty set.
func NewSeen() *Seen {
	return &Seen{hashes: map[ingest.Kind][]uint64{}, sorted: map[ingest.Kind]bool{}}
}

// Add records that the sync read id of kind (orders are ignored).
func (s *Seen) Add(kind ingest.Kind, id ingest.ID) {
	if kind == ingest.KindOrders {
		return
	}
	s.hashes[kind] = append(s.hashes[kind], hashID(id))
	s.sorted[kind] = false
}

// Has reports whether the sync read id of kind (or an id with the same
// hash). The first call after an Add sorts that kind: O(n log n) once,
// then O(log n) per call.
func (s *Seen) Has(kind ingest.Kind, id ingest.ID) bool {
	h := s.sortedHashes(kind)
	_, found := slices.BinarySearch(h, hashID(id))
	return found
}

// Len is the number of distinct ids (hashes) read of kind.
func (s *Seen) Len(kind ingest.Kind) int { return len(s.sortedHashes(kind)) }

func (s *Seen) sortedHashes(kind ingest.Kind) []uint64 {
	h := s.hashes[kind]
	if !s.sorted[kind] && len(h) > 0 {
		slices.Sort(h)
		h = slices.Compact(h)
		s.hashes[kind] = h
		s.sorted[kind] = true
	}
	return h
}

func hashID(id ingest.ID) uint64 { return xxhash.Sum64String(string(id)) }

// Recorder is an ingest.FeedSink that records every id delivered to it in
// a Seen, then passes the batch on: the sync runner wraps the sink that
// writes the records with it.
type Recorder struct {
	Next ingest.FeedSink
	Seen *Seen
}

// Categories records the ids and passes the batch on.
func (r Recorder) Categories(b []ingest.Category) error {
	for i := range b {
		r.Seen.Add(ingest.KindCategories, b[i].ID)
	}
	return r.Next.Categories(b)
}

// Products records the ids and passes the batch on.
func (r Recorder) Products(b []ingest.Product) error {
	for i := range b {
		r.Seen.Add(ingest.KindProducts, b[i].ID)
	}
	return r.Next.Products(b)
}

// Customers records the ids and passes the batch on.
func (r Recorder) Customers(b []ingest.Customer) error {
	for i := range b {
		r.Seen.Add(ingest.KindCustomers, b[i].ID)
	}
	return r.Next.Customers(b)
}

// Orders passes the batch on; orders are never deleted, so not recorded.
func (r Recorder) Orders(b []ingest.Order) error { return r.Next.Orders(b) }

// Pages records the ids and passes the batch on.
func (r Recorder) Pages(b []ingest.Page) error {
	for i := range b {
		r.Seen.Add(ingest.KindPages, b[i].ID)
	}
	return r.Next.Pages(b)
}
