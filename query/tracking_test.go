package query

import (
	"slices"
	"strings"
	"testing"
)

func TestTrackingChangesVisitorAnswers(t *testing.T) {
	c, b := startAPI(t)
	st := createStore(c, "two needs")
	twoNeedShop(t, c, st)

	// Before any event the visitor gets the fallback (popular), not an error.
	before := c.Do("GET", "/v2/recommendations/visitor/complementary"+q(st, false, "visitor", "v1", "limit", "3"), nil)
	expect(t, before, 200, "")
	if len(before.IDs()) != 3 {
		t.Fatalf("new visitor got %v, want 3 fallback products", before.IDs())
	}
	for _, p := range []string{"n0", "p1", "n2"} {
		expect(t, c.Do("GET", "/v2/log/product"+q(st, false, "visitor", "v1", "product", p), nil), 200, "")
	}
	hist := c.Do("GET", "/v2/recommendations/visitor/history"+q(st, false, "visitor", "v1"), nil)
	if got := hist.IDs(); !slices.Equal(got, []string{"n2", "p1", "n0"}) {
		t.Fatalf("visitor/history = %v, want n2 p1 n0 (most recent first)", got)
	}
	// Viewing stationery makes the next answer stationery (the model is
	// folded in from the session; the node's model loop trains it in the
	// background, here at once).
	b.retrain(t)
	got := c.Do("GET", "/v2/recommendations/visitor/complementary"+q(st, false, "visitor", "v1", "limit", "3"), nil).IDs()
	if len(got) == 0 {
		t.Fatal("visitor/complementary after stationery views is empty")
	}
	for _, id := range got {
		if id[0] != 'n' && id[0] != 'p' || slices.Contains([]string{"n0", "p1", "n2"}, id) {
			t.Fatalf("visitor/complementary after stationery views = %v, want other stationery", got)
		}
	}
	// Clicks and carts count too; a cart removal leaves history intact.
	expect(t, c.Do("POST", "/v2/log/click", map[string]any{"key": st.Public, "visitor": "v1", "product": "m1", "api": "recommendations/popular", "n": 2}), 200, "")
	expect(t, c.Do("POST", "/v2/log/cart/add", map[string]any{"key": st.Public, "visitor": "v1", "product": "s1"}), 200, "")
	expect(t, c.Do("POST", "/v2/log/cart/remove", map[string]any{"key": st.Public, "visitor": "v1", "product": "s1"}), 200, "")
	if got := c.Do("GET", "/v2/recommendations/visitor/history"+q(st, false, "visitor", "v1", "limit", "2"), nil).IDs(); !slices.Equal(got, []string{"s1", "m1"}) {
		t.Fatalf("after click and cart visitor/history = %v, want s1 m1", got)
	}
	// visitor=auto mints an id the client keeps.
	auto := c.Do("GET", "/v2/log/product"+q(st, false, "visitor", "auto", "product", "m0"), nil)
	expect(t, auto, 200, "")
	vid, _ := auto.Body["visitor"].(string)
	if !strings.HasPrefix(vid, "v_") {
		t.Fatalf("visitor=auto returned %s", auto.Raw)
	}
	if got := c.Do("GET", "/v2/recommendations/visitor/history"+q(st, false, "visitor", vid), nil).IDs(); !slices.Equal(got, []string{"m0"}) {
		t.Fatalf("minted visitor's history = %v", got)
	}
	// Bad input.
	expect(t, c.Do("GET", "/v2/log/product"+q(st, false, "visitor", "v1"), nil), 400, "bad_request")
	expect(t, c.Do("GET", "/v2/log/product"+q(st, false, "product", "m0"), nil), 400, "bad_request")
	expect(t, c.Do("GET", "/v2/log/returned"+q(st, false, "sale", "o1"), nil), 403, "forbidden")
	expect(t, c.Do("GET", "/v2/log/sale"+q(st, false, "visitor", "v1"), nil), 400, "bad_request")
	expect(t, c.Do("POST", "/v2/log/sale", map[string]any{"key": st.Public, "visitor": "v1", "sale": "x1",
		"products": []map[string]any{{"id": "m1", "quantity": 1, "price": 5}}}), 200, "")

	// Sessions survive a restart (the engine rebuilt from what it wrote).
	b.restart(t)
	if got := c.Do("GET", "/v2/recommendations/visitor/history"+q(st, false, "visitor", "v1", "limit", "2"), nil).IDs(); !slices.Equal(got, []string{"s1", "m1"}) {
		t.Fatalf("after restart visitor/history = %v, want s1 m1", got)
	}
}
