package compute

import "slices"

// Coverage ranking of complements.
//
// The basket question is "will any of these k suggestions be in the
// shopper's basket?". Ranking partners by co-purchase count answers a
// different one (how likely is each alone), and its top k are often
// redundant: the same few past baskets put them all there. BuildModel
// instead picks an item's complements greedily so that they cover the
// item's past baskets, as in maximum coverage (Nemhauser, Wolsey and
// Fisher 1978: greedy is within 1 - 1/e of the optimum for a monotone
// submodular objective). Coverage is soft: each pick found in a past
// basket removes the share p (ModelConfig.ComplementCoverage) of that
// basket's remaining weight, so the objective is
//
//	sum over baskets b of w_b * (1 - (1-p)^(picks in b))
//
// plus the item-wise customer, recent-popularity and factor terms, which
// do not decay. Recent popularity matters because a store's baskets
// follow its season: what sells this fortnight is in many baskets,
// whatever else they hold. p = 0
// is the ranked co-purchase blend; p = 1 hard coverage (it chases
// one-off baskets: worse on validation, docs/quality.md).
//
// Scores only fall as picks are made, so a lazy greedy (re-score the
// heap's best, accept it while it still beats the runner-up; Minoux 1978)
// is exact and scores each candidate a few times, not once per pick.

// coverageInput is one item's data for coverageScratch.rank.
type coverageInput struct {
	item    int32
	keep    int
	p       float32
	orders  []int32 // the item's baskets, indices into baskets
	baskets []complementBasket
	// gain[j]: recency-weighted count of the item's baskets holding j,
	// gainNorm its largest value. rank lowers it as baskets get covered;
	// the caller resets it.
	gain           []float32
	gainNorm       float32
	customer       []float32
	customerNorm   float32
	customerWeight float32
	// popularity: recent popularity, max 1, or nil.
	popularity       []float32
	popularityWeight float32
	factorWeight     float32
	cosRow           []float32 // the item's factor cosine to every item
	cosNb            []Scored  // the item's best factor neighbours, best first
	candidates       [][]int32 // besides cosNb
}

type coverageScratch struct {
	seen  []bool
	cands []int32
	resid []float32
	heap  []Scored
	// occ lists, for each candidate j, the positions in orders of the
	// baskets holding j: occ[start[j] : start[j]+count[j]].
	count, start []int32
	occ          []int32
	inBaskets    []int32 // items with count > 0
}

func newCoverageScratch(n int) coverageScratch {
	return coverageScratch{seen: make([]bool, n), count: make([]int32, n), start: make([]int32, n)}
}

// rank returns in.item's in.keep complements by greedy soft coverage,
// each with its score at the time it was picked (non-increasing).
func (s *coverageScratch) rank(in *coverageInput) []Scored {
	i := in.item
	s.cands = s.cands[:0]
	add := func(j int32) {
		if j != i && !s.seen[j] {
			s.seen[j] = true
			s.cands = append(s.cands, j)
		}
	}
	// Candidates: the item's co-purchases and customer co-occurrences,
	// the recent best sellers and the item's best factor neighbours.
	// Others score only their cosine and popularity terms, each below
	// what some candidate has: they are left out.
	for _, c := range in.candidates {
		for _, j := range c {
			add(j)
		}
	}
	for _, nb := range in.cosNb {
		add(nb.Index)
	}
	score := func(j int32) float32 {
		v := in.factorWeight * in.cosRow[j]
		if in.gainNorm > 0 {
			v += in.gain[j] / in.gainNorm
		}
		if in.customerNorm > 0 {
			v += in.customerWeight * in.customer[j] / in.customerNorm
		}
		if in.popularity != nil {
			v += in.popularityWeight * in.popularity[j]
		}
		return v
	}
	s.heap = s.heap[:0]
	for _, j := range s.cands {
		s.heap = append(s.heap, Scored{j, score(j)})
	}
	h := scoredHeap(s.heap)
	h.init()
	// Which of the item's baskets hold each item (a counting sort):
	// occ[start[j] : start[j]+count[j]] are positions in in.orders.
	s.resid, s.inBaskets = s.resid[:0], s.inBaskets[:0]
	total := 0
	for _, b := range in.orders {
		s.resid = append(s.resid, in.baskets[b].w)
		for _, j := range in.baskets[b].items {
			if s.count[j] == 0 {
				s.inBaskets = append(s.inBaskets, j)
			}
			s.count[j]++
			total++
		}
	}
	off := int32(0)
	for _, j := range s.inBaskets {
		s.start[j], off = off, off+s.count[j]
		s.count[j] = 0
	}
	s.occ = slices.Grow(s.occ[:0], total)[:total]
	for k, b := range in.orders {
		for _, j := range in.baskets[b].items {
			s.occ[s.start[j]+s.count[j]] = int32(k)
			s.count[j]++
		}
	}
	out := make([]Scored, 0, min(in.keep, len(h)))
	for len(out) < in.keep && len(h) > 0 {
		top := h.pop()
		v := score(top.Index)
		if len(h) > 0 && better(h[0], Scored{top.Index, v}) {
			h.push(Scored{top.Index, v}) // stale: it fell since it was scored
			continue
		}
		out = append(out, Scored{top.Index, v})
		if in.p <= 0 {
			continue
		}
		j := top.Index
		if s.count[j] == 0 {
			continue // in none of the item's baskets
		}
		for _, k := range s.occ[s.start[j] : s.start[j]+s.count[j]] {
			if s.resid[k] <= 0 {
				continue
			}
			d := s.resid[k] * in.p
			s.resid[k] -= d
			for _, x := range in.baskets[in.orders[k]].items {
				if x != i {
					in.gain[x] -= d
				}
			}
		}
	}
	for _, j := range s.inBaskets {
		s.count[j] = 0
	}
	s.heap = h[:0]
	for _, j := range s.cands {
		s.seen[j] = false
	}
	return out
}
