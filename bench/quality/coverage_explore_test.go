// Explorations behind the defaults (validation numbers only) are slow and
// print tables rather than assert: they compile only with the explore tag,
// go test -tags explore -run TestExploreX ./bench/quality (docs/quality.md).

//go:build explore

package quality

import (
	"container/heap"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/sibylhq/sibyl/compute"
)

// coverageSignals adds, to basketSignals, each item's training orders so
// that a complement list can be chosen to cover the query's past baskets
// (greedy max coverage) rather than ranked by co-occurrence alone.
type coverageSignals struct {
	*basketSignals
	orders  [][]int32 // distinct items per order (capped like the counts)
	weights []float32 // recency weight per order
	byItem  [][]int32 // item -> orders holding it
	popTop  []int32   // the 64 best by popNow
	popNow  []float32 // recency-weighted (14-day half-life) order count per item, normalised to max 1
	names   [][]tokenWeight
	byToken map[int32][]int32 // rare token -> items
}

type tokenWeight struct {
	tok int32
	w   float32
}

// nameVectors returns L2-normalised TF-IDF vectors of the product names
// (upper-cased words of 3+ letters) and an index of tokens held by fewer
// than maxDF items.
func nameVectors(names []string, maxDF int) ([][]tokenWeight, map[int32][]int32) {
	ids := map[string]int32{}
	var df []int
	toks := make([][]int32, len(names))
	for i, n := range names {
		seen := map[int32]bool{}
		for _, w := range strings.FieldsFunc(strings.ToUpper(n), func(r rune) bool { return !unicode.IsLetter(r) }) {
			if len(w) < 3 {
				continue
			}
			id, ok := ids[w]
			if !ok {
				id = int32(len(df))
				ids[w] = id
				df = append(df, 0)
			}
			if !seen[id] {
				seen[id] = true
				df[id]++
				toks[i] = append(toks[i], id)
			}
		}
	}
	out := make([][]tokenWeight, len(names))
	idx := map[int32][]int32{}
	for i, ts := range toks {
		var norm float64
		for _, t := range ts {
			w := math.Log(float64(len(names)) / float64(df[t]))
			norm += w * w
			out[i] = append(out[i], tokenWeight{t, float32(w)})
			if df[t] < maxDF {
				idx[t] = append(idx[t], int32(i))
			}
		}
		for k := range out[i] {
			out[i][k].w /= float32(math.Sqrt(norm))
		}
	}
	return out, idx
}

func nameCosine(a, b []tokenWeight) float32 {
	var s float32
	for _, x := range a {
		for _, y := range b {
			if x.tok == y.tok {
				s += x.w * y.w
			}
		}
	}
	return s
}

func newCoverageSignals(t *testing.T, d *Retail, s *RetailSplit, halfLife int64) *coverageSignals {
	c := &coverageSignals{basketSignals: newBasketSignals(t, d, s), byItem: make([][]int32, len(d.ItemIDs))}
	var ref int64
	for _, o := range s.Train {
		ref = max(ref, o.Time)
	}
	for _, o := range s.Train {
		items := o.Items
		if len(items) > 100 {
			items = items[:100]
		}
		if len(items) < 2 {
			continue
		}
		w := float32(1)
		if halfLife > 0 {
			w = compute.RecencyWeight(ref-o.Time, halfLife)
		}
		id := int32(len(c.orders))
		c.orders = append(c.orders, items)
		c.weights = append(c.weights, w)
		for _, it := range items {
			c.byItem[it] = append(c.byItem[it], id)
		}
	}
	c.popNow = make([]float32, len(d.ItemIDs))
	var pm float32
	for _, o := range s.Train {
		w := compute.RecencyWeight(ref-o.Time, 14*86400)
		for _, it := range o.Items {
			c.popNow[it] += w
			pm = max(pm, c.popNow[it])
		}
	}
	for i := range c.popNow {
		c.popNow[i] /= pm
	}
	for _, sc := range compute.TopK(slices.Clone(c.popNow), 64, nil, nil) {
		c.popTop = append(c.popTop, sc.Index)
	}
	c.names, c.byToken = nameVectors(d.Names, 50)
	return c
}

