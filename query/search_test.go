package query

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/ingest"
)

// TestSearchEndpoints: search/search and search/predictive over the seed
// shop, through the real engine: what matches, what a typo, a stem, a
// prefix, a filter and a hidden product do, and the answer's shape.
func TestSearchEndpoints(t *testing.T) {
	c, _ := startAPI(t)
	st := createStore(c, "search")
	seedShop(t, c, st)
	search := func(path string, kv ...string) answer {
		t.Helper()
		return c.Do("GET", path+q(st, false, kv...), nil)
	}
	sorted := func(a answer) []string { ids := a.IDs(); slices.Sort(ids); return ids }

	a := search("/v2/search/search", "query", "tea")
	expect(t, a, 200, "")
	if got := sorted(a); !slices.Equal(got, []string{"cup", "tea"}) || a.Body["hits"] != float64(2) || a.Body["no_exact_match"] != false || a.Body["count"] != float64(2) {
		t.Fatalf("tea: %s", a.Raw)
	}
	if got := search("/v2/search/search", "query", "bulbs").IDs(); !slices.Equal(got, []string{"bulb"}) {
		t.Fatalf("a plural finds by stem: %v", got)
	}
	a = search("/v2/search/search", "query", "greem tea")
	if got := a.IDs(); !slices.Equal(got, []string{"tea"}) || a.Body["no_exact_match"] != true {
		t.Fatalf("a typo in a 5-letter word: %s", a.Raw)
	}
	if a := search("/v2/search/search", "query", "secret"); len(a.IDs()) != 0 || a.Body["hits"] != float64(0) {
		t.Fatalf("a hidden product (index: false) was found: %s", a.Raw)
	}
	if got := search("/v2/search/search", "query", "tea", "filter", "price > 10").IDs(); !slices.Equal(got, []string{"cup"}) {
		t.Fatalf("filter: %v", got)
	}
	if a := search("/v2/search/search", "query", "tea", "limit", "1"); len(a.IDs()) != 1 || a.Body["hits"] != float64(2) {
		t.Fatalf("limit 1: %s", a.Raw)
	}
	if got := search("/v2/search/predictive", "query", "des").IDs(); !slices.Equal(got, []string{"lamp"}) {
		t.Fatalf("as you type, des: %v", got)
	}
	expect(t, search("/v2/search/predictive", "query", "des", "limit", "11"), 400, "")
	expect(t, search("/v2/search/search"), 400, "")
	// Category names are searched (below the name): category 1 holds
	// the lamp; a new category name is found at the next request.
	expect(t, c.Do("POST", "/v2/categories"+q(st, true), `[{"id":1,"name":"Lighting"}]`), 200, "")
	if got := search("/v2/search/search", "query", "lighting").IDs(); !slices.Equal(got, []string{"lamp"}) {
		t.Fatalf("category name: %v", got)
	}
	if a := c.Do("POST", "/v2/search/search", map[string]any{"key": st.Public, "query": "cup"}); a.Status != 200 || !slices.Equal(a.IDs(), []string{"cup"}) {
		t.Fatalf("POST: %s", a.Raw)
	}
}

