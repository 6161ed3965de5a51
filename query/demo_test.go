package query_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/node"
	"github.com/sibylhq/sibyl/shard"
)

// TestWalkOnDemoData walks the recommendation, data and tracking
// endpoints on a slice of the bundled Online Retail data and checks what
// the answers mean, not just their shape.
func TestWalkOnDemoData(t *testing.T) {
	if testing.Short() {
		t.Skip("loads demo data: skipped with -short")
	}
	cfg := node.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr, cfg.RaftAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Shards = 2
	cfg.AdminToken = "walk-admin-token-0123456789"
	cfg.Group.Timers = shard.FastRaftTimers()
	cfg.ModelCheckInterval, cfg.ModelQuiet = 50*time.Millisecond, 0
	n, err := node.Open(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	w := &walker{t: t, base: "http://" + n.HTTPAddr()}
	st := w.call("POST", "/v2/stores", `{"name":"retail"}`, "Authorization", "Bearer walk-admin-token-0123456789")
	w.pk, w.sk = st["public_key"].(string), st["private_key"].(string)
	products, orders := w.load(4000)

	// popular: ranked by how many orders hold the product.
	counts := map[string]int{}
	for _, o := range orders {
		seen := map[ingest.ID]bool{}
		for _, l := range o.Products {
			if !seen[l.ID] {
				seen[l.ID] = true
				counts[string(l.ID)]++
			}
		}
	}
	pop := w.ids(w.get("/v2/recommendations/popular", "limit", "20"))
	if counts[pop[0]] < counts[pop[19]] {
		t.Fatalf("popular is not ordered by sales: %s in %d orders before %s in %d", pop[0], counts[pop[0]], pop[19], counts[pop[19]])
	}
	best := 0
	for _, c := range counts {
		best = max(best, c)
	}
	if counts[pop[0]] < best/2 {
		t.Fatalf("popular's first product sold in %d orders, the best seller in %d", counts[pop[0]], best)
	}
	// exclude really excludes.
	ex := w.ids(w.get("/v2/recommendations/popular", "limit", "20", "exclude", `["`+pop[0]+`","`+pop[1]+`"]`))
	if slices.Contains(ex, pop[0]) || slices.Contains(ex, pop[1]) || ex[0] != pop[2] {
		t.Fatalf("popular excluding the top two = %v, want to start at %s", ex[:3], pop[2])
	}
	// A filter on price returns only such products.
	for _, logic := range []string{"popular", "trending", "new"} {
		a := w.get("/v2/recommendations/"+logic, "limit", "30", "filter", "price > 10", "attributes", `["price"]`)
		data, _ := a["product_data"].([]any)
		if len(data) == 0 {
			t.Fatalf("%s with price > 10 returned nothing", logic)
		}
		for _, d := range data {
			if p := d.(map[string]any)["price"].(float64); p <= 10 {
				t.Fatalf("%s filter price > 10 returned a product at %v", logic, p)
			}
		}
	}
	// most_sold_with: the first answer is bought with the seed more often
	// than the tenth.
	seed := ingest.ID(pop[0])
	co := map[string]int{}
	for _, o := range orders {
		if slices.ContainsFunc(o.Products, func(l ingest.OrderLine) bool { return l.ID == seed }) {
			for _, l := range o.Products {
				if l.ID != seed {
					co[string(l.ID)]++
				}
			}
		}
	}
	msw := w.ids(w.get("/v2/recommendations/most_sold_with", "products", string(seed), "limit", "10"))
	if len(msw) != 10 || co[msw[0]] < co[msw[9]] || co[msw[0]] == 0 {
		t.Fatalf("most_sold_with(%s) = %v with counts %d..%d", seed, msw, co[msw[0]], co[msw[len(msw)-1]])
	}
	// keywords finds products by their names.
	kw := w.get("/v2/recommendations/keywords", "keywords", "heart", "limit", "5", "attributes", `["name"]`)
	for _, d := range kw["product_data"].([]any) {
		if name := d.(map[string]any)["name"].(string); !strings.Contains(strings.ToLower(name), "heart") {
			t.Fatalf("keywords heart returned %q", name)
		}
	}
	// Tracking: after three views, visitor/history returns them newest
	// first, and visitor/complementary leaves them out.
	views := []string{pop[5], pop[7], pop[9]}
	for _, p := range views {
		w.get("/v2/log/product", "visitor", "walker", "product", p)
	}
	hist := w.ids(w.get("/v2/recommendations/visitor/history", "visitor", "walker"))
	if !slices.Equal(hist, []string{pop[9], pop[7], pop[5]}) {
		t.Fatalf("visitor/history = %v, want %v", hist, []string{pop[9], pop[7], pop[5]})
	}
	vc := w.ids(w.get("/v2/recommendations/visitor/complementary", "visitor", "walker", "limit", "10"))
	if len(vc) != 10 || slices.ContainsFunc(vc, func(id string) bool { return slices.Contains(views, id) }) {
		t.Fatalf("visitor/complementary = %v: want 10 products, none of the viewed %v", vc, views)
	}
	// Customer logics: history holds only what the customer bought.
	cust := string(orders[0].Customer)
	bought := map[string]bool{}
	for _, o := range orders {
		if string(o.Customer) == cust {
			for _, l := range o.Products {
				bought[string(l.ID)] = true
			}
		}
	}
	ch := w.ids(w.getPrivate("/v2/recommendations/customer/history", "customer", cust, "limit", "100"))
	if len(ch) == 0 || slices.ContainsFunc(ch, func(id string) bool { return !bought[id] }) {
		t.Fatalf("customer/history(%s) = %v holds products the customer did not buy", cust, ch)
	}
	// Data endpoints agree with what was imported.
	total := w.getPrivate("/v2/products", "limit", "1")["total"].(float64)
	if int(total) != len(products) {
		t.Fatalf("products total %v, imported %d", total, len(products))
	}
	// Bad input on the demo store.
	for _, bad := range []struct{ path, k, v string }{
		{"/v2/recommendations/complementary", "products", ""},
		{"/v2/recommendations/popular", "filter", "price >"},
		{"/v2/recommendations/popular", "limit", "-1"},
		{"/v2/recommendations/visitor/complementary", "visitor", ""},
	} {
		if status := w.status("/v2/recommendations"+strings.TrimPrefix(bad.path, "/v2/recommendations"), bad.k, bad.v); status != 400 {
			t.Errorf("%s %s=%q: status %d, want 400", bad.path, bad.k, bad.v, status)
		}
	}
}

type walker struct {
	t      *testing.T
	base   string
	pk, sk string
}

func (w *walker) call(method, path, body string, header ...string) map[string]any {
	w.t.Helper()
	req, _ := http.NewRequest(method, w.base+path, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil || resp.StatusCode != 200 {
		w.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return out
}

func (w *walker) query(private bool, kv ...string) string {
	v := url.Values{"key": {w.pk}}
	if private {
		v.Set("private_key", w.sk)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return "?" + v.Encode()
}

func (w *walker) get(path string, kv ...string) map[string]any {
	w.t.Helper()
	return w.call("GET", path+w.query(false, kv...), "")
}

func (w *walker) getPrivate(path string, kv ...string) map[string]any {
	w.t.Helper()
	return w.call("GET", path+w.query(true, kv...), "")
}

func (w *walker) status(path string, kv ...string) int {
	resp, err := http.Get(w.base + path + w.query(false, kv...))
	if err != nil {
		w.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (w *walker) ids(a map[string]any) []string {
	var out []string
	for _, v := range a["result"].([]any) {
		out = append(out, fmt.Sprint(v))
	}
	return out
}

var errEnough = errors.New("enough")

type sliceSink struct {
	products []ingest.Product
	cust     []ingest.Customer
	orders   []ingest.Order
	max      int
}

func (s *sliceSink) Product(p *ingest.Product) error   { s.products = append(s.products, *p); return nil }
func (s *sliceSink) Customer(c *ingest.Customer) error { s.cust = append(s.cust, *c); return nil }
func (s *sliceSink) Order(o *ingest.Order) error {
	if len(s.orders) >= s.max {
		return errEnough
	}
	s.orders = append(s.orders, *o)
	return nil
}

// load imports the first maxOrders orders of the bundled demo file.
func (w *walker) load(maxOrders int) ([]ingest.Product, []ingest.Order) {
	f, err := os.Open("../demo/online-retail.csv.gz")
	if err != nil {
		w.t.Fatalf("bundled demo data missing: %v", err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		w.t.Fatal(err)
	}
	s := &sliceSink{max: maxOrders}
	if _, err := ingest.ReadOnlineRetail(gz, s); err != nil && !errors.Is(err, errEnough) {
		w.t.Fatal(err)
	}
	post := func(kind string, recs any) {
		b, _ := json.Marshal(map[string]any{kind: recs})
		w.call("POST", "/v2/"+kind+w.query(true), string(bytes.TrimSpace(b)))
	}
	for i := 0; i < len(s.products); i += 2000 {
		post("products", s.products[i:min(i+2000, len(s.products))])
	}
	for i := 0; i < len(s.cust); i += 2000 {
		post("customers", s.cust[i:min(i+2000, len(s.cust))])
	}
	for i := 0; i < len(s.orders); i += 500 {
		post("orders", s.orders[i:min(i+500, len(s.orders))])
	}
	return s.products, s.orders
}
