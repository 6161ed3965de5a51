package engine

import (
	"math"
	"sort"
	"strings"

	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/text"
)

// A small inverted index over product and page text, for `keywords` and
// the page logics. It is rebuilt lazily per data version (a few ms for a
// 4,000-product catalog) rather than maintained on every write.
//
// Score of a document for a query: the sum over query terms it holds of
// idf(term) = ln(1 + N/df), so rare words weigh more; ties go to the more
// popular product. This is deliberately simple: product search proper is
// the search issue's work.

type textIndex struct {
	version  uint64
	postings map[string][]int32 // term -> doc indices
	docs     []ingest.ID
}

func buildTextIndex(version uint64, docs []ingest.ID, docText func(i int) string) *textIndex {
	x := &textIndex{version: version, postings: make(map[string][]int32), docs: docs}
	for i := range docs {
		seen := map[string]bool{}
		for _, t := range text.Tokens(docText(i)) {
			if !seen[t] {
				seen[t] = true
				x.postings[t] = append(x.postings[t], int32(i))
			}
		}
	}
	return x
}

// search returns the documents matching any query term, best first;
// prior breaks ties (higher first) and may be nil.
func (x *textIndex) search(query string, prior func(ingest.ID) float64) []ingest.ID {
	score := map[int32]float64{}
	n := float64(len(x.docs))
	for _, t := range text.Tokens(query) {
		p := x.postings[t]
		if len(p) == 0 {
			continue
		}
		idf := math.Log(1 + n/float64(len(p)))
		for _, d := range p {
			score[d] += idf
		}
	}
	type cand struct {
		id    ingest.ID
		score float64
		prior float64
	}
	cs := make([]cand, 0, len(score))
	for d, sc := range score {
		c := cand{id: x.docs[d], score: sc}
		if prior != nil {
			c.prior = prior(c.id)
		}
		cs = append(cs, c)
	}
	sort.Slice(cs, func(i, j int) bool {
		a, b := cs[i], cs[j]
		if a.score != b.score {
			return a.score > b.score
		}
		if a.prior != b.prior {
			return a.prior > b.prior
		}
		return a.id < b.id
	})
	out := make([]ingest.ID, len(cs))
	for i, c := range cs {
		out[i] = c.id
	}
	return out
}

// productText indexes a product's name, description, brand and the names
// of its categories.
func (s *Store) productText(p *ingest.Product) string {
	var b strings.Builder
	b.WriteString(p.Name)
	b.WriteByte(' ')
	b.WriteString(p.Description)
	b.WriteByte(' ')
	b.WriteString(p.Brand)
	for _, c := range p.Categories {
		if cat := s.categories[c]; cat != nil {
			b.WriteByte(' ')
			b.WriteString(cat.Name)
		}
	}
	return b.String()
}

// textIndexes returns the product, category and page indexes of the
// current version.
func (s *Store) textIndexes() (products, categories, pages *textIndex) {
	s.mu.RLock()
	v := s.version
	s.mu.RUnlock()
	c := &s.views
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.text[0] != nil && c.text[0].version == v {
		return c.text[0], c.text[1], c.text[2]
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	pids := keys(s.products)
	sort.Slice(pids, func(i, j int) bool { return pids[i] < pids[j] })
	c.text[0] = buildTextIndex(v, pids, func(i int) string { return s.productText(s.products[pids[i]]) })
	cids := keys(s.categories)
	sort.Slice(cids, func(i, j int) bool { return cids[i] < cids[j] })
	c.text[1] = buildTextIndex(v, cids, func(i int) string { return s.categories[cids[i]].Name })
	gids := keys(s.pages)
	sort.Slice(gids, func(i, j int) bool { return gids[i] < gids[j] })
	c.text[2] = buildTextIndex(v, gids, func(i int) string { p := s.pages[gids[i]]; return p.Title + " " + p.Text })
	return c.text[0], c.text[1], c.text[2]
}

// popularityPrior ranks ties by the popular list's order.
func (s *Store) popularityPrior() func(ingest.ID) float64 {
	pop := s.Popular()
	rank := make(map[ingest.ID]float64, len(pop))
	for i, id := range pop {
		rank[id] = float64(len(pop) - i)
	}
	return func(id ingest.ID) float64 { return rank[id] }
}

// Keywords ranks products for a piece of text, query (Clerk's `keywords`
// logic).
func (s *Store) Keywords(query string) []ingest.ID {
	px, _, _ := s.textIndexes()
	return px.search(query, s.popularityPrior())
}

// PageText returns a page's title and text, and whether it exists.
func (s *Store) PageText(page ingest.ID) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.pages[page]
	if p == nil {
		return "", false
	}
	return p.Title + " " + p.Text, true
}

// CategoriesFor ranks categories whose names share words with query.
func (s *Store) CategoriesFor(query string) []ingest.ID {
	_, cx, _ := s.textIndexes()
	return cx.search(query, nil)
}

// PagesFor ranks pages sharing words with query.
func (s *Store) PagesFor(query string) []ingest.ID {
	_, _, gx := s.textIndexes()
	return gx.search(query, nil)
}
