package quality

import (
	"fmt"
	"slices"

	"github.com/sibylhq/sibyl/engine"
	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/search"
	"github.com/sibylhq/sibyl/shard/statemachine"
	"github.com/sibylhq/sibyl/text"
)

// SibylSearch ranks a Retail catalog as the served search/search and
// search/predictive do (query/search.go): a search.Index over the store's
// products in engine order, name in FieldName, the English analyzer, and
// the store's Popular() list as the Score (len-rank, 0 past its end).
// The store is a real engine.Store loaded with the same records, so the
// popularity is the one a shop would be served; only the HTTP handler
// and the recommendation pipeline after the ranking are not run (they
// neither add nor reorder hits without filters).
type SibylSearch struct {
	ix *search.Index
	// item[doc] is the Retail item index of a doc number.
	item []int32
	// score[doc] is the served score without clicks or a visitor: the
	// product's place in Popular(), 1 for the first down towards 0.
	score []float64
}

// searchStoreID is the store the harness loads into its engine.
const searchStoreID = "eval"

// engineBatch is how many records go into one applied command.
const engineBatch = 500

// retailEngineStore applies d's products and the given orders to a fresh
// engine, as an import through the API would, and returns the store.
func retailEngineStore(d *Retail, orders []Order) (*engine.Store, error) {
	e := engine.New(engine.DefaultConfig())
	seq := 0
	apply := func(kind ingest.Kind, op string, records any, n int) error {
		body, err := engine.EncodeUpsert(kind, records)
		if err != nil {
			return err
		}
		seq++
		res := e.Apply(nullKV{}, &statemachine.Command{ID: fmt.Sprint(seq), Store: searchStoreID, Op: op, Body: body})
		if r, ok := res.(engine.Result); !ok || r.Applied != n {
			return fmt.Errorf("cannot load %s into the engine: %v", kind, res)
		}
		return nil
	}
	for start := 0; start < len(d.ItemIDs); start += engineBatch {
		end := min(start+engineBatch, len(d.ItemIDs))
		ps := make([]ingest.Product, 0, end-start)
		for i := start; i < end; i++ {
			ps = append(ps, ingest.Product{ID: d.ItemIDs[i], Name: d.Names[i], Price: d.Prices[i]})
		}
		if err := apply(ingest.KindProducts, "products.upsert", ps, len(ps)); err != nil {
			return nil, err
		}
	}
	for start := 0; start < len(orders); start += engineBatch {
		end := min(start+engineBatch, len(orders))
		os := make([]ingest.Order, 0, end-start)
		for i := start; i < end; i++ {
			o := orders[i]
			io := ingest.Order{ID: ingest.ID(fmt.Sprintf("o%d", i)), Time: o.Time, Customer: d.UserIDs[o.User]}
			for j, it := range o.Items {
				io.Products = append(io.Products, ingest.OrderLine{ID: d.ItemIDs[it], Quantity: float64(o.Qty[j]), Price: d.Prices[it]})
			}
			os = append(os, io)
		}
		if err := apply(ingest.KindOrders, "orders.upsert", os, len(os)); err != nil {
			return nil, err
		}
	}
	return e.Store(searchStoreID), nil
}

// nullKV drops the engine's writes: the harness never restarts it.
type nullKV struct{}

func (nullKV) Set(key, value []byte) error { return nil }
func (nullKV) Delete(key []byte) error     { return nil }

// NewSibylSearch indexes d's catalog as the served search does, with the
// popularity of the given orders (nil: no sales, text relevance alone).
func NewSibylSearch(d *Retail, orders []Order) (*SibylSearch, error) {
	st, err := retailEngineStore(d, orders)
	if err != nil {
		return nil, err
	}
	an, err := text.NewAnalyzer("english")
	if err != nil {
		return nil, err
	}
	ps := st.Products()
	s := &SibylSearch{item: make([]int32, len(ps)), score: make([]float64, len(ps))}
	docs := make([]search.Doc, len(ps))
	docOf := make(map[ingest.ID]int, len(ps))
	for i, p := range ps {
		it, ok := d.itemIdx[p.ID]
		if !ok {
			return nil, fmt.Errorf("engine product %q is not in the catalog", p.ID)
		}
		s.item[i] = it
		docOf[p.ID] = i
		docs[i].Fields[search.FieldName] = p.Name // Online Retail has no other text
	}
	if len(orders) > 0 {
		pop := st.Popular()
		for i, id := range pop {
			if doc, ok := docOf[id]; ok {
				// As query/search.go's popularityScores: 1 for the
				// best seller down towards 0, in float32.
				s.score[doc] = float64(1 - float32(i)/float32(len(pop)))
			}
		}
	}
	s.ix = search.NewIndex(an, docs)
	return s, nil
}

// Search returns the Retail item indices of the top k hits for q, as
// search/predictive (prefix) or search/search rank them, appended to dst.
// withSales false ranks by text relevance alone (no Score).
func (s *SibylSearch) Search(q string, prefix, withSales bool, k int, dst []int32) []int32 {
	sq := search.Query{Text: q, Prefix: prefix}
	if withSales {
		sq.Score = func(doc uint32) float64 { return s.score[doc] }
	}
	sq.Limit = k
	hits := s.ix.Search(sq)
	if len(hits) == 0 {
		// As served: nothing as typed, then the nearest words (one more
		// typo a word, any word). The served answer then fills its page
		// with related products, which this harness does not rank.
		sq.ExtraTypos, sq.Any = 1, true
		hits = s.ix.Search(sq)
	}
	for _, h := range hits[:min(k, len(hits))] {
		dst = append(dst, s.item[h.Doc])
	}
	return dst
}

// sameName groups items by exact name: a known-item hit is any product
// with the target's name (the catalog has products under one name with
// different stock codes, e.g. colour variants not named apart).
type sameName struct{ group []int32 }

func newSameName(names []string) sameName {
	g := make([]int32, len(names))
	first := map[string]int32{}
	for i, n := range names {
		f, ok := first[n]
		if !ok {
			f = int32(i)
			first[n] = f
		}
		g[i] = f
	}
	return sameName{g}
}

// rankOf returns the 1-based position of the first item in ranked with
// target's name, or 0 when none is there.
func (s sameName) rankOf(ranked []int32, target int32) int {
	i := slices.IndexFunc(ranked, func(it int32) bool { return s.group[it] == s.group[target] })
	return i + 1
}