// TestSearchFollowsWrites: the index changes in place with every product
// write, at the next request: a new product is found, a renamed one by
// its new name only, a deleted or hidden one no more; and a product's
// id, sku or ean typed whole finds it first.
func TestSearchFollowsWrites(t *testing.T) {
	c, _ := startAPI(t)
	st := createStore(c, "searchwrites")
	seedShop(t, c, st)
	find := func(query string) []string {
		t.Helper()
		a := c.Do("GET", "/v2/search/search"+q(st, false, "query", query), nil)
		expect(t, a, 200, "")
		return a.IDs()
	}
	if got := find("lamp"); !slices.Equal(got, []string{"lamp"}) {
		t.Fatalf("lamp: %v", got)
	}
	expect(t, c.Do("POST", "/v2/products"+q(st, true), `[{"id":"lamp2","name":"Floor lamp","price":50}]`), 200, "")
	if got := find("lamp"); len(got) != 2 {
		t.Fatalf("a new product is not found at the next request: %v", got)
	}
	expect(t, c.Do("PATCH", "/v2/products"+q(st, true), `[{"id":"lamp","name":"Desk light"}]`), 200, "")
	if got := find("lamp"); !slices.Equal(got, []string{"lamp2"}) {
		t.Fatalf("a renamed product still matches its old name: %v", got)
	}
	if got := find("light"); !slices.Equal(got, []string{"lamp"}) {
		t.Fatalf("a renamed product by its new name: %v", got)
	}
	expect(t, c.Do("DELETE", "/v2/products"+q(st, true, "products", `["lamp2"]`), nil), 200, "")
	if got := find("floor"); len(got) != 0 {
		t.Fatalf("a deleted product is found: %v", got)
	}
	expect(t, c.Do("PATCH", "/v2/products"+q(st, true), `[{"id":"lamp","index":false}]`), 200, "")
	if got := find("light"); len(got) != 0 {
		t.Fatalf("a product made unsearchable (index: false) is found: %v", got)
	}
	expect(t, c.Do("POST", "/v2/products"+q(st, true), `[{"id":"P-77","name":"Cable","sku":"AB-1234","ean":"5701234567890"},
		{"id":"p78","name":"Cable AB 1234 adapter"}]`), 200, "")
	for _, code := range []string{"ab-1234", "5701234567890", "p-77"} {
		if got := find(code); len(got) == 0 || got[0] != "P-77" {
			t.Fatalf("code %s: %v, want P-77 first", code, got)
		}
	}
}

// TestSearchRanking: longtail, the no-match fallback, clicks on a query's
// results, the language parameter and debug.
func TestSearchRanking(t *testing.T) {
	c, _ := startAPI(t)
	st := createStore(c, "searchrank")
	seedShop(t, c, st)
	search := func(kv ...string) answer {
		t.Helper()
		a := c.Do("GET", "/v2/search/search"+q(st, false, kv...), nil)
		expect(t, a, 200, "")
		return a
	}
	if got := search("query", "green tea").IDs(); !slices.Equal(got, []string{"tea"}) {
		t.Fatalf("green tea: %v", got)
	}
	if got := search("query", "green tea", "longtail", "true").IDs(); !slices.Equal(got, []string{"tea", "cup"}) {
		t.Fatalf("longtail: any word, more words first: %v", got)
	}
	// "gren" has 4 letters: no typo allowed, nothing matches; the
	// fallback takes the nearest word and says so.
	a := search("query", "gren", "debug", "true")
	if got := a.IDs(); len(got) == 0 || got[0] != "tea" || a.Body["no_exact_match"] != true {
		t.Fatalf("fallback: %s", a.Raw)
	}
	if !strings.Contains(a.Raw, `"fallback":"nearest words`) {
		t.Fatalf("debug does not say the fallback answered: %s", a.Raw)
	}
	// Debug says why each hit ranked.
	a = search("query", "tea", "debug", "true")
	var dbg struct {
		Debug struct {
			Search searchDebug `json:"search"`
		} `json:"debug"`
	}
	if err := json.Unmarshal([]byte(a.Raw), &dbg); err != nil {
		t.Fatal(err)
	}
	if h := dbg.Debug.Search.Hits; len(h) != 2 || h[0].Field != "name" || h[0].Words != 1 || len(dbg.Debug.Search.Rules) == 0 {
		t.Fatalf("debug: %s", a.Raw)
	}
	first := a.IDs()[0]
	other := map[string]string{"tea": "cup", "cup": "tea"}[first]
	// Shoppers who search "tea" click the other one: it comes first.
	for i := range 3 {
		v := fmt.Sprint("v", i)
		search("query", "tea", "labels", `["search"]`, "visitor", v)
		pollSearchStats(t, c, st, func(s searchStatsAnswer) bool { r, _ := rowOf(s.Top, "tea"); return r.Searches == int64(i+1) })
		expect(t, c.Do("POST", "/v2/log/click", map[string]any{"key": st.Public, "visitor": v, "product": other, "api": "search/search"}), 200, "")
	}
	deadline := time.Now().Add(10 * time.Second)
	for search("query", "tea").IDs()[0] != other {
		if time.Now().After(deadline) {
			t.Fatalf("clicks on %s for tea do not lift it: %v", other, search("query", "tea").IDs())
		}
		time.Sleep(time.Millisecond)
	}
	expect(t, c.Do("GET", "/v2/search/search"+q(st, false, "query", "tea", "language", "klingon"), nil), 400, "")
	if got := search("query", "tea", "language", "da").IDs(); len(got) != 2 {
		t.Fatalf("language da: %v", got)
	}
}

