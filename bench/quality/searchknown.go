package quality

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Search protocols (docs/quality.md, "Search").
const (
	// ProtocolSearchKnownItem: known-item queries from product names,
	// Sibyl against Bleve, MRR@10 and Recall@10 per query kind, latency
	// per engine.
	ProtocolSearchKnownItem = "search-known-item"
	// ProtocolSearchSales: known-item queries from test-period purchases
	// on retail-temporal, ranked with and without the store's sales.
	ProtocolSearchSales = "search-sales"
)

// DefaultSearchQueries is how many queries each kind (and search-sales)
// makes by default: a seeded sample of products (or purchases).
const DefaultSearchQueries = 2000

// searchDepth is the cut-off of every search metric.
const searchDepth = 10

// SearchMetrics are known-item metrics at 10 over a set of queries: MRR@10
// averages 1/rank of the first product named as the target (0 past 10);
// Recall@10 is the share of queries that find it in the top 10 (one
// target per query, so it equals the hit rate).
type SearchMetrics struct {
	Queries  int
	MRR10    float64
	Recall10 float64
}

func (m *SearchMetrics) add(rank int) {
	m.Queries++
	if rank > 0 && rank <= searchDepth {
		m.MRR10 += 1 / float64(rank)
		m.Recall10++
	}
}

func (m *SearchMetrics) finish() {
	if m.Queries > 0 {
		m.MRR10 /= float64(m.Queries)
		m.Recall10 /= float64(m.Queries)
	}
}

// Latency is one engine's per-query latency, recorded with HdrHistogram
// in nanoseconds (3 significant digits).
type Latency struct {
	Count    int64
	P50, P99 time.Duration
	Max      time.Duration
}

type latencyRecorder struct{ h *hdrhistogram.Histogram }

func newLatencyRecorder() latencyRecorder {
	return latencyRecorder{hdrhistogram.New(1, int64(10*time.Second), 3)}
}

func (r latencyRecorder) record(d time.Duration) { _ = r.h.RecordValue(max(1, int64(d))) }

func (r latencyRecorder) summary() Latency {
	return Latency{Count: r.h.TotalCount(), P50: time.Duration(r.h.ValueAtQuantile(50)),
		P99: time.Duration(r.h.ValueAtQuantile(99)), Max: time.Duration(r.h.Max())}
}

// KnownItemMiss is a query one engine ranks better than the other: the
// examples a ranking fix starts from. Ranks are 1-based, 0 past 10.
type KnownItemMiss struct {
	Query              KnownQuery
	Name               string
	SibylRank          int
	BleveRank          int
	SibylTop, BleveTop []string
}

// KnownItemKind is one query kind's result.
type KnownItemKind struct {
	Kind         QueryKind
	Sibyl, Bleve SearchMetrics
	// SibylTextOnly is Sibyl without the popularity Score (not timed): how
	// much the tie-breaker helps or hurts finding one given product.
	SibylTextOnly SearchMetrics
	// BleveFuzzy is Bleve not told the kind (Bleve.SearchFuzzy; not
	// timed).
	BleveFuzzy SearchMetrics
	// Worse are the queries Bleve ranks better than Sibyl, in query order.
	Worse []KnownItemMiss
}

// KnownItemReport is search-known-item's result.
type KnownItemReport struct {
	Kinds                      []KnownItemKind
	SibylLatency, BleveLatency Latency
	SibylByKind, BleveByKind   map[QueryKind]Latency
	Products                   int
}

// sampleItems draws k distinct indices below n with a seeded generator
// (all of them, in order, when k >= n).
func sampleItems(n, k int, seed uint64) []int32 {
	test, _ := splitItems(n, k, seed)
	return test
}

