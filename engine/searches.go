package engine

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/shard/statemachine"
	"github.com/sibylhq/sibyl/text"
)

// Search statistics (issue 13, item 6): how often each query was searched
// (search/search and search/predictive answers that carried `labels`, as
// recommendations count impressions), how many products it found, and
// which products shoppers clicked from it (log/click with
// api=search/search or search/predictive, attributed to the visitor's
// latest search). Searches arrive as EventSearch events through the same
// replicated batches as every log/* call, so every replica counts alike
// and the counts survive a restart (one key per query, written when it
// changes).

// EventSearch is a search answered with labels (recorded by the API, not
// a log/* call): Query, Hits and API say what was searched where.
const EventSearch = "search"

// Bounds of a store's search statistics.
const (
	// searchQueriesKept bounds the distinct queries counted per store;
	// past it the least searched of the last two days go first.
	searchQueriesKept = 10_000
	// searchProductsKept bounds the clicked products counted per query.
	searchProductsKept = 20
	// searchClickWindowMs: a click counts for the visitor's latest search
	// only if that search was this recent (a shopping visit).
	searchClickWindowMs = 60 * 60 * 1000
	// MaxSearchQueryBytes bounds a recorded query (NormalizeSearchQuery
	// cuts longer ones at a rune boundary).
	MaxSearchQueryBytes = 256
	dayMs               = 24 * 60 * 60 * 1000
)

// searchAPIs are the api values of log/click that are search clicks.
var searchAPIs = map[string]bool{"search/search": true, "search/predictive": true}

// IsSearchAPI says whether a click's api names a search call.
func IsSearchAPI(api string) bool {
	return searchAPIs[strings.TrimPrefix(strings.TrimPrefix(api, "/"), "v2/")]
}

// IsFullSearchAPI says whether api names search/search (not as-you-type).
func IsFullSearchAPI(api string) bool {
	return strings.TrimPrefix(strings.TrimPrefix(api, "/"), "v2/") == "search/search"
}

// NormalizeSearchQuery is the form queries are counted under: folded as
// search compares text (text.Fold), runs of white space made one space,
// trimmed, at most MaxSearchQueryBytes. "" for a query of only spaces.
func NormalizeSearchQuery(q string) string {
	q = strings.Join(strings.FieldsFunc(text.Fold(q), unicode.IsSpace), " ")
	if len(q) > MaxSearchQueryBytes {
		cut := MaxSearchQueryBytes
		for cut > 0 && !utf8.RuneStart(q[cut]) {
			cut--
		}
		q = strings.TrimSpace(q[:cut])
	}
	return q
}

// QueryStats are one query's counts.
type QueryStats struct {
	// Searches counts the searches of the query (with labels), and Full
	// those of them made with search/search rather than as-you-type
	// (search/predictive records every prefix a shopper typed on the
	// way: "te", "tea", "tea c"; only full searches are offered back to
	// shoppers as popular searches and suggestions).
	Searches int64 `json:"n"`
	Full     int64 `json:"f,omitempty"`
	// Hits is the number of products the latest search found.
	Hits int `json:"h"`
	// Clicks counts the search clicks attributed to the query.
	Clicks int64 `json:"c,omitempty"`
	// Last is the time of the latest search (unix ms).
	Last int64 `json:"t"`
	// Days are searches per UTC day for the two latest days searched.
	Days [2]DayCount `json:"d"`
	// Products are clicks per product, at most searchProductsKept.
	Products map[ingest.ID]int64 `json:"p,omitempty"`
}

// DayCount is the searches of one UTC day (days since the Unix epoch).
type DayCount struct {
	Day int64 `json:"d"`
	N   int64 `json:"n"`
}

// recent is the searches of day today and the day before.
func (q *QueryStats) recent(today int64) int64 {
	var n int64
	for _, d := range q.Days {
		if d.N > 0 && d.Day <= today && d.Day >= today-1 {
			n += d.N
		}
	}
	return n
}

// addDay counts a search on day: in its bucket, else in place of the
// older bucket (a search older than both is not a recent one).
func (q *QueryStats) addDay(day int64) {
	for i := range q.Days {
		if q.Days[i].N > 0 && q.Days[i].Day == day {
			q.Days[i].N++
			return
		}
	}
	old := 0
	if q.Days[1].N == 0 || q.Days[1].Day < q.Days[0].Day {
		old = 1
	}
	if q.Days[0].N == 0 {
		old = 0
	}
	if q.Days[old].N > 0 && q.Days[old].Day > day {
		return
	}
	q.Days[old] = DayCount{Day: day, N: 1}
}

// clickProduct counts a click on p, making room by dropping the least
// clicked product (ties: the greatest id) when the query holds enough.
func (q *QueryStats) clickProduct(p ingest.ID) {
	if q.Products == nil {
		q.Products = make(map[ingest.ID]int64)
	}
	if _, ok := q.Products[p]; !ok && len(q.Products) >= searchProductsKept {
		var worst ingest.ID
		first := true
		for id, n := range q.Products {
			if first || n < q.Products[worst] || (n == q.Products[worst] && id > worst) {
				worst, first = id, false
			}
		}
		delete(q.Products, worst)
	}
	q.Products[p]++
}

// SearchTotals are counts of queries displaced from the bounded table.
type SearchTotals struct {
	Searches int64 `json:"searches"`
	Clicks   int64 `json:"clicks"`
}

