package compute

import "math"

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

// TopKCollector keeps the k best Scored values offered to it in a
// worst-first scoredHeap (root = worst kept), so offers neither allocate
// nor go through interfaces. Reuse one (Reset) on hot paths.
type TopKCollector struct {
	k int
	h []Scored
}

// NewTopKCollector returns a collector for the k best entries.
func NewTopKCollector(k int) *TopKCollector {
	return &TopKCollector{k: k, h: make([]Scored, 0, k)}
}

// Reset empties the collector and sets a new k.
func (c *TopKCollector) Reset(k int) {
	c.k = k
	c.h = c.h[:0]
}

// resetWith empties the collector and uses buf's storage when it is large
// enough, so a caller's stack array can back a small top-k.
func (c *TopKCollector) resetWith(k int, buf []Scored) {
	c.k = k
	if cap(buf) >= k {
		c.h = buf[:0]
	} else {
		c.h = c.h[:0]
	}
}

// Offer considers one candidate. NaN and -Inf scores are ignored.
func (c *TopKCollector) Offer(idx int32, score float32) {
	if !c.rejects(idx, score) {
		c.offer(idx, score)
	}
}

// rejects is Offer's fast path, small enough to inline into scan loops:
// once k entries are kept, most candidates rank below the worst of them.
// NaN and -Inf never rank before a kept (finite) entry, so they are
// rejected here too.
func (c *TopKCollector) rejects(idx int32, score float32) bool {
	n := len(c.h)
	if n != c.k || n == 0 {
		return false
	}
	r := c.h[0]
	return !(score > r.Score || (score == r.Score && idx < r.Index))
}

func (c *TopKCollector) offer(idx int32, score float32) {
	if c.k <= 0 || score != score || math.IsInf(float64(score), -1) {
		return
	}
	s := Scored{idx, score}
	if len(c.h) < c.k {
		c.h = append(c.h, s)
		siftUp(c.h, len(c.h)-1, worstFirst)
		return
	}
	if better(s, c.h[0]) {
		c.h[0] = s
		siftDown(c.h, 0, worstFirst)
	}
}

// floor returns the worst kept score once k entries are kept: a candidate
// scoring below it cannot enter.
func (c *TopKCollector) floor() (float32, bool) {
	if c.k <= 0 || len(c.h) < c.k {
		return 0, false
	}
	return c.h[0].Score, true
}

// AppendSorted appends the kept entries, best first, to dst, returns it
// and empties the collector.
func (c *TopKCollector) AppendSorted(dst []Scored) []Scored {
	n := len(c.h)
	start := len(dst)
	for range n {
		dst = append(dst, Scored{})
	}
	for i := n - 1; i >= 0; i-- {
		dst[start+i] = c.h[0]
		last := len(c.h) - 1
		c.h[0] = c.h[last]
		c.h = c.h[:last]
		siftDown(c.h, 0, worstFirst)
	}
	return dst
}

// TopK appends to dst the k best indices of scores, skipping the indices in
// exclude, best first. scores is not modified.
func TopK(scores []float32, k int, exclude []int32, dst []Scored) []Scored {
	var c TopKCollector
	var hbuf [32]Scored
	c.resetWith(k, hbuf[:])
	var sbuf [64]float32
	saved := sbuf[:0]
	if len(exclude) > len(sbuf) {
		saved = make([]float32, len(exclude))
	}
	saved = saved[:len(exclude)]
	for j, e := range exclude {
		if e >= 0 && int(e) < len(scores) {
			saved[j] = scores[e]
			scores[e] = float32(math.Inf(-1))
		}
	}
	for i, s := range scores {
		if !c.rejects(int32(i), s) {
			c.offer(int32(i), s)
		}
	}
	for j := len(exclude) - 1; j >= 0; j-- {
		if e := exclude[j]; e >= 0 && int(e) < len(scores) {
			scores[e] = saved[j]
		}
	}
	return c.AppendSorted(dst)
}

// The one binary heap of Scored values, in either order: worst first for
// TopKCollector (the root is the entry a better offer replaces), best
// first for coverage's lazy greedy (scoredHeap: the root is the next
// pick). Both orders are by better, so ties break by index.
const (
	bestFirst  = false
	worstFirst = true
)

// above reports whether a belongs above b in a heap of the given order.
func above(a, b Scored, order bool) bool {
	if order == worstFirst {
		return better(b, a)
	}
	return better(a, b)
}

// siftUp moves h[i] up to its place.
func siftUp(h []Scored, i int, order bool) {
	for i > 0 {
		p := (i - 1) / 2
		if !above(h[i], h[p], order) {
			return
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

// siftDown moves h[i] down to its place.
func siftDown(h []Scored, i int, order bool) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		w := l
		if r := l + 1; r < n && above(h[r], h[l], order) {
			w = r
		}
		if !above(h[w], h[i], order) {
			return
		}
		h[i], h[w] = h[w], h[i]
		i = w
	}
}

// scoredHeap is a best-first heap (the root ranks first).
type scoredHeap []Scored

func (h scoredHeap) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		siftDown(h, i, bestFirst)
	}
}

func (h *scoredHeap) pop() Scored {
	old := *h
	top := old[0]
	old[0] = old[len(old)-1]
	*h = old[:len(old)-1]
	siftDown(*h, 0, bestFirst)
	return top
}

func (h *scoredHeap) push(x Scored) {
	*h = append(*h, x)
	siftUp(*h, len(*h)-1, bestFirst)
}
