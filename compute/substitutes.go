package compute

import (
	"fmt"
	"math"
	"slices"

	"github.com/sibylhq/sibyl/text"
)

// ItemAttributes describes an item for attribute similarity. All fields are
// optional.
type ItemAttributes struct {
	// Categories are dense category indices.
	Categories []int32
	// Price is the current price; 0 means unknown.
	Price float64
	// Text is the name and description.
	Text string
}

// SubstituteConfig weighs the signals of the substitute score
//
//	Factor*cos(factors) + Category*jaccard(categories) + Text*cos(tf-idf)
//	+ Price*exp(-|ln(p_i/p_j)|/PriceBand) + CoView*cos(co-views)
//	- CoBought*cos(co-purchases)
//
// Substitutes fill the same need: close in taste (factors) and attributes,
// viewed in the same sessions, but not bought together (those are
// complements).
type SubstituteConfig struct {
	Factor, Category, Text, Price, CoView, CoBought float32
	// PriceBand is the log-price distance at which price similarity has
	// fallen to 1/e (0.5 = a factor of 1.65).
	PriceBand float64
	// Candidates is how many factor neighbours are scored per item, on
	// top of the text neighbours.
	Candidates int
	// ListLen is how many substitutes are kept per item.
	ListLen int
}

// DefaultSubstituteConfig returns the default weights.
func DefaultSubstituteConfig() SubstituteConfig {
	return SubstituteConfig{Factor: 1, Category: 0.5, Text: 1, Price: 0.3, CoView: 1, CoBought: 2, PriceBand: 0.5, Candidates: 200, ListLen: 50}
}

// Validate checks the config.
func (c SubstituteConfig) Validate() error {
	for _, w := range []float32{c.Factor, c.Category, c.Text, c.Price, c.CoView, c.CoBought} {
		if w < 0 || w != w {
			return fmt.Errorf("substitute weights must be >= 0, got %+v", c)
		}
	}
	if c.PriceBand <= 0 || c.Candidates <= 0 || c.ListLen <= 0 {
		return fmt.Errorf("price band, candidates and list length must be positive, got %v, %d, %d", c.PriceBand, c.Candidates, c.ListLen)
	}
	return nil
}

// textIndex holds L2-normalised tf-idf vectors of item texts, as sorted
// (token, weight) lists, plus an inverted index of the rarer tokens.
type textIndex struct {
	tokens  [][]int32
	weights [][]float32
	posting map[int32][]int32
}

func buildTextIndex(items []ItemAttributes) *textIndex {
	vocab := map[string]int32{}
	df := map[int32]int{}
	tf := make([]map[int32]float32, len(items))
	for i, a := range items {
		tf[i] = map[int32]float32{}
		for _, w := range text.Tokens(a.Text) {
			id, ok := vocab[w]
			if !ok {
				id = int32(len(vocab))
				vocab[w] = id
			}
			if tf[i][id] == 0 {
				df[id]++
			}
			tf[i][id]++
		}
	}
	n := float64(len(items))
	ti := &textIndex{tokens: make([][]int32, len(items)), weights: make([][]float32, len(items)), posting: map[int32][]int32{}}
	for i, m := range tf {
		toks := make([]int32, 0, len(m))
		for t := range m {
			toks = append(toks, t)
		}
		slices.Sort(toks)
		ws := make([]float32, len(toks))
		var norm float64
		for j, t := range toks {
			w := (1 + math.Log(float64(m[t]))) * math.Log(1+n/float64(df[t]))
			ws[j] = float32(w)
			norm += w * w
		}
		for j := range ws {
			ws[j] /= float32(math.Sqrt(norm))
		}
		ti.tokens[i], ti.weights[i] = toks, ws
		for _, t := range toks {
			// Tokens in more than 2% of the catalog do not find
			// substitutes (they are "set", "red", ...).
			if float64(df[t]) <= max(2, 0.02*n) {
				ti.posting[t] = append(ti.posting[t], int32(i))
			}
		}
	}
	return ti
}