// splitItems shuffles the indices below n with a seeded generator and
// returns the first k (the test sample) and the rest (the validation
// products), or all of them in order and nothing when k >= n.
func splitItems(n, k int, seed uint64) (test, rest []int32) {
	all := make([]int32, n)
	for i := range all {
		all[i] = int32(i)
	}
	if k >= n {
		return all, nil
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	rng.Shuffle(n, func(i, j int) { all[i], all[j] = all[j], all[i] })
	return all[:k], all[k:]
}

// KnownItemConfig sets up RunKnownItem.
type KnownItemConfig struct {
	// PerKind is how many products (so queries per kind) are sampled.
	PerKind int
	// Seed draws the products and makes the queries.
	Seed uint64
	// LatencyPasses times every query per engine that many times (0:
	// not timed).
	LatencyPasses int
	// Validation asks about the products the test sample left out (at
	// most PerKind), with queries of another seed: the split to tune
	// ranking on. The reported numbers never use it.
	Validation bool
}

// LatencyPasses is how many times sibyl eval times every query per
// engine; the median pass is reported (the machine is shared: one pass
// can catch another process's burst).
const LatencyPasses = 3

// RunKnownItem runs search-known-item: perKind queries of each kind from
// a seeded sample of products, asked of Sibyl (popularity of every order
// as the served Score), Sibyl without Score, and Bleve. Then every query
// is timed on one goroutine, engine by engine, in cfg.LatencyPasses passes
// each (so each engine pays for its own garbage collection).
func RunKnownItem(d *Retail, cfg KnownItemConfig) (*KnownItemReport, error) {
	sib, err := NewSibylSearch(d, d.Orders)
	if err != nil {
		return nil, err
	}
	bl, err := NewBleve(d.Names)
	if err != nil {
		return nil, err
	}
	defer bl.Close()
	same := newSameName(d.Names)
	targets, rest := splitItems(len(d.ItemIDs), cfg.PerKind, cfg.Seed)
	seed := cfg.Seed
	if cfg.Validation {
		targets, seed = rest[:min(cfg.PerKind, len(rest))], cfg.Seed^0x7a11da7e
	}
	rep := &KnownItemReport{Products: len(d.ItemIDs)}
	names := func(items []int32) []string {
		out := make([]string, len(items))
		for i, it := range items {
			out[i] = d.Names[it]
		}
		return out
	}
	var all []KnownQuery
	var sr, br, tr, fr []int32
	for _, kind := range QueryKinds {
		k := KnownItemKind{Kind: kind}
		qs := MakeKnownQueries(kind, d.Names, targets, seed)
		all = append(all, qs...)
		for _, q := range qs {
			sr = sib.Search(q.Text, kind == KindPrefix, true, searchDepth, sr[:0])
			tr = sib.Search(q.Text, kind == KindPrefix, false, searchDepth, tr[:0])
			if fr, err = bl.SearchFuzzy(kind, q.Text, searchDepth, fr[:0]); err != nil {
				return nil, fmt.Errorf("bleve, query %q: %w", q.Text, err)
			}
			k.BleveFuzzy.add(same.rankOf(fr, q.Target))
			if br, err = bl.Search(kind, q.Text, searchDepth, br[:0]); err != nil {
				return nil, fmt.Errorf("bleve, query %q: %w", q.Text, err)
			}
			srank, brank := same.rankOf(sr, q.Target), same.rankOf(br, q.Target)
			k.Sibyl.add(srank)
			k.SibylTextOnly.add(same.rankOf(tr, q.Target))
			k.Bleve.add(brank)
			if brank > 0 && (srank == 0 || brank < srank) {
				k.Worse = append(k.Worse, KnownItemMiss{Query: q, Name: d.Names[q.Target], SibylRank: srank, BleveRank: brank,
					SibylTop: names(sr[:min(3, len(sr))]), BleveTop: names(br[:min(3, len(br))])})
			}
		}
		k.Sibyl.finish()
		k.Bleve.finish()
		k.SibylTextOnly.finish()
		k.BleveFuzzy.finish()
		rep.Kinds = append(rep.Kinds, k)
	}
	sibyl := func(q KnownQuery) error {
		sr = sib.Search(q.Text, q.Kind == KindPrefix, true, searchDepth, sr[:0])
		return nil
	}
	bleveSearch := func(q KnownQuery) (err error) {
		br, err = bl.Search(q.Kind, q.Text, searchDepth, br[:0])
		return err
	}
	if cfg.LatencyPasses == 0 {
		return rep, nil
	}
	if rep.SibylLatency, rep.SibylByKind, err = timeQueries(all, cfg.LatencyPasses, sibyl); err != nil {
		return nil, err
	}
	if rep.BleveLatency, rep.BleveByKind, err = timeQueries(all, cfg.LatencyPasses, bleveSearch); err != nil {
		return nil, err
	}
	return rep, nil
}

// timeQueries times search on every query in passes passes after
// an unrecorded warm-up pass, and returns the median pass's latency,
// overall and per kind (each the median of its passes).
func timeQueries(qs []KnownQuery, passes int, search func(KnownQuery) error) (Latency, map[QueryKind]Latency, error) {
	for _, q := range qs {
		if err := search(q); err != nil {
			return Latency{}, nil, err
		}
	}
	var overall []Latency
	byKind := map[QueryKind][]Latency{}
	for range passes {
		runtime.GC()
		all := newLatencyRecorder()
		kinds := map[QueryKind]latencyRecorder{}
		for _, q := range qs {
			start := time.Now()
			if err := search(q); err != nil {
				return Latency{}, nil, err
			}
			el := time.Since(start)
			all.record(el)
			r, ok := kinds[q.Kind]
			if !ok {
				r = newLatencyRecorder()
				kinds[q.Kind] = r
			}
			r.record(el)
		}
		overall = append(overall, all.summary())
		for k, r := range kinds {
			byKind[k] = append(byKind[k], r.summary())
		}
	}
	med := map[QueryKind]Latency{}
	for k, ls := range byKind {
		med[k] = medianLatency(ls)
	}
	return medianLatency(overall), med, nil
}

// medianLatency takes the median of each percentile over passes.
func medianLatency(ls []Latency) Latency {
	pick := func(f func(Latency) time.Duration) time.Duration {
		v := make([]time.Duration, len(ls))
		for i, l := range ls {
			v[i] = f(l)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return Latency{Count: ls[0].Count, P50: pick(func(l Latency) time.Duration { return l.P50 }),
		P99: pick(func(l Latency) time.Duration { return l.P99 }), Max: pick(func(l Latency) time.Duration { return l.Max })}
}

// SalesReport is search-sales's result: the same queries ranked with the
// store's signals (train-period popularity as the Score, as served) and
// by text relevance alone (no Score: ties by doc number).
type SalesReport struct {
	WithSales, TextOnly SearchMetrics
	Purchases           int
}

// RunSales runs search-sales on retail-temporal: a seeded sample of n
// test-period order lines (purchases), one words query per purchase from
// the bought product's name, ranked by a store that knows the train
// orders only.
func RunSales(d *Retail, n int, seed uint64) (*SalesReport, error) {
	s := SplitRetail(d, RetailCutoff)
	sib, err := NewSibylSearch(d, s.Train)
	if err != nil {
		return nil, err
	}
	var lines []int32 // the product of every test-period order line
	for _, o := range s.Test {
		lines = append(lines, o.Items...)
	}
	rep := &SalesReport{Purchases: len(lines)}
	pick := sampleItems(len(lines), n, seed)
	slices.Sort(pick) // sample, then in order: a case's query does not depend on the draw order
	targets := make([]int32, len(pick))
	for i, p := range pick {
		targets[i] = lines[p]
	}
	same := newSameName(d.Names)
	var r []int32
	for _, q := range MakeKnownQueries(KindWords, d.Names, targets, seed) {
		r = sib.Search(q.Text, false, true, searchDepth, r[:0])
		rep.WithSales.add(same.rankOf(r, q.Target))
		r = sib.Search(q.Text, false, false, searchDepth, r[:0])
		rep.TextOnly.add(same.rankOf(r, q.Target))
	}
	rep.WithSales.finish()
	rep.TextOnly.finish()
	return rep, nil
}
