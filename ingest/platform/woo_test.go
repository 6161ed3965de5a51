package platform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/ingest"
)

// wooFixture mimics the WooCommerce REST API v3 under /wp-json/wc/v3 over
// HTTPS: basic auth with the consumer key pair or the consumer_key and
// consumer_secret query parameters (401 with WordPress's error document
// otherwise), page and per_page (at most 100, 400 rest_invalid_param
// beyond), X-WP-Total and X-WP-TotalPages headers, bare JSON lists.
//
//	https://woocommerce.github.io/woocommerce-rest-api-docs/#authentication
//	https://woocommerce.github.io/woocommerce-rest-api-docs/#pagination
//	https://woocommerce.github.io/woocommerce-rest-api-docs/#list-all-products
type wooFixture struct {
	key, secret string
	docs        map[string][]string

	mu           sync.Mutex
	firstQueries map[string]url.Values
	requests     map[string]int
	basicAuth    int
}

func (f *wooFixture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	q := r.URL.Query()
	user, pass, basic := r.BasicAuth()
	if basic {
		f.basicAuth++
	} else {
		user, pass = q.Get("consumer_key"), q.Get("consumer_secret")
	}
	if user != f.key || pass != f.secret {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"code":"woocommerce_rest_authentication_error","message":"Invalid signature - provided signature does not match.","data":{"status":401}}`)
		return
	}
	res := strings.TrimPrefix(r.URL.Path, "/wp-json/wc/v3/")
	all, ok := f.docs[res]
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"code":"rest_no_route","message":"No route was found matching the URL and request method.","data":{"status":404}}`)
		return
	}
	f.requests[res]++
	perPage, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || perPage < 1 || perPage > 100 {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"code":"rest_invalid_param","message":"Invalid parameter(s): per_page","data":{"status":400,"params":{"per_page":"per_page must be between 1 (inclusive) and 100 (inclusive)"}}}`)
		return
	}
	page, err := strconv.Atoi(q.Get("page"))
	if err != nil || page < 1 {
		page = 1
	}
	if page == 1 {
		f.firstQueries[res] = q
	}
	pages := (len(all) + perPage - 1) / perPage
	w.Header().Set("X-WP-Total", strconv.Itoa(len(all)))
	w.Header().Set("X-WP-TotalPages", strconv.Itoa(pages))
	start := min((page-1)*perPage, len(all))
	end := min(start+perPage, len(all))
	fmt.Fprintf(w, "[%s]", strings.Join(all[start:end], ","))
}

// wooFixtureData returns the fixture's documents without a server.
func wooFixtureData() *wooFixture {
	f := &wooFixture{
		key: "ck_fixture_key", secret: "cs_fixture_secret_value",
		firstQueries: map[string]url.Values{}, requests: map[string]int{},
		docs: map[string][]string{
			"products/categories": {
				`{"id":9,"name":"Clothing","slug":"clothing","parent":0,"description":"","display":"default","image":null,"menu_order":0,"count":36}`,
				`{"id":14,"name":"T-shirts","slug":"t-shirts","parent":9,"description":"","display":"default","image":null,"menu_order":0,"count":6}`,
				`{"id":15,"name":"Hoodies","slug":"hoodies","parent":9,"count":4}`,
			},
			"products": {
				`{"id":794,"name":"Premium Quality","slug":"premium-quality-19","permalink":"https://example.com/product/premium-quality-19/","date_created":"2017-03-23T17:01:14","date_created_gmt":"2017-03-23T20:01:14","date_modified_gmt":"2017-03-23T20:01:14","type":"simple","status":"publish","featured":false,"catalog_visibility":"visible","description":"<p>Pellentesque habitant morbi tristique senectus et netus et malesuada fames ac turpis egestas.</p>\n<ul><li>Soft</li><li>Warm &amp; cosy</li></ul>\n","short_description":"<p>Pellentesque habitant.</p>\n","sku":"PQ-1","price":"21.99","regular_price":"24.99","sale_price":"21.99","on_sale":true,"stock_quantity":12,"stock_status":"instock","categories":[{"id":9,"name":"Clothing","slug":"clothing"},{"id":14,"name":"T-shirts","slug":"t-shirts"}],"tags":[{"id":3,"name":"cotton","slug":"cotton"}],"images":[{"id":792,"src":"https://example.com/wp-content/uploads/2017/03/T_2_front-4.jpg","name":"","alt":""},{"id":793,"src":"https://example.com/wp-content/uploads/2017/03/T_2_back-2.jpg"}],"variations":[],"parent_id":0}`,
				`{"id":799,"name":"Ship Your Idea","permalink":"https://example.com/product/ship-your-idea-22/","date_created_gmt":"2017-03-23T20:03:12","type":"variable","status":"publish","catalog_visibility":"visible","description":"","short_description":"<p>Pellentesque habitant morbi <em>tristique</em>.</p>","sku":"","price":"20.00","regular_price":"","sale_price":"","stock_quantity":null,"stock_status":"instock","categories":[{"id":15,"name":"Hoodies","slug":"hoodies"}],"tags":[],"images":[],"variations":[800,801],"parent_id":0}`,
				`{"id":810,"name":"No price yet","date_created_gmt":"2017-03-23T20:03:12","type":"simple","status":"publish","price":"","regular_price":"","sale_price":"","images":[]}`,
				`{"id":811,"name":"Broken","date_created_gmt":"2017-03-23T20:03:12","type":"simple","status":"publish","price":"abc","images":[]}`,
				`{"id":812,"name":"Draft gadget","permalink":"https://example.com/?post_type=product&p=812","date_created_gmt":"2024-05-01T08:00:00","type":"simple","status":"draft","catalog_visibility":"visible","price":"5","regular_price":"5","sale_price":"","stock_quantity":0,"brands":[{"id":1,"name":"Acme","slug":"acme"}],"images":[]}`,
			},
			"customers": {
				`{"id":25,"date_created_gmt":"2017-03-21T19:09:28","email":"john.doe@example.com","first_name":"John","last_name":"Doe","role":"customer","username":"john.doe","billing":{"email":"john.doe@example.com"}}`,
			},
			"orders": {
				`{"id":727,"parent_id":0,"number":"727","status":"processing","currency":"USD","date_created_gmt":"2017-03-22T16:28:02","customer_id":25,"billing":{"first_name":"John","email":"john.doe@example.com"},"line_items":[{"id":315,"name":"Woo Single #1","product_id":794,"variation_id":0,"quantity":2,"subtotal":"43.98","total":"43.98","sku":"PQ-1","price":21.99},{"id":316,"name":"Ship Your Idea &ndash; Color: Black","product_id":799,"variation_id":800,"quantity":1,"subtotal":"20.00","total":"20.00","price":20}]}`,
				`{"id":728,"status":"cancelled","currency":"USD","date_created_gmt":"2017-03-22T17:00:00","customer_id":25,"billing":{"email":"john.doe@example.com"},"line_items":[{"product_id":794,"quantity":1,"price":21.99}]}`,
				`{"id":729,"status":"completed","currency":"EUR","date_created_gmt":"2017-03-22T18:00:00","customer_id":0,"billing":{"email":"guest@example.com"},"line_items":[{"product_id":794,"quantity":1,"price":19.5}]}`,
				`{"id":730,"status":"completed","currency":"USD","date_created_gmt":"2017-03-22T19:00:00","customer_id":0,"billing":{"email":"guest@example.com"},"line_items":[{"product_id":799,"variation_id":801,"quantity":3,"price":"20.00"}]}`,
			},
		},
	}
	return f
}

func newWooFixture(t *testing.T) (*wooFixture, *httptest.Server) {
	f := wooFixtureData()
	srv := httptest.NewUnstartedServer(f)
	// The transport test's refused handshakes are expected.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return f, srv
}

func wooTestConfig(srv *httptest.Server, f *wooFixture) WooConfig {
	cfg := DefaultWooConfig()
	cfg.BaseURL = srv.URL
	cfg.ConsumerKey, cfg.ConsumerSecret = f.key, f.secret
	cfg.StoreURL = "https://example.com"
	cfg.Currency = "USD"
	cfg.PageSize = 2
	return cfg
}

func TestWooFetch(t *testing.T) {
	f, srv := newWooFixture(t)
	src, err := NewWooCommerce(wooTestConfig(srv, f), srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	sink := &recordingSink{}
	res, err := src.Fetch(context.Background(), time.Time{}, sink)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Complete || len(res.Kinds) != 4 {
		t.Fatalf("complete %v kinds %v", res.Complete, res.Kinds)
	}
	// Five products at two per page: three pages, by X-WP-TotalPages.
	if f.requests["products"] != 3 || f.requests["products/categories"] != 2 || f.basicAuth == 0 {
		t.Fatalf("requests %v basic auth %d", f.requests, f.basicAuth)
	}
	if q := f.firstQueries["products"]; q.Get("orderby") != "id" || q.Get("order") != "asc" || q.Get("modified_after") != "" || q.Get("consumer_secret") != "" {
		t.Fatalf("products query %v", q)
	}

	if len(sink.categories) != 3 {
		t.Fatalf("categories %+v", sink.categories)
	}
	clothing := sink.categories[0]
	if clothing.ID != "9" || clothing.Name != "Clothing" || clothing.URL != "https://example.com/product-category/clothing" ||
		!slices.Equal(clothing.Subcategories, []ingest.ID{"14", "15"}) || len(sink.categories[1].Subcategories) != 0 {
		t.Fatalf("categories %+v", sink.categories)
	}

	pq := sink.product(t, "794")
	checkProduct(t, pq, ingest.Product{
		ID: "794", Name: "Premium Quality",
		Description: "Pellentesque habitant morbi tristique senectus et netus et malesuada fames ac turpis egestas. Soft Warm & cosy",
		Price:       21.99, ListPrice: 24.99, SKU: "PQ-1",
		Image:      "https://example.com/wp-content/uploads/2017/03/T_2_front-4.jpg",
		URL:        "https://example.com/product/premium-quality-19/",
		Categories: []ingest.ID{"9", "14"},
		CreatedAt:  time.Date(2017, 3, 23, 20, 1, 14, 0, time.UTC).Unix(),
	}, 12)
	if pq.Index != nil || pq.Extra["product_type"] != "simple" || pq.Extra["stock_status"] != "instock" || !slices.Equal(pq.Extra["tags"].([]string), []string{"cotton"}) {
		t.Fatalf("index %v extra %v", pq.Index, pq.Extra)
	}
	// A variable product: its own price, no image, the short description.
	checkProduct(t, sink.product(t, "799"), ingest.Product{
		ID: "799", Name: "Ship Your Idea", Description: "Pellentesque habitant morbi tristique.", Price: 20,
		URL: "https://example.com/product/ship-your-idea-22/", Categories: []ingest.ID{"15"},
		CreatedAt: time.Date(2017, 3, 23, 20, 3, 12, 0, time.UTC).Unix(),
	}, -1)
	draft := sink.product(t, "812")
	if draft.Brand != "Acme" || draft.Index == nil || *draft.Index || draft.Price != 5 || draft.ListPrice != 0 || draft.Stock == nil || *draft.Stock != 0 {
		t.Fatalf("draft %+v", draft)
	}
	if len(sink.products) != 3 || res.Rejected[ingest.KindProducts] != 2 {
		t.Fatalf("products %v rejected %v", productIDs(sink.products), res.Rejected)
	}
	wantError(t, res, ingest.KindProducts, "the product has no price")
	wantError(t, res, ingest.KindProducts, `(id "811")`)

	if len(sink.customers) != 1 || sink.customers[0].Name != "John Doe" || sink.customers[0].Email != "john.doe@example.com" || sink.customers[0].ID != "25" {
		t.Fatalf("customers %+v", sink.customers)
	}

	if len(sink.orders) != 2 {
		t.Fatalf("orders %+v", sink.orders)
	}
	o := sink.order(t, "727")
	if o.Customer != "25" || o.Email != "john.doe@example.com" || o.Time != time.Date(2017, 3, 22, 16, 28, 2, 0, time.UTC).Unix() ||
		!slices.Equal(o.Products, []ingest.OrderLine{{ID: "794", Quantity: 2, Price: 21.99}, {ID: "799", Quantity: 1, Price: 20}}) {
		t.Fatalf("order %+v", o)
	}
	guest := sink.order(t, "730")
	if guest.Customer != "" || guest.Email != "guest@example.com" || !slices.Equal(guest.Products, []ingest.OrderLine{{ID: "799", Quantity: 3, Price: 20}}) {
		t.Fatalf("guest order %+v", guest)
	}
	wantError(t, res, ingest.KindOrders, `order in "EUR", the store's currency is USD`)
}

