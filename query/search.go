package query

import (
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/sibylhq/sibyl/engine"
	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/query/filter"
	"github.com/sibylhq/sibyl/search"
	"github.com/sibylhq/sibyl/text"
)

// Search (issue 13): search/search and search/predictive. A request goes
//
//	parameters -> the store's searcher, brought up to date from the
//	engine's product change log -> filter, exclude and hidden products
//	as bitmaps -> search.Index.Run (matching and the ranking rules, the
//	store's signals as the score) -> pins, exact codes, the no-match
//	fallback -> facets over every match -> the page.
//
// Every replica keeps its own searcher, made from its own state, like the
// models; any node answers.

// storeSearcher is a store's search index, kept for the store's life
// (engine.Store.Attached) and changed in place: each search first applies
// the products written since the last one (engine ProductChanges), so a
// write is searchable on the next request without a rebuild. A new
// language or field weights, a category or page change, or a log that no
// longer reaches back, rebuild it.
type storeSearcher struct {
	// mu serialises catch-ups; searches read view without it.
	mu   sync.Mutex
	view atomic.Pointer[searchView]

	// scores caches the popularity part of the score per doc, for the
	// popular list it was made from.
	scoreMu  sync.Mutex
	scoreFor *ingest.ID
	scores   []float32
}

// searchView is the searcher's index and what it was made from.
type searchView struct {
	ix       *search.Index
	seq      atomic.Uint64 // CatalogSeq the index reflects
	settings search.Settings
	nums     *docNumbers
	catName  map[ingest.ID]string

	// codes maps a folded product id, sku or ean to its doc: a query
	// that is exactly a code finds its product first.
	codesMu sync.RWMutex
	codes   map[string]uint32
	codeOf  map[uint32][]string
}

func searcherOf(st StoreReader) *storeSearcher {
	return st.Attached("search", func() any { return &storeSearcher{} }).(*storeSearcher)
}

// current is the index as of the store's latest catalog change.
func (s *storeSearcher) current(st StoreReader) *searchView {
	settings := storeSettings(st)
	v := s.view.Load()
	if v != nil && v.settings == settings && v.seq.Load() == st.CatalogSeq() {
		return v
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v = s.view.Load()
	if v == nil || v.settings != settings {
		v = newSearchView(st, settings)
		s.view.Store(v)
		return v
	}
	changed, now, ok := st.ProductChanges(v.seq.Load())
	if !ok {
		v = newSearchView(st, settings)
		s.view.Store(v)
		return v
	}
	if len(changed) > 0 {
		v.update(st, changed)
	}
	v.seq.Store(now)
	return v
}

// newSearchView indexes every recommendable product (reading the change
// sequence first, so that a write racing the build is applied again at
// the next search).
func newSearchView(st StoreReader, settings search.Settings) *searchView {
	seq := st.CatalogSeq()
	ix := search.NewEmptyIndex(analyzerFor(settings.Language))
	ix.SetFieldOrder(fieldOrder(settings.Weights))
	v := &searchView{ix: ix, settings: settings, nums: docNumbersOf(st),
		codes: make(map[string]uint32), codeOf: make(map[uint32][]string)}
	cats, _ := st.List(ingest.KindCategories, 0, math.MaxInt)
	v.catName = make(map[ingest.ID]string, len(cats))
	for _, c := range cats {
		if cat, ok := c.(*ingest.Category); ok {
			v.catName[cat.ID] = cat.Name
		}
	}
	ps := st.Products()
	changes := make([]search.Change, 0, len(ps))
	for _, p := range ps {
		if engine.Recommendable(p) {
			changes = append(changes, v.change(p.ID, p))
		}
	}
	ix.Apply(changes)
	v.seq.Store(seq)
	return v
}

// update re-reads the changed products.
func (v *searchView) update(st StoreReader, ids []ingest.ID) {
	seen := make(map[ingest.ID]bool, len(ids))
	changes := make([]search.Change, 0, len(ids))
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		p := st.Product(id)
		if !engine.Recommendable(p) {
			p = nil
		}
		changes = append(changes, v.change(id, p))
	}
	v.ix.Apply(changes)
}

