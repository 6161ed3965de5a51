package compute

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// blockMatrix has two user groups that each bought every item of their own
// item group and nothing else: a rank-2 preference matrix.
func blockMatrix(t *testing.T, usersPerGroup, itemsPerGroup int) *Interactions {
	t.Helper()
	b := NewInteractionsBuilder(2*usersPerGroup, 2*itemsPerGroup)
	for g := 0; g < 2; g++ {
		for u := 0; u < usersPerGroup; u++ {
			for i := 0; i < itemsPerGroup; i++ {
				if err := b.Add(int32(g*usersPerGroup+u), int32(g*itemsPerGroup+i), 1); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return b.Build(nil)
}

func TestALSRecoversRankTwoOptimum(t *testing.T) {
	m := blockMatrix(t, 6, 5)
	cfg := ALSConfig{Factors: 2, Iterations: 30, Regularization: 1e-3, Alpha: 20, CGSteps: 2, InitStdDev: 0.1, Seed: 7}
	var losses []float64
	f, err := TrainALS(context.Background(), m, cfg, func(_ int, l float64) { losses = append(losses, l) })
	if err != nil {
		t.Fatal(err)
	}
	// The optimum of a rank-2 target with k=2 and tiny regularization
	// reproduces it: ~1 inside the blocks, ~0 outside.
	for u := int32(0); u < int32(f.NumUsers); u++ {
		for i := int32(0); i < int32(f.NumItems); i++ {
			want := 0.0
			if (u < 6) == (i < 5) {
				want = 1
			}
			got := float64(dot(f.UserVector(u), f.ItemVector(i)))
			if math.Abs(got-want) > 0.02 {
				t.Fatalf("score(%d,%d) = %.4f, want %.0f", u, i, got, want)
			}
		}
	}
	for j := 1; j < len(losses); j++ {
		if losses[j] > losses[j-1]*(1+1e-4) {
			t.Fatalf("loss went up at sweep %d: %v", j+1, losses)
		}
	}
	// Predicting 0 everywhere costs sum c_ui = 60 * 21; the optimum is
	// close to exact reconstruction, so the loss must fall far below that.
	if zero := 60.0 * 21; losses[len(losses)-1] > 0.005*zero {
		t.Fatalf("final loss %.4f, want < %.2f", losses[len(losses)-1], 0.005*zero)
	}
}

func dot(a, b []float32) float32 {
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func randomInteractions(seed uint64, users, items, perUser int) *Interactions {
	rng := rand.New(rand.NewPCG(seed, 1))
	b := NewInteractionsBuilder(users, items)
	for u := 0; u < users; u++ {
		for j := 0; j < perUser; j++ {
			// Skewed item choice, like real catalogs.
			it := int32(float64(items) * math.Pow(rng.Float64(), 2))
			_ = b.Add(int32(u), it, float32(1+rng.IntN(3)))
		}
	}
	return b.Build(nil)
}

func TestCGMatchesDirectSolve(t *testing.T) {
	m := randomInteractions(3, 50, 40, 8)
	cfg := ALSConfig{Factors: 8, Iterations: 3, Regularization: 0.1, Alpha: 5, CGSteps: 3, InitStdDev: 0.1, Seed: 1}
	f, err := TrainALS(context.Background(), m, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Enough CG steps from zero solve the k x k system exactly; compare
	// with the Cholesky solve used by FoldInUser.
	exact := cfg
	exact.CGSteps = 4 * cfg.Factors
	for u := int32(0); u < 10; u++ {
		items, ws := m.Row(u)
		one := &Interactions{NumUsers: 1, NumItems: m.NumItems, Indptr: []int64{0, int64(len(items))}, Items: items, Weights: ws}
		x := make([]float32, cfg.Factors)
		solveSide(one, x, f.Item, f.gram, exact, 1)
		want := f.FoldInUser(items, ws)
		for r := range x {
			if d := math.Abs(float64(x[r] - want[r])); d > 1e-3*(1+math.Abs(float64(want[r]))) {
				t.Fatalf("user %d factor %d: cg %.6f, direct %.6f", u, r, x[r], want[r])
			}
		}
	}
}

func diff(a, b []float32) []float32 {
	out := make([]float32, len(a))
	for i := range a {
		out[i] = a[i] - b[i]
	}
	return out
}

func l2(a []float32) float64 { return math.Sqrt(float64(dot(a, a))) }

func TestALSDeterministic(t *testing.T) {
	m := randomInteractions(5, 300, 120, 10)
	cfg := ALSConfig{Factors: 16, Iterations: 5, Regularization: 0.1, Alpha: 5, CGSteps: 3, InitStdDev: 0.05, Seed: 42}
	train := func(c ALSConfig) *Factors {
		f, err := TrainALS(context.Background(), m, c, nil)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	c1 := cfg
	c1.Workers = 1
	c4 := cfg
	c4.Workers = 4
	a, b := train(c1), train(c4)
	if !slices.Equal(a.User, b.User) || !slices.Equal(a.Item, b.Item) {
		t.Fatal("same seed and data gave different factors with 1 and 4 workers")
	}
	c2 := cfg
	c2.Seed = 43
	if c := train(c2); slices.Equal(a.Item, c.Item) {
		t.Fatal("different seeds gave identical factors")
	}
}

// TestALSDeterministicBlocked covers the paths small matrices skip: the
// Gram matrix summed over fixed row blocks in parallel, and rows longer
// than the gather buffer solved block by block. Neither may change the
// factors with the worker count or the buffer size.
func TestALSDeterministicBlocked(t *testing.T) {
	m := zipfInteractions(8, 3000, 1500)
	cfg := ALSConfig{Factors: 16, Iterations: 3, Regularization: 1, Alpha: 4, CGSteps: 3, WarmCGSteps: 2, InitStdDev: 0.05, Seed: 9}
	train := func(workers int) *Factors {
		c := cfg
		c.Workers = workers
		f, err := TrainALS(context.Background(), m, c, nil)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	a := train(1)
	if b := train(3); !slices.Equal(a.User, b.User) || !slices.Equal(a.Item, b.Item) {
		t.Fatal("1 and 3 workers gave different factors")
	}
	mt := m.Transpose()
	longest := 0
	for i := 0; i < mt.NumUsers; i++ {
		longest = max(longest, int(mt.Indptr[i+1]-mt.Indptr[i]))
	}
	saved := gatherBytes
	gatherBytes = 4 * cfg.Factors * 64 // 64 rows
	defer func() { gatherBytes = saved }()
	if longest <= 64 {
		t.Fatalf("longest item row %d, want > 64 to exercise the block path", longest)
	}
	if b := train(2); !slices.Equal(a.User, b.User) || !slices.Equal(a.Item, b.Item) {
		t.Fatal("solving long rows block by block changed the factors")
	}
}

func TestALSConfigValidate(t *testing.T) {
	if err := DefaultALSConfig(1000, 500, 30000).Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
	bad := DefaultALSConfig(10, 10, 10)
	bad.Factors = 0
	bad.CGSteps = 0
	if err := bad.Validate(); err == nil {
		t.Fatal("zero factors and cg steps accepted")
	}
	if _, err := TrainALS(context.Background(), NewInteractionsBuilder(3, 3).Build(nil), DefaultALSConfig(3, 3, 0), nil); err == nil {
		t.Fatal("empty matrix accepted")
	}
}

func TestTopKExcludesAndOrders(t *testing.T) {
	scores := []float32{0.5, 0.9, 0.1, 0.9, 0.7, 0.3}
	got := TopK(scores, 3, []int32{4}, nil)
	want := []Scored{{1, 0.9}, {3, 0.9}, {0, 0.5}}
	if !slices.Equal(got, want) {
		t.Fatalf("TopK = %v, want %v", got, want)
	}
	if scores[4] != 0.7 {
		t.Fatal("TopK did not restore excluded score")
	}
}

func BenchmarkScoreTop10(b *testing.B) {
	m := randomInteractions(9, 2000, 4000, 20)
	cfg := DefaultALSConfig(2000, 4000, m.NNZ())
	cfg.Factors = 64
	cfg.Iterations = 2
	f, err := TrainALS(context.Background(), m, cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	scores := make([]float32, f.NumItems)
	dst := make([]Scored, 0, 10)
	excl := []int32{1, 2, 3}
	b.ReportAllocs()
	for b.Loop() {
		f.ScoreItems(f.UserVector(7), scores)
		dst = TopK(scores, 10, excl, dst[:0])
	}
}

// BenchmarkTrainALS trains a retail-sized model (4,300 users, 3,700 items,
// ~200k interactions, k = 64) for 12 sweeps.
func BenchmarkTrainALS(b *testing.B) {
	m := randomInteractions(13, 4300, 3700, 50)
	cfg := DefaultALSConfig(m.NumUsers, m.NumItems, m.NNZ())
	for b.Loop() {
		if _, err := TrainALS(context.Background(), m, cfg, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func TestTopCosinesMatchesCollector(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	var buckets []uint16
	top := NewTopKCollector(1)
	for trial := 0; trial < 300; trial++ {
		n := 1 + rng.IntN(3000)
		cos := make([]float32, n)
		for j := range cos {
			switch r := rng.IntN(20); {
			case r == 0:
				cos[j] = float32(math.NaN())
			case r == 1:
				cos[j] = 1.0000001 // rounding can leave [-1, 1]
			case r == 2:
				cos[j] = -1.0000001
			case r < 8:
				cos[j] = float32(rng.IntN(3)) / 4 // ties
			default:
				cos[j] = float32(rng.Float64()*2 - 1)
			}
		}
		keep := 1 + rng.IntN(min(n, 300)+10)
		skip := int32(rng.IntN(n + 1))
		c := NewTopKCollector(keep)
		for j, s := range cos {
			if int32(j) != skip {
				c.Offer(int32(j), s)
			}
		}
		want := c.AppendSorted(nil)
		var got []Scored
		got, buckets = topCosines(cos, keep, skip, top, buckets, []Scored{{-1, 0}})
		if got[0] != (Scored{-1, 0}) || !slices.Equal(got[1:], want) {
			t.Fatalf("trial %d (n %d, keep %d, skip %d): topCosines %v, collector %v", trial, n, keep, skip, got[1:], want)
		}
	}
}
