package quality

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sibylhq/sibyl/compute"
)

// RetailCutoff splits retail-temporal: orders before it train, the rest test.
var RetailCutoff = time.Date(2011, 11, 9, 0, 0, 0, 0, time.UTC).Unix()

// Case is one test user: rank every item except Exclude (sorted) and look
// for Target (sorted).
type Case struct {
	User    int32
	Exclude []int32
	Target  []int32
}

// Scorer writes a score for every item for a user into dst.
type Scorer func(user int32, dst []float32)

// Evaluate ranks the catalog for every case with score and averages the
// metrics over cases. It runs on all cores; score must be safe for
// concurrent use.
func Evaluate(cases []Case, numItems int, score Scorer) RankMetrics {
	workers := runtime.GOMAXPROCS(0)
	parts := make([]RankMetrics, len(cases))
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]float32, numItems)
			var top []compute.Scored
			ranked := make([]int32, 0, 20)
			for {
				c := int(next.Add(1)) - 1
				if c >= len(cases) {
					return
				}
				cs := cases[c]
				score(cs.User, buf)
				top = compute.TopK(buf, 20, cs.Exclude, top[:0])
				ranked = ranked[:0]
				for _, s := range top {
					ranked = append(ranked, s.Index)
				}
				parts[c] = Rank(ranked, len(cs.Target), func(it int32) bool {
					_, ok := slices.BinarySearch(cs.Target, it)
					return ok
				})
			}
		}()
	}
	wg.Wait()
	var m RankMetrics
	for _, p := range parts {
		m.Add(p)
	}
	if len(cases) > 0 {
		m.Scale(1 / float64(len(cases)))
	}
	return m
}

// RetailSplit is the retail-temporal protocol's data.
type RetailSplit struct {
	Data        *Retail
	Train, Test []Order
	// Matrix is users x items from train orders; a cell counts the
	// orders of the user that contain the item.
	Matrix *compute.Interactions
	// Known marks items bought at least once in train.
	Known []bool
	Cases []Case
}

// SplitRetail applies retail-temporal: train on orders before cutoff, test
// on the rest; test users have orders in both; the target is the items
// bought in test and not in train; train items are excluded from ranking.
func SplitRetail(d *Retail, cutoff int64) *RetailSplit {
	s := &RetailSplit{Data: d, Known: make([]bool, len(d.ItemIDs))}
	b := compute.NewInteractionsBuilder(len(d.UserIDs), len(d.ItemIDs))
	for _, o := range d.Orders {
		if o.Time < cutoff {
			s.Train = append(s.Train, o)
			for _, it := range o.Items {
				_ = b.Add(o.User, it, 1)
				s.Known[it] = true
			}
		} else {
			s.Test = append(s.Test, o)
		}
	}
	s.Matrix = b.Build(nil)
	target := map[int32]map[int32]bool{}
	for _, o := range s.Test {
		items, _ := s.Matrix.Row(o.User)
		if len(items) == 0 {
			continue
		}
		t := target[o.User]
		if t == nil {
			t = map[int32]bool{}
			target[o.User] = t
		}
		for _, it := range o.Items {
			if _, bought := slices.BinarySearch(items, it); !bought {
				t[it] = true
			}
		}
	}
	for u, t := range target {
		if len(t) == 0 {
			continue
		}
		items, _ := s.Matrix.Row(u)
		c := Case{User: u, Exclude: items}
		for it := range t {
			c.Target = append(c.Target, it)
		}
		slices.Sort(c.Target)
		s.Cases = append(s.Cases, c)
	}
	slices.SortFunc(s.Cases, func(a, b Case) int { return int(a.User - b.User) })
	return s
}

// TrainUser reports whether customer u bought anything in train.
func (s *RetailSplit) TrainUser(u int32) bool {
	return u >= 0 && int(u) < s.Matrix.NumUsers && s.Matrix.Indptr[u] < s.Matrix.Indptr[u+1]
}

