package quality

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/sibylhq/sibyl/compute"
)

// Protocol names accepted by Run.
const (
	ProtocolRetail = "retail-temporal"
	ProtocolML     = "ml100k-5fold"
	ProtocolBasket = "basket"
)

// Protocols lists every protocol Run knows, in the default order.
var Protocols = []string{ProtocolRetail, ProtocolML, ProtocolBasket, ProtocolSearchKnownItem, ProtocolSearchSales}

// Options configures Run.
type Options struct {
	DataDir   string
	Protocols []string
	// Search adds rows for ALS tuned by SearchALS on a validation
	// split carved from the training data (never the test data).
	Search bool
	Grid   ALSGrid
	Seed   uint64
	// SearchQueries is how many queries each search protocol makes per
	// query kind (DefaultSearchQueries when 0).
	SearchQueries int
	// Progress, when not nil, receives one line per finished step.
	Progress func(msg string)
}

// DefaultOptions runs every protocol without search.
func DefaultOptions() Options {
	return Options{Protocols: slices.Clone(Protocols), Grid: DefaultALSGrid(), Seed: 1, SearchQueries: DefaultSearchQueries}
}

// Validate checks the options.
func (o Options) Validate() error {
	for _, p := range o.Protocols {
		if !slices.Contains(Protocols, p) {
			return fmt.Errorf("unknown protocol %q (want one of %s)", p, strings.Join(Protocols, ", "))
		}
	}
	if len(o.Protocols) == 0 {
		return fmt.Errorf("no protocol selected")
	}
	if o.SearchQueries < 0 {
		return fmt.Errorf("search queries %d: want at least 1 (0 for the default %d)", o.SearchQueries, DefaultSearchQueries)
	}
	return nil
}

func (o Options) progress(format string, args ...any) {
	if o.Progress != nil {
		o.Progress(fmt.Sprintf(format, args...))
	}
}

// Run evaluates the selected protocols and returns one table per protocol.
func Run(ctx context.Context, o Options) ([]Table, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.DataDir == "" && slices.ContainsFunc(o.Protocols, func(p string) bool { return !isSearchProtocol(p) }) {
		d, err := FindDataDir()
		if err != nil {
			return nil, err
		}
		o.DataDir = d
	}
	var tables []Table
	var retail, bundled *Retail
	for _, p := range o.Protocols {
		start := time.Now()
		var t Table
		var err error
		switch p {
		case ProtocolSearchKnownItem, ProtocolSearchSales:
			if bundled == nil {
				if bundled, err = LoadBundledRetail(o.DataDir); err != nil {
					return nil, err
				}
			}
			if p == ProtocolSearchKnownItem {
				t, err = RunSearchKnownItem(bundled, o)
			} else {
				t, err = RunSearchSales(bundled, o)
			}
		case ProtocolRetail, ProtocolBasket:
			if retail == nil {
				if retail, err = LoadRetail(o.DataDir); err != nil {
					return nil, err
				}
			}
			if p == ProtocolRetail {
				t, err = RunRetail(ctx, retail, o)
			} else {
				t, err = RunBasket(ctx, retail, o)
			}
		case ProtocolML:
			var ml *ML100K
			if ml, err = LoadML100K(o.DataDir); err != nil {
				return nil, err
			}
			t, err = RunML100K(ctx, ml, o)
		}
		if err != nil {
			return nil, fmt.Errorf("cannot run %s: %w", p, err)
		}
		t.Elapsed = time.Since(start)
		tables = append(tables, t)
	}
	return tables, nil
}

func alsConfig(m *compute.Interactions, seed uint64) compute.ALSConfig {
	c := compute.DefaultALSConfig(m.NumUsers, m.NumItems, m.NNZ())
	c.Seed = seed
	return c
}

func describe(c compute.ALSConfig) string {
	return fmt.Sprintf("k=%d λ=%g α=%g iters=%d", c.Factors, c.Regularization, c.Alpha, c.Iterations)
}

