package compute

import (
	"cmp"
	"slices"
)

// coRow is one item's row of co-occurrence counts: its neighbours' indices
// in ascending order and, at the same positions, how many baskets held
// both. Memory, not CPU, is what bounds the stores a node carries, and
// this is most of a store's statistics: as Go maps (map[int32]float32 per
// row) the demo store's 3.96 M pairs took 49 MB, ~12.4 bytes a pair; here
// a pair takes 3 bytes while every item index fits 16 bits (catalogs
// under 65,536 items; CoPurchase.wide switches every row to int32
// indices, 5 bytes, when a larger index arrives) plus the slices' growth
// slack. Counts are a byte: on the demo store 99.99% of pairs are seen
// fewer than 255 times, and a count that reaches coSpill is kept exactly
// in CoPurchase.spill instead. Look-ups are a binary search instead of a
// hash probe, which the candidate loops that use them (a few hundred per
// item) do not notice.
type coRow struct {
	narrow []uint16 // neighbour indices while !CoPurchase.wide
	wide   []int32  // neighbour indices once CoPurchase.wide
	cnt    []uint8
}

// coSpill in coRow.cnt means "the count is in CoPurchase.spill".
const coSpill = 1<<8 - 1

// narrowLimit is the first item index that needs wide rows.
const narrowLimit = 1 << 16

func spillKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// find returns j's position in r, or where it would be inserted.
func (c *CoPurchase) find(r *coRow, j int32) (int, bool) {
	if c.wide {
		return slices.BinarySearch(r.wide, j)
	}
	if j < 0 || j >= narrowLimit {
		return len(r.narrow), false
	}
	return slices.BinarySearch(r.narrow, uint16(j))
}

// seekLocked is lookupLocked for ascending j: it searches r from position
// from on and returns where the next, larger j's search may start.
func (c *CoPurchase) seekLocked(a int32, r *coRow, j int32, from int) (float32, int) {
	var k int
	var ok bool
	if c.wide {
		k, ok = slices.BinarySearch(r.wide[from:], j)
	} else if j >= 0 && j < narrowLimit {
		k, ok = slices.BinarySearch(r.narrow[from:], uint16(j))
	} else {
		return 0, len(r.cnt)
	}
	k += from
	if !ok {
		return 0, k
	}
	return c.countAt(a, r, k), k + 1
}

// idAt is the neighbour index at position k of r.
func (c *CoPurchase) idAt(r *coRow, k int) int32 {
	if c.wide {
		return r.wide[k]
	}
	return int32(r.narrow[k])
}

// countAt is the count at position k of a's row r.
func (c *CoPurchase) countAt(a int32, r *coRow, k int) float32 {
	if n := r.cnt[k]; n != coSpill {
		return float32(n)
	}
	return c.spill[spillKey(a, c.idAt(r, k))]
}

// lookupLocked is the count of (a, j), 0 when never seen together.
func (c *CoPurchase) lookupLocked(a int32, r *coRow, j int32) float32 {
	if r == nil {
		return 0
	}
	k, ok := c.find(r, j)
	if !ok {
		return 0
	}
	return c.countAt(a, r, k)
}

// incrementAt adds one to the count at position k of a's row r and
// returns the new count.
func (c *CoPurchase) incrementAt(a int32, r *coRow, k int) float32 {
	n := r.cnt[k]
	if n < coSpill-1 {
		r.cnt[k] = n + 1
		return float32(n + 1)
	}
	key := spillKey(a, c.idAt(r, k))
	if n == coSpill-1 {
		r.cnt[k] = coSpill
		if c.spill == nil {
			c.spill = make(map[uint64]float32)
		}
		c.spill[key] = coSpill
		return coSpill
	}
	c.spill[key]++
	return c.spill[key]
}

// insertNew adds the neighbours fresh (ascending, none in r yet) with
// count 1, merging from the back so that r is rewritten once however many
// there are.
func (c *CoPurchase) insertNew(r *coRow, fresh []int32) {
	if len(fresh) == 0 {
		return
	}
	if c.wide {
		r.wide, r.cnt = mergeFresh(r.wide, r.cnt, fresh, func(j int32) int32 { return j })
	} else {
		r.narrow, r.cnt = mergeFresh(r.narrow, r.cnt, fresh, func(j int32) uint16 { return uint16(j) })
	}
}

func mergeFresh[T cmp.Ordered](ids []T, cnt []uint8, fresh []int32, conv func(int32) T) ([]T, []uint8) {
	n, m := len(ids), len(fresh)
	ids = growRow(ids, m)[:n+m]
	cnt = growRow(cnt, m)[:n+m]
	i, f := n-1, m-1
	for w := n + m - 1; f >= 0; w-- {
		if v := conv(fresh[f]); i >= 0 && ids[i] > v {
			ids[w], cnt[w] = ids[i], cnt[i]
			i--
		} else {
			ids[w], cnt[w] = v, 1
			f--
		}
	}
	return ids, cnt
}

// growRow is slices.Grow with an eighth of headroom instead of append's
// quarter to double: rows are most of a store's statistics, and a row
// that stopped growing keeps its slack for good. Reallocation copies
// stay amortised O(1) per element.
func growRow[T any](s []T, m int) []T {
	if cap(s)-len(s) >= m {
		return s
	}
	n := len(s)
	c := make([]T, n, n+m+n/8+2)
	copy(c, s)
	return c
}

// widen rewrites every row with int32 indices, once an item index no
// longer fits 16 bits.
func (c *CoPurchase) widen() {
	for k := range c.rows {
		r := &c.rows[k]
		if r.narrow == nil {
			continue
		}
		r.wide = make([]int32, len(r.narrow), cap(r.narrow))
		for i, j := range r.narrow {
			r.wide[i] = int32(j)
		}
		r.narrow = nil
	}
	c.wide = true
}

// rowLocked is item i's co-count row, or nil; c.mu must be held.
func (c *CoPurchase) rowLocked(i int32) *coRow {
	if i < 0 || int(i) >= len(c.rows) || len(c.rows[i].cnt) == 0 {
		return nil
	}
	return &c.rows[i]
}

// eachLocked calls fn for every neighbour of a with its count; c.mu must
// be held.
func (c *CoPurchase) eachLocked(a int32, fn func(j int32, n float32)) {
	if a < 0 || int(a) >= len(c.rows) {
		return
	}
	r := &c.rows[a]
	if c.wide {
		for k, j := range r.wide {
			fn(j, c.countAt(a, r, k))
		}
		return
	}
	for k, j := range r.narrow {
		fn(int32(j), c.countAt(a, r, k))
	}
}
