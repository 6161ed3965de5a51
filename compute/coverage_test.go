package compute

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// A hand-made case: item 0 was bought three times with 1 and 2, twice
// with 3. Ranked by count, 1 and 2 lead (3 each) though they come from the
// same baskets; coverage takes 1, then 3 (the baskets 1 does not cover).
func TestCoveragePicksUncoveredBaskets(t *testing.T) {
	const day = 86400
	snap := &Snapshot{NumUsers: 5, NumItems: 4, Time: 10 * day}
	for u := int32(0); u < 3; u++ {
		snap.Orders = append(snap.Orders, SnapshotOrder{User: u, Time: 10 * day, Items: []int32{0, 1, 2}})
	}
	for u := int32(3); u < 5; u++ {
		snap.Orders = append(snap.Orders, SnapshotOrder{User: u, Time: 10 * day, Items: []int32{0, 3}})
	}
	// Orthogonal item vectors: cosine 0 between distinct items.
	f := &Factors{K: 4, NumItems: 4, Item: []float32{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}, ItemNorm: []float32{1, 1, 1, 1}}
	cfg := DefaultModelConfig()
	cfg.ComplementCustomerWeight, cfg.ComplementPopularityWeight = 0, 0
	cfg.ComplementCoverage = 0.45
	top := buildComplementLists(snap, cfg, snap.Time, 1, f, nil).top
	// Item 0: gains 3, 3, 2 over its best 3: values 1, 1, 0.667. Pick 1
	// (value 1, lower index wins the tie); its three baskets keep 0.55
	// each, so 2 falls to 0.55 and 3 (0.667) is next, then 2.
	want := []Scored{{1, 1}, {3, 2.0 / 3}, {2, 0.55}}
	got := top[0]
	if len(got) != len(want) {
		t.Fatalf("coverage list of 0 = %+v, want %+v", got, want)
	}
	for r := range want {
		if got[r].Index != want[r].Index || math.Abs(float64(got[r].Score-want[r].Score)) > 1e-5 {
			t.Fatalf("coverage list of 0 = %+v, want %+v", got, want)
		}
	}
	// Without coverage the ranking is by value: 1, 2, then 3.
	cfg.ComplementCoverage = 1e-9
	if got := indicesOf(buildComplementLists(snap, cfg, snap.Time, 1, f, nil).top[0]); !slices.Equal(got, []int32{1, 2, 3}) {
		t.Fatalf("near-zero coverage ranks %v, want [1 2 3]", got)
	}
}

