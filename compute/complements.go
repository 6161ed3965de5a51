package compute

import (
	"math"
	"slices"
)

// Complement lists: besides the live co-purchase counts, Complementary
// blends two signals computed at BuildModel time from the snapshot's
// orders (docs/quality.md, basket protocol, validation window):
//
//   - recent co-purchase: co-counts with each order weighted by
//     2^(-age/ComplementRecentHalfLife), so this season's pairs count more;
//   - customer co-occurrence: items bought by the same customer in any of
//     their orders, each customer weighted 1/log2(2+n) for n distinct
//     items (customers with more than complementMaxCustomerItems items,
//     wholesalers buying everything, are skipped).
//
// Each signal is normalised by the item's best value and the sum is kept
// for the item's ComplementCandidates best partners, sorted by index.

// complementMaxCustomerItems bounds the customers counted in customer
// co-occurrence (their cost is quadratic in their item count).
const complementMaxCustomerItems = 300

// complementLists are BuildModel's per-item complement lists.
type complementLists struct {
	// built[i]: the blend of the recent and customer signals for item i's
	// ComplementCandidates best partners, sorted by index (Complementary's
	// ranked path adds them to the live counts).
	built [][]Scored
	// top[i]: item i's complements chosen by coverage, best first
	// (ComplementCoverage > 0 and a factor model), else nil.
	top [][]Scored
}

// buildComplementLists builds the lists for every item; f (may be nil
// without coverage) supplies the factor cosines.
func buildComplementLists(snap *Snapshot, cfg ModelConfig, ref int64, workers int, f *Factors, cosNb [][]Scored) complementLists {
	b := newComplementBuilder(snap, cfg, ref, workers, f != nil && f.NumItems >= snap.NumItems)
	if b == nil {
		return complementLists{}
	}
	rows := make([][]float32, workers)
	parallelRows(snap.NumItems, workers, func(w, lo, hi int) {
		for i := int32(lo); i < int32(hi); i++ {
			var row []float32
			if f != nil && int(i) < f.NumItems {
				if rows[w] == nil {
					rows[w] = make([]float32, f.NumItems)
				}
				row = rows[w]
				f.ItemCosine(i, row)
			}
			var nb []Scored
			if int(i) < len(cosNb) {
				nb = cosNb[i]
			}
			b.item(w, i, row, nb)
		}
	})
	return b.out
}

type complementBasket struct {
	items []int32 // sorted
	w     float32
}

// complementBuilder holds what every item's lists are computed from; item
// computes one item's, so that BuildModel can run it inside the
// substitutes pass with the factor-cosine row that pass has.
type complementBuilder struct {
	cfg                ModelConfig
	n, keep            int
	coverage           bool
	baskets, customers []complementBasket
	orderIdx, custIdx  [][]int32 // item -> baskets, item -> customers
	popNow             []float32
	popTop             []int32
	scr                []complementScratch
	out                complementLists
}

type complementScratch struct {
	recent, customer   []float32 // the item's signals over the catalog
	touchedR, touchedC []int32
	col                TopKCollector
	cov                coverageScratch
}

// newComplementBuilder returns nil when there is nothing to build.
// haveFactors says whether item will be given factor cosines (coverage
// needs them).
func newComplementBuilder(snap *Snapshot, cfg ModelConfig, ref int64, workers int, haveFactors bool) *complementBuilder {
	n, keep := snap.NumItems, cfg.ComplementCandidates
	coverage := cfg.ComplementCoverage > 0 && haveFactors
	if n == 0 || keep == 0 || (cfg.ComplementRecentWeight == 0 && cfg.ComplementCustomerWeight == 0 && !coverage) {
		return nil
	}
	type basket = complementBasket
	// Item -> orders (recent signal, coverage) and item -> customers
	// (customer signal).
	var baskets, customers []basket
	if cfg.ComplementRecentWeight > 0 || coverage {
		for _, o := range snap.Orders {
			items := distinctItems(o.Items, cfg.CoPurchase.MaxBasket, n)
			if len(items) > 1 {
				slices.Sort(items)
				baskets = append(baskets, basket{items, RecencyWeight(ref-o.Time, cfg.ComplementRecentHalfLife)})
			}
		}
	}
	if cfg.ComplementCustomerWeight > 0 {
		byUser := map[int32][]int32{}
		for _, o := range snap.Orders {
			if o.User >= 0 {
				for _, it := range o.Items {
					if it >= 0 && int(it) < n {
						byUser[o.User] = append(byUser[o.User], it)
					}
				}
			}
		}
		for _, items := range byUser {
			slices.Sort(items)
			items = slices.Compact(items)
			if len(items) > 1 && len(items) <= complementMaxCustomerItems {
				customers = append(customers, basket{items, 1 / float32(math.Log2(2+float64(len(items))))})
			}
		}
		// Map order is random: sort so float sums are deterministic.
		slices.SortFunc(customers, func(a, b basket) int { return slices.Compare(a.items, b.items) })
	}
	index := func(bs []basket) [][]int32 {
		idx := make([][]int32, n)
		for b, bk := range bs {
			for _, it := range bk.items {
				idx[it] = append(idx[it], int32(b))
			}
		}
		return idx
	}
	orderIdx, custIdx := index(baskets), index(customers)
	// Recent popularity (orders holding the item, each weighted by
	// recency), normalised by the best seller, and its best items, which
	// are candidates for every item.
	var popNow []float32
	var popTop []int32
	if coverage && cfg.ComplementPopularityWeight > 0 {
		popNow = make([]float32, n)
		for _, o := range snap.Orders {
			w := RecencyWeight(ref-o.Time, cfg.ComplementPopularityHalfLife)
			for _, it := range distinctItems(o.Items, len(o.Items), n) {
				popNow[it] += w
			}
		}
		if best := slices.Max(popNow); best > 0 {
			for j := range popNow {
				popNow[j] /= best
			}
		}
		for _, s := range TopK(slices.Clone(popNow), keep, nil, nil) {
			popTop = append(popTop, s.Index)
		}
	}
	b := &complementBuilder{cfg: cfg, n: n, keep: keep, coverage: coverage, baskets: baskets, customers: customers,
		orderIdx: orderIdx, custIdx: custIdx, popNow: popNow, popTop: popTop, scr: make([]complementScratch, workers)}
	b.out.built = make([][]Scored, n)
	if coverage {
		b.out.top = make([][]Scored, n)
	}
	for w := range b.scr {
		b.scr[w].recent = make([]float32, n)
		b.scr[w].customer = make([]float32, n)
		if coverage {
			b.scr[w].cov = newCoverageScratch(n)
		}
	}
	return b
}

