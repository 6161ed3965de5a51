package query

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/ingest"
)

// searchStats reads /v2/stats/searches as rows by query.
type searchStatsAnswer struct {
	Top       []searchStatsRow `json:"top"`
	NoResults []searchStatsRow `json:"no_results"`
	Total     int              `json:"total"`
}

func getSearchStats(t *testing.T, c *apiClient, st testStore) searchStatsAnswer {
	t.Helper()
	a := c.Do("GET", "/v2/stats/searches"+q(st, true), nil)
	expect(t, a, 200, "")
	var out searchStatsAnswer
	if err := json.Unmarshal([]byte(a.Raw), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// pollSearchStats waits until the stats satisfy ok: searches are
// recorded beside their answer, not before it.
func pollSearchStats(t *testing.T, c *apiClient, st testStore, ok func(searchStatsAnswer) bool) searchStatsAnswer {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := getSearchStats(t, c, st)
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("search stats never got there: %+v", s)
		}
		time.Sleep(time.Millisecond)
	}
}

func rowOf(rows []searchStatsRow, query string) (searchStatsRow, bool) {
	for _, r := range rows {
		if r.Query == query {
			return r, true
		}
	}
	return searchStatsRow{}, false
}

// TestSearchTracking: searches with labels are counted (folded), appear
// in search/popular and the stats; one without labels is not; a no-hit
// query is listed under no_results and not in popular; a search click
// raises the query's clicks and SearchClicks; all survives a restart.
func TestSearchTracking(t *testing.T) {
	c, b := startAPI(t)
	st := createStore(c, "searchstats")
	seedShop(t, c, st)
	search := func(path string, kv ...string) {
		t.Helper()
		expect(t, c.Do("GET", path+q(st, false, kv...), nil), 200, "")
	}
	search("/v2/search/search", "query", "Green Tea", "labels", `["search-page"]`, "visitor", "v1")
	search("/v2/search/predictive", "query", " green   TEA", "labels", `["as-you-type"]`)
	search("/v2/search/search", "query", "lamp")                               // no labels: not counted
	search("/v2/search/search", "query", "xyzzy", "labels", `["search-page"]`) // no hits
	s := pollSearchStats(t, c, st, func(s searchStatsAnswer) bool {
		r, _ := rowOf(s.Top, "green tea")
		return r.Searches == 2 && s.Total == 2
	})
	if _, ok := rowOf(s.Top, "lamp"); ok {
		t.Fatalf("a search without labels was counted: %+v", s)
	}
	if r, ok := rowOf(s.NoResults, "xyzzy"); !ok || r.Hits != 0 || len(s.NoResults) != 1 {
		t.Fatalf("no_results: %+v", s.NoResults)
	}
	popular := func() []string {
		t.Helper()
		a := c.Do("GET", "/v2/search/popular"+q(st, false), nil)
		expect(t, a, 200, "")
		var out struct{ Result []string }
		json.Unmarshal([]byte(a.Raw), &out)
		return out.Result
	}
	if got := popular(); !slices.Equal(got, []string{"green tea"}) {
		t.Fatalf("popular: %v (the no-hit xyzzy must not be there)", got)
	}
	// v1 clicks the tea from the search results: the click counts for
	// v1's search; a recommendation click does not.
	expect(t, c.Do("POST", "/v2/log/click", map[string]any{"key": st.Public, "visitor": "v1", "product": "tea", "api": "search/search"}), 200, "")
	expect(t, c.Do("POST", "/v2/log/click", map[string]any{"key": st.Public, "visitor": "v1", "product": "cup", "api": "recommendations/popular"}), 200, "")
	check := func() {
		t.Helper()
		s := getSearchStats(t, c, st)
		if r, _ := rowOf(s.Top, "green tea"); r.Clicks != 1 || r.CTR != 0.5 || r.Hits == 0 {
			t.Fatalf("green tea after a click: %+v", r)
		}
		b.mu.Lock()
		clicks := b.eng.Store(st.ID).SearchClicks("GREEN tea")
		b.mu.Unlock()
		if !maps.Equal(clicks, map[ingest.ID]int{"tea": 1}) {
			t.Fatalf("SearchClicks: %v", clicks)
		}
		if got := popular(); !slices.Equal(got, []string{"green tea"}) {
			t.Fatalf("popular: %v", got)
		}
	}
	check()
	b.restart(t)
	check()
	expect(t, c.Do("GET", "/v2/stats/searches"+q(st, false), nil), 403, "forbidden")
	expect(t, c.Do("GET", "/v2/stats/searches"+q(st, true, "limit", "1001"), nil), 400, "")
	expect(t, c.Do("GET", "/v2/search/popular"+q(st, false, "limit", "11"), nil), 400, "")
	expect(t, c.Do("GET", "/v2/search/popular"+q(st, false, "limit", "x"), nil), 400, "")
}

