package quality

import (
	"fmt"
	"math/rand/v2"
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

// RunKnownItem runs search-known-item: cfg.PerKind queries of each kind from
// a seeded sample of products, asked of Sibyl (popularity of every order
// as the served Score), Sibyl without Score, and Bleve (by kind and not
// told the kind). Then every query
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
