package quality

import (
	"context"
	"fmt"
	"slices"

	"github.com/sibylhq/sibyl/compute"
)

// Holdout is one validation user: the items held out from training that a
// good model ranks high. Target is sorted.
type Holdout struct {
	User   int32
	Target []int32
}

// ALSGrid lists candidate values per hyper-parameter; an empty list keeps
// the base config's value.
type ALSGrid struct {
	Factors        []int
	Regularization []float32
	Alpha          []float32
	Iterations     []int
}

// DefaultALSGrid is the grid SearchALS explores by default, around the
// compute.DefaultALSConfig values.
func DefaultALSGrid() ALSGrid {
	return ALSGrid{
		Factors:        []int{32, 64, 128},
		Regularization: []float32{4, 16, 32, 64},
		Alpha:          []float32{1, 2, 4},
	}
}

// SearchResult is one evaluated configuration.
type SearchResult struct {
	Config compute.ALSConfig
	NDCG10 float64
	Hit10  float64
}

// EvaluateFactors returns mean metrics of f over the holdout users, ranking
// every item the user did not interact with in train.
func EvaluateFactors(f *compute.Factors, train *compute.Interactions, holdout []Holdout) RankMetrics {
	scores := make([]float32, f.NumItems)
	var top []compute.Scored
	ranked := make([]int32, 0, 20)
	var sum RankMetrics
	for _, h := range holdout {
		f.ScoreItems(f.UserVector(h.User), scores)
		excl, _ := train.Row(h.User)
		top = compute.TopK(scores, 20, excl, top[:0])
		ranked = ranked[:0]
		for _, s := range top {
			ranked = append(ranked, s.Index)
		}
		sum.Add(Rank(ranked, len(h.Target), func(it int32) bool {
			_, ok := slices.BinarySearch(h.Target, it)
			return ok
		}))
	}
	if len(holdout) > 0 {
		sum.Scale(1 / float64(len(holdout)))
	}
	return sum
}

// SearchALS trains one model per grid point on train, scores each on the
// holdout users by NDCG@10 and returns the best config and all results in
// grid order. The search is deterministic for a given base seed.
func SearchALS(ctx context.Context, train *compute.Interactions, holdout []Holdout, base compute.ALSConfig, grid ALSGrid) (compute.ALSConfig, []SearchResult, error) {
	orBase := func(n int) int { return max(n, 1) }
	var results []SearchResult
	best := -1
	for fi := 0; fi < orBase(len(grid.Factors)); fi++ {
		for ri := 0; ri < orBase(len(grid.Regularization)); ri++ {
			for ai := 0; ai < orBase(len(grid.Alpha)); ai++ {
				for ii := 0; ii < orBase(len(grid.Iterations)); ii++ {
					cfg := base
					if len(grid.Factors) > 0 {
						cfg.Factors = grid.Factors[fi]
					}
					if len(grid.Regularization) > 0 {
						cfg.Regularization = grid.Regularization[ri]
					}
					if len(grid.Alpha) > 0 {
						cfg.Alpha = grid.Alpha[ai]
					}
					if len(grid.Iterations) > 0 {
						cfg.Iterations = grid.Iterations[ii]
					}
					f, err := compute.TrainALS(ctx, train, cfg, nil)
					if err != nil {
						return base, results, fmt.Errorf("cannot search ALS: %w", err)
					}
					m := EvaluateFactors(f, train, holdout)
					results = append(results, SearchResult{Config: cfg, NDCG10: m.NDCG10, Hit10: m.Hit10})
					if best < 0 || m.NDCG10 > results[best].NDCG10 {
						best = len(results) - 1
					}
				}
			}
		}
	}
	if best < 0 {
		return base, nil, fmt.Errorf("cannot search ALS: %w", compute.ErrEmpty)
	}
	return results[best].Config, results, nil
}
