package compute

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// TestFoldInWoodburyMatchesExact checks the per-model-inverse fold-in
// against the direct float64 Cholesky solve, for item counts up to the
// Woodbury limit (and past it, where FoldInUser falls back), with
// weights, duplicates and unknown indices.
func TestFoldInWoodburyMatchesExact(t *testing.T) {
	for _, tc := range []struct {
		name      string
		k         int
		reg, alph float32
	}{
		{"k16 weak reg", 16, 0.1, 5},
		{"k64 defaults", 64, 32, 8},
		{"k64 large alpha", 64, 1, 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := randomInteractions(5, 400, 300, 12)
			cfg := ALSConfig{Factors: tc.k, Iterations: 4, Regularization: tc.reg, Alpha: tc.alph, CGSteps: 3, InitStdDev: 0.1, Seed: 2}
			f, err := TrainALS(context.Background(), m, cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			if f.foldInv == nil {
				t.Fatal("no fold-in inverse after training")
			}
			rng := rand.New(rand.NewPCG(7, 7))
			var woodbury int
			for trial := 0; trial < 200; trial++ {
				n := 1 + rng.IntN(foldInMaxWoodbury(tc.k)+3)
				items := make([]int32, n)
				ws := make([]float32, n)
				for j := range items {
					items[j] = int32(rng.IntN(m.NumItems))
					ws[j] = []float32{0.1, 0.5, 1, 3}[rng.IntN(4)]
				}
				if trial%10 == 0 {
					items[0] = int32(m.NumItems + 5) // unknown: ignored by both
				}
				if trial%7 == 0 && n > 1 {
					items[1] = items[n-1] // duplicate
				}
				if trial%5 == 0 {
					ws = nil
				}
				out := make([]float32, tc.k)
				if f.foldInWoodbury(items, ws, out) {
					woodbury++
				}
				got := f.FoldInUser(items, ws)
				want := f.FoldInUserExact(items, ws)
				if rel := l2(diff(got, want)) / (l2(want) + 1e-12); rel > 1e-3 {
					t.Fatalf("trial %d (%d items): relative error %.2g between fold-in and the exact solve", trial, n, rel)
				}
			}
			if woodbury < 100 {
				t.Fatalf("only %d of 200 trials used the Woodbury path", woodbury)
			}
		})
	}
}

func TestFoldInWoodburyDeclines(t *testing.T) {
	m := randomInteractions(5, 100, 80, 10)
	f, err := TrainALS(context.Background(), m, ALSConfig{Factors: 8, Iterations: 2, Regularization: 1, Alpha: 2, CGSteps: 3, InitStdDev: 0.1, Seed: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, 8)
	if f.foldInWoodbury(make([]int32, 9), nil, out) {
		t.Error("Woodbury used for 9 items with k=8")
	}
	if f.foldInWoodbury([]int32{1, 2}, []float32{1, -1}, out) {
		t.Error("Woodbury used with a negative weight")
	}
}

func BenchmarkFoldIn(b *testing.B) {
	m := randomInteractions(11, 3000, 4000, 25)
	cfg := DefaultALSConfig(3000, 4000, m.NNZ())
	cfg.Factors, cfg.Iterations = 64, 3
	f, err := TrainALS(context.Background(), m, cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1, 4, 16, 32} {
		items := make([]int32, n)
		for j := range items {
			items[j] = int32(j * 97)
		}
		b.Run("woodbury/items="+strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				f.FoldInUser(items, nil)
			}
		})
		b.Run("exact/items="+strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				f.FoldInUserExact(items, nil)
			}
		})
	}
}

// TestComplementaryNeighboursMatchScan checks that Model.Complementary
// (co-purchases + built partners + precomputed factor neighbours) ranks
// like scoring the whole catalog, with and without exclusions, and when
// the exclusions eat the neighbour list (fallback); with the built
// signals off, like BlendComplementary.
func TestComplementaryNeighboursMatchScan(t *testing.T) {
	for _, built := range []bool{true, false} {
		t.Run(fmt.Sprintf("built=%v", built), func(t *testing.T) { testComplementaryNeighbours(t, built) })
	}
}

