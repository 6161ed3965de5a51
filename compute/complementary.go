package compute

import (
	"math"
	"slices"
)

// ItemCosine writes into dst the cosine similarity, in factor space, of
// item to every item (NumItems values). Items with a zero vector get 0.
func (f *Factors) ItemCosine(item int32, dst []float32) {
	f.ScoreItems(f.ItemVector(item), dst)
	ni := f.ItemNorm[item]
	for j := range dst[:f.NumItems] {
		if d := ni * f.ItemNorm[j]; d > 0 {
			dst[j] /= d
		} else {
			dst[j] = 0
		}
	}
}

// BlendComplementary ranks complements of item by co-purchase score
// (normalised so the item's best co-purchase is 1) plus factorWeight times
// the factor-space cosine. With factorWeight 0, or f nil, it is the pure
// co-purchase ranking; the factor term fills in for items with few orders.
// scratch must hold f.NumItems values (it avoids a per-call allocation);
// exclude is a short list; item itself is never returned.
func BlendComplementary(cp *CoPurchase, f *Factors, item int32, k int, factorWeight float32, exclude []int32, scratch []float32, dst []Scored) []Scored {
	if f == nil || factorWeight == 0 || int(item) >= f.NumItems || item < 0 {
		return cp.Complementary(item, k, append(exclude[:len(exclude):len(exclude)], item), dst)
	}
	scores := scratch[:f.NumItems]
	f.ItemCosine(item, scores)
	for j := range scores {
		scores[j] *= factorWeight
	}
	var best float32
	cp.ComplementaryScores(item, func(_ int32, s float32) { best = max(best, s) })
	if best > 0 {
		cp.ComplementaryScores(item, func(j int32, s float32) {
			if int(j) < len(scores) {
				scores[j] += s / best
			}
		})
	}
	scores[item] = float32(math.Inf(-1))
	return TopK(scores, k, exclude, dst)
}

// blendWithNeighbours is Model.complementaryScan restricted to item's
// co-purchases, its built partners (built, sorted by index, scores >= 0)
// and cosNb, its best factor-cosine neighbours (best first). Every other
// item scores factorWeight x a cosine no larger than cosNb's last, which
// any listed neighbour matches or beats, so the ranking is the full
// scan's whenever k listed neighbours survive exclude (or the list covers
// the catalog); ok is false otherwise.
func (c *CoPurchase) blendWithNeighbours(f *Factors, item int32, cosNb, built []Scored, k int, factorWeight float32, exclude []int32, dst []Scored) (out []Scored, ok bool) {
	if len(cosNb) < f.NumItems-1 {
		usable := 0
		for _, s := range cosNb {
			if !slices.Contains(exclude, s.Index) {
				usable++
			}
		}
		if usable < k {
			return dst, false
		}
	}
	var col TopKCollector
	var hbuf [32]Scored
	col.resetWith(k, hbuf[:])
	yi, ni := f.ItemVector(item), f.ItemNorm[item]
	cosine := func(j int32) float32 {
		if d := ni * f.ItemNorm[j]; d > 0 {
			return bl.Sdot(f.K, yi, 1, f.ItemVector(j), 1) / d
		}
		return 0
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	row := c.rowLocked(item)
	cosBound := factorWeight * 1.001
	best := c.bestLocked(item)
	var builtMax float32
	for _, s := range built {
		builtMax = max(builtMax, s.Score)
	}
	inRow := func(j int32) bool {
		n := c.lookupLocked(item, row, j)
		return n > 0 && n >= c.cfg.MinCount && best > 0
	}
	if best > 0 {
		c.eachLocked(item, func(j int32, n float32) {
			if n < c.cfg.MinCount || j == item || int(j) >= f.NumItems || slices.Contains(exclude, j) {
				return
			}
			live := c.normalise(n, j, c.cfg.Damping) / best
			// The cosine is at most 1 (slack for rounding): skip the
			// look-up and dot product when even the bounds cannot reach
			// the kept top k.
			fl, full := col.floor()
			if full && live+builtMax+cosBound < fl {
				return
			}
			rest := builtScore(built, j) + live
			if full && rest+cosBound < fl {
				return
			}
			col.Offer(j, factorWeight*cosine(j)+rest)
		})
	}
	for _, s := range built {
		if s.Index == item || int(s.Index) >= f.NumItems || inRow(s.Index) || slices.Contains(exclude, s.Index) {
			continue
		}
		if fl, full := col.floor(); full && s.Score+cosBound < fl {
			continue
		}
		col.Offer(s.Index, factorWeight*cosine(s.Index)+s.Score)
	}
	for _, s := range cosNb {
		if s.Index == item || inRow(s.Index) || builtScore(built, s.Index) > 0 || slices.Contains(exclude, s.Index) {
			continue
		}
		col.Offer(s.Index, factorWeight*s.Score)
	}
	return col.AppendSorted(dst), true
}
