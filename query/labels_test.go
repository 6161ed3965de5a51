package query

import "testing"

func TestLabelAttribution(t *testing.T) {
	c, b := startAPI(t)
	st := createStore(c, "shop")
	seedShop(t, c, st)
	for i := 0; i < 3; i++ {
		expect(t, c.Do("GET", "/v2/recommendations/popular"+q(st, false, "labels", `["home-top"]`), nil), 200, "")
	}
	expect(t, c.Do("GET", "/v2/recommendations/complementary"+q(st, false, "products", "lamp", "labels", `["pdp-cross"]`), nil), 200, "")
	// v1 clicks lamp from home-top and bulb from pdp-cross, then buys lamp
	// and tea: one sale for home-top, none for pdp-cross (bulb not bought).
	expect(t, c.Do("POST", "/v2/log/click", map[string]any{"key": st.Public, "visitor": "v1", "product": "lamp", "labels": []string{"home-top"}}), 200, "")
	expect(t, c.Do("POST", "/v2/log/click", map[string]any{"key": st.Public, "visitor": "v1", "product": "bulb", "labels": []string{"pdp-cross"}}), 200, "")
	expect(t, c.Do("POST", "/v2/log/sale", map[string]any{"key": st.Public, "visitor": "v1", "sale": "s1", "products": []map[string]any{{"id": "lamp"}, {"id": "tea"}}}), 200, "")
	// A second visitor buys lamp without a click: no attribution.
	expect(t, c.Do("POST", "/v2/log/sale", map[string]any{"key": st.Public, "visitor": "v2", "sale": "s2", "products": []string{"lamp"}}), 200, "")

	want := map[string][3]float64{"home-top": {3, 1, 1}, "pdp-cross": {1, 1, 0}}
	check := func(c *apiClient) {
		t.Helper()
		a := c.Do("GET", "/v2/stats/labels"+q(st, true), nil)
		expect(t, a, 200, "")
		labels := a.Body["labels"].(map[string]any)
		for l, w := range want {
			got, _ := labels[l].(map[string]any)
			if got == nil || got["clicks"] != w[1] || got["sales"] != w[2] {
				t.Fatalf("label %s = %v, want clicks %v sales %v (all: %s)", l, got, w[1], w[2], a.Raw)
			}
		}
	}
	check(c)
	got := c.Do("GET", "/v2/stats/labels"+q(st, true), nil).Body["labels"].(map[string]any)["home-top"].(map[string]any)
	if got["impressions"] != 3.0 {
		t.Fatalf("home-top impressions = %v, want 3", got["impressions"])
	}
	expect(t, c.Do("GET", "/v2/stats/labels"+q(st, false), nil), 403, "forbidden")
	// Clicks and sales are replicated state: they survive a restart (the
	// engine rebuilt from what it wrote).
	b.restart(t)
	check(c)
}
