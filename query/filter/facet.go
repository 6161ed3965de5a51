package filter

import (
	"math"
	"sync"

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
// and "false"; and, for an attribute with one number per item, the least
// and greatest. Counting visits each item of within once, through the
// column's item-to-values table (built the first time a facet asks), and
// adds into an array per value: a search's thousands of matches cost a
// few microseconds per facet, not a hash-map update per item.
func (ix *Index) Facet(name string, within *roaring.Bitmap) (counts []FacetCount, lo, hi float64, numeric bool) {
	c := ix.column(name)
	if c == nil {
		return nil, 0, 0, false
	}
	fw := c.forward()
	perTerm := make([]int, len(fw.text))
	lo, hi = math.Inf(1), math.Inf(-1)
	it := within.Iterator()
	for it.HasNext() {
		item := it.Next()
		if int(item)+1 < len(fw.start) {
			for _, t := range fw.terms[fw.start[item]:fw.start[item+1]] {
				perTerm[t]++
			}
		}
		if c.values != nil && int(item) < len(c.values) && !math.IsNaN(c.values[item]) {
			v := c.values[item]
			lo, hi, numeric = min(lo, v), max(hi, v), true
		}
	}
	for t, k := range perTerm {
		if k > 0 {
			counts = append(counts, FacetCount{fw.text[t], k})
		}
	}
	for i, value := range [2]string{"false", "true"} {
		if k := postingsCount(c.boolEq[i], within); k > 0 {
			counts = append(counts, FacetCount{value, k})
		}
	}
	if !numeric {
		lo, hi = 0, 0
	}
	return counts, lo, hi, numeric
}

// forwardTable maps an item to the text terms (eq postings) it holds:
// terms[start[item]:start[item+1]], each once; text[t] is term t's text.
type forwardTable struct {
	start []uint32
	terms []uint32
	text  []string
}

// columnForward is a column's forward table, built once.
type columnForward struct {
	once sync.Once
	fw   *forwardTable
}

func (c *column) forward() *forwardTable {
	c.fwd.once.Do(func() {
		fw := &forwardTable{text: make([]string, len(c.termIDs))}
		for s, id := range c.termIDs {
			fw.text[id] = s
		}
		top := uint32(0)
		each := func(fn func(item, term uint32)) {
			for t, p := range c.eq {
				switch {
				case p.bm != nil:
					it := p.bm.Iterator()
					for it.HasNext() {
						fn(it.Next(), uint32(t))
					}
				case p.any:
					fn(p.one, uint32(t))
				}
			}
		}
		each(func(item, _ uint32) { top = max(top, item+1) })
		fw.start = make([]uint32, top+1)
		each(func(item, _ uint32) { fw.start[item+1]++ })
		for i := 1; i < len(fw.start); i++ {
			fw.start[i] += fw.start[i-1]
		}
		fw.terms = make([]uint32, fw.start[top])
		next := append([]uint32(nil), fw.start[:top]...)
		each(func(item, term uint32) {
			fw.terms[next[item]] = term
			next[item]++
		})
		c.fwd.fw = fw
	})
	return c.fwd.fw
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
