package query

import (
	"slices"
	"time"

	"github.com/sibylhq/sibyl/engine"
	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/search"
	"github.com/sibylhq/sibyl/text"
)

// The search lists (issue 13, item 1): search/popular,
// search/suggestions, search/categories and search/pages, with Clerk's
// parameters and answer shapes, and the private /v2/stats/searches.
// Each handler parses, reads one engine or index function, and encodes.

// searchListMax is the largest limit of the search lists, as Clerk's.
const searchListMax = 10

// searchListParams reads limit (1..10, default 10) and the store (nil:
// no data yet).
func (s *Server) searchListParams(r *request) (int, StoreReader, error) {
	limit, err := r.p.intParam("limit", searchListMax, 1, searchListMax)
	if err != nil {
		return 0, nil, err
	}
	st, serr := s.backend.StoreData(r.store)
	if serr != nil {
		return 0, nil, s.backendErr(serr)
	}
	return limit, st, nil
}

// searchText reads the query parameter: required unless optional, at
// most maxQueryBytes.
func searchText(r *request, optional bool) (string, error) {
	q, err := r.p.str("query")
	if err != nil {
		return "", err
	}
	if q == "" && !optional {
		return "", errBadRequest("parameter \"query\" is required: the text the shopper typed")
	}
	if len(q) > maxQueryBytes {
		return "", errBadRequest("query of %d bytes: at most %d", len(q), maxQueryBytes)
	}
	return q, nil
}

// handlePopularSearches answers search/popular: the most made searches
// of the last two days (UTC days: today and yesterday) that found
// products, most made first.
func (s *Server) handlePopularSearches(r *request) error {
	limit, st, err := s.searchListParams(r)
	if err != nil {
		return err
	}
	out := []string{}
	if st != nil {
		out = append(out, st.PopularSearches(time.Now(), limit)...)
	}
	return writeJSON(r.ctx, map[string]any{"status": "ok", "result": out})
}

// handleSuggestions answers search/suggestions: completions of the
// typed text (see suggestions).
func (s *Server) handleSuggestions(r *request) error {
	q, err := searchText(r, false)
	if err != nil {
		return err
	}
	limit, st, err := s.searchListParams(r)
	if err != nil {
		return err
	}
	out := []string{}
	if st != nil {
		out = append(out, suggestions(st, q, limit)...)
		if c := customizedFor(st, q); c != nil {
			out = pinHideStrings(c.Suggestions, out, limit)
		}
	}
	return writeJSON(r.ctx, map[string]any{"status": "ok", "result": out})
}

type categoryHit struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	URL  string `json:"url"`
}

// handleCategorySearch answers search/categories: categories whose name
// matches the query (typo-tolerant, the last word a prefix), the
// fullest first among equal matches; an empty query lists the fullest.
func (s *Server) handleCategorySearch(r *request) error {
	q, err := searchText(r, true)
	if err != nil {
		return err
	}
	limit, st, err := s.searchListParams(r)
	if err != nil {
		return err
	}
	ids, cats := []string{}, []categoryHit{}
	if st != nil {
		n := categoryIndex(st)
		all := func(uint32) bool { return true }
		var ph search.PinHide
		if c := customizedFor(st, q); c != nil {
			ph = c.Categories
		}
		for _, d := range n.pinHide(ph, n.hits(q, limit+len(ph.Hide), all), limit, all) {
			ids = append(ids, string(n.ids[d]))
			cats = append(cats, categoryHit{string(n.ids[d]), n.names[d], n.urls[d]})
		}
	}
	return writeJSON(r.ctx, map[string]any{"status": "ok", "result": ids, "categories": cats})
}

type pageHit struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Name string `json:"name"`
	URL  string `json:"url"`
}

// handlePageSearch answers search/pages: content pages whose title or
// text matches the query (a title match first), optionally of one type.
func (s *Server) handlePageSearch(r *request) error {
	q, err := searchText(r, false)
	if err != nil {
		return err
	}
	typ, err := r.p.str("type")
	if err != nil {
		return err
	}
	if n := r.limits().MaxShortBytes; len(typ) > n {
		return errBadRequest("parameter \"type\" is %d bytes, at most %d allowed: %s", len(typ), n, quote(typ))
	}
	limit, st, err := s.searchListParams(r)
	if err != nil {
		return err
	}
	ids, pages := []string{}, []pageHit{}
	if st != nil {
		n := pageIndex(st)
		typ = text.Fold(typ)
		keep := func(d uint32) bool { return typ == "" || text.Fold(n.types[d]) == typ }
		var ph search.PinHide
		if c := customizedFor(st, q); c != nil {
			ph = c.Pages
		}
		for _, d := range n.pinHide(ph, n.hits(q, limit+len(ph.Hide), keep), limit, keep) {
			ids = append(ids, string(n.ids[d]))
			pages = append(pages, pageHit{string(n.ids[d]), n.types[d], n.names[d], n.urls[d]})
		}
	}
	return writeJSON(r.ctx, map[string]any{"status": "ok", "result": ids, "pages": pages})
}

type searchStatsRow struct {
	Query    string  `json:"query"`
	Searches int64   `json:"searches"`
	Hits     int     `json:"hits"`
	Clicks   int64   `json:"clicks"`
	CTR      float64 `json:"ctr"`
}