// searchTable counts at most searchQueriesKept queries. Guarded by the
// sessions part's lock (written by applyEvents).
type searchTable struct {
	m     map[string]*QueryStats
	other SearchTotals
	// newest is the latest event time seen (unix ms): eviction ranks
	// by it, never by a clock, so every replica evicts alike.
	newest int64
	// dirty and gone are the queries to write and to delete at the end
	// of the apply; otherDirty marks the Other bucket.
	dirty      map[string]bool
	gone       map[string]bool
	otherDirty bool
}

func newSearchTable() searchTable {
	return searchTable{m: make(map[string]*QueryStats), dirty: make(map[string]bool), gone: make(map[string]bool)}
}

// get returns q's counts, making room when the table is full: a tenth of
// it goes at once (one sort pays for searchQueriesKept/10 new queries),
// the fewest searches of the last two days first, then the fewest in
// all, then the greatest text, as labelTable does.
func (t *searchTable) get(q string) *QueryStats {
	if st := t.m[q]; st != nil {
		return st
	}
	if len(t.m) >= searchQueriesKept {
		t.evict(len(t.m) - searchQueriesKept + searchQueriesKept/10)
	}
	st := &QueryStats{}
	t.m[q] = st
	return st
}

func (t *searchTable) evict(n int) {
	if n <= 0 {
		return
	}
	today := t.newest / dayMs
	qs := make([]string, 0, len(t.m))
	for q := range t.m {
		qs = append(qs, q)
	}
	slices.SortFunc(qs, func(a, b string) int {
		x, y := t.m[a], t.m[b]
		return cmp.Or(cmp.Compare(x.recent(today), y.recent(today)), cmp.Compare(x.Searches+x.Clicks, y.Searches+y.Clicks), cmp.Compare(b, a))
	})
	for _, q := range qs[:min(n, len(qs))] {
		t.other.Searches += t.m[q].Searches
		t.other.Clicks += t.m[q].Clicks
		delete(t.m, q)
		delete(t.dirty, q)
		t.gone[q] = true
	}
	t.otherDirty = true
}

// countSearch counts a search event (with or without a visitor). The
// event passed ValidateEvent: its query is bounded.
func (t *sessions) countSearch(e *Event) {
	if e.Kind != EventSearch || e.Query == "" {
		return
	}
	st := &t.searches
	st.newest = max(st.newest, e.Time)
	q := st.get(e.Query)
	q.Searches++
	if IsFullSearchAPI(e.API) {
		q.Full++
	}
	if e.Time >= q.Last {
		q.Last, q.Hits = e.Time, max(e.Hits, 0)
	}
	q.addDay(floorDiv(e.Time, dayMs))
	st.dirty[e.Query] = true
	delete(st.gone, e.Query)
}

// countSearchClick attributes a search click to the session's latest
// search, when recent and still counted.
func (t *sessions) countSearchClick(sess *session, e *Event) {
	if !IsSearchAPI(e.API) || sess.Search == "" || e.Time-sess.SearchTime > searchClickWindowMs || e.Time < sess.SearchTime {
		return
	}
	q := t.searches.m[sess.Search]
	if q == nil {
		return // displaced since
	}
	q.Clicks++
	for _, p := range e.Products {
		q.clickProduct(p)
	}
	t.searches.dirty[sess.Search] = true
}

func floorDiv(a, b int64) int64 {
	d := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		d--
	}
	return d
}

// Keys of search statistics: one per query under searchKind, and the
// Other bucket under metaKind.
const (
	searchKind     ingest.Kind = "_searches"
	searchOtherKey             = "searches_other"
)

// searchMeta is the value of searchOtherKey: the Other bucket and the
// latest event time, which eviction ranks by and which must therefore
// survive a restart (replicas must keep choosing alike).
type searchMeta struct {
	SearchTotals
	Newest int64 `json:"newest"`
}

// writeSearches persists the queries changed or displaced by this apply.
func (t *sessions) writeSearches(w statemachine.Writer, store string) error {
	st := &t.searches
	if len(st.dirty) > 0 {
		st.otherDirty = true // newest moved
	}
	for q := range st.gone {
		if err := w.Delete(recordKey(store, searchKind, ingest.ID(q))); err != nil {
			return err
		}
	}
	clear(st.gone)
	for q := range st.dirty {
		b, _ := json.Marshal(st.m[q])
		if err := w.Set(recordKey(store, searchKind, ingest.ID(q)), b); err != nil {
			return err
		}
	}
	clear(st.dirty)
	if st.otherDirty {
		b, _ := json.Marshal(searchMeta{st.other, st.newest})
		if err := w.Set(recordKey(store, metaKind, searchOtherKey), b); err != nil {
			return err
		}
		st.otherDirty = false
	}
	return nil
}

// loadSearch reads a key written by writeSearches. A value that does not
// decode is skipped rather than failing the shard's load: statistics are
// not worth a node that cannot start.
func (t *sessions) loadSearch(kind ingest.Kind, name ingest.ID, value []byte) {
	st := &t.searches
	if kind == metaKind {
		var o searchMeta
		if json.Unmarshal(value, &o) == nil {
			st.other.Searches += o.Searches
			st.other.Clicks += o.Clicks
			st.newest = max(st.newest, o.Newest)
		}
		return
	}
	var q QueryStats
	if json.Unmarshal(value, &q) != nil || name == "" || len(name) > MaxSearchQueryBytes {
		return
	}
	if len(q.Products) > searchProductsKept {
		q.Products = nil
	}
	st.m[string(name)] = &q
	st.newest = max(st.newest, q.Last)
	if len(st.m) > searchQueriesKept {
		// Written before a lower bound: the next apply deletes the
		// displaced keys and writes Other.
		st.evict(len(st.m) - searchQueriesKept)
	}
}
