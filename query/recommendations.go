package query

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"

	"github.com/sibylhq/sibyl/compute"
	"github.com/sibylhq/sibyl/engine"
	"github.com/sibylhq/sibyl/ingest"
	"github.com/valyala/bytebufferpool"
)

// A logic produces a ranked candidate list for a request; the common
// parameters (exclude, offset, limit, attributes) are applied after it.
type logic struct {
	name string
	run  func(r *request, st StoreReader) ([]ingest.ID, error)
	// fill tops up a short answer from popular: a store with any sales
	// never answers an empty list (the architecture's fallback chain).
	fill bool
	// scope, when set, restricts answers to products it accepts (a
	// category's products, say).
	scope func(r *request, st StoreReader) (func(*ingest.Product) bool, error)
}

var (
	logicPopular               = logic{"popular", func(_ *request, st StoreReader) ([]ingest.ID, error) { return st.Popular(), nil }, false, nil}
	logicTrending              = logic{"trending", func(_ *request, st StoreReader) ([]ingest.ID, error) { return st.Trending(), nil }, true, nil}
	logicNew                   = logic{"new", func(_ *request, st StoreReader) ([]ingest.ID, error) { return st.New(), nil }, false, nil}
	logicRecentlyBought        = logic{"recently_bought", func(_ *request, st StoreReader) ([]ingest.ID, error) { return st.RecentlyBought(), nil }, false, nil}
	logicMostSoldWith          = logic{"most_sold_with", seeded(StoreReader.MostSoldWith), true, nil}
	logicComplementary         = logic{"complementary", seeded(StoreReader.Complementary), true, nil}
	logicSubstituting          = logic{"substituting", seeded(StoreReader.Substituting), true, nil}
	logicCustomerHistory       = logic{"customer/history", customerLogic(StoreReader.CustomerHistory), false, nil}
	logicCustomerComplementary = logic{"customer/complementary", customerLogic(StoreReader.CustomerComplementary), true, nil}
	logicCustomerSubstituting  = logic{"customer/substituting", customerLogic(StoreReader.CustomerSubstituting), true, nil}
)

var (
	logicVisitorHistory = logic{"visitor/history", visitorLogic(func(st StoreReader, items []ingest.ID, _ []compute.EventKind) []ingest.ID {
		return items
	}), false, nil}
	logicVisitorComplementary = logic{"visitor/complementary", visitorLogic(func(st StoreReader, items []ingest.ID, kinds []compute.EventKind) []ingest.ID {
		if ids := st.VisitorComplementary(items, kinds); ids != nil {
			return ids
		}
		// No model yet: what is bought with what they looked at last.
		return st.Complementary(items[:min(len(items), 5)])
	}), true, nil}
	logicVisitorSubstituting = logic{"visitor/substituting", visitorLogic(func(st StoreReader, items []ingest.ID, _ []compute.EventKind) []ingest.ID {
		return st.Substituting(items[:min(len(items), 5)])
	}), true, nil}
)

// visitorLogic wraps a logic of the visitor's session (`visitor` id): an
// unknown or empty session yields nothing, and the fill takes over.
func visitorLogic(f func(StoreReader, []ingest.ID, []compute.EventKind) []ingest.ID) func(*request, StoreReader) ([]ingest.ID, error) {
	return func(r *request, st StoreReader) ([]ingest.ID, error) {
		v, _, err := visitorParam(r)
		if err != nil {
			return nil, err
		}
		if v == "" {
			return nil, errBadRequest("parameter \"visitor\" is required")
		}
		items, kinds, _ := st.VisitorItems(v)
		if len(items) == 0 {
			return nil, nil
		}
		return f(st, items, kinds), nil
	}
}

var (
	logicCategoryPopular       = logic{"category/popular", listOf(StoreReader.Popular), true, categoryScope(false)}
	logicCategoryTrending      = logic{"category/trending", listOf(StoreReader.Trending), true, categoryScope(false)}
	logicCategoryNew           = logic{"category/new", listOf(StoreReader.New), false, categoryScope(false)}
	logicCategoryPopularSubcat = logic{"category/popular_subcategories", listOf(StoreReader.Popular), true, categoryScope(true)}
)

func listOf(f func(StoreReader) []ingest.ID) func(*request, StoreReader) ([]ingest.ID, error) {
	return func(_ *request, st StoreReader) ([]ingest.ID, error) { return f(st), nil }
}