func resultOf(t *testing.T, a answer) []string {
	t.Helper()
	var out struct{ Result []string }
	if err := json.Unmarshal([]byte(a.Raw), &out); err != nil {
		t.Fatal(err)
	}
	return out.Result
}

// TestSearchSuggestions: completions of a prefix from the catalog's
// phrases (a phrase more products carry first), with a typo, and a
// query shoppers searched and clicked from ahead of them.
func TestSearchSuggestions(t *testing.T) {
	c, _ := startAPI(t)
	st := createStore(c, "suggest")
	seedShop(t, c, st)
	suggest := func(kv ...string) []string {
		t.Helper()
		a := c.Do("GET", "/v2/search/suggestions"+q(st, false, kv...), nil)
		expect(t, a, 200, "")
		return resultOf(t, a)
	}
	// "tea" is in two names (Green tea, Tea cup), "tea cup" in one.
	if got := suggest("query", "te"); !slices.Equal(got, []string{"tea", "tea cup"}) {
		t.Fatalf("te: %v", got)
	}
	if got := suggest("query", "Green T"); !slices.Equal(got, []string{"green tea"}) {
		t.Fatalf("Green T: %v", got)
	}
	if got := suggest("query", "tea "); !slices.Equal(got, []string{"tea cup"}) {
		t.Fatalf("tea + space (a finished word): %v", got)
	}
	if got := suggest("query", "grean t"); !slices.Equal(got, []string{"green tea"}) {
		t.Fatalf("a typo: %v", got)
	}
	if got := suggest("query", "te", "limit", "1"); !slices.Equal(got, []string{"tea"}) {
		t.Fatalf("limit 1: %v", got)
	}
	if got := suggest("query", "zzz"); len(got) != 0 {
		t.Fatalf("zzz: %v", got)
	}
	// Shoppers search "tea cup" and click the cup: it comes first.
	expect(t, c.Do("GET", "/v2/search/search"+q(st, false, "query", "tea cup", "labels", `["s"]`, "visitor", "v7"), nil), 200, "")
	pollSearchStats(t, c, st, func(s searchStatsAnswer) bool { return s.Total == 1 })
	expect(t, c.Do("POST", "/v2/log/click", map[string]any{"key": st.Public, "visitor": "v7", "product": "cup", "api": "search/search"}), 200, "")
	if got := suggest("query", "te"); !slices.Equal(got, []string{"tea cup", "tea"}) {
		t.Fatalf("te after a searched-and-clicked tea cup: %v", got)
	}
	expect(t, c.Do("GET", "/v2/search/suggestions"+q(st, false), nil), 400, "")
	expect(t, c.Do("GET", "/v2/search/suggestions"+q(st, false, "query", "te", "limit", "11"), nil), 400, "")
	expect(t, c.Do("GET", "/v2/search/suggestions"+q(st, false, "query", "te", "limit", "0"), nil), 400, "")
	long := make([]byte, maxQueryBytes+1)
	for i := range long {
		long[i] = 'a'
	}
	expect(t, c.Do("GET", "/v2/search/suggestions"+q(st, false, "query", string(long)), nil), 400, "")
}

