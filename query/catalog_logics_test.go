package query

import (
	"slices"
	"strings"
	"testing"
)

func TestAPICatalogLogics(t *testing.T) {
	c, _ := startAPI(t)
	st := createStore(c, "shop")
	expect(t, c.Do("POST", "/v2/categories"+q(st, true), `[
		{"id":"light","name":"Lighting","subcategories":["bulbs"]},
		{"id":"bulbs","name":"Light bulbs"},
		{"id":"tea","name":"Tea and infusions"}]`), 200, "")
	seedShop(t, c, st) // lamp in category 1 only; add categories below
	expect(t, c.Do("PATCH", "/v2/products"+q(st, true), `[{"id":"lamp","categories":["light"]},{"id":"bulb","categories":["bulbs"]},{"id":"tea","categories":["tea"]},{"id":"cup","categories":["tea"]}]`), 200, "")
	expect(t, c.Do("POST", "/v2/pages"+q(st, true), `[
		{"id":"g1","type":"blog","title":"How to brew green tea","text":"Warm the cup, steep the tea for two minutes."},
		{"id":"g2","type":"blog","title":"Choosing a desk lamp","text":"A good lamp and a warm LED bulb."},
		{"id":"g3","type":"blog","title":"Tea ceremonies","text":"Green tea in Japan."}]`), 200, "")

	cp := c.Do("GET", "/v2/recommendations/category/popular"+q(st, false, "category", "light"), nil).IDs()
	if !slices.Equal(cp, []string{"lamp"}) {
		t.Fatalf("category/popular(light) = %v, want [lamp] (bulbs are a subcategory)", cp)
	}
	sub := c.Do("GET", "/v2/recommendations/category/popular_subcategories"+q(st, false, "category", "light"), nil).IDs()
	if !slices.Equal(sub, []string{"lamp", "bulb"}) {
		t.Fatalf("category/popular_subcategories(light) = %v, want [lamp bulb]", sub)
	}
	if got := c.Do("GET", "/v2/recommendations/category/new"+q(st, false, "category", "tea"), nil).IDs(); !slices.Equal(got, []string{"cup", "tea"}) {
		t.Fatalf("category/new(tea) = %v, want [cup tea]", got)
	}
	expect(t, c.Do("GET", "/v2/recommendations/category/popular"+q(st, false), nil), 400, "bad_request")

	kw := c.Do("GET", "/v2/recommendations/keywords"+q(st, false, "keywords", "green tea"), nil).IDs()
	if len(kw) == 0 || kw[0] != "tea" {
		t.Fatalf("keywords(green tea) = %v, want tea first", kw)
	}
	pp := c.Do("GET", "/v2/recommendations/page/product"+q(st, false, "page", "g2", "limit", "2"), nil).IDs()
	if !slices.Equal(slices.Sorted(slices.Values(pp)), []string{"bulb", "lamp"}) {
		t.Fatalf("page/product(g2) = %v, want lamp and bulb", pp)
	}
	pc := c.Do("GET", "/v2/recommendations/page/category"+q(st, false, "page", "g1"), nil).IDs()
	if len(pc) == 0 || pc[0] != "tea" {
		t.Fatalf("page/category(g1) = %v, want tea first", pc)
	}
	ps := c.Do("GET", "/v2/recommendations/page/substituting"+q(st, false, "page", "g1"), nil).IDs()
	if len(ps) == 0 || ps[0] != "g3" || slices.Contains(ps, "g1") {
		t.Fatalf("page/substituting(g1) = %v, want g3 first and not g1", ps)
	}
	expect(t, c.Do("GET", "/v2/recommendations/page/product"+q(st, false, "page", "nope"), nil), 404, "not_found")

	for _, p := range []string{"cup", "lamp"} {
		expect(t, c.Do("GET", "/v2/log/product"+q(st, false, "visitor", "w1", "product", p), nil), 200, "")
	}
	if got := c.Do("GET", "/v2/recommendations/currently_watched"+q(st, false, "limit", "2"), nil).IDs(); !slices.Equal(got, []string{"lamp", "cup"}) {
		t.Fatalf("currently_watched = %v, want lamp cup", got)
	}
	// debug says where results came from.
	dbg := c.Do("GET", "/v2/recommendations/category/popular"+q(st, false, "category", "bulbs", "limit", "3", "debug", "true"), nil)
	d, _ := dbg.Body["debug"].(map[string]any)
	if d == nil || d["logic"] != "category/popular" || len(d["sources"].([]any)) == 0 {
		t.Fatalf("debug missing: %s", dbg.Raw)
	}
}

