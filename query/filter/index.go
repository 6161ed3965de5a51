package filter

import (
	"cmp"
	"iter"
	"slices"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"
)

// Item is the view of a product the index needs: its dense index in the
// catalog (0..n-1, unique) and its attributes. Values may be string,
// bool, float64 (or other Go integer and float types, json.Number) and
// slices of those ([]string, []float64, []any ...); anything else counts
// as absent.
type Item struct {
	Index uint32
	Attrs map[string]any
}

// rangeBlock is how many sorted numeric entries share one precomputed
// bitmap: a range query ORs the whole blocks it covers and adds at most
// 2*rangeBlock entries one by one, so its cost does not grow with the
// number of matches (sqrt-decomposition over the value order).
const rangeBlock = 1024

// Index is an immutable per-attribute index of a catalog. Build a new one
// when the catalog changes (a few ms for thousands of products, see
// BenchmarkNewIndex) and swap it in; an Index is safe for concurrent Eval.
type Index struct {
	all  *roaring.Bitmap
	cols map[string]*column
}

type numEntry struct {
	v    float64
	item uint32
}

type strEntry struct {
	lower string // lower-cased value, for case-insensitive contains
	items *roaring.Bitmap
}

// column indexes one attribute.
type column struct {
	has      *roaring.Bitmap          // items with the attribute
	eq       map[term]*roaring.Bitmap // scalar values and list elements
	contains map[term]*roaring.Bitmap // list elements and non-string scalars
	strs     []strEntry               // distinct scalar strings
	nums     []numEntry               // numeric values and elements, sorted by v
	blocks   []*roaring.Bitmap        // blocks[i]: items of nums[i*rangeBlock:][:rangeBlock]
}

// NewIndex indexes the items.
func NewIndex(items iter.Seq[Item]) *Index {
	ix := &Index{all: roaring.New(), cols: map[string]*column{}}
	strs := map[string]map[string]*roaring.Bitmap{} // attribute -> string value -> items
	for it := range items {
		ix.all.Add(it.Index)
		for name, raw := range it.Attrs {
			v, ok := normalize(raw)
			if !ok {
				continue
			}
			c := ix.cols[name]
			if c == nil {
				c = &column{has: roaring.New(), eq: map[term]*roaring.Bitmap{}, contains: map[term]*roaring.Bitmap{}}
				ix.cols[name] = c
			}
			c.has.Add(it.Index)
			for _, s := range v.elems {
				addTo(c.eq, s.key, it.Index)
				if v.list || !s.isString {
					addTo(c.contains, s.key, it.Index)
				}
				if s.numeric {
					c.nums = append(c.nums, numEntry{v: s.num, item: it.Index})
				}
			}
			if !v.list && v.elems[0].isString {
				m := strs[name]
				if m == nil {
					m = map[string]*roaring.Bitmap{}
					strs[name] = m
				}
				addTo(m, v.elems[0].str, it.Index)
			}
		}
	}
	for name, c := range ix.cols {
		for s, items := range strs[name] {
			c.strs = append(c.strs, strEntry{lower: strings.ToLower(s), items: items})
		}
		slices.SortFunc(c.strs, func(a, b strEntry) int { return strings.Compare(a.lower, b.lower) })
		slices.SortFunc(c.nums, func(a, b numEntry) int {
			return cmp.Or(cmp.Compare(a.v, b.v), cmp.Compare(a.item, b.item))
		})
		for lo := 0; lo+rangeBlock <= len(c.nums); lo += rangeBlock {
			c.blocks = append(c.blocks, bitmapOf(c.nums[lo:lo+rangeBlock]))
		}
		for _, m := range []map[term]*roaring.Bitmap{c.eq, c.contains} {
			for _, b := range m {
				b.RunOptimize()
			}
		}
		c.has.RunOptimize()
	}
	ix.all.RunOptimize()
	return ix
}

func addTo[K comparable](m map[K]*roaring.Bitmap, k K, item uint32) {
	b := m[k]
	if b == nil {
		b = roaring.New()
		m[k] = b
	}
	b.Add(item)
}

func bitmapOf(entries []numEntry) *roaring.Bitmap {
	ids := make([]uint32, len(entries))
	for i, e := range entries {
		ids[i] = e.item
	}
	slices.Sort(ids)
	b := roaring.New()
	b.AddMany(ids)
	return b
}

// Len returns the number of items indexed.
func (ix *Index) Len() int { return int(ix.all.GetCardinality()) }

