package compute

import (
	"container/heap"
	"math"
)

// Scored is an index with its score.
type Scored struct {
	Index int32
	Score float32
}

// better reports whether a ranks before b: higher score first, then the
// lower index, so rankings are deterministic under ties.
func better(a, b Scored) bool {
	if a.Score != b.Score {
		return a.Score > b.Score
	}
	return a.Index < b.Index
}

// topHeap is a min-heap on rank: its root is the worst kept entry.
type topHeap []Scored

func (h topHeap) Len() int           { return len(h) }
func (h topHeap) Less(i, j int) bool { return better(h[j], h[i]) }
func (h topHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *topHeap) Push(x any)        { *h = append(*h, x.(Scored)) }
func (h *topHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// TopKCollector keeps the k best Scored values offered to it. Reuse one
// (Reset) to avoid allocations on hot paths.
type TopKCollector struct {
	k int
	h topHeap
}

// NewTopKCollector returns a collector for the k best entries.
func NewTopKCollector(k int) *TopKCollector {
	return &TopKCollector{k: k, h: make(topHeap, 0, k)}
}

// Reset empties the collector and sets a new k.
func (c *TopKCollector) Reset(k int) {
	c.k = k
	c.h = c.h[:0]
}

// Offer considers one candidate. NaN and -Inf scores are ignored.
func (c *TopKCollector) Offer(idx int32, score float32) {
	if c.k <= 0 || score != score || math.IsInf(float64(score), -1) {
		return
	}
	s := Scored{idx, score}
	if len(c.h) < c.k {
		heap.Push(&c.h, s)
		return
	}
	if better(s, c.h[0]) {
		c.h[0] = s
		heap.Fix(&c.h, 0)
	}
}

// AppendSorted appends the kept entries, best first, to dst and returns it.
func (c *TopKCollector) AppendSorted(dst []Scored) []Scored {
	n := len(c.h)
	start := len(dst)
	dst = append(dst, make([]Scored, n)...)
	h := c.h
	for i := n - 1; i >= 0; i-- {
		dst[start+i] = heap.Pop(&h).(Scored)
	}
	c.h = h
	return dst
}

// TopK appends to dst the k best indices of scores, skipping the indices in
// exclude, best first. scores is not modified.
func TopK(scores []float32, k int, exclude []int32, dst []Scored) []Scored {
	var c TopKCollector
	c.Reset(k)
	if cap(c.h) < k {
		c.h = make(topHeap, 0, k)
	}
	saved := make([]float32, len(exclude))
	for j, e := range exclude {
		if e >= 0 && int(e) < len(scores) {
			saved[j] = scores[e]
			scores[e] = float32(math.Inf(-1))
		}
	}
	for i, s := range scores {
		c.Offer(int32(i), s)
	}
	for j := len(exclude) - 1; j >= 0; j-- {
		if e := exclude[j]; e >= 0 && int(e) < len(scores) {
			scores[e] = saved[j]
		}
	}
	return c.AppendSorted(dst)
}
