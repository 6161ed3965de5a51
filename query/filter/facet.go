package filter

import (
	"github.com/RoaringBitmap/roaring/v2"
)

// FacetCount is how many items of a set hold one value.
type FacetCount struct {
	Value string
	Count int
}

// Facet counts, for the items of within, the values of attribute name:
// each string, number (in the filter's text form, so "1" and 1 are one
// value) and list element once per item that has it, booleans as "true"
// and "false", with the least and greatest number when the attribute has
// numbers. Counting is by the column's bitmaps: an intersection count per
// distinct value, not a visit per item, so a search's thousands of matches
// cost what the attribute's few values cost.
//
// ok is false when that would cost more than visiting the items (an
// attribute with more distinct values than within has items over 8, such
// as a price): the caller counts by scanning instead.
func (ix *Index) Facet(name string, within *roaring.Bitmap) (counts []FacetCount, lo, hi float64, numeric, ok bool) {
	c := ix.column(name)
	if c == nil {
		return nil, 0, 0, false, true
	}
	n := within.GetCardinality()
	if uint64(len(c.termIDs))*8 > n && len(c.termIDs) > 16 {
		return nil, 0, 0, false, false
	}
	for value, id := range c.termIDs {
		if k := postingsCount(c.eq[id], within); k > 0 {
			counts = append(counts, FacetCount{value, k})
		}
	}
	for i, value := range [2]string{"false", "true"} {
		if k := postingsCount(c.boolEq[i], within); k > 0 {
			counts = append(counts, FacetCount{value, k})
		}
	}
	// nums is sorted by value: the first and last entries in within are
	// the range.
	for _, e := range c.nums {
		if within.Contains(e.item) {
			lo, numeric = e.v, true
			break
		}
	}
	for i := len(c.nums) - 1; numeric && i >= 0; i-- {
		if within.Contains(c.nums[i].item) {
			hi = c.nums[i].v
			break
		}
	}
	return counts, lo, hi, numeric, true
}

func postingsCount(p postings, within *roaring.Bitmap) int {
	switch {
	case p.bm != nil:
		return int(p.bm.AndCardinality(within))
	case p.any && within.Contains(p.one):
		return 1
	}
	return 0
}