// RunRetail runs retail-temporal.
func RunRetail(ctx context.Context, d *Retail, o Options) (Table, error) {
	s := SplitRetail(d, RetailCutoff)
	t := Table{Protocol: ProtocolRetail, Columns: []string{"HR@10", "Recall@20", "NDCG@10"}, Cases: len(s.Cases)}
	t.Rows = append(t.Rows, Row{Model: "popularity", Metrics: Evaluate(s.Cases, len(d.ItemIDs), PopularityScorer(s.Matrix))})
	cfg := alsConfig(s.Matrix, o.Seed)
	f, el, err := TrainALS(ctx, s.Matrix, cfg)
	if err != nil {
		return t, err
	}
	t.Rows = append(t.Rows, Row{Model: "ALS (defaults, unweighted)", Metrics: Evaluate(s.Cases, len(d.ItemIDs), FactorScorer(f, s.Known)), Note: fmt.Sprintf("%s, train %.1fs", describe(cfg), el.Seconds())})
	o.progress("retail-temporal: ALS defaults done")
	start := time.Now()
	mc := compute.DefaultModelConfig()
	model, _, err := BuildRetailModel(ctx, d, s.Train, mc, o.Seed)
	if err != nil {
		return t, err
	}
	t.Rows = append(t.Rows, Row{Model: "Model (ALS + recency, production defaults)", Metrics: Evaluate(s.Cases, len(d.ItemIDs), ModelScorer(model, s.Known)),
		Note: fmt.Sprintf("half-life %dd, α=%g, build incl. substitutes %.1fs", mc.RecencyHalfLife/86400, mc.RecencyAlpha, time.Since(start).Seconds())})
	o.progress("retail-temporal: model defaults done")
	if o.Search {
		vm, vh := RetailValidation(s, RetailCutoff)
		best, res, err := SearchALS(ctx, vm, vh, cfg, o.Grid)
		if err != nil {
			return t, err
		}
		o.progress("retail-temporal: searched %d configs, best %s", len(res), describe(best))
		f, el, err := TrainALS(ctx, s.Matrix, best)
		if err != nil {
			return t, err
		}
		t.Rows = append(t.Rows, Row{Model: "ALS (searched)", Metrics: Evaluate(s.Cases, len(d.ItemIDs), FactorScorer(f, s.Known)), Note: fmt.Sprintf("%s, train %.1fs", describe(best), el.Seconds())})
	}
	return t, nil
}

// mlValidation holds out a seeded 20% of each user's base items.
func mlValidation(d *ML100K, f int, seed uint64) (*compute.Interactions, []Holdout) {
	rng := rand.New(rand.NewPCG(seed, uint64(f)))
	b := compute.NewInteractionsBuilder(d.NumUsers, d.NumItems)
	held := map[int32][]int32{}
	for _, r := range d.Base[f] {
		if rng.Float64() < 0.2 {
			held[r.User] = append(held[r.User], r.Item)
		} else {
			_ = b.Add(r.User, r.Item, 1)
		}
	}
	var hs []Holdout
	for u, t := range held {
		slices.Sort(t)
		hs = append(hs, Holdout{User: u, Target: slices.Compact(t)})
	}
	slices.SortFunc(hs, func(a, b Holdout) int { return int(a.User - b.User) })
	return b.Build(nil), hs
}