// TestSearchFacetsEqualScan: facet counts over a search's matches equal
// counting the matching products one by one, for attributes with few
// values (counted by bitmaps) and many (counted by a scan), with a filter.
func TestSearchFacetsEqualScan(t *testing.T) {
	c, _ := startAPI(t)
	st := createStore(c, "searchfacets")
	var ps []string
	type prod struct {
		brand string
		price int
		tags  []string
	}
	want := map[string]map[string]int{"brand": {}, "price": {}, "tags": {}, "code": {}}
	for i := range 400 {
		p := prod{fmt.Sprint("brand", i%7), i % 23, []string{fmt.Sprint("t", i%3), fmt.Sprint("u", i%5)}}
		name := "widget"
		if i%4 == 0 {
			name = "gadget"
		}
		tags, _ := json.Marshal(p.tags)
		ps = append(ps, fmt.Sprintf(`{"id":"w%d","name":"%s %d","price":%d,"brand":"%s","tags":%s,"code":"c%d"}`, i, name, i, p.price, p.brand, tags, i))
		if name == "widget" && p.price < 15 {
			want["brand"][p.brand]++
			want["price"][fmt.Sprint(p.price)]++
			for _, tg := range p.tags {
				want["tags"][tg]++
			}
			want["code"][fmt.Sprint("c", i)]++
		}
	}
	expect(t, c.Do("POST", "/v2/products"+q(st, true), "["+strings.Join(ps, ",")+"]"), 200, "")
	a := c.Do("GET", "/v2/search/search"+q(st, false, "query", "widget", "filter", "price < 15", "facets", `["brand","price","tags","code"]`, "limit", "5"), nil)
	expect(t, a, 200, "")
	var got struct {
		Hits   int `json:"hits"`
		Facets map[string]struct {
			Values []struct {
				Value string `json:"value"`
				Count int    `json:"count"`
			} `json:"values"`
		} `json:"facets"`
	}
	if err := json.Unmarshal([]byte(a.Raw), &got); err != nil {
		t.Fatal(err)
	}
	if got.Hits != len(want["code"]) {
		t.Fatalf("hits %d, want %d", got.Hits, len(want["code"]))
	}
	for name, counts := range want {
		f := got.Facets[name].Values
		if name == "code" {
			if len(f) != facetValuesKept || f[0].Count != 1 {
				t.Fatalf("code facet: %d values (first %+v), want the %d kept of %d, each 1", len(f), f[0], facetValuesKept, len(counts))
			}
			continue
		}
		if len(f) != len(counts) {
			t.Fatalf("%s: %d values, want %d: %+v", name, len(f), len(counts), f)
		}
		for _, v := range f {
			if counts[v.Value] != v.Count {
				t.Fatalf("%s=%s: %d, a scan counts %d", name, v.Value, v.Count, counts[v.Value])
			}
		}
	}
}

