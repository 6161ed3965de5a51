package query

import (
	"math"
	"strings"

	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/search"
	"github.com/sibylhq/sibyl/text"
)

// Search (issue 13, first version): search/search and search/predictive
// rank the store's products for a query with package search, then go
// through the recommendation pipeline for exclude, filter, facets,
// ordering, paging and product_data, like every Clerk product list.
//
// The index is built from the catalog once per data version (Derived),
// so a write is searchable on the next request, at the price of a
// rebuild; incremental updates are still to come.

// storeSearch is a store's search index at one data version.
type storeSearch struct {
	ix  *search.Index
	ids []ingest.ID // doc number -> product id
}

// searchAnalyzer is the analyzer every store uses until stores choose
// theirs (the `language` parameter): English stems, Unicode folding for
// every language.
var searchAnalyzer = func() *text.Analyzer {
	an, err := text.NewAnalyzer("english")
	if err != nil {
		panic(err) // a constant language: fails at start, in every test
	}
	return an
}()

func searchOf(st StoreReader) *storeSearch {
	return st.Derived("search", func() any {
		ps := st.Products()
		cats, _ := st.List(ingest.KindCategories, 0, math.MaxInt)
		catName := make(map[ingest.ID]string, len(cats))
		for _, c := range cats {
			if cat, ok := c.(*ingest.Category); ok {
				catName[cat.ID] = cat.Name
			}
		}
		docs := make([]search.Doc, len(ps))
		var catText strings.Builder
		ids := make([]ingest.ID, len(ps))
		for i, p := range ps {
			ids[i] = p.ID
			docs[i].Fields[search.FieldName] = p.Name
			docs[i].Fields[search.FieldBrand] = p.Brand
			docs[i].Fields[search.FieldDescription] = p.Description
			catText.Reset()
			for _, c := range p.Categories {
				if name := catName[c]; name != "" {
					catText.WriteString(name)
					catText.WriteByte(' ')
				}
			}
			docs[i].Fields[search.FieldCategories] = catText.String()
			if kw, ok := p.Extra["keywords"].(string); ok {
				docs[i].Fields[search.FieldKeywords] = kw
			}
		}
		return &storeSearch{ix: search.NewIndex(storeAnalyzer(st), docs), ids: ids}
	}).(*storeSearch)
}

// noExactMatchKey carries, from a search's ranking to its answer, whether
// the best match was not exact (a typo, or not every word matched).
const noExactMatchKey = "search.no_exact_match"

// maxQueryBytes bounds a search query: longer text is not a shopper's.
const maxQueryBytes = 512

// predictiveMaxLimit is search/predictive's largest limit, as Clerk's.
const predictiveMaxLimit = 10

func searchLogic(name string, predictive bool) logic {
	return logic{name: name, run: func(r *request, st StoreReader) ([]ingest.ID, error) {
		q, err := r.p.str("query")
		if err != nil {
			return nil, err
		}
		if q == "" {
			return nil, errBadRequest("parameter \"query\" is required: the text the shopper typed")
		}
		if len(q) > maxQueryBytes {
			return nil, errBadRequest("query of %d bytes: at most %d", len(q), maxQueryBytes)
		}
		if predictive {
			if limit, err := r.p.intParam("limit", 10, 1, 1<<30); err != nil {
				return nil, err
			} else if limit > predictiveMaxLimit {
				return nil, errBadRequest("search/predictive answers at most %d products (limit=%d)", predictiveMaxLimit, limit)
			}
		}
		ss := searchOf(st)
		pop := st.Popular()
		rank := make(map[ingest.ID]float64, len(pop))
		for i, id := range pop {
			rank[id] = float64(len(pop) - i)
		}
		words := len(storeAnalyzer(st).Tokens(q, nil))
		hits := ss.ix.Search(search.Query{Text: q, Prefix: predictive, Score: func(d uint32) float64 { return rank[ss.ids[d]] }})
		r.ctx.SetUserValue(noExactMatchKey, len(hits) == 0 || hits[0].Typos > 0 || hits[0].Words < words)
		out := make([]ingest.ID, len(hits))
		for i, h := range hits {
			out[i] = ss.ids[h.Doc]
		}
		// Synonyms, redirects, pins and hides (query/merch_search.go).
		return applyMerch(r, st, q, predictive, out), nil
	}}
}

var (
	logicSearch     = searchLogic("search/search", false)
	logicPredictive = searchLogic("search/predictive", true)
)