type coverCfg struct {
	p        float32 // share of an order's residual removed when one of its items is picked (1: hard coverage)
	recency  bool    // orders weighted by recency instead of 1
	customer float32 // + customer co-occurrence (normalised)
	recent   float32 // + recent counts (normalised), on top of the coverage gain
	factor   float32
	popNow   float32 // + recent popularity
	name     float32 // + name TF-IDF cosine
}

func (c *coverageSignals) recommender(cfg coverCfg) func(q int32, dst []compute.Scored) []compute.Scored {
	n := len(c.pop)
	gain := make([]float32, n)
	seen := make([]bool, n)
	var resid []float32
	var cands []int32
	cos := make([]float32, n)
	var h lazyHeap
	return func(q int32, dst []compute.Scored) []compute.Scored {
		qOrders := c.byItem[q]
		resid, cands = resid[:0], cands[:0]
		add := func(j int32) {
			if !seen[j] && j != q && c.known[j] {
				seen[j] = true
				cands = append(cands, j)
			}
		}
		for _, o := range qOrders {
			w := float32(1)
			if cfg.recency {
				w = c.weights[o]
			}
			resid = append(resid, w)
			for _, j := range c.orders[o] {
				gain[j] += w
				add(j)
			}
		}
		rc, rr := c.customer.row(q), c.orderRecent.row(q)
		var mc, mr, mg float32
		for j := range gain {
			mc, mr = max(mc, rc[j]), max(mr, rr[j])
			if int32(j) != q {
				mg = max(mg, gain[j])
			}
			if rc[j] > 0 && cfg.customer > 0 {
				add(int32(j))
			}
		}
		if cfg.factor != 0 {
			c.f.ItemCosine(q, cos)
			cos[q] = -2
			for _, s := range compute.TopK(cos, 64, nil, nil) {
				add(s.Index)
			}
		}
		if cfg.popNow > 0 {
			for _, j := range c.popTop {
				add(j)
			}
		}
		if cfg.name > 0 {
			for _, tw := range c.names[q] {
				for _, j := range c.byToken[tw.tok] {
					add(j)
				}
			}
		}
		value := func(j int32) float32 {
			v := cfg.popNow * c.popNow[j]
			if cfg.name > 0 {
				v += cfg.name * nameCosine(c.names[q], c.names[j])
			}
			if mc > 0 {
				v += cfg.customer * rc[j] / mc
			}
			if mr > 0 {
				v += cfg.recent * rr[j] / mr
			}
			if cfg.factor != 0 {
				v += cfg.factor * cos[j]
			}
			if mg > 0 {
				v += gain[j] / mg
			}
			return v
		}
		h = h[:0]
		for _, j := range cands {
			h = append(h, compute.Scored{Index: j, Score: value(j)})
		}
		heap.Init(&h)
		for len(dst) < 10 && len(h) > 0 {
			top := heap.Pop(&h).(compute.Scored)
			if v := value(top.Index); len(h) > 0 && v < h[0].Score {
				// Stale: its gain dropped since it was scored.
				heap.Push(&h, compute.Scored{Index: top.Index, Score: v})
				continue
			} else {
				top.Score = v
			}
			dst = append(dst, top)
			for k, o := range qOrders {
				if resid[k] == 0 || !containsInt32(c.orders[o], top.Index) {
					continue
				}
				d := resid[k] * cfg.p
				resid[k] -= d
				for _, j := range c.orders[o] {
					gain[j] -= d
				}
			}
		}
		for _, o := range qOrders {
			for _, j := range c.orders[o] {
				gain[j] = 0
			}
		}
		for _, j := range cands {
			seen[j] = false
		}
		return dst
	}
}

// lazyHeap is a max-heap on Score, ties to the lower index, for
// container/heap.
type lazyHeap []compute.Scored

