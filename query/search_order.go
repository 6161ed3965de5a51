package query

import (
	"container/heap"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"
)

// orderDocs is the first k of docs by the orderby attribute, equal values
// by score (higher first), then doc number: a heap of k over the matches,
// not a sort of them (a category's name matches thousands of products and
// the page shows twenty).
func (cv *catalogView) orderDocs(docs *roaring.Bitmap, attr string, desc bool, score func(uint32) float64, k int) []uint32 {
	if k <= 0 {
		return nil
	}
	h := &keyHeap{desc: desc}
	it := docs.Iterator()
	for it.HasNext() {
		d := it.Next()
		key := cv.sortKey(d, attr)
		key.pos, key.score = int(d), score(d)
		if len(h.keys) == k {
			if !h.before(&key, &h.keys[0]) {
				continue
			}
			h.keys[0] = key
			heap.Fix(h, 0)
			continue
		}
		heap.Push(h, key)
	}
	slices.SortFunc(h.keys, func(a, b sortKey) int {
		if h.before(&a, &b) {
			return -1
		}
		return 1
	})
	out := make([]uint32, len(h.keys))
	for i, key := range h.keys {
		out[i] = uint32(key.pos)
	}
	return out
}

// keyHeap keeps the k best sort keys, the worst on top.
type keyHeap struct {
	keys []sortKey
	desc bool
}

// before: a comes before b in the answer.
func (h *keyHeap) before(a, b *sortKey) bool {
	if a.less(b, h.desc) {
		return true
	}
	if b.less(a, h.desc) {
		return false
	}
	if a.score != b.score {
		return a.score > b.score
	}
	return a.pos < b.pos
}

func (h *keyHeap) Len() int           { return len(h.keys) }
func (h *keyHeap) Less(i, j int) bool { return h.before(&h.keys[j], &h.keys[i]) }
func (h *keyHeap) Swap(i, j int)      { h.keys[i], h.keys[j] = h.keys[j], h.keys[i] }
func (h *keyHeap) Push(x any)         { h.keys = append(h.keys, x.(sortKey)) }
func (h *keyHeap) Pop() any {
	x := h.keys[len(h.keys)-1]
	h.keys = h.keys[:len(h.keys)-1]
	return x
}