// RunML100K runs ml100k-5fold: metrics are averaged over users within a
// fold, then over the five folds.
func RunML100K(ctx context.Context, d *ML100K, o Options) (Table, error) {
	t := Table{Protocol: ProtocolML, Columns: []string{"P@10", "R@10", "NDCG@10"}}
	models := []string{"popularity", "ALS (defaults)"}
	if o.Search {
		models = append(models, "ALS (searched)")
	}
	sums := make([]RankMetrics, len(models))
	notes := make([]string, len(models))
	for f := 0; f < 5; f++ {
		fold := d.Fold(f)
		t.Cases += len(fold.Cases)
		sums[0].Add(Evaluate(fold.Cases, d.NumItems, PopularityScorer(fold.Matrix)))
		cfg := alsConfig(fold.Matrix, o.Seed)
		fac, _, err := TrainALS(ctx, fold.Matrix, cfg)
		if err != nil {
			return t, err
		}
		sums[1].Add(Evaluate(fold.Cases, d.NumItems, FactorScorer(fac, nil)))
		notes[1] = describe(cfg)
		if o.Search {
			vm, vh := mlValidation(d, f, o.Seed)
			best, _, err := SearchALS(ctx, vm, vh, cfg, o.Grid)
			if err != nil {
				return t, err
			}
			fac, _, err := TrainALS(ctx, fold.Matrix, best)
			if err != nil {
				return t, err
			}
			sums[2].Add(Evaluate(fold.Cases, d.NumItems, FactorScorer(fac, nil)))
			notes[2] += fmt.Sprintf("u%d: %s; ", f+1, describe(best))
		}
		o.progress("ml100k: fold %d done", f+1)
	}
	for i, name := range models {
		sums[i].Scale(0.2)
		t.Rows = append(t.Rows, Row{Model: name, Metrics: sums[i], Note: strings.TrimSuffix(notes[i], "; ")})
	}
	return t, nil
}

// basketRecommender is one model under the basket check.
type basketRecommender struct {
	name, note string
	rec        func(q int32, dst []compute.Scored) []compute.Scored
}

// basketModels trains the basket check's models on train and returns them
// in table order: popularity, raw co-purchase, damped co-purchase, factor
// cosine, Model.Complementary with the previous and the current defaults.
func basketModels(ctx context.Context, d *Retail, s *RetailSplit, o Options) ([]basketRecommender, error) {
	n := len(d.ItemIDs)
	pop := make([]float32, n)
	PopularityScorer(s.Matrix)(0, pop)
	pop11 := compute.TopK(pop, 11, nil, nil)
	mc := compute.DefaultModelConfig()
	cp, err := TrainCoPurchase(s.Train, n, mc.CoPurchase)
	if err != nil {
		return nil, err
	}
	dampCfg := mc.CoPurchase
	dampCfg.Damping = 0.5
	cpd, err := TrainCoPurchase(s.Train, n, dampCfg)
	if err != nil {
		return nil, err
	}
	f, _, err := TrainALS(ctx, s.Matrix, alsConfig(s.Matrix, o.Seed))
	if err != nil {
		return nil, err
	}
	start := time.Now()
	model, st, err := BuildRetailModel(ctx, d, s.Train, mc, o.Seed)
	if err != nil {
		return nil, err
	}
	build := time.Since(start)
	prev := mc
	prev.ComplementFactorWeight, prev.ComplementRecentWeight, prev.ComplementCustomerWeight, prev.ComplementCoverage = 0.2, 0, 0, 0
	prevModel, prevSt, err := BuildRetailModel(ctx, d, s.Train, prev, o.Seed)
	if err != nil {
		return nil, err
	}
	ranked := mc
	ranked.ComplementCoverage, ranked.ComplementCustomerWeight = 0, 1
	rankedModel, rankedSt, err := BuildRetailModel(ctx, d, s.Train, ranked, o.Seed)
	if err != nil {
		return nil, err
	}
	scratch := make([]float32, n)
	return []basketRecommender{
		{name: "popularity", rec: func(q int32, dst []compute.Scored) []compute.Scored {
			return popularTop(pop11, q, dst)
		}},
		{name: "most_sold_with (raw co-purchase counts)", rec: func(q int32, dst []compute.Scored) []compute.Scored {
			return cp.MostSoldWith(q, 10, nil, dst)
		}},
		{name: "co-purchase c_ij/sqrt(n_j)", rec: func(q int32, dst []compute.Scored) []compute.Scored {
			return cpd.Complementary(q, 10, nil, dst)
		}},
		{name: "factor cosine only", rec: func(q int32, dst []compute.Scored) []compute.Scored {
			f.ItemCosine(q, scratch)
			for i, k := range s.Known {
				if !k {
					scratch[i] = -1e30
				}
			}
			return compute.TopK(scratch, 10, []int32{q}, dst)
		}},
		{name: "Model.Complementary (first defaults)", note: "counts + 0.2 x factor cosine",
			rec: func(q int32, dst []compute.Scored) []compute.Scored {
				return prevModel.Complementary(prevSt, q, 10, nil, scratch, dst)
			}},
		{name: "Model.Complementary, ranked blend (defaults before coverage)", note: "counts + recent counts (60d half-life) + customer co-occurrence + 0.1 x factor cosine",
			rec: func(q int32, dst []compute.Scored) []compute.Scored {
				return rankedModel.Complementary(rankedSt, q, 10, nil, scratch, dst)
			}},
		{name: "Model.Complementary (production defaults)",
			note: fmt.Sprintf("coverage %g of past baskets (recency half-life %dd) + %g x recent popularity (half-life %dd) + %g x customer co-occurrence + %g x factor cosine; build %.1fs",
				mc.ComplementCoverage, mc.ComplementRecentHalfLife/86400, mc.ComplementPopularityWeight, mc.ComplementPopularityHalfLife/86400,
				mc.ComplementCustomerWeight, mc.ComplementFactorWeight, build.Seconds()),
			rec: func(q int32, dst []compute.Scored) []compute.Scored {
				return model.Complementary(st, q, 10, nil, scratch, dst)
			}},
	}, nil
}