// TestCoverageMatchesGreedy checks the lazy greedy of BuildModel (bounded
// candidates, cosines computed on demand) against a plain greedy over the
// whole catalog with the signals recomputed here from the orders (in this
// small catalog the candidates hold every item that can reach the top 10).
func TestCoverageMatchesGreedy(t *testing.T) {
	const day = 86400
	rng := rand.New(rand.NewPCG(5, 9))
	const users, items = 200, 150
	snap := &Snapshot{NumUsers: users, NumItems: items, Time: 100 * day}
	for u := int32(0); u < users; u++ {
		for o := 0; o < 1+rng.IntN(4); o++ {
			var its []int32
			for range 1 + rng.IntN(8) {
				its = append(its, int32(float64(items)*math.Pow(rng.Float64(), 2)))
			}
			snap.Orders = append(snap.Orders, SnapshotOrder{User: u, Time: int64(rng.IntN(100)) * day, Items: its})
		}
	}
	cfg := DefaultModelConfig()
	cfg.ALS = ALSConfig{Factors: 8, Iterations: 3, Regularization: 1, Alpha: 4, CGSteps: 3, InitStdDev: 0.1, Seed: 3}
	cfg.ComplementCandidates = 12
	cfg.ComplementCoverage = 0.45
	cfg.ComplementCustomerWeight = 0.5
	model, _ := buildTestModel(t, snap, cfg)
	// The signals, from scratch.
	type set struct {
		items []int32
		w     float64
	}
	var baskets, customers []set
	byUser := map[int32][]int32{}
	for _, o := range snap.Orders {
		d := slices.Compact(slices.Sorted(slices.Values(o.Items)))
		if len(d) > 1 {
			baskets = append(baskets, set{d, math.Exp2(-float64(snap.Time-o.Time) / float64(cfg.ComplementRecentHalfLife))})
		}
		byUser[o.User] = append(byUser[o.User], o.Items...)
	}
	for _, its := range byUser {
		d := slices.Compact(slices.Sorted(slices.Values(its)))
		if len(d) > 1 {
			customers = append(customers, set{d, 1 / math.Log2(2+float64(len(d)))})
		}
	}
	pop := make([]float64, items)
	for _, o := range snap.Orders {
		for _, j := range slices.Compact(slices.Sorted(slices.Values(o.Items))) {
			pop[j] += math.Exp2(-float64(snap.Time-o.Time) / float64(cfg.ComplementPopularityHalfLife))
		}
	}
	maxPop := slices.Max(pop)
	cos := make([]float32, items)
	checked := 0
	for i := int32(0); i < items; i++ {
		gain, cust := make([]float64, items), make([]float64, items)
		var mine []int // baskets holding i
		for b, bk := range baskets {
			if slices.Contains(bk.items, i) {
				mine = append(mine, b)
				for _, j := range bk.items {
					gain[j] += bk.w
				}
			}
		}
		for _, c := range customers {
			if slices.Contains(c.items, i) {
				for _, j := range c.items {
					cust[j] += c.w
				}
			}
		}
		gain[i], cust[i] = 0, 0
		gn, cn := slices.Max(gain), slices.Max(cust)
		if gn == 0 || model.Factors.ItemNorm[i] == 0 {
			continue
		}
		model.Factors.ItemCosine(i, cos)
		resid := make([]float64, len(mine))
		for k, b := range mine {
			resid[k] = baskets[b].w
		}
		picked := make([]bool, items)
		picked[i] = true
		var want []Scored
		for range 10 {
			best, bestV := -1, math.Inf(-1)
			for j := range items {
				if picked[j] {
					continue
				}
				v := gain[j]/gn + float64(cfg.ComplementFactorWeight*cos[j]) + float64(cfg.ComplementPopularityWeight)*pop[j]/maxPop
				if cn > 0 {
					v += float64(cfg.ComplementCustomerWeight) * cust[j] / cn
				}
				if v > bestV {
					best, bestV = j, v
				}
			}
			picked[best] = true
			want = append(want, Scored{int32(best), float32(bestV)})
			for k, b := range mine {
				if slices.Contains(baskets[b].items, int32(best)) {
					d := resid[k] * float64(cfg.ComplementCoverage)
					resid[k] -= d
					for _, j := range baskets[b].items {
						gain[j] -= d
					}
				}
			}
			gain[i] = 0
		}
		got := model.complementTop[i]
		if len(got) < 10 {
			t.Fatalf("item %d: %d complements, want 10", i, len(got))
		}
		for r := range want {
			if got[r].Index != want[r].Index && math.Abs(float64(got[r].Score-want[r].Score)) > 1e-4 {
				t.Fatalf("item %d rank %d: lazy greedy %+v, plain greedy %+v", i, r, got[:10], want)
			}
			if math.Abs(float64(got[r].Score-want[r].Score)) > 1e-4 {
				t.Fatalf("item %d rank %d: score %v, want %v", i, r, got[r].Score, want[r].Score)
			}
		}
		checked++
	}
	if checked < items/2 {
		t.Fatalf("only %d items checked", checked)
	}
}

// Complementary serves the coverage list, then fills from the ranked
// blend under its last score; exclusions hold throughout.
func TestComplementaryCoverageThenRanked(t *testing.T) {
	snap, cfg := twoOrderShop()
	model, st := buildTestModel(t, snap, cfg)
	scratch := make([]float32, 200)
	served := 0
	for i := int32(0); i < 200; i++ {
		list := model.complementTop[i]
		if len(list) < 16 {
			continue
		}
		served++
		ex := []int32{list[2].Index}
		got := model.Complementary(st, i, 40, ex, scratch, nil)
		if len(got) != 40 {
			t.Fatalf("item %d: %d complements, want 40", i, len(got))
		}
		want := slices.DeleteFunc(slices.Clone(list), func(s Scored) bool { return s.Index == ex[0] })
		if !slices.Equal(got[:15], want) {
			t.Fatalf("item %d: first 15 = %+v, want the coverage list %+v", i, got[:15], want)
		}
		seen := map[int32]bool{}
		for r, s := range got {
			if s.Index == i || s.Index == ex[0] || seen[s.Index] {
				t.Fatalf("item %d rank %d: %+v repeats, excluded or the item itself", i, r, s)
			}
			seen[s.Index] = true
			if r > 0 && s.Score > got[r-1].Score {
				t.Fatalf("item %d: scores rise at rank %d: %+v", i, r, got)
			}
		}
	}
	if served < 100 {
		t.Fatalf("only %d items have a full coverage list", served)
	}
}