// change is the index change for product id (p nil: gone), and keeps the
// codes table in step.
func (v *searchView) change(id ingest.ID, p *ingest.Product) search.Change {
	d := v.nums.of(id)
	v.codesMu.Lock()
	for _, c := range v.codeOf[d] {
		if v.codes[c] == d {
			delete(v.codes, c)
		}
	}
	delete(v.codeOf, d)
	if p != nil {
		for _, c := range productCodes(p) {
			v.codes[c] = d
			v.codeOf[d] = append(v.codeOf[d], c)
		}
	}
	v.codesMu.Unlock()
	if p == nil {
		return search.Change{Doc: d}
	}
	doc := &search.Doc{}
	w := v.settings.Weights
	set := func(f search.Field, weight float64, s string) {
		if weight > 0 { // a weight of 0 leaves the field out
			doc.Fields[f] = s
		}
	}
	set(search.FieldName, w.Name, p.Name)
	set(search.FieldBrand, w.Brand, p.Brand)
	set(search.FieldDescription, w.Description, p.Description)
	var cats strings.Builder
	for _, c := range p.Categories {
		if name := v.catName[c]; name != "" {
			cats.WriteString(name)
			cats.WriteByte(' ')
		}
	}
	set(search.FieldCategories, w.Categories, cats.String())
	set(search.FieldKeywords, w.Keywords, keywordsOf(p))
	return search.Change{Doc: d, Fields: doc}
}

// keywordsOf is a product's `keywords` attribute as text: a string or a
// list of strings.
func keywordsOf(p *ingest.Product) string {
	switch kw := p.Extra["keywords"].(type) {
	case string:
		return kw
	case []any:
		var b strings.Builder
		for _, k := range kw {
			if s, ok := k.(string); ok {
				b.WriteString(s)
				b.WriteByte(' ')
			}
		}
		return b.String()
	}
	return ""
}

// productCodes are the folded id, sku, ean, gtin and mpn of a product:
// what a shopper pastes from a receipt or a barcode. Only codes with a
// digit count: a shop whose ids are words ("tea") must not have the word
// find one product before the others that have it.
func productCodes(p *ingest.Product) []string {
	var codes []string
	add := func(s string) {
		s = strings.TrimSpace(s)
		if strings.ContainsAny(s, "0123456789") {
			codes = append(codes, text.Fold(s))
		}
	}
	add(string(p.ID))
	add(p.SKU)
	for _, k := range []string{"ean", "gtin", "mpn"} {
		switch v := p.Extra[k].(type) {
		case string:
			add(v)
		case float64: // an EAN sent as a JSON number
			add(strconv.FormatFloat(v, 'f', -1, 64))
		}
	}
	return codes
}

// codeDoc is the doc whose code the query is, if any.
func (v *searchView) codeDoc(query string) (uint32, bool) {
	v.codesMu.RLock()
	defer v.codesMu.RUnlock()
	d, ok := v.codes[text.Fold(strings.TrimSpace(query))]
	return d, ok
}

