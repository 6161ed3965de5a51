package filter

import (
	"cmp"
	"math"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"
)

// numRange answers > >= < <= on one attribute: the numeric values sorted,
// binary search for the matching run, and precomputed bitmaps over blocks
// of that order, so a query's cost does not grow with how many items match
// (a square-root decomposition of the sorted array).
//
// When every item has at most one numeric value (the usual price or stock
// column), prefix[k] holds the items of the first k blocks and a run of
// whole blocks is one AndNot of two prefixes. When items hold several
// (a list of numbers), an item can be both before and inside the run, so
// the run ORs the per-block bitmaps instead.
type numRange struct {
	nums   []numEntry        // sorted by value, then item
	values []float64         // single-valued: values[item], NaN when none; nil otherwise
	block  int               // entries per block
	prefix []*roaring.Bitmap // single-valued: prefix[k] = items of nums[:k*block]
	blocks []*roaring.Bitmap // multi-valued: blocks[k] = items of nums[k*block:][:block]
}

// maxPrefixes bounds memory: prefix bitmaps cost up to n/8 bytes each.
const (
	minRangeBlock = 1024
	maxPrefixes   = 64
)

func newNumRange(nums []numEntry) numRange {
	sortByValue(nums)
	r := numRange{nums: nums, block: max(minRangeBlock, (len(nums)+maxPrefixes-1)/maxPrefixes)}
	r.values = itemValues(nums)
	if len(nums) < r.block {
		return r // every query is one ragged run
	}
	for lo := 0; lo+r.block <= len(nums); lo += r.block {
		r.blocks = append(r.blocks, entriesBitmap(nums[lo:lo+r.block]))
	}
	if r.values == nil {
		return r // some item has several values: OR the blocks
	}
	r.prefix = make([]*roaring.Bitmap, len(r.blocks)+1)
	r.prefix[0] = roaring.New()
	for k, b := range r.blocks {
		// No RunOptimize: random item sets make poor runs, and run
		// containers would be converted back on every AndNot.
		r.prefix[k+1] = roaring.Or(r.prefix[k], b)
	}
	r.blocks = nil
	return r
}

// itemValues maps each item to its one numeric value, or returns nil when
// some item has several (or item indices are too sparse for an array).
func itemValues(nums []numEntry) []float64 {
	maxItem := uint32(0)
	for _, e := range nums {
		maxItem = max(maxItem, e.item)
	}
	if uint64(maxItem) > 4*uint64(len(nums))+4096 {
		return nil
	}
	values := make([]float64, int(maxItem)+1)
	for i := range values {
		values[i] = math.NaN()
	}
	for _, e := range nums {
		if !math.IsNaN(values[e.item]) {
			return nil
		}
		values[e.item] = e.v
	}
	return values
}

// sortByValue sorts entries by value with a stable LSD radix sort on the
// values' bits mapped to an order-preserving uint64 (negative floats
// reversed), skipping bytes all keys share; several times faster than a
// comparison sort on the catalog sizes here. Ties keep catalog order.
func sortByValue(nums []numEntry) {
	if len(nums) < 256 {
		slices.SortStableFunc(nums, func(a, b numEntry) int { return cmp.Compare(a.v, b.v) })
		return
	}
	keys := make([]uint64, len(nums))
	for i, e := range nums {
		keys[i] = orderedBits(e.v)
	}
	tmpKeys := make([]uint64, len(nums))
	tmp := make([]numEntry, len(nums))
	for shift := uint(0); shift < 64; shift += 8 {
		var count [257]int
		for _, k := range keys {
			count[(k>>shift)&0xff+1]++
		}
		if count[(keys[0]>>shift)&0xff+1] == len(keys) {
			continue // every key has this byte: the pass would not move anything
		}
		for b := 1; b < 257; b++ {
			count[b] += count[b-1]
		}
		for i, k := range keys {
			d := (k >> shift) & 0xff
			tmpKeys[count[d]] = k
			tmp[count[d]] = nums[i]
			count[d]++
		}
		keys, tmpKeys = tmpKeys, keys
		copy(nums, tmp)
	}
}

// orderedBits maps a float to a uint64 with the same order (for non-NaN
// values): flip all bits of negatives, only the sign bit of the rest.
func orderedBits(f float64) uint64 {
	if f == 0 {
		f = 0 // -0 sorts with 0
	}
	b := math.Float64bits(f)
	if b>>63 == 1 {
		return ^b
	}
	return b | 1<<63
}

func entriesBitmap(entries []numEntry) *roaring.Bitmap {
	ids := make([]uint32, len(entries))
	for i, e := range entries {
		ids[i] = e.item
	}
	return sortedBitmap(ids)
}

// bounds returns the run nums[lo:hi] of entries v with `v op bound`.
func (r *numRange) bounds(op Op, bound float64) (lo, hi int) {
	// firstAbove(strict) is the first entry with v > bound (strict) or v >= bound.
	firstAbove := func(strict bool) int {
		i, _ := slices.BinarySearchFunc(r.nums, bound, func(e numEntry, b float64) int {
			if e.v < b || (strict && e.v == b) {
				return -1
			}
			return 1
		})
		return i
	}
	lo, hi = 0, len(r.nums)
	switch op {
	case OpGt:
		lo = firstAbove(true)
	case OpGe:
		lo = firstAbove(false)
	case OpLt:
		hi = firstAbove(false)
	case OpLe:
		hi = firstAbove(true)
	}
	return lo, max(lo, hi)
}

// filter returns the candidates whose value satisfies `v op bound`, by
// looking each up; for single-valued columns only. Cheaper than query when
// the candidates are few and the range is wide.
func (r *numRange) filter(cands *roaring.Bitmap, op Op, bound float64) *roaring.Bitmap {
	ids := cands.ToArray() // bulk extraction beats an iterator per element
	kept := ids[:0]
	for _, i := range ids {
		if int(i) < len(r.values) && compareNumber(op, r.values[i], bound) { // NaN compares false
			kept = append(kept, i)
		}
	}
	out := roaring.New()
	out.AddMany(kept) // ascending, as ToArray returns them
	return out
}

// query returns a new bitmap of the items with a value v such that
// `v op bound` holds.
func (r *numRange) query(op Op, bound float64) *roaring.Bitmap {
	lo, hi := r.bounds(op, bound)
	if lo >= hi {
		return roaring.New()
	}
	firstFull := (lo + r.block - 1) / r.block
	endFull := hi / r.block // blocks [firstFull, endFull) lie inside [lo, hi)
	if firstFull >= endFull {
		return entriesBitmap(r.nums[lo:hi])
	}
	var core *roaring.Bitmap
	if r.prefix != nil {
		core = roaring.AndNot(r.prefix[endFull], r.prefix[firstFull])
	} else {
		core = roaring.FastOr(r.blocks[firstFull:endFull]...)
	}
	ragged := append(slices.Clip(r.nums[lo:firstFull*r.block]), r.nums[endFull*r.block:hi]...)
	ids := make([]uint32, len(ragged))
	for i, e := range ragged {
		ids[i] = e.item
	}
	slices.Sort(ids) // sorted adds are cheap even into array containers
	core.AddMany(ids)
	return core
}