func testComplementaryNeighbours(t *testing.T, built bool) {
	m := randomInteractions(13, 500, 600, 10)
	snap := &Snapshot{NumUsers: 500, NumItems: 600}
	for u := 0; u < 500; u++ {
		items, _ := m.Row(int32(u))
		// Split each user's items into a few orders so co-purchase rows
		// are partial.
		for lo := 0; lo < len(items); lo += 4 {
			snap.Orders = append(snap.Orders, SnapshotOrder{User: int32(u), Time: int64(u), Items: items[lo:min(lo+4, len(items))]})
		}
	}
	cfg := DefaultModelConfig()
	cfg.ALS = ALSConfig{Factors: 16, Iterations: 3, Regularization: 1, Alpha: 4, CGSteps: 3, InitStdDev: 0.1, Seed: 3}
	cfg.ComplementCandidates = 24
	cfg.ComplementCoverage = 0 // the ranked path (coverage: TestCoverageMatchesGreedy)
	if !built {
		cfg.ComplementRecentWeight, cfg.ComplementCustomerWeight = 0, 0
	}
	model, st := buildTestModel(t, snap, cfg)
	if len(model.complementCos) != 600 || len(model.complementCos[0]) != 24 {
		t.Fatalf("neighbour lists not built: %d lists", len(model.complementCos))
	}
	if built != (len(model.complementBuilt) == 600 && len(model.complementBuilt[7]) == 24) {
		t.Fatalf("built lists: %d lists, want them iff built=%v", len(model.complementBuilt), built)
	}
	scratch := make([]float32, 600)
	var fast, fallback int
	for i := int32(0); i < 600; i++ {
		for _, ex := range [][]int32{nil, {model.complementCos[i][0].Index, model.complementCos[i][3].Index}, indicesOf(model.complementCos[i][:20])} {
			got := model.Complementary(st, i, 10, ex, scratch, nil)
			var want []Scored
			var bl []Scored
			if built {
				bl = model.complementBuilt[i]
				want = model.complementaryScan(st.CoBought, i, bl, 10, ex, scratch, nil)
			} else {
				want = BlendComplementary(st.CoBought, model.Factors, i, 10, cfg.ComplementFactorWeight, ex, scratch, nil)
			}
			if _, ok := st.CoBought.blendWithNeighbours(model.Factors, i, model.complementCos[i], bl, 10, cfg.ComplementFactorWeight, ex, nil); ok {
				fast++
			} else {
				fallback++
			}
			if len(got) != len(want) {
				t.Fatalf("item %d exclude %v: %d results, scan gives %d", i, ex, len(got), len(want))
			}
			for r := range want {
				// Cosines come from a dot product here and a matrix-vector
				// product in the scan: equal up to rounding, so near-ties
				// may swap.
				if got[r].Index != want[r].Index && math.Abs(float64(got[r].Score-want[r].Score)) > 1e-5 {
					t.Fatalf("item %d exclude %v rank %d: %+v, scan gives %+v", i, ex, r, got, want)
				}
			}
		}
	}
	if fast < 1000 || fallback < 500 {
		t.Fatalf("fast path %d times, fallback %d: the test does not exercise both", fast, fallback)
	}
}

func TestBuildComplementLists(t *testing.T) {
	const day = 86400
	cfg := DefaultModelConfig()
	cfg.ComplementRecentHalfLife = 10 * day
	cfg.ComplementCustomerWeight = 1
	ref := int64(100 * day)
	snap := &Snapshot{NumUsers: 2, NumItems: 4, Orders: []SnapshotOrder{
		{User: 0, Time: ref, Items: []int32{0, 1}},
		{User: 0, Time: ref, Items: []int32{2}},
		{User: 1, Time: ref - 10*day, Items: []int32{0, 2, 2}},
	}}
	lists := buildComplementLists(snap, cfg, ref, 2, nil, nil).built
	// Item 0. Recent: 1 with 1, 2 with 0.5 (one half-life old); divided
	// by the best: 1 and 0.5. Customer: customer 0 ({0,1,2}) weighs
	// 1/log2(5), customer 1 ({0,2}) 1/log2(4) = 0.5; so 1 scores
	// 1/log2(5) = 0.4307 and 2 scores 0.9307, divided by the best: 0.4628
	// and 1.
	c0 := 1 / math.Log2(5)
	want := []Scored{{1, float32(1 + c0/(c0+0.5))}, {2, 1.5}}
	if got := lists[0]; len(got) != 2 || got[0].Index != 1 || got[1].Index != 2 ||
		math.Abs(float64(got[0].Score-want[0].Score)) > 1e-5 || math.Abs(float64(got[1].Score-want[1].Score)) > 1e-5 {
		t.Fatalf("item 0 list = %+v, want %+v", got, want)
	}
	if len(lists[3]) != 0 {
		t.Fatalf("item 3 was never bought but has partners %+v", lists[3])
	}
	if s := builtScore(lists[0], 2); s != lists[0][1].Score {
		t.Fatalf("builtScore(2) = %v", s)
	}
	if s := builtScore(lists[0], 3); s != 0 {
		t.Fatalf("builtScore(3) = %v, want 0", s)
	}
}

