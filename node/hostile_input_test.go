package node

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func idList(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

// TestHostileRequestsRefused replays the public-key attacks of issue 11
// through the API: each gets a 4xx with a short message (at most about
// 100 bytes of the input quoted), quickly, and the store keeps working.
func TestHostileRequestsRefused(t *testing.T) {
	n := testNode(t, "")
	c := newClient(t, n.HTTPAddr())
	st := createStore(c, "shop")
	seedShop(t, c, st)
	mb := strings.Repeat("x", 1<<20)
	pub := func(kv map[string]any) map[string]any {
		kv["key"] = st.Public
		return kv
	}
	for _, tc := range []struct {
		name, path string
		body       map[string]any
	}{
		// The poison pill: 12,000 products and 12,000 labels (157 KB).
		{"click 12k x 12k", "/v2/log/click", pub(map[string]any{"visitor": "v1", "products": idList("p", 12_000), "labels": idList("label-", 12_000)})},
		{"cart_add 100k ids", "/v2/log/cart/add", pub(map[string]any{"visitor": "v1", "products": idList("c", 100_000)})},
		{"cart_remove 100k ids", "/v2/log/cart/remove", pub(map[string]any{"visitor": "v1", "products": idList("c", 100_000)})},
		{"product of 1 MB id", "/v2/log/product", pub(map[string]any{"visitor": "v1", "product": mb})},
		{"email of 1 MB", "/v2/log/email", pub(map[string]any{"visitor": "v1", "email": mb + "@example.com"})},
		{"visitor of 1 KB", "/v2/log/product", pub(map[string]any{"visitor": mb[:1024], "product": "lamp"})},
		{"label of 1 KB", "/v2/log/click", pub(map[string]any{"visitor": "v1", "product": "lamp", "labels": []string{mb[:1024]}})},
		{"sale with 100k lines", "/v2/log/sale", pub(map[string]any{"visitor": "v1", "sale": "s9", "products": idList("p", 100_000)})},
		{"complementary 100k seeds + 100k excludes", "/v2/recommendations/complementary", pub(map[string]any{"products": idList("p", 100_000), "exclude": idList("e", 100_000)})},
		{"popular with 100k labels", "/v2/recommendations/popular", pub(map[string]any{"labels": idList("l", 100_000)})},
		{"popular with 100k excludes", "/v2/recommendations/popular", pub(map[string]any{"exclude": idList("e", 100_000)})},
		{"most_sold_with a 1 MB seed", "/v2/recommendations/most_sold_with", pub(map[string]any{"products": []string{mb}})},
	} {
		start := time.Now()
		a := c.Do("POST", tc.path, tc.body)
		if a.Status < 400 || a.Status >= 500 {
			t.Fatalf("%s: status %d, want 4xx: %.300s", tc.name, a.Status, a.Raw)
		}
		if len(a.Raw) > 400 {
			t.Errorf("%s: answer of %d bytes echoes the input: %.300s", tc.name, len(a.Raw), a.Raw)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: refused after %v", tc.name, d)
		}
	}
	// The store works, and the biggest accepted requests are accepted.
	expect(t, c.Do("POST", "/v2/log/cart/add", pub(map[string]any{"visitor": "v1", "products": idList("c", 1000)})), 200, "")
	expect(t, c.Do("POST", "/v2/log/click", pub(map[string]any{"visitor": "v1", "product": "lamp", "labels": idList("l", 20)})), 200, "")
	// The largest event allowed: 1,000 ids of 1 KiB fit one command.
	longIDs := idList("", 1000)
	for i := range longIDs {
		longIDs[i] += strings.Repeat("i", 1024-len(longIDs[i]))
	}
	expect(t, c.Do("POST", "/v2/log/cart/add", pub(map[string]any{"visitor": "v3", "products": longIDs, "labels": idList("l", 20), "email": strings.Repeat("e", 242) + "@example.com"})), 200, "")
	expect(t, c.Do("POST", "/v2/recommendations/complementary", pub(map[string]any{"products": append([]string{"lamp"}, idList("p", 99)...), "exclude": idList("e", 1000)})), 200, "")
	a := c.Do("GET", "/v2/stats/labels"+q(st, true, "limit", "5"), nil)
	expect(t, a, 200, "")
	if order, _ := a.Body["order"].([]any); len(order) != 5 || a.Body["total"] != 20.0 {
		t.Fatalf("labels page: %s", a.Raw)
	}
}