// PopularityScorer scores items by the number of distinct users who
// interacted with them in m: the baseline of every table.
func PopularityScorer(m *compute.Interactions) Scorer {
	pop := make([]float32, m.NumItems)
	for _, it := range m.Items {
		pop[it]++
	}
	return func(_ int32, dst []float32) { copy(dst, pop) }
}

// FactorScorer scores items by the dot product of the user's factors with
// each item's; items the model never saw rank last.
func FactorScorer(f *compute.Factors, known []bool) Scorer {
	return func(u int32, dst []float32) {
		f.ScoreItems(f.UserVector(u), dst)
		if known != nil {
			for i, k := range known {
				if !k {
					dst[i] = -1e30
				}
			}
		}
	}
}

// Row is one line of a results table.
type Row struct {
	Model   string
	Metrics RankMetrics
	// Values holds columns that are not RankMetrics fields (by column
	// name), e.g. one basket variant per column.
	Values map[string]float64
	Note   string
}

// Table is the result of one protocol.
type Table struct {
	Protocol string
	Columns  []string
	Rows     []Row
	Cases    int
	Elapsed  time.Duration
}

// TrainALS trains on m with cfg and reports the elapsed time.
func TrainALS(ctx context.Context, m *compute.Interactions, cfg compute.ALSConfig) (*compute.Factors, time.Duration, error) {
	start := time.Now()
	f, err := compute.TrainALS(ctx, m, cfg, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("cannot train: %w", err)
	}
	return f, time.Since(start), nil
}

// ValidationDays is the length of the validation window carved from the
// end of the training period for hyper-parameter search.
const ValidationDays = 30

// RetailValidation applies the retail-temporal rules inside the training
// period: train on orders before cutoff-ValidationDays, validate on the
// rest of the training period. The test period is never looked at.
func RetailValidation(s *RetailSplit, cutoff int64) (*compute.Interactions, []Holdout) {
	inner := *s.Data
	inner.Orders = s.Train
	v := SplitRetail(&inner, cutoff-ValidationDays*24*3600)
	return v.Matrix, Holdouts(v.Cases)
}

// Holdouts converts cases to compute holdouts (exclusions are the train row).
func Holdouts(cases []Case) []Holdout {
	out := make([]Holdout, len(cases))
	for i, c := range cases {
		out[i] = Holdout{User: c.User, Target: c.Target}
	}
	return out
}

// RetailSnapshot turns orders into a compute snapshot as the store engine
// would: every item with its name and price, Time the last order's time.
func RetailSnapshot(d *Retail, orders []Order) *compute.Snapshot {
	snap := &compute.Snapshot{Version: uint64(len(orders)), NumUsers: len(d.UserIDs), NumItems: len(d.ItemIDs)}
	for _, o := range orders {
		snap.Orders = append(snap.Orders, compute.SnapshotOrder{User: o.User, Time: o.Time, Items: o.Items, Qty: o.Qty})
		snap.Time = max(snap.Time, o.Time)
	}
	snap.Items = make([]compute.ItemAttributes, len(d.ItemIDs))
	for i := range snap.Items {
		snap.Items[i] = compute.ItemAttributes{Text: d.Names[i], Price: d.Prices[i]}
	}
	return snap
}

// BuildRetailModel builds the production model (compute.BuildModel with
// cfg) and live stats from the training orders.
func BuildRetailModel(ctx context.Context, d *Retail, train []Order, cfg compute.ModelConfig, seed uint64) (*compute.Model, *compute.Stats, error) {
	snap := RetailSnapshot(d, train)
	st, err := compute.StatsFromSnapshot(snap, cfg)
	if err != nil {
		return nil, nil, err
	}
	cfg.ALS.Seed = seed
	m, err := compute.BuildModel(ctx, snap, st, cfg, nil)
	if err != nil {
		return nil, nil, err
	}
	return m, st, nil
}

// ModelScorer scores items for a trained customer with the model.
func ModelScorer(m *compute.Model, known []bool) Scorer {
	return FactorScorer(m.Factors, known)
}