// buildTestModel builds the live stats and the model of snap with cfg.
func buildTestModel(t *testing.T, snap *Snapshot, cfg ModelConfig) (*Model, *Stats) {
	t.Helper()
	st, err := StatsFromSnapshot(snap, cfg)
	if err != nil {
		t.Fatal(err)
	}
	model, err := BuildModel(context.Background(), snap, st, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return model, st
}

// twoOrderShop is a synthetic shop of 300 customers with two orders each
// over 200 items, and a small model config for it.
func twoOrderShop() (*Snapshot, ModelConfig) {
	m := randomInteractions(17, 300, 200, 8)
	snap := &Snapshot{NumUsers: 300, NumItems: 200}
	for u := 0; u < 300; u++ {
		items, _ := m.Row(int32(u))
		snap.Orders = append(snap.Orders, SnapshotOrder{User: int32(u), Time: int64(u), Items: items[:len(items)/2]}, SnapshotOrder{User: int32(u), Time: int64(u), Items: items[len(items)/2:]})
	}
	cfg := DefaultModelConfig()
	cfg.ALS = ALSConfig{Factors: 8, Iterations: 3, Regularization: 1, Alpha: 4, CGSteps: 3, InitStdDev: 0.1, Seed: 3}
	cfg.ComplementCandidates = 16
	return snap, cfg
}

func TestComplementaryPrecomputed(t *testing.T) {
	snap, cfg := twoOrderShop()
	cfg.ComplementCoverage = 0 // the ranked path's precomputed list
	model, st := buildTestModel(t, snap, cfg)
	scratch := make([]float32, 200)
	for i := int32(0); i < 200; i++ {
		live := model.Complementary(st, i, 10, nil, scratch, nil)
		pre := model.ComplementaryPrecomputed(i, 10, nil, nil)
		if len(pre) != 10 {
			t.Fatalf("item %d: %d precomputed complements, want 10", i, len(pre))
		}
		for r := range live {
			if pre[r].Index != live[r].Index && math.Abs(float64(pre[r].Score-live[r].Score)) > 1e-5 {
				t.Fatalf("item %d rank %d: precomputed %+v, live %+v", i, r, pre, live)
			}
		}
		ex := indicesOf(pre[:3])
		if got := model.ComplementaryPrecomputed(i, 10, ex, nil); len(got) != 10 || got[0] != pre[3] {
			t.Fatalf("item %d excluding %v: %+v", i, ex, got)
		}
	}
	// After build, new co-purchases move Complementary but not the
	// precomputed list.
	before := model.ComplementaryPrecomputed(0, 10, nil, nil)
	for range 50 {
		st.AddOrder(SnapshotOrder{User: 0, Items: []int32{0, 199}})
	}
	if slices.ContainsFunc(before, func(s Scored) bool { return s.Index == 199 }) {
		t.Fatalf("199 already among the complements of 0: %+v", before)
	}
	if got := model.Complementary(st, 0, 10, nil, scratch, nil); !slices.ContainsFunc(got, func(s Scored) bool { return s.Index == 199 }) {
		t.Fatalf("live complements of 0 = %+v, want 199 among them after 50 joint orders", got)
	}
	if after := model.ComplementaryPrecomputed(0, 10, nil, nil); !slices.Equal(after, before) {
		t.Fatalf("precomputed list changed without a rebuild")
	}
}