func TestAPIFilterAndFacets(t *testing.T) {
	c, _ := startAPI(t)
	st := createStore(c, "shop")
	seedShop(t, c, st)
	expect(t, c.Do("PATCH", "/v2/products"+q(st, true), `[{"id":"lamp","brand":"Lumo","tags":["desk","led"]},{"id":"bulb","brand":"Lumo","tags":["led"]},{"id":"tea","brand":"Leaf"},{"id":"cup","brand":"Leaf","list_price":15}]`), 200, "")

	cases := []struct {
		filter string
		want   []string
	}{
		{`price > 10`, []string{"lamp", "cup"}},
		{`price > 10 and brand = 'Leaf'`, []string{"cup"}},
		{`brand = "Lumo" or on_sale = true`, []string{"lamp", "bulb", "cup"}},
		{`tags contains 'led'`, []string{"lamp", "bulb"}},
		{`id in ["tea", "cup"]`, []string{"tea", "cup"}},
		{`id not in ["tea", "cup"]`, []string{"lamp", "bulb"}},
		{`(price >= 8 and price <= 12)`, []string{"tea", "cup"}},
		{`colour = 'red'`, nil}, // unknown attribute matches nothing, and fallbacks are filtered too
	}
	for _, tc := range cases {
		got := c.Do("GET", "/v2/recommendations/popular"+q(st, false, "filter", tc.filter, "limit", "10"), nil)
		expect(t, got, 200, "")
		ids := got.IDs()
		if !slices.Equal(slices.Sorted(slices.Values(ids)), slices.Sorted(slices.Values(tc.want))) {
			t.Errorf("popular filter %q = %v, want %v", tc.filter, ids, tc.want)
		}
	}
	bad := c.Do("GET", "/v2/recommendations/popular"+q(st, false, "filter", "price >"), nil)
	expect(t, bad, 400, "bad_request")
	if msg, _ := bad.Body["message"].(string); !strings.Contains(msg, "at ") {
		t.Fatalf("filter syntax error should say where: %s", bad.Raw)
	}

	f := c.Do("GET", "/v2/product/facets"+q(st, false, "facets", `["brand","price"]`), nil)
	expect(t, f, 200, "")
	brand := f.Body["facets"].(map[string]any)["brand"].(map[string]any)["values"].([]any)
	if len(brand) != 2 || brand[0].(map[string]any)["count"] != 2.0 {
		t.Fatalf("brand facet = %v", brand)
	}
	price := f.Body["facets"].(map[string]any)["price"].(map[string]any)
	if price["min"] != 5.0 || price["max"] != 30.0 {
		t.Fatalf("price range facet = %v, want 5..30 (the hidden product left out)", price)
	}
	withFacets := c.Do("GET", "/v2/recommendations/popular"+q(st, false, "filter", "brand = 'Lumo'", "facets", `["brand"]`), nil)
	vals := withFacets.Body["facets"].(map[string]any)["brand"].(map[string]any)["values"].([]any)
	if len(vals) != 1 || vals[0].(map[string]any)["value"] != "Lumo" {
		t.Fatalf("facets of a filtered answer = %v", vals)
	}
}

func TestAPIOrderBy(t *testing.T) {
	c, _ := startAPI(t)
	st := createStore(c, "shop")
	seedShop(t, c, st)
	asc := c.Do("GET", "/v2/recommendations/popular"+q(st, false, "orderby", "price", "order", "asc"), nil).IDs()
	if !slices.Equal(asc, []string{"bulb", "tea", "cup", "lamp"}) {
		t.Fatalf("popular by price asc = %v", asc)
	}
	desc := c.Do("GET", "/v2/recommendations/popular"+q(st, false, "orderby", "price", "order", "desc", "limit", "2"), nil).IDs()
	if !slices.Equal(desc, []string{"lamp", "cup"}) {
		t.Fatalf("popular by price desc limit 2 = %v", desc)
	}
	expect(t, c.Do("GET", "/v2/recommendations/popular"+q(st, false, "orderby", "price", "order", "sideways"), nil), 400, "bad_request")
}