// categoryScope keeps products of the `category` parameter (and, with
// subcategories, of every category below it).
func categoryScope(subcategories bool) func(*request, StoreReader) (func(*ingest.Product) bool, error) {
	return func(r *request, st StoreReader) (func(*ingest.Product) bool, error) {
		c, err := r.p.str("category")
		if err != nil {
			return nil, err
		}
		if c == "" {
			return nil, errBadRequest("parameter \"category\" is required")
		}
		set, _ := st.CategoryScope(ingest.ID(c), subcategories)
		return func(p *ingest.Product) bool {
			for _, pc := range p.Categories {
				if set[pc] {
					return true
				}
			}
			return false
		}, nil
	}
}

var (
	logicCurrentlyWatched = logic{"currently_watched", listOf(StoreReader.CurrentlyWatched), true, nil}
	logicKeywords         = logic{"keywords", func(r *request, st StoreReader) ([]ingest.ID, error) {
		text, err := r.p.str("keywords")
		if err != nil {
			return nil, err
		}
		if text == "" {
			return nil, errBadRequest("parameter \"keywords\" is required: the text to find products for")
		}
		if n := r.limits().MaxNameBytes; len(text) > n {
			return nil, errBadRequest("parameter \"keywords\" is %d bytes, at most %d allowed: %s", len(text), n, quote(text))
		}
		return st.Keywords(text), nil
	}, false, nil}
	logicPageProduct = logic{"page/product", func(r *request, st StoreReader) ([]ingest.ID, error) {
		text, err := pageText(r, st)
		if err != nil {
			return nil, err
		}
		return st.Keywords(text), nil
	}, true, nil}
)

// pageText reads the `page` parameter and returns that page's text.
func pageText(r *request, st StoreReader) (string, error) {
	page, err := r.p.str("page")
	if err != nil {
		return "", err
	}
	if page == "" {
		return "", errBadRequest("parameter \"page\" is required")
	}
	text, ok := st.PageText(ingest.ID(page))
	if !ok {
		return "", errNotFound("no page %s in this store", quote(page))
	}
	return text, nil
}

// idList serves logics whose results are not products (categories,
// pages): limit and offset apply, product filters do not.
func (s *Server) idList(name string, run func(r *request, st StoreReader) ([]ingest.ID, error)) func(*request) error {
	return func(r *request) error {
		limit, err := r.p.intParam("limit", s.cfg.DefaultLimit, 0, s.cfg.MaxLimit)
		if err != nil {
			return err
		}
		offset, err := r.p.intParam("offset", 0, 0, s.cfg.MaxLimit)
		if err != nil {
			return err
		}
		st, serr := s.backend.StoreData(r.store)
		if serr != nil {
			return s.backendErr(serr)
		}
		if st == nil {
			return errNotFound("this store has no data yet")
		}
		ids, err := run(r, st)
		if err != nil {
			return err
		}
		ids = ids[min(offset, len(ids)):]
		ids = ids[:min(limit, len(ids))]
		return writeRecs(r, nil, ids, nil, nil)
	}
}

func pageCategories(r *request, st StoreReader) ([]ingest.ID, error) {
	text, err := pageText(r, st)
	if err != nil {
		return nil, err
	}
	return st.CategoriesFor(text), nil
}

func pageSubstituting(r *request, st StoreReader) ([]ingest.ID, error) {
	text, err := pageText(r, st)
	if err != nil {
		return nil, err
	}
	page, _ := r.p.str("page")
	ids := st.PagesFor(text)
	return slices.DeleteFunc(ids, func(id ingest.ID) bool { return string(id) == page }), nil
}

// customerLogic wraps a logic of the `customer` (id) or `email` parameter.
func customerLogic(f func(StoreReader, ingest.ID, string) ([]ingest.ID, error)) func(*request, StoreReader) ([]ingest.ID, error) {
	return func(r *request, st StoreReader) ([]ingest.ID, error) {
		customer, email, err := customerParams(r)
		if err != nil {
			return nil, err
		}
		ids, herr := f(st, ingest.ID(customer), email)
		if errors.Is(herr, engine.ErrUnknownCustomer) {
			return nil, errNotFound("no customer %s in this store", quote(firstNonEmpty(customer, email)))
		}
		return ids, herr
	}
}

