package compute

import "math"

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