// All returns a new bitmap of every item indexed.
func (ix *Index) All() *roaring.Bitmap { return ix.all.Clone() }

// HasAttribute reports whether any item has the attribute.
func (ix *Index) HasAttribute(name string) bool { return ix.cols[name] != nil }

// Eval returns a new bitmap of the items matching the filter; the caller
// may modify it. A nil filter matches every item.
func (ix *Index) Eval(e *Expr) *roaring.Bitmap {
	if e == nil {
		return ix.All()
	}
	b, owned := ix.eval(e)
	if !owned {
		b = b.Clone()
	}
	return b
}

// eval returns the matching items; owned is false when the bitmap belongs
// to the index and must not be modified. The combinators below never
// modify their inputs.
func (ix *Index) eval(e *Expr) (*roaring.Bitmap, bool) {
	switch e.Kind {
	case KindAnd:
		parts := make([]*roaring.Bitmap, 0, len(e.Args))
		for _, a := range e.Args {
			b, _ := ix.eval(a)
			if b.IsEmpty() {
				return roaring.New(), true // later conjuncts cannot help
			}
			parts = append(parts, b)
		}
		// Intersect the smallest first so intermediate results stay small.
		slices.SortFunc(parts, func(a, b *roaring.Bitmap) int {
			return cmp.Compare(a.GetCardinality(), b.GetCardinality())
		})
		return roaring.FastAnd(parts...), true
	case KindOr:
		parts := make([]*roaring.Bitmap, 0, len(e.Args))
		for _, a := range e.Args {
			b, _ := ix.eval(a)
			parts = append(parts, b)
		}
		return roaring.FastOr(parts...), true
	case KindCompare:
		c := ix.cols[e.Attr]
		if c == nil {
			return roaring.New(), true // unknown attribute matches nothing
		}
		return c.eval(e)
	}
	return roaring.New(), true
}

var emptyBitmap = roaring.New()

func (c *column) lookup(t term) *roaring.Bitmap {
	if b := c.eq[t]; b != nil {
		return b
	}
	return emptyBitmap
}

func (c *column) eval(e *Expr) (*roaring.Bitmap, bool) {
	switch e.Op {
	case OpEq:
		return c.lookup(valueTerm(e.Value)), false
	case OpNe:
		return roaring.AndNot(c.has, c.lookup(valueTerm(e.Value))), true
	case OpIn, OpNotIn:
		parts := make([]*roaring.Bitmap, 0, len(e.Value.List))
		for _, v := range e.Value.List {
			if b := c.eq[valueTerm(v)]; b != nil {
				parts = append(parts, b)
			}
		}
		in := roaring.FastOr(parts...)
		if e.Op == OpNotIn {
			return roaring.AndNot(c.has, in), true
		}
		return in, true
	case OpGt, OpGe, OpLt, OpLe:
		return c.numRange(e.Op, e.Value.Num), true
	case OpContains:
		parts := make([]*roaring.Bitmap, 0, 4)
		if b := c.contains[valueTerm(e.Value)]; b != nil {
			parts = append(parts, b)
		}
		if needle, ok := containsNeedle(e.Value); ok {
			for _, s := range c.strs {
				if strings.Contains(s.lower, needle) {
					parts = append(parts, s.items)
				}
			}
		}
		return roaring.FastOr(parts...), true
	}
	return roaring.New(), true
}

// numRange finds the matching run of the value-sorted entries by binary
// search and unions the whole blocks inside it with the entries at its
// ragged ends.
func (c *column) numRange(op Op, bound float64) *roaring.Bitmap {
	n := len(c.nums)
	// firstAbove(strict) is the first entry with v > bound (strict) or v >= bound.
	firstAbove := func(strict bool) int {
		i, _ := slices.BinarySearchFunc(c.nums, bound, func(e numEntry, b float64) int {
			if e.v < b || (strict && e.v == b) {
				return -1
			}
			return 1
		})
		return i
	}
	lo, hi := 0, n
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
	if lo >= hi {
		return roaring.New()
	}
	firstFull := (lo + rangeBlock - 1) / rangeBlock
	endFull := hi / rangeBlock // blocks [firstFull, endFull) lie inside [lo, hi)
	if firstFull >= endFull {
		return bitmapOf(c.nums[lo:hi])
	}
	ragged := append(slices.Clip(c.nums[lo:firstFull*rangeBlock]), c.nums[endFull*rangeBlock:hi]...)
	parts := append([]*roaring.Bitmap{bitmapOf(ragged)}, c.blocks[firstFull:endFull]...)
	return roaring.FastOr(parts...)
}