func customerParams(r *request) (customer, email string, err error) {
	customer, aerr := r.p.str("customer")
	if aerr != nil {
		return "", "", aerr
	}
	email, aerr = r.p.str("email")
	if aerr != nil {
		return "", "", aerr
	}
	if customer == "" && email == "" {
		return "", "", errBadRequest("parameter \"customer\" or \"email\" is required")
	}
	return customer, email, nil
}

// seeded wraps a logic of the `products` parameter.
func seeded(f func(StoreReader, []ingest.ID) []ingest.ID) func(*request, StoreReader) ([]ingest.ID, error) {
	return func(r *request, st StoreReader) ([]ingest.ID, error) {
		raw, err := r.seedsParam("products")
		if err != nil {
			return nil, err
		}
		if len(raw) == 0 {
			return nil, errBadRequest("parameter \"products\" is required: a product id or a list of them")
		}
		return f(st, toIDs(raw)), nil
	}
}

func toIDs(ss []string) []ingest.ID {
	out := make([]ingest.ID, len(ss))
	for i, s := range ss {
		out[i] = ingest.ID(s)
	}
	return out
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// recs turns a logic into a handler: parameters, the logic's ranking, the
// common filters (exclude, hidden products, the logic's own scope such as
// a category), then the fallback chain when the answer is short.
func (s *Server) recs(l logic) func(*request) error {
	return func(r *request) error {
		rp, err := s.parseRecParams(r)
		if err != nil {
			return err
		}
		limit, offset, excludeRaw, attrs, debug := rp.limit, rp.offset, rp.exclude, rp.attributes, rp.debug
		st, serr := s.backend.StoreData(r.store)
		if serr != nil {
			return s.backendErr(serr)
		}
		if st == nil {
			// No data yet: still a 400 for a bad request, else empty.
			if err := s.checkLogicParams(r, l); err != nil {
				return err
			}
			return writeRecs(r, nil, nil, attrs, nil)
		}
		var scope func(*ingest.Product) bool
		if l.scope != nil {
			if scope, err = l.scope(r, st); err != nil {
				return err
			}
		}
		filterKeep, err := filterParam(r, st)
		if err != nil {
			return err
		}
		facetNames, labels, orderBy, order := rp.facets, rp.labels, rp.orderBy, rp.order
		ranked, err := l.run(r, st)
		if err != nil {
			return err
		}
		keep := func(id ingest.ID) bool {
			p := st.Product(id)
			return engine.Recommendable(p) && (scope == nil || scope(p)) && (filterKeep == nil || filterKeep(id))
		}
		exclude := newIDSet(toIDs(excludeRaw))
		if orderBy != "" {
			// Sort the eligible candidates by the attribute; the logic's
			// rank breaks ties.
			all, _ := pick(ranked, exclude, keep, 0, candidateCap)
			ranked = orderByAttribute(st, all, orderBy, order == "desc")
		}
		page, total := pick(ranked, exclude, keep, offset, limit)
		var dbg *debugInfo
		if debug {
			dbg = newDebug(l.name, st, len(page))
		}
		if l.fill && len(page) < limit {
			// The fallback chain: trending, popular, then newest (which
			// holds every product, for scopes nothing sold in). A store
			// with any products never answers an empty list.
			seen := newIDSet(toIDs(excludeRaw), ranked)
			if seeds, _ := r.seedsParam("products"); len(seeds) > 0 {
				seen.add(toIDs(seeds)...)
			}
			for _, fb := range []struct {
				name string
				list func() []ingest.ID
			}{{"trending", st.Trending}, {"popular", st.Popular}, {"new", st.New}} {
				if len(page) >= limit {
					break
				}
				more, n := pick(fb.list(), seen, keep, max(0, offset-total), limit-len(page))
				total += n
				page = append(page, more...)
				seen.add(more...)
				if dbg != nil && len(more) > 0 {
					dbg.Sources = append(dbg.Sources, debugSource{"fallback:" + fb.name, len(more)})
				}
			}
		}
		if len(labels) > 0 && len(page) > 0 {
			st.CountImpressions(labels)
		}
		var facets map[string]any
		if len(facetNames) > 0 {
			// Facets count over every eligible ranked product, not just
			// the page, so a shop can show what narrowing would leave.
			all, _ := pick(ranked, exclude, keep, 0, candidateCap)
			facets = facetsOf(st, all, facetNames)
		}
		x := recsExtra{debug: dbg, facets: facets}
		if v, minted, _ := visitorParam(r); minted {
			x.visitor = v
		}
		return writeRecsExtra(r, st, page, attrs, x)
	}
}

// candidateCap bounds the products facets are counted over.
const candidateCap = 5000

// recParams are the parameters every recommendation logic takes.
type recParams struct {
	limit, offset       int
	exclude, attributes []string
	facets, labels      []string
	orderBy, order      string
	debug               bool
}

func (s *Server) parseRecParams(r *request) (recParams, error) {
	var rp recParams
	var err error
	if rp.limit, err = r.p.intParam("limit", s.cfg.DefaultLimit, 0, s.cfg.MaxLimit); err != nil {
		return rp, err
	}
	if rp.offset, err = r.p.intParam("offset", 0, 0, s.cfg.MaxLimit); err != nil {
		return rp, err
	}
	// Each list bounded in items and item length: an exclude of 100k ids
	// or a flood of unique labels costs no more than the limits.
	lim := r.limits()
	for _, l := range []struct {
		name            string
		dst             *[]string
		items, itemSize int
	}{
		{"exclude", &rp.exclude, lim.MaxExcludes, lim.MaxIDBytes},
		{"attributes", &rp.attributes, lim.MaxParamItems, lim.MaxIDBytes},
		{"facets", &rp.facets, lim.MaxParamItems, lim.MaxIDBytes},
		{"labels", &rp.labels, lim.MaxEventLabels, lim.MaxLabelBytes},
	} {
		if *l.dst, err = r.boundedList(l.name, l.items, l.itemSize); err != nil {
			return rp, err
		}
	}
	if rp.debug, err = r.p.boolParam("debug", false); err != nil {
		return rp, err
	}
	if rp.orderBy, err = r.p.str("orderby"); err != nil {
		return rp, err
	}
	if rp.order, err = r.p.str("order"); err != nil {
		return rp, err
	}
	if rp.order != "" && rp.order != "asc" && rp.order != "desc" {
		return rp, errBadRequest("parameter \"order\" must be asc or desc, got %s", quote(rp.order))
	}
	return rp, nil
}

// debugInfo explains an answer (the `debug` parameter): which logic and
// model produced how many results, and which fallback filled the rest.
type debugInfo struct {
	Logic        string        `json:"logic"`
	DataVersion  uint64        `json:"data_version"`
	ModelTrained bool          `json:"model_trained"`
	ModelVersion uint64        `json:"model_version,omitempty"`
	Sources      []debugSource `json:"sources"`
	// Merchandising says what synonyms, redirects, customized searches
	// and campaigns did to a search; Search why each hit ranked where it
	// did.
	Merchandising []string     `json:"merchandising,omitempty"`
	Search        *searchDebug `json:"search,omitempty"`
}

type debugSource struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

func newDebug(logic string, st StoreReader, n int) *debugInfo {
	mi := st.ModelInfo()
	d := &debugInfo{Logic: logic, DataVersion: st.Version(), ModelTrained: mi.Trained, ModelVersion: mi.Version}
	src := logic
	if mi.Trained && modelLogics[logic] {
		src += " (model)"
	} else if modelLogics[logic] {
		src += " (live statistics, no model yet)"
	}
	d.Sources = append(d.Sources, debugSource{src, n})
	return d
}

// modelLogics are the logics that use the trained factor model.
var modelLogics = map[string]bool{
	"complementary": true, "substituting": true, "visitor/complementary": true, "visitor/substituting": true,
	"customer/complementary": true, "customer/substituting": true,
}

// checkLogicParams validates parameters when the store has no data yet,
// so that a bad request is a 400 whether or not data exists.
func (s *Server) checkLogicParams(r *request, l logic) error {
	switch l.name {
	case "most_sold_with", "complementary", "substituting":
		if raw, err := r.seedsParam("products"); err != nil {
			return err
		} else if len(raw) == 0 {
			return errBadRequest("parameter \"products\" is required: a product id or a list of them")
		}
	case "customer/history", "customer/complementary", "customer/substituting":
		c, e, err := customerParams(r)
		if err != nil {
			return err
		}
		return errNotFound("no customer %s in this store", quote(firstNonEmpty(c, e)))
	}
	return nil
}

// pick applies exclude, keep, offset and limit to a ranked list. It
// returns the page and the number of eligible products it passed.
func pick(ranked []ingest.ID, exclude idSet, keep func(ingest.ID) bool, offset, limit int) ([]ingest.ID, int) {
	page := make([]ingest.ID, 0, limit)
	n := 0
	for _, id := range ranked {
		if exclude.has(id) {
			continue
		}
		if !keep(id) {
			continue
		}
		if n >= offset && len(page) < limit {
			page = append(page, id)
		}
		n++
		if len(page) == limit {
			// Enough for the page; counting the rest would scan the catalog.
			break
		}
	}
	return page, n
}

// writeRecs encodes `{"status":"ok","result":[...],"count":n}` by hand:
// this is the hottest path of the server and encoding/json's reflection
// would dominate it.
func writeRecs(r *request, st StoreReader, ids []ingest.ID, attrs []string, dbg *debugInfo) error {
	return writeRecsExtra(r, st, ids, attrs, recsExtra{debug: dbg})
}

// recsExtra are the optional parts of a recommendation answer.
type recsExtra struct {
	debug   *debugInfo
	facets  map[string]any
	visitor string // a visitor id minted for visitor=auto
	// query, hits: a search's text, and the number of matching products
	// in all (hits set: a search answer).
	query        string
	hits         *int
	noExactMatch bool
	// redirect is the url merchandising sends the query to (search).
	redirect string
}

func writeRecsExtra(r *request, st StoreReader, ids []ingest.ID, attrs []string, x recsExtra) error {
	dbg, facets := x.debug, x.facets
	buf := bytebufferpool.Get()
	defer bytebufferpool.Put(buf)
	b := append(buf.B[:0], `{"status":"ok","result":[`...)
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, string(id))
	}
	b = append(b, `],"count":`...)
	b = strconv.AppendInt(b, int64(len(ids)), 10)
	if len(attrs) > 0 && st != nil {
		data := make([]map[string]any, 0, len(ids))
		for _, id := range ids {
			data = append(data, productAttributes(st.Product(id), attrs))
		}
		enc, err := json.Marshal(data)
		if err != nil {
			return errInternal("cannot encode product data: %v", err)
		}
		b = append(b, `,"product_data":`...)
		b = append(b, enc...)
	}
	if x.hits != nil {
		b = append(b, `,"query":`...)
		b = appendJSONString(b, x.query)
		b = append(b, `,"hits":`...)
		b = strconv.AppendInt(b, int64(*x.hits), 10)
		b = append(b, `,"no_exact_match":`...)
		b = strconv.AppendBool(b, x.noExactMatch)
	}
	if x.redirect != "" {
		b = append(b, `,"redirect":`...)
		b = appendJSONString(b, x.redirect)
	}
	if x.visitor != "" {
		b = append(b, `,"visitor":`...)
		b = appendJSONString(b, x.visitor)
	}
	if facets != nil {
		enc, _ := json.Marshal(facets)
		b = append(b, `,"facets":`...)
		b = append(b, enc...)
	}
	if dbg != nil {
		enc, _ := json.Marshal(dbg)
		b = append(b, `,"debug":`...)
		b = append(b, enc...)
	}
	b = append(b, '}')
	buf.B = b
	r.ctx.SetContentType("application/json")
	writeMaybeJSONP(r.ctx, buf.B)
	return nil
}

// productAttributes returns the named fields of a product ("*" for all),
// as productFields converts them (without the filters' derived on_sale).
func productAttributes(p *ingest.Product, attrs []string) map[string]any {
	if p == nil {
		return nil
	}
	all := productFields(p)
	if slices.Contains(attrs, "*") {
		return all
	}
	out := make(map[string]any, len(attrs)+1)
	out["id"] = string(p.ID)
	for _, a := range attrs {
		if v, ok := all[a]; ok {
			out[a] = v
		}
	}
	return out
}

// appendJSONString appends s as a JSON string, escaping what JSON needs.
func appendJSONString(b []byte, s string) []byte {
	simple := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			simple = false
			break
		}
	}
	if simple {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	enc, _ := json.Marshal(s)
	return append(b, enc...)
}