// fieldOrder ranks the fields by the store's weights, heaviest first.
func fieldOrder(w search.FieldWeights) []search.Field {
	weights := [search.NumFields]float64{w.Name, w.Keywords, w.Categories, w.Brand, w.Description}
	order := []search.Field{search.FieldName, search.FieldKeywords, search.FieldCategories, search.FieldBrand, search.FieldDescription}
	// Stable by default order among equal weights.
	for i := 1; i < len(order); i++ {
		for j := i; j > 0 && weights[order[j]] > weights[order[j-1]]; j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	return order
}

// storeSettings are the store's search settings (defaults until it sets
// them).
func storeSettings(st StoreReader) search.Settings {
	if ms := merchOf(st); ms != nil {
		return ms.SearchSettings()
	}
	return search.DefaultSettings()
}

// storeAnalyzer is the analyzer of the store's search language.
func storeAnalyzer(st StoreReader) *text.Analyzer {
	return analyzerFor(storeSettings(st).Language)
}

// analyzerFor is the analyzer of a language (made once per language).
// Settings are validated before they are stored; a language a newer node
// knows falls back to the default.
func analyzerFor(lang string) *text.Analyzer {
	if an, ok := analyzers.Load(lang); ok {
		return an.(*text.Analyzer)
	}
	an, err := text.NewAnalyzer(lang)
	if err != nil {
		return searchAnalyzer
	}
	analyzers.Store(lang, an)
	return an
}

// analyzers caches an analyzer per language name (a dozen at most: the
// names text.NewAnalyzer accepts).
var analyzers sync.Map

// searchAnalyzer is the default language's: English stems, Unicode
// folding for every language.
var searchAnalyzer = func() *text.Analyzer {
	an, err := text.NewAnalyzer(search.DefaultSettings().Language)
	if err != nil {
		panic(err) // a constant language: fails at start, in every test
	}
	return an
}()

// popularityScores is each doc's share of the popular list, 1 for the
// best seller down towards 0, cached for the list it was made from (the
// engine caches Popular per data version and returns the same slice).
func (s *storeSearcher) popularityScores(st StoreReader, nums *docNumbers) []float32 {
	pop := st.Popular()
	var key *ingest.ID
	if len(pop) > 0 {
		key = &pop[0]
	}
	s.scoreMu.Lock()
	defer s.scoreMu.Unlock()
	if s.scores != nil && s.scoreFor == key {
		return s.scores
	}
	scores := make([]float32, 0, len(pop))
	for i, id := range pop {
		d := nums.of(id)
		if int(d) >= len(scores) {
			scores = append(scores, make([]float32, int(d)+1-len(scores))...)
		}
		scores[d] = 1 - float32(i)/float32(len(pop))
	}
	s.scores, s.scoreFor = scores, key
	return scores
}

// Weights of the score's parts. Popularity is in [0, 1]; a product this
// visitor's session points to adds up to visitorWeight; clicks on this
// query's results add clickWeight * ln(1 + clicks), so a product shoppers
// chose for this query leads its equals after a few clicks. These are
// design choices, not fitted: the retail data has no searches or clicks
// (docs/search.md).
const (
	visitorWeight = 1
	clickWeight   = 1
)

// searchParams are a search call's own parameters.
type searchParams struct {
	query      string
	longtail   bool
	language   string
	analyzer   *text.Analyzer // nil: the store's language
	predictive bool
}

// maxQueryBytes bounds a search query: longer text is not a shopper's.
const maxQueryBytes = 512

// predictiveMaxLimit is search/predictive's largest limit, as Clerk's.
const predictiveMaxLimit = 10

func parseSearchParams(r *request, predictive bool) (searchParams, error) {
	sp := searchParams{predictive: predictive}
	q, err := r.p.str("query")
	if err != nil {
		return sp, err
	}
	if strings.TrimSpace(q) == "" {
		return sp, errBadRequest("parameter \"query\" is required: the text the shopper typed")
	}
	if len(q) > maxQueryBytes {
		return sp, errBadRequest("query of %d bytes: at most %d", len(q), maxQueryBytes)
	}
	sp.query = q
	if predictive {
		if limit, err := r.p.intParam("limit", predictiveMaxLimit, 1, 1<<30); err != nil {
			return sp, err
		} else if limit > predictiveMaxLimit {
			return sp, errBadRequest("search/predictive answers at most %d products (limit=%d)", predictiveMaxLimit, limit)
		}
	}
	if sp.longtail, err = r.p.boolParam("longtail", false); err != nil {
		return sp, err
	}
	lang, err := r.p.str("language")
	if err != nil {
		return sp, err
	}
	if lang != "" {
		if len(lang) > 32 {
			return sp, errBadRequest("parameter \"language\" is %d bytes: a language name or ISO 639-1 code", len(lang))
		}
		if _, err := text.NewAnalyzer(lang); err != nil {
			return sp, errBadRequest("parameter \"language\": %v", err)
		}
		sp.analyzer, sp.language = analyzerFor(lang), lang
	}
	return sp, nil
}

// searchDebug explains a search answer (debug=true).
type searchDebug struct {
	Query    string `json:"query"`
	Language string `json:"language"`
	// Matched is how many products matched before paging; Fallback says
	// how the answer was found when the query matched nothing as typed.
	Matched  int              `json:"matched"`
	AllWords bool             `json:"all_words"`
	Fallback string           `json:"fallback,omitempty"`
	Rules    []string         `json:"rules"`
	Hits     []searchDebugHit `json:"hits"`
}

// searchDebugHit is why one product of the page ranked where it did.
type searchDebugHit struct {
	ID        ingest.ID `json:"id"`
	Why       string    `json:"why,omitempty"` // pinned, code, related
	Words     int       `json:"words"`
	Typos     int       `json:"typos"`
	Proximity int       `json:"proximity"`
	Field     string    `json:"field"`
	Exact     int       `json:"exact"`
	Score     float64   `json:"score"`
	Rest      int       `json:"unmatched_name_words"`
}

// rankingRules names search.Index's rules, in order (search/rank.go).
var rankingRules = []string{"words", "typos", "field", "exactness", "proximity",
	"value (score: sales, clicks on this query, the visitor's session; less 0.5 a name word the query did not match)"}

func (s *Server) search(name string, predictive bool) func(*request) error {
	return func(r *request) error {
		rp, err := s.parseRecParams(r)
		if err != nil {
			return err
		}
		sp, err := parseSearchParams(r, predictive)
		if err != nil {
			return err
		}
		visitor, minted, err := visitorParam(r)
		if err != nil {
			return err
		}
		var filterExpr *filter.Expr
		filterSrc, err := r.p.str("filter")
		if err != nil {
			return err
		}
		if filterSrc != "" {
			if filterExpr, err = parseFilter(filterSrc); err != nil {
				return err
			}
		}
		st, serr := s.backend.StoreData(r.store)
		if serr != nil {
			return s.backendErr(serr)
		}
		x := recsExtra{query: sp.query, hits: new(int)}
		if minted {
			x.visitor = visitor
		}
		if st == nil {
			return writeRecsExtra(r, nil, nil, rp.attributes, x)
		}
		var ans searchAnswer
		cache := answerCacheOf(st, s.cfg.SearchCacheEntries)
		if visitor != "" || rp.debug || cache == nil {
			ans = s.runSearch(r, st, &rp, &sp, filterExpr, filterSrc, visitor)
		} else {
			// The same request on the same data: the answer computed
			// before (search_cache.go).
			key := answerKey(name, &rp, &sp, filterSrc)
			stamp := answerStamp(st, searcherOf(st).current(st), sp.query)
			var hit bool
			if ans, hit = cache.get(key, stamp); !hit {
				ans = s.runSearch(r, st, &rp, &sp, filterExpr, filterSrc, visitor)
				cache.put(key, stamp, ans)
			}
		}
		x.hits, x.noExactMatch, x.redirect, x.facets = &ans.hits, ans.noExactMatch, ans.redirect, ans.facets
		if rp.debug {
			x.debug = newDebug(name, st, len(ans.page))
			x.debug.Merchandising = ans.notes
			x.debug.Search = ans.debug
		}
		if len(rp.labels) > 0 {
			if len(ans.page) > 0 {
				st.CountImpressions(rp.labels)
			}
			s.recordSearch(r, name, ans.hits, x.visitor)
		}
		return writeRecsExtra(r, st, ans.page, rp.attributes, x)
	}
}

// searchAnswer is what runSearch found.
type searchAnswer struct {
	page         []ingest.ID
	hits         int
	noExactMatch bool
	redirect     string
	facets       map[string]any
	notes        []string
	debug        *searchDebug
}

func (s *Server) runSearch(r *request, st StoreReader, rp *recParams, sp *searchParams, filterExpr *filter.Expr, filterSrc, visitor string) searchAnswer {
	var ans searchAnswer
	searcher := searcherOf(st)
	v := searcher.current(st)
	nums := v.nums

	// What may be found: the filter, minus excluded and hidden products.
	q := search.Query{Text: sp.query, Prefix: sp.predictive, Any: sp.longtail, Analyzer: sp.analyzer}
	var cv *catalogView
	if filterExpr != nil {
		q.Within, cv = filterBitmap(st, filterExpr, filterSrc)
	}
	out := roaring.New()
	for _, id := range rp.exclude {
		if d, ok := nums.lookup(ingest.ID(id)); ok {
			out.Add(d)
		}
	}
	// Merchandising: redirect, synonyms, pins and hides.
	var plan search.Plan
	if ms := merchOf(st); ms != nil {
		if m := ms.Merch(); !m.Empty() {
			if url, ok := m.Redirect(sp.query); ok {
				ans.redirect = url
				if rp.debug {
					ans.notes = append(ans.notes, "redirect to "+url)
				}
			}
			q.Alternatives = m.Synonyms.Alternatives(sp.query)
			if rp.debug && len(q.Alternatives) > 0 {
				ans.notes = append(ans.notes, "synonyms: also searched "+strings.Join(q.Alternatives, " | "))
			}
			plan = m.Plan(sp.query, time.Now(), rp.debug)
			ans.notes = append(ans.notes, plan.Notes...)
			for id := range plan.Hidden {
				if d, ok := nums.lookup(ingest.ID(id)); ok {
					out.Add(d)
				}
			}
		}
	}
	if !out.IsEmpty() {
		q.Exclude = out
	}
	// Pins lead, in their order, past the filter (as Clerk's), if they
	// are recommendable and neither excluded nor hidden; then a product
	// whose code the query is.
	var lead []uint32
	leadSet := roaring.New()
	for _, id := range plan.Pins {
		d, ok := nums.lookup(ingest.ID(id))
		if ok && !out.Contains(d) && !leadSet.Contains(d) && engine.Recommendable(st.Product(ingest.ID(id))) {
			lead = append(lead, d)
			leadSet.Add(d)
		}
	}
	nPins := len(lead)
	if d, ok := v.codeDoc(sp.query); ok && !out.Contains(d) && !leadSet.Contains(d) && (q.Within == nil || q.Within.Contains(d)) {
		lead = append(lead, d)
		leadSet.Add(d)
	}

	// The score: popularity, the visitor's session, clicks on this query.
	pop := searcher.popularityScores(st, nums)
	extra := s.searchSignals(st, nums, sp.query, visitor)
	q.Score = func(d uint32) float64 {
		x := 0.0
		if int(d) < len(pop) {
			x = float64(pop[d])
		}
		if extra != nil {
			x += extra[d]
		}
		return x
	}
	want := rp.offset + rp.limit
	q.Limit = want + len(lead)
	res := v.ix.Run(q)
	fallback := ""
	if res.Matched.IsEmpty() {
		// Nothing as typed: the nearest words (one more typo a word, any
		// word), flagged as no exact match.
		q.ExtraTypos, q.Any = 1, true
		if res = v.ix.Run(q); !res.Matched.IsEmpty() {
			fallback = "nearest words (one more typo, any word)"
		}
	}
	words := v.ix.Words(q)
	ans.noExactMatch = fallback != "" || res.Matched.IsEmpty() && len(lead) == 0 ||
		len(res.Hits) > 0 && (!res.AllWords || res.Hits[0].Typos > 0 || res.Hits[0].Words < words)

	// The ranked docs: leads, then the hits.
	ranked := make([]uint32, 0, len(lead)+len(res.Hits))
	ranked = append(ranked, lead...)
	why := map[uint32]string{}
	for i, d := range lead {
		why[d] = "pinned"
		if i >= nPins {
			why[d] = "code"
		}
	}
	byDoc := make(map[uint32]search.Hit, len(res.Hits))
	for _, h := range res.Hits {
		if !leadSet.Contains(h.Doc) {
			ranked = append(ranked, h.Doc)
			byDoc[h.Doc] = h
		}
	}
	all := res.Matched
	all.Or(leadSet)
	ans.hits = int(all.GetCardinality())
	if fallback != "" && len(ranked) < want && len(res.Hits) > 0 {
		// Then what goes in place of the closest matches (the intent
		// models), to fill the page.
		top := nums.idsOf(ranked[:min(3, len(ranked))])
		for _, id := range st.Substituting(top) {
			d, ok := nums.lookup(id)
			if !ok || all.Contains(d) || out.Contains(d) || q.Within != nil && !q.Within.Contains(d) {
				continue
			}
			ranked = append(ranked, d)
			all.Add(d)
			why[d] = "related"
			if len(ranked) >= want {
				break
			}
		}
		fallback += ", then related products"
	}
	if (rp.orderBy != "" || len(rp.facets) > 0) && cv == nil {
		cv = catalogOf(st)
	}
	if rp.orderBy != "" {
		// Every match by the attribute (pins still lead), equal values
		// by the score.
		rest := all.Clone()
		rest.AndNot(leadSet)
		ranked = append(ranked[:len(lead):len(lead)], cv.orderDocs(rest, rp.orderBy, rp.order == "desc", q.Score, want-len(lead))...)
	}
	ids := nums.idsOf(ranked)
	ans.page = ids[min(rp.offset, len(ids)):min(want, len(ids))]
	if len(rp.facets) > 0 {
		ans.facets = cv.facets(all, rp.facets)
	}
	if rp.debug {
		d := &searchDebug{Query: sp.query, Language: v.settings.Language, Matched: ans.hits, AllWords: res.AllWords,
			Fallback: fallback, Rules: rankingRules}
		if sp.analyzer != nil {
			d.Language += " (index); query cut by the request's language"
		}
		for _, id := range ans.page {
			dn, _ := nums.lookup(id)
			h := byDoc[dn]
			d.Hits = append(d.Hits, searchDebugHit{ID: id, Why: why[dn], Words: h.Words, Typos: h.Typos,
				Proximity: h.Proximity, Field: h.Field.String(), Exact: h.Exact, Score: h.Score, Rest: h.Rest})
		}
		ans.debug = d
	}
	return ans
}

// searchSignals is the per-request part of the score: clicks on this
// query's results, and the products the visitor's session points to.
// nil when neither has anything.
func (s *Server) searchSignals(st StoreReader, nums *docNumbers, query, visitor string) map[uint32]float64 {
	var extra map[uint32]float64
	add := func(id ingest.ID, x float64) {
		if extra == nil {
			extra = make(map[uint32]float64)
		}
		if d, ok := nums.lookup(id); ok {
			extra[d] += x
		}
	}
	for id, n := range st.SearchClicks(query) {
		add(id, clickWeight*math.Log1p(float64(n)))
	}
	if visitor != "" {
		if items, kinds, _ := st.VisitorItems(visitor); len(items) > 0 {
			rec := st.VisitorComplementary(items, kinds)
			for i, id := range rec {
				add(id, visitorWeight*(1-float64(i)/float64(len(rec))))
			}
		}
	}
	return extra
}
