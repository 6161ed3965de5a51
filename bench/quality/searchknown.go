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
	// Worse are the queries Bleve ranks better than Sibyl, in query order.
	Worse []KnownItemMiss
}

// KnownItemReport is search-known-item's result.
type KnownItemReport struct {
	Kinds                      []KnownItemKind
	SibylLatency, BleveLatency Latency
	Products                   int
}

// sampleItems draws k distinct indices below n with a seeded generator
// (all of them, in order, when k >= n).
func sampleItems(n, k int, seed uint64) []int32 {
	all := make([]int32, n)
	for i := range all {
		all[i] = int32(i)
	}
	if k >= n {
		return all
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	rng.Shuffle(n, func(i, j int) { all[i], all[j] = all[j], all[i] })
	return all[:k]
}

// RunKnownItem runs search-known-item: perKind queries of each kind from
// a seeded sample of products, each asked of Sibyl (popularity of every
// order as the served Score) and of Bleve in turn on one goroutine, so
// both see the same machine.
func RunKnownItem(d *Retail, perKind int, seed uint64) (*KnownItemReport, error) {
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
	targets := sampleItems(len(d.ItemIDs), perKind, seed)
	rep := &KnownItemReport{Products: len(d.ItemIDs)}
	sibLat, blLat := newLatencyRecorder(), newLatencyRecorder()
	names := func(items []int32) []string {
		out := make([]string, len(items))
		for i, it := range items {
			out[i] = d.Names[it]
		}
		return out
	}
	var sr, br, tr []int32
	// Warm both engines (first touches of their structures) unrecorded.
	for _, q := range MakeKnownQueries(KindWords, d.Names, targets[:min(200, len(targets))], seed+1) {
		sr = sib.Search(q.Text, false, true, searchDepth, sr[:0])
		if br, err = bl.Search(q.Kind, q.Text, searchDepth, br[:0]); err != nil {
			return nil, err
		}
	}
	runtime.GC()
	for _, kind := range QueryKinds {
		k := KnownItemKind{Kind: kind}
		for _, q := range MakeKnownQueries(kind, d.Names, targets, seed) {
			start := time.Now()
			sr = sib.Search(q.Text, kind == KindPrefix, true, searchDepth, sr[:0])
			mid := time.Now()
			br, err = bl.Search(kind, q.Text, searchDepth, br[:0])
			end := time.Now()
			if err != nil {
				return nil, fmt.Errorf("bleve, query %q: %w", q.Text, err)
			}
			sibLat.record(mid.Sub(start))
			blLat.record(end.Sub(mid))
			srank, brank := same.rankOf(sr, q.Target), same.rankOf(br, q.Target)
			tr = sib.Search(q.Text, kind == KindPrefix, false, searchDepth, tr[:0])
			k.SibylTextOnly.add(same.rankOf(tr, q.Target))
			k.Sibyl.add(srank)
			k.Bleve.add(brank)
			if brank > 0 && (srank == 0 || brank < srank) {
				k.Worse = append(k.Worse, KnownItemMiss{Query: q, Name: d.Names[q.Target], SibylRank: srank, BleveRank: brank,
					SibylTop: names(sr[:min(3, len(sr))]), BleveTop: names(br[:min(3, len(br))])})
			}
		}
		k.Sibyl.finish()
		k.Bleve.finish()
		k.SibylTextOnly.finish()
		rep.Kinds = append(rep.Kinds, k)
	}
	rep.SibylLatency, rep.BleveLatency = sibLat.summary(), blLat.summary()
	return rep, nil
}

// SalesReport is search-sales's result: the same queries ranked with the
// store's signals (train-period popularity as the Score, as served) and
// by text relevance alone (no Score: ties by doc number).
type SalesReport struct {
	WithSales, TextOnly SearchMetrics
	Purchases           int
}

// salesCase is one test-period purchase: an order line.
type salesCase struct{ item int32 }

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
	var lines []salesCase
	for _, o := range s.Test {
		for _, it := range o.Items {
			lines = append(lines, salesCase{it})
		}
	}
	rep := &SalesReport{Purchases: len(lines)}
	pick := sampleItems(len(lines), n, seed)
	slices.Sort(pick) // sample, then in order: a case's query does not depend on the draw order
	targets := make([]int32, len(pick))
	for i, p := range pick {
		targets[i] = lines[p].item
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