func TestWooQueryAuthAndIncremental(t *testing.T) {
	f, srv := newWooFixture(t)
	cfg := wooTestConfig(srv, f)
	cfg.QueryAuth = true
	src, err := NewWooCommerce(cfg, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	since := time.Date(2024, 3, 1, 12, 30, 5, 0, time.UTC)
	res, err := src.Fetch(context.Background(), since, &recordingSink{})
	if err != nil {
		t.Fatal(err)
	}
	if f.basicAuth != 0 {
		t.Fatalf("query auth also sent basic auth %d times", f.basicAuth)
	}
	if res.Complete || res.Kinds != nil {
		t.Fatalf("incremental read claims completeness")
	}
	for _, r := range []string{"products", "orders"} {
		q := f.firstQueries[r]
		if q.Get("modified_after") != "2024-03-01T12:30:05" || q.Get("dates_are_gmt") != "true" {
			t.Fatalf("%s query %v", r, q)
		}
	}
	if f.requests["customers"] != 0 || f.firstQueries["products/categories"].Get("modified_after") != "" {
		t.Fatalf("requests %v", f.requests)
	}
}

func TestWooUnauthorized(t *testing.T) {
	f, srv := newWooFixture(t)
	cfg := wooTestConfig(srv, f)
	cfg.ConsumerSecret = "cs_wrong_secret_value"
	cfg.QueryAuth = true // the secret is in the URL: it must not reach the error
	src, err := NewWooCommerce(cfg, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Fetch(context.Background(), time.Time{}, &recordingSink{})
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 401 || se.Platform != WooCommerce {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "woocommerce") || !strings.Contains(err.Error(), "401") {
		t.Fatalf("err = %v", err)
	}
	notLeaking(t, err, "cs_wrong_secret_value", "ck_fixture_key")
}

func TestWooTransportErrorHidesQuery(t *testing.T) {
	f, srv := newWooFixture(t)
	cfg := wooTestConfig(srv, f)
	cfg.QueryAuth = true
	// A client that does not trust the fixture's certificate: the TLS
	// error's *url.Error would quote the whole URL.
	src, err := NewWooCommerce(cfg, &http.Client{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Fetch(context.Background(), time.Time{}, &recordingSink{})
	if err == nil {
		t.Fatal("want a TLS error")
	}
	notLeaking(t, err, f.secret, f.key)
}

// quotingDoer fails like a retrying client that quotes the request URL in
// its error.
type quotingDoer struct{}

func (quotingDoer) Do(req *http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("GET %s giving up after 5 attempt(s)", req.URL)
}

func TestWooDoerErrorRedacted(t *testing.T) {
	cfg := DefaultWooConfig()
	cfg.BaseURL, cfg.ConsumerKey, cfg.ConsumerSecret, cfg.Currency = "https://shop.example.com", "ck_k_value", "cs_secret_value", "EUR"
	cfg.QueryAuth = true
	src, err := NewWooCommerce(cfg, quotingDoer{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Fetch(context.Background(), time.Time{}, &recordingSink{})
	if err == nil || !strings.Contains(err.Error(), "giving up after 5") || !strings.Contains(err.Error(), "[redacted]") {
		t.Fatalf("err = %v", err)
	}
	notLeaking(t, err, "cs_secret_value", "ck_k_value")
}

func TestWooConfigValidate(t *testing.T) {
	f := func(mutate func(*WooConfig), want string) {
		t.Helper()
		cfg := DefaultWooConfig()
		cfg.BaseURL, cfg.ConsumerKey, cfg.ConsumerSecret, cfg.Currency = "https://shop.example.com", "ck_k", "cs_secret_value", "EUR"
		mutate(&cfg)
		err := cfg.Validate()
		if want == "" {
			if err != nil {
				t.Fatalf("unexpected %v", err)
			}
			return
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("err = %v, want %q", err, want)
		}
		notLeaking(t, err, "cs_secret_value")
	}
	f(func(*WooConfig) {}, "")
	f(func(c *WooConfig) { c.BaseURL = "http://shop.example.com" }, "must be https://")
	f(func(c *WooConfig) { c.BaseURL, c.AllowHTTP = "http://shop.example.com", true }, "")
	f(func(c *WooConfig) { c.ConsumerSecret = "" }, "consumer key and consumer secret are required")
	f(func(c *WooConfig) { c.PageSize = 101 }, "1..100")
	f(func(c *WooConfig) { c.MaxPageBytes = 10 }, "max page bytes")
}
