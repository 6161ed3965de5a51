package query

import (
	"slices"
	"testing"
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