// RunBasket runs the basket check under every BasketVariants reading (one
// column each; the first is BasketProtocol).
func RunBasket(ctx context.Context, d *Retail, o Options) (Table, error) {
	s := SplitRetail(d, RetailCutoff)
	t := Table{Protocol: ProtocolBasket}
	var cases [][]BasketCase
	for _, v := range BasketVariants {
		c := BasketVariantCases(s.Test, s.Known, s.TrainUser, v)
		cases = append(cases, c)
		t.Columns = append(t.Columns, "HR@10 "+v.Name)
	}
	t.Cases = len(cases[0])
	models, err := basketModels(ctx, d, s, o)
	if err != nil {
		return t, err
	}
	for _, m := range models {
		r := Row{Model: m.name, Note: m.note, Values: map[string]float64{}}
		for i, c := range cases {
			hr := BasketHR(c, m.rec)
			r.Values[t.Columns[i]] = hr
			if i == 0 {
				r.Metrics.Hit10 = hr
			}
		}
		t.Rows = append(t.Rows, r)
	}
	return t, nil
}

// WriteMarkdown prints the tables as Markdown, one per protocol.
func WriteMarkdown(w io.Writer, tables []Table) error {
	var b strings.Builder
	for _, t := range tables {
		fmt.Fprintf(&b, "### %s (%d cases, %.1fs)\n\n| model | %s | notes |\n|---|%s---|\n", t.Protocol, t.Cases, t.Elapsed.Seconds(), strings.Join(t.Columns, " | "), strings.Repeat("---|", len(t.Columns)))
		for _, r := range t.Rows {
			fmt.Fprintf(&b, "| %s |", r.Model)
			for _, c := range t.Columns {
				v, ok := r.Values[c]
				if !ok && r.Values != nil && !isMetricColumn(c) {
					b.WriteString(" – |") // a column this row does not measure
					continue
				}
				if !ok {
					v = metric(r.Metrics, c)
				}
				fmt.Fprintf(&b, " %.4f |", v)
			}
			fmt.Fprintf(&b, " %s |\n", r.Note)
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// isMetricColumn reports whether col names a RankMetrics field.
func isMetricColumn(col string) bool {
	return slices.Contains([]string{"HR@10", "Recall@20", "NDCG@10", "P@10", "R@10"}, col)
}

func metric(m RankMetrics, col string) float64 {
	switch col {
	case "HR@10":
		return m.Hit10
	case "Recall@20":
		return m.Recall20
	case "NDCG@10":
		return m.NDCG10
	case "P@10":
		return m.Precision10
	case "R@10":
		return m.Recall10
	}
	return 0
}