// TestSearchOrderBy: orderby sorts every match (not only the best page of
// text hits) by the attribute, pins aside.
func TestSearchOrderBy(t *testing.T) {
	c, _ := startAPI(t)
	st := createStore(c, "searchorder")
	var ps []string
	for i := range 300 {
		// Cheaper widgets come later in id and text order: a sort of
		// the text's first page would miss them.
		ps = append(ps, fmt.Sprintf(`{"id":"w%03d","name":"widget %d","price":%d}`, i, i, 1000-i))
	}
	expect(t, c.Do("POST", "/v2/products"+q(st, true), "["+strings.Join(ps, ",")+"]"), 200, "")
	for _, tc := range []struct {
		order string
		want  []string
	}{{"asc", []string{"w299", "w298", "w297"}}, {"desc", []string{"w000", "w001", "w002"}}} {
		a := c.Do("GET", "/v2/search/search"+q(st, false, "query", "widget", "orderby", "price", "order", tc.order, "limit", "3"), nil)
		expect(t, a, 200, "")
		if got := a.IDs(); !slices.Equal(got, tc.want) || a.Body["hits"] != float64(300) {
			t.Fatalf("orderby price %s: %s, want %v", tc.order, a.Raw, tc.want)
		}
	}
}

// TestSearchCacheFollowsData: a repeated search is answered from the
// cache, but never across a change of what it was computed from: new
// sales reorder the very next identical request, as do merchandising
// writes.
func TestSearchCacheFollowsData(t *testing.T) {
	c, _ := startAPI(t)
	st := createStore(c, "searchcache")
	seedShop(t, c, st)
	tea := func() []string {
		t.Helper()
		a := c.Do("GET", "/v2/search/search"+q(st, false, "query", "tea"), nil)
		expect(t, a, 200, "")
		return a.IDs()
	}
	first := tea()
	if again := tea(); !slices.Equal(first, again) {
		t.Fatalf("the same request twice: %v then %v", first, again)
	}
	other := map[string]string{"tea": "cup", "cup": "tea"}[first[0]]
	var orders []string
	for i := range 5 {
		orders = append(orders, fmt.Sprintf(`{"id":"x%d","time":%d,"customer":"c1","products":[{"id":"%s","quantity":1,"price":8}]}`, i, 1700001000+i, other))
	}
	expect(t, c.Do("POST", "/v2/orders"+q(st, true), "["+strings.Join(orders, ",")+"]"), 200, "")
	if got := tea(); got[0] != other {
		t.Fatalf("after 5 sales of %s the same search still answers %v", other, got)
	}
	expect(t, c.Do("POST", "/v2/customized_search"+q(st, true), `{"rules":[{"query":"tea","products":{"hide":["`+other+`"]}}]}`), 200, "")
	if got := tea(); slices.Contains(got, other) {
		t.Fatalf("after hiding %s the same search still answers %v", other, got)
	}
}

// An answer too large for the cache (here: hundreds of facet values) is
// not kept, so a store's cache stays within entries x answerCacheMaxBytes.
func TestAnswerCacheBoundsSize(t *testing.T) {
	c := newAnswerCache(4)
	small := searchAnswer{page: []ingest.ID{"a", "b"}}
	var vals []facetValue
	for i := range 400 {
		vals = append(vals, facetValue{fmt.Sprint("value-", i), 1})
	}
	big := searchAnswer{page: []ingest.ID{"a"}, facets: map[string]any{"brand": map[string]any{"values": vals}}}
	now := cachedAnswer{at: time.Now()}
	c.put("small", now, small)
	c.put("big", now, big)
	if _, ok := c.get("small", now); !ok {
		t.Fatal("a small answer was not cached")
	}
	if _, ok := c.get("big", now); ok || big.size() <= answerCacheMaxBytes {
		t.Fatalf("an answer of about %d bytes was cached (limit %d)", big.size(), answerCacheMaxBytes)
	}
	// Past the store's byte budget the oldest answers go, and the count
	// follows evictions.
	many := newAnswerCache(1 << 20)
	var page []ingest.ID
	for i := range 300 {
		page = append(page, ingest.ID(fmt.Sprint("product-", i)))
	}
	wide := searchAnswer{page: page}
	for i := range 2 * answerCacheStoreBytes / wide.size() {
		many.put(fmt.Sprint("q", i), now, wide)
	}
	if b := many.bytes.Load(); b > answerCacheStoreBytes || b < answerCacheStoreBytes/2 {
		t.Fatalf("cache holds %d bytes, budget %d", b, answerCacheStoreBytes)
	}
	if _, ok := many.get("q0", now); ok {
		t.Fatal("the oldest answer outlived the byte budget")
	}
}