func (ti *textIndex) cos(a, b int32) float32 {
	ta, tb := ti.tokens[a], ti.tokens[b]
	wa, wb := ti.weights[a], ti.weights[b]
	var s float32
	for i, j := 0, 0; i < len(ta) && j < len(tb); {
		switch {
		case ta[i] < tb[j]:
			i++
		case ta[i] > tb[j]:
			j++
		default:
			s += wa[i] * wb[j]
			i++
			j++
		}
	}
	return s
}

func jaccard(a, b []int32) float32 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	var inter int
	for _, x := range a {
		if slices.Contains(b, x) {
			inter++
		}
	}
	return float32(inter) / float32(len(a)+len(b)-inter)
}

// BuildSubstitutes precomputes every item's substitute list (best first).
// f, coBought and coViewed may be nil; attrs may be nil or hold one entry
// per item. Cost: one pass over the item factors per item, in parallel.
func BuildSubstitutes(numItems int, f *Factors, attrs []ItemAttributes, coBought, coViewed *CoPurchase, cfg SubstituteConfig, workers int) ([][]Scored, error) {
	subs, _, err := buildItemLists(numItems, f, attrs, coBought, coViewed, cfg, workers, 0, nil)
	return subs, err
}

// cosBuckets is the resolution of topCosines' histogram over [-1, 1].
const cosBuckets = 2048

// topCosines appends to dst the keep best entries of the cosine row cos,
// skipping index skip: what top (a TopKCollector) returns when offered
// every entry, computed cheaper. A histogram of the row over [-1, 1]
// finds the bucket that holds the keep-th best; only entries in it or
// above (keep plus about one bucket's share) go through the heap,
// instead of every entry that beats the heap's floor at the time. The
// bucket index is monotone in the score, so no entry of the top keep is
// skipped. buckets is scratch (returned for reuse).
func topCosines(cos []float32, keep int, skip int32, top *TopKCollector, buckets []uint16, dst []Scored) ([]Scored, []uint16) {
	if cap(buckets) < len(cos) {
		buckets = make([]uint16, len(cos))
	}
	buckets = buckets[:len(cos)]
	var hist [cosBuckets]int32
	for j, c := range cos {
		b := 0
		if x := (c + 1) * (cosBuckets / 2); x >= cosBuckets-1 {
			b = cosBuckets - 1
		} else if x > 0 {
			b = int(x)
		}
		buckets[j] = uint16(b)
		if int32(j) != skip {
			hist[b]++
		}
	}
	from, seen := 0, int32(0)
	for b := cosBuckets - 1; b >= 0; b-- {
		if seen += hist[b]; seen >= int32(keep) {
			from = b
			break
		}
	}
	top.Reset(keep)
	for j, c := range cos {
		if int(buckets[j]) >= from && int32(j) != skip && !top.rejects(int32(j), c) {
			top.offer(int32(j), c)
		}
	}
	return top.AppendSorted(dst), buckets
}