func searchStatsRows(rows []engine.SearchRow) []searchStatsRow {
	out := make([]searchStatsRow, len(rows))
	for i, r := range rows {
		out[i] = searchStatsRow{Query: r.Query, Searches: r.Searches, Hits: r.Hits, Clicks: r.Clicks}
		if r.Searches > 0 {
			out[i].CTR = float64(r.Clicks) / float64(r.Searches)
		}
	}
	return out
}

// handleSearchStats answers GET /v2/stats/searches: a page (limit,
// default 100, at most 1,000; offset) of the most made searches with
// their hits (of the latest search), clicks and click-through (clicks
// per search), the same page of the queries whose latest search found
// nothing, and the counts of queries displaced from the store's bounded
// table (see engine.searchTable).
func (s *Server) handleSearchStats(r *request) error {
	limit, offset, err := statsPage(r)
	if err != nil {
		return err
	}
	st, serr := s.backend.StoreData(r.store)
	if serr != nil {
		return s.backendErr(serr)
	}
	var p engine.SearchStatsPage
	if st != nil {
		p = st.SearchStats(offset, limit)
	}
	return writeJSON(r.ctx, map[string]any{"status": "ok", "top": searchStatsRows(p.Top), "no_results": searchStatsRows(p.NoResults),
		"total": p.Total, "total_no_results": p.TotalNoResults, "offset": offset, "limit": limit, "other": p.Other})
}

// Parameters and answers of the search lists (the route table's).
var (
	pSearchListLimit = param("limit", "integer", "number of results (default 10, at most 10)")
	stringsResult    = jsObject("", fStatus, field{"result", jsArray(&Schema{Type: "string"}, "best first")})
	categoriesResult = jsObject("matching categories, best first", fStatus,
		field{"result", jsArray(&Schema{Type: "string"}, "category ids")},
		field{"categories", jsArray(jsObject("", field{"id", jsString("")}, field{"name", jsString("")}, field{"url", jsString("")}), "")})
	pagesResult = jsObject("matching pages, best first", fStatus,
		field{"result", jsArray(&Schema{Type: "string"}, "page ids")},
		field{"pages", jsArray(jsObject("", field{"id", jsString("")}, field{"type", jsString("")}, field{"name", jsString("the title")},
			field{"url", jsString("")}), "")})
	searchStatsRowSchema = jsObject("", field{"query", jsString("folded, white space collapsed")}, field{"searches", jsInt("")},
		field{"hits", jsInt("products the latest search found")}, field{"clicks", jsInt("search clicks attributed to the query")},
		field{"ctr", jsNum("clicks per search")})
	searchStatsResult = jsObject("", fStatus,
		field{"top", jsArray(searchStatsRowSchema, "the most made searches (this page)")},
		field{"no_results", jsArray(searchStatsRowSchema, "the most made searches that found nothing (this page)")},
		field{"total", jsInt("queries counted")}, field{"total_no_results", jsInt("")},
		field{"offset", jsInt("")}, field{"limit", jsInt("")},
		field{"other", jsObject("counts of queries displaced from the bounded table", field{"searches", jsInt("")}, field{"clicks", jsInt("")})})
)

// customizedFor is the store's customized search of query (nil: none).
func customizedFor(st StoreReader, query string) *search.Customization {
	if ms := merchOf(st); ms != nil {
		return ms.Merch().Customized(query)
	}
	return nil
}

// pinHide applies a customized search's pins and hides to a list's docs:
// the pinned entries the index has (and keep allows) first, in their
// order, then the rest but the hidden, at most limit.
func (n *namedIndex) pinHide(ph search.PinHide, docs []uint32, limit int, keep func(uint32) bool) []uint32 {
	if len(ph.Pin) == 0 && len(ph.Hide) == 0 {
		return docs[:min(limit, len(docs))]
	}
	hidden := make(map[ingest.ID]bool, len(ph.Hide))
	for _, id := range ph.Hide {
		hidden[ingest.ID(id)] = true
	}
	out := make([]uint32, 0, limit)
	seen := make(map[uint32]bool)
	for _, id := range ph.Pin {
		for d, x := range n.ids { // lists hold categories or pages: few
			if x == ingest.ID(id) && !hidden[x] && !seen[uint32(d)] && keep(uint32(d)) {
				out = append(out, uint32(d))
				seen[uint32(d)] = true
			}
		}
	}
	for _, d := range docs {
		if !hidden[n.ids[d]] && !seen[d] {
			out = append(out, d)
			seen[d] = true
		}
	}
	return out[:min(limit, len(out))]
}

// pinHideStrings applies pins and hides to suggestions.
func pinHideStrings(ph search.PinHide, list []string, limit int) []string {
	if len(ph.Pin) == 0 && len(ph.Hide) == 0 {
		return list
	}
	hidden := make(map[string]bool, len(ph.Hide))
	for _, h := range ph.Hide {
		hidden[search.Normalize(h)] = true
	}
	out := make([]string, 0, limit)
	seen := make(map[string]bool)
	for _, s := range append(slices.Clone(ph.Pin), list...) {
		k := search.Normalize(s)
		if !hidden[k] && !seen[k] {
			out = append(out, s)
			seen[k] = true
		}
	}
	return out[:min(limit, len(out))]
}