func (h lazyHeap) Len() int { return len(h) }
func (h lazyHeap) Less(a, b int) bool {
	return h[a].Score > h[b].Score || (h[a].Score == h[b].Score && h[a].Index < h[b].Index)
}
func (h lazyHeap) Swap(a, b int) { h[a], h[b] = h[b], h[a] }
func (h *lazyHeap) Push(x any)   { *h = append(*h, x.(compute.Scored)) }
func (h *lazyHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// TestExploreCoverage compares coverage-chosen complement lists with the
// ranked blend on the basket validation window (-tags explore);
// no test-split number is computed or printed.
func TestExploreCoverage(t *testing.T) {
	inner, val := validationSplit(t)
	halfLife := int64(60 * 86400)
	if v := os.Getenv("SIBYL_HALFLIFE_DAYS"); v != "" {
		d, _ := strconv.Atoi(v)
		halfLife = int64(d) * 86400
	}
	valCases := BasketVariantCases(val.Test, val.Known, val.TrainUser, BasketProtocol)
	vs := newCoverageSignals(t, inner, val, halfLife)
	// The rounds of docs/quality.md: coverage strength, then name text,
	// then recent popularity with the factor and customer terms.
	cfgs := []coverCfg{{p: 0, customer: 1, recent: 1, factor: 0.1}}
	for _, p := range []float32{0.3, 0.6, 1} {
		cfgs = append(cfgs, coverCfg{p: p, recency: true, factor: 0.1})
	}
	cfgs = append(cfgs, coverCfg{p: 0.45, recency: true, customer: 0.5, factor: 0.1})
	for _, nm := range []float32{0.05, 0.1, 0.2} {
		cfgs = append(cfgs, coverCfg{p: 0.3, recency: true, factor: 0.1, name: nm})
	}
	for _, pn := range []float32{0, 0.2, 0.35, 0.5, 0.8} {
		for _, fc := range [][2]float32{{0, 0}, {0.1, 0}, {0.1, 0.5}} {
			cfgs = append(cfgs, coverCfg{p: 0.3, recency: true, factor: fc[0], customer: fc[1], popNow: pn})
		}
	}
	valHR := make([]float64, len(cfgs))
	forEachParallel(len(cfgs), func(i int) {
		valHR[i] = BasketHR(valCases, vs.recommender(cfgs[i]))
	})
	for i, c := range cfgs {
		t.Logf("%+v validation HR@10 %.4f", c, valHR[i])
	}
}

// TestExploreCoverageMisses breaks the validation-window HR@10 of the
// production coverage configuration (p 0.3, recent popularity 0.2, factor
// 0.1) down by the query item's number of training orders and by the
// order's number of known items. It never looks at
// the test split.
func TestExploreCoverageMisses(t *testing.T) {
	inner, val := validationSplit(t)
	cases := BasketVariantCases(val.Test, val.Known, val.TrainUser, BasketProtocol)
	ts := newCoverageSignals(t, inner, val, 60*86400)
	rec := ts.recommender(coverCfg{p: 0.3, recency: true, factor: 0.1, popNow: 0.2})
	t.Logf("basket validation window: %d orders, %d queries", len(val.Test), len(cases))
	type agg struct{ n, hit float64 }
	byOrders, byOthers := map[int]*agg{}, map[int]*agg{}
	bucket := func(x int) int {
		b := 1
		for b < x {
			b *= 2
		}
		return b
	}
	var buf []compute.Scored
	for _, c := range cases {
		buf = rec(c.Query, buf[:0])
		hit := 0.0
		for _, s := range buf[:min(10, len(buf))] {
			if containsInt32(c.Others, s.Index) {
				hit = 1
				break
			}
		}
		for _, m := range []struct {
			m map[int]*agg
			k int
		}{{byOrders, bucket(len(ts.byItem[c.Query]))}, {byOthers, bucket(len(c.Others))}} {
			a := m.m[m.k]
			if a == nil {
				a = &agg{}
				m.m[m.k] = a
			}
			a.n++
			a.hit += hit
		}
	}
	for name, m := range map[string]map[int]*agg{"query train orders <=": byOrders, "order's other known items <=": byOthers} {
		var keys []int
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			t.Logf("%s %5d: %6.0f queries (%.3f of all), HR@10 %.4f, misses %.0f", name, k, m[k].n, m[k].n/float64(len(cases)), m[k].hit/m[k].n, m[k].n-m[k].hit)
		}
	}
}