// buildItemLists is BuildSubstitutes that also keeps every item's
// cosNeighbours best factor-cosine neighbours (best first), which the
// same pass computes anyway: the candidates of Model.Complementary. When
// f and withCosine are not nil, withCosine(w, i, cos) is called for every
// item after its lists are built, with worker w's row of i's factor
// cosine to every item (f.ItemCosine), which it may overwrite: the factor
// pass is the costly part, so other per-item lists reuse it.
func buildItemLists(numItems int, f *Factors, attrs []ItemAttributes, coBought, coViewed *CoPurchase, cfg SubstituteConfig, workers, cosNeighbours int, withCosine func(w int, i int32, cos []float32, nb []Scored)) (subs, cos [][]Scored, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, fmt.Errorf("cannot build substitutes: %w", err)
	}
	if attrs != nil && len(attrs) != numItems {
		return nil, nil, fmt.Errorf("cannot build substitutes: %d attributes for %d items: %w", len(attrs), numItems, ErrIndex)
	}
	if workers <= 0 {
		workers = 1
	}
	var tfidf *textIndex
	var logPrice []float64
	if attrs != nil {
		tfidf = buildTextIndex(attrs)
		// ln p once per item: the price term is exp(-|ln p_i - ln p_j|/band).
		logPrice = make([]float64, len(attrs))
		for i, a := range attrs {
			if a.Price > 0 {
				logPrice[i] = math.Log(a.Price)
			}
		}
	}
	out := make([][]Scored, numItems)
	if cosNeighbours > 0 && f != nil {
		cos = make([][]Scored, numItems)
	}
	keep := max(cfg.Candidates, cosNeighbours)
	type scratch struct {
		cos     []float32
		buckets []uint16
		cand    []int32
		top     *TopKCollector
		sorted  []Scored
	}
	scr := make([]scratch, workers)
	for w := range scr {
		scr[w].cos = make([]float32, numItems)
		scr[w].top = NewTopKCollector(keep)
	}
	parallelRows(numItems, workers, func(w, lo, hi int) {
		s := &scr[w]
		for i := int32(lo); i < int32(hi); i++ {
			s.cand = s.cand[:0]
			inF := f != nil && int(i) < f.NumItems
			hasF := inF && f.ItemNorm[i] > 0
			if inF {
				f.ItemCosine(i, s.cos)
			}
			if hasF {
				s.sorted, s.buckets = topCosines(s.cos[:f.NumItems], keep, i, s.top, s.buckets, s.sorted[:0])
				for _, sc := range s.sorted[:min(cfg.Candidates, len(s.sorted))] {
					s.cand = append(s.cand, sc.Index)
				}
				if cos != nil {
					cos[i] = slices.Clone(s.sorted[:min(cosNeighbours, len(s.sorted))])
				}
			}
			if tfidf != nil {
				for _, t := range tfidf.tokens[i] {
					s.cand = append(s.cand, tfidf.posting[t]...)
				}
			}
			slices.Sort(s.cand)
			s.cand = slices.Compact(s.cand)
			var col TopKCollector
			col.Reset(cfg.ListLen)
			// The live counts may be written meanwhile: read them under
			// one read lock per item rather than three per candidate.
			var rowV, rowB *coRow
			if coViewed != nil {
				coViewed.mu.RLock()
				rowV = coViewed.rowLocked(i)
			}
			if coBought != nil {
				if coBought != coViewed {
					coBought.mu.RLock()
				}
				rowB = coBought.rowLocked(i)
			}
			// s.cand is ascending: each row is searched from where the
			// previous candidate was found.
			var atV, atB int
			for _, j := range s.cand {
				if j == i {
					continue
				}
				var score float32
				if hasF && int(j) < f.NumItems {
					score += cfg.Factor * s.cos[j]
				}
				if attrs != nil {
					score += cfg.Category*jaccard(attrs[i].Categories, attrs[j].Categories) + cfg.Text*tfidf.cos(i, j)
					if pi, pj := attrs[i].Price, attrs[j].Price; pi > 0 && pj > 0 {
						score += cfg.Price * float32(math.Exp(-math.Abs(logPrice[i]-logPrice[j])/cfg.PriceBand))
					}
				}
				var v, b, n float32
				if rowV != nil {
					n, atV = coViewed.seekLocked(i, rowV, j, atV)
					v = coViewed.cosineOf(n, i, j)
				}
				if rowB != nil {
					n, atB = coBought.seekLocked(i, rowB, j, atB)
					b = coBought.cosineOf(n, i, j)
				}
				score += cfg.CoView*v - cfg.CoBought*b
				col.Offer(j, score)
			}
			if coViewed != nil {
				coViewed.mu.RUnlock()
			}
			if coBought != nil && coBought != coViewed {
				coBought.mu.RUnlock()
			}
			out[i] = col.AppendSorted(nil)
			if inF && withCosine != nil {
				var nb []Scored
				if cos != nil {
					nb = cos[i]
				}
				withCosine(w, i, s.cos, nb)
			}
		}
	})
	return out, cos, nil
}