// TestSearchCategoriesAndPages: categories and pages found by a typo
// and by a prefix, pages by their text and type, and bad input refused.
func TestSearchCategoriesAndPages(t *testing.T) {
	c, _ := startAPI(t)
	st := createStore(c, "catpages")
	// Before any data: empty lists, still 400 for bad input.
	if a := c.Do("GET", "/v2/search/categories"+q(st, false, "query", "x"), nil); a.Status != 200 || len(resultOf(t, a)) != 0 {
		t.Fatalf("no data: %s", a.Raw)
	}
	expect(t, c.Do("GET", "/v2/search/pages"+q(st, false), nil), 400, "")
	seedShop(t, c, st)
	expect(t, c.Do("POST", "/v2/categories"+q(st, true), `[{"id":1,"name":"Lighting","url":"/lighting"},
		{"id":2,"name":"Kitchen and tableware","url":"/kitchen"},{"id":3,"name":"Garden","url":"/garden"}]`), 200, "")
	expect(t, c.Do("POST", "/v2/pages"+q(st, true), `[
		{"id":"p1","type":"blog","title":"Brewing green tea","text":"How long to steep the leaves","url":"/blog/tea"},
		{"id":"p2","type":"cms","title":"Shipping and returns","text":"We deliver in two days","url":"/shipping"}]`), 200, "")
	type hit struct{ ID, Type, Name, URL string }
	find := func(path, list string, kv ...string) []hit {
		t.Helper()
		a := c.Do("GET", path+q(st, false, kv...), nil)
		expect(t, a, 200, "")
		var out map[string][]hit
		json.Unmarshal([]byte(a.Raw), &out)
		return out[list]
	}
	cats := func(kv ...string) []hit { t.Helper(); return find("/v2/search/categories", "categories", kv...) }
	pages := func(kv ...string) []hit { t.Helper(); return find("/v2/search/pages", "pages", kv...) }
	if got := cats("query", "lihgting"); len(got) != 1 || got[0] != (hit{"1", "", "Lighting", "/lighting"}) {
		t.Fatalf("a typo: %+v", got)
	}
	if got := cats("query", "kitch"); len(got) != 1 || got[0].ID != "2" {
		t.Fatalf("a prefix: %+v", got)
	}
	// An empty query lists categories, the fullest (the lamp's) first.
	if got := cats(); len(got) != 3 || got[0].ID != "1" {
		t.Fatalf("empty query: %+v", got)
	}
	if got := cats("limit", "2"); len(got) != 2 {
		t.Fatalf("limit 2: %+v", got)
	}
	if got := pages("query", "shiping"); len(got) != 1 || got[0] != (hit{"p2", "cms", "Shipping and returns", "/shipping"}) {
		t.Fatalf("a typo: %+v", got)
	}
	if got := pages("query", "brew"); len(got) != 1 || got[0].ID != "p1" {
		t.Fatalf("a prefix: %+v", got)
	}
	if got := pages("query", "steep"); len(got) != 1 || got[0].ID != "p1" {
		t.Fatalf("by text: %+v", got)
	}
	if got := pages("query", "tea", "type", "cms"); len(got) != 0 {
		t.Fatalf("type cms: %+v", got)
	}
	if got := pages("query", "tea", "type", "Blog"); len(got) != 1 || got[0].ID != "p1" {
		t.Fatalf("type Blog: %+v", got)
	}
	for _, path := range []string{"/v2/search/categories", "/v2/search/pages"} {
		expect(t, c.Do("GET", path+q(st, false, "query", "tea", "limit", "11"), nil), 400, "")
		expect(t, c.Do("GET", path+q(st, false, "query", "tea", "limit", "-1"), nil), 400, "")
	}
	expect(t, c.Do("POST", "/v2/search/pages", map[string]any{"key": st.Public, "query": []string{"x"}}), 400, "")
}

// TestSearchListsCustomized: a query's customized search pins and hides
// its categories, pages and suggestions as it does its products.
func TestSearchListsCustomized(t *testing.T) {
	c, _ := startAPI(t)
	st := createStore(c, "listpins")
	seedShop(t, c, st)
	expect(t, c.Do("POST", "/v2/categories"+q(st, true), `[{"id":1,"name":"Lamps and lighting"},{"id":2,"name":"Lamp shades"},{"id":3,"name":"Tea"}]`), 200, "")
	expect(t, c.Do("POST", "/v2/pages"+q(st, true), `[{"id":"p1","type":"blog","title":"Lamp care"},{"id":"p2","type":"blog","title":"Choosing a lamp"},{"id":"p3","type":"faq","title":"Tea storage"}]`), 200, "")
	list := func(path, field string) []string {
		t.Helper()
		a := c.Do("GET", path+q(st, false, "query", "lamp"), nil)
		expect(t, a, 200, "")
		var out []string
		for _, x := range a.Body[field].([]any) {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	if got := list("/v2/search/categories", "result"); !slices.Contains(got, "2") || slices.Contains(got, "3") {
		t.Fatalf("categories for lamp before: %v", got)
	}
	expect(t, c.Do("POST", "/v2/customized_search"+q(st, true), `{"rules":[{"query":"lamp",
		"categories":{"pin":["3"],"hide":["2"]},"pages":{"pin":["p3"],"hide":["p1"]},"suggestions":{"pin":["lamp deals"],"hide":["lamp"]}}]}`), 200, "")
	if got := list("/v2/search/categories", "result"); len(got) == 0 || got[0] != "3" || slices.Contains(got, "2") {
		t.Fatalf("categories for lamp: %v, want 3 pinned first and 2 hidden", got)
	}
	if got := list("/v2/search/pages", "result"); len(got) == 0 || got[0] != "p3" || slices.Contains(got, "p1") {
		t.Fatalf("pages for lamp: %v, want p3 pinned first and p1 hidden", got)
	}
	if got := list("/v2/search/suggestions", "result"); len(got) == 0 || got[0] != "lamp deals" || slices.Contains(got, "lamp") {
		t.Fatalf("suggestions for lamp: %v, want lamp deals first and lamp hidden", got)
	}
}