// accumulate adds item i's baskets of bs into acc and returns the items
// touched and the best value.
func accumulate(i int32, idx [][]int32, bs []complementBasket, acc []float32, touched []int32) ([]int32, float32) {
	touched = touched[:0]
	for _, b := range idx[i] {
		bk := bs[b]
		if bk.w <= 0 {
			continue
		}
		for _, j := range bk.items {
			if j == i {
				continue
			}
			if acc[j] == 0 {
				touched = append(touched, j)
			}
			acc[j] += bk.w
		}
	}
	var best float32
	for _, j := range touched {
		best = max(best, acc[j])
	}
	return touched, best
}

// item builds item i's lists with worker w's scratch. cosRow is i's factor
// cosine to every item and cosNb its best neighbours, best first (both nil
// without factors).
func (b *complementBuilder) item(w int, i int32, cosRow []float32, cosNb []Scored) {
	cfg, keep, s := b.cfg, b.keep, &b.scr[w]
	var bestR, bestC float32
	s.touchedR, s.touchedC = s.touchedR[:0], s.touchedC[:0]
	if len(b.baskets) > 0 {
		s.touchedR, bestR = accumulate(i, b.orderIdx, b.baskets, s.recent, s.touchedR)
	}
	if cfg.ComplementCustomerWeight > 0 {
		s.touchedC, bestC = accumulate(i, b.custIdx, b.customers, s.customer, s.touchedC)
	}
	// The ranked path's blend, kept for the item's best partners.
	s.col.Reset(keep)
	blend := func(j int32) float32 {
		var v float32
		if bestR > 0 {
			v += cfg.ComplementRecentWeight * s.recent[j] / bestR
		}
		if bestC > 0 {
			v += cfg.ComplementCustomerWeight * s.customer[j] / bestC
		}
		return v
	}
	for _, j := range s.touchedR {
		s.col.Offer(j, blend(j))
	}
	for _, j := range s.touchedC {
		if s.recent[j] == 0 {
			s.col.Offer(j, blend(j))
		}
	}
	list := slices.DeleteFunc(s.col.AppendSorted(nil), func(x Scored) bool { return x.Score <= 0 })
	slices.SortFunc(list, func(a, b Scored) int { return int(a.Index - b.Index) })
	b.out.built[i] = list
	if b.coverage && cosRow != nil {
		in := coverageInput{
			item: i, keep: keep, p: cfg.ComplementCoverage,
			orders: b.orderIdx[i], baskets: b.baskets,
			gain: s.recent, gainNorm: bestR, customer: s.customer, customerNorm: bestC,
			customerWeight: cfg.ComplementCustomerWeight, factorWeight: cfg.ComplementFactorWeight,
			popularity: b.popNow, popularityWeight: cfg.ComplementPopularityWeight,
			cosRow: cosRow, cosNb: cosNb, candidates: [][]int32{s.touchedR, s.touchedC, b.popTop},
		}
		b.out.top[i] = s.cov.rank(&in)
	}
	for _, j := range s.touchedR {
		s.recent[j] = 0
	}
	for _, j := range s.touchedC {
		s.customer[j] = 0
	}
}

func distinctItems(items []int32, maxLen, n int) []int32 {
	out := make([]int32, 0, min(len(items), maxLen))
	for _, it := range items {
		if it >= 0 && int(it) < n && !slices.Contains(out, it) {
			out = append(out, it)
			if len(out) == maxLen {
				break
			}
		}
	}
	return out
}

// builtScore is item j's built complement score in list (sorted by index),
// 0 if absent.
func builtScore(list []Scored, j int32) float32 {
	lo, hi := 0, len(list)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		switch x := list[m].Index; {
		case x == j:
			return list[m].Score
		case x < j:
			lo = m + 1
		default:
			hi = m
		}
	}
	return 0
}
