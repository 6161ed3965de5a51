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

func buildComplementLists(snap *Snapshot, cfg ModelConfig, ref int64, workers int) [][]Scored {
	n, keep := snap.NumItems, cfg.ComplementCandidates
	if n == 0 || keep == 0 || (cfg.ComplementRecentWeight == 0 && cfg.ComplementCustomerWeight == 0) {
		return nil
	}
	// Item -> orders (recent signal) and item -> customers (customer signal).
	type basket struct {
		items []int32
		w     float32
	}
	var baskets, customers []basket
	if cfg.ComplementRecentWeight > 0 {
		for _, o := range snap.Orders {
			items := distinctItems(o.Items, cfg.CoPurchase.MaxBasket, n)
			if len(items) > 1 {
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
	out := make([][]Scored, n)
	type scratch struct {
		acc, sum []float32
		touched  []int32
		col      TopKCollector
	}
	scr := make([]scratch, workers)
	for w := range scr {
		scr[w].acc = make([]float32, n)
		scr[w].sum = make([]float32, n)
	}
	parallelRows(n, workers, func(w, lo, hi int) {
		s := &scr[w]
		for i := int32(lo); i < int32(hi); i++ {
			var all []int32
			for _, src := range []struct {
				idx    [][]int32
				bs     []basket
				weight float32
			}{{orderIdx, baskets, cfg.ComplementRecentWeight}, {custIdx, customers, cfg.ComplementCustomerWeight}} {
				if src.weight == 0 {
					continue
				}
				s.touched = s.touched[:0]
				for _, b := range src.idx[i] {
					bk := src.bs[b]
					if bk.w <= 0 {
						continue
					}
					for _, j := range bk.items {
						if j == i {
							continue
						}
						if s.acc[j] == 0 {
							s.touched = append(s.touched, j)
						}
						s.acc[j] += bk.w
					}
				}
				var best float32
				for _, j := range s.touched {
					best = max(best, s.acc[j])
				}
				for _, j := range s.touched {
					if s.acc[j] > 0 {
						if s.sum[j] == 0 {
							all = append(all, j)
						}
						s.sum[j] += src.weight * s.acc[j] / best
					}
					s.acc[j] = 0
				}
			}
			s.col.Reset(keep)
			for _, j := range all {
				s.col.Offer(j, s.sum[j])
				s.sum[j] = 0
			}
			list := s.col.AppendSorted(nil)
			slices.SortFunc(list, func(a, b Scored) int { return int(a.Index - b.Index) })
			out[i] = list
		}
	})
	return out
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
