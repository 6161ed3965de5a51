package platform

import (
	"context"
	"errors"
	"fmt"
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

// shopifyFixture mimics the Shopify Admin REST API 2024-01:
// X-Shopify-Access-Token auth (401 with {"errors": ...} otherwise),
// resources wrapped in {"<resource>": [...]}, cursor pagination with a
// Link header (rel="next" and rel="previous") whose page_info URL takes
// only limit and fields, limit at most 250, 429 with Retry-After.
//
//	https://www.shopify.dev/docs/api/admin-rest/usage/pagination
//	https://shopify.dev/docs/api/admin-rest/usage/rate-limits
//	https://shopify.dev/docs/api/admin-rest/2024-01/resources/product
type shopifyFixture struct {
	token string
	// docs maps a path under /admin/api/2024-01/ (without .json) to its
	// records, as JSON documents.
	docs map[string][]string
	// rateLimited answers every request with 429.
	rateLimited bool
	// foreignNext makes the products' next link point at another host.
	foreignNext string

	mu sync.Mutex
	// firstQueries holds the query of each listing's first page.
	firstQueries map[string]url.Values
	requests     map[string]int
}

func (f *shopifyFixture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if f.rateLimited {
		w.Header().Set("Retry-After", "2.0")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"errors":"Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."}`)
		return
	}
	if r.Header.Get("X-Shopify-Access-Token") != f.token {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"}`)
		return
	}
	const prefix = "/admin/api/2024-01/"
	if !strings.HasPrefix(r.URL.Path, prefix) || !strings.HasSuffix(r.URL.Path, ".json") {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"errors":"Not Found"}`)
		return
	}
	res := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, prefix), ".json")
	f.requests[res]++
	q := r.URL.Query()
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit < 1 || limit > 250 {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"errors":{"limit":"must be within 1..250"}}`)
		return
	}
	offset := 0
	if pi := q.Get("page_info"); pi != "" {
		for k := range q {
			if k != "page_info" && k != "limit" && k != "fields" {
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprintf(w, `{"errors":{"page_info":"%s cannot be passed with page_info"}}`, k)
				return
			}
		}
		offset, _ = strconv.Atoi(strings.TrimPrefix(pi, "cursor-"))
	} else {
		f.firstQueries[res] = q
	}
	all := f.docs[res]
	end := min(offset+limit, len(all))
	var links []string
	link := func(off int, rel string) string {
		u := *r.URL
		u.Scheme, u.Host = "http", r.Host
		u.RawQuery = url.Values{"limit": {strconv.Itoa(limit)}, "page_info": {"cursor-" + strconv.Itoa(off)}}.Encode()
		if rel == "next" && f.foreignNext != "" {
			u.Host = f.foreignNext
		}
		return fmt.Sprintf(`<%s>; rel="%s"`, u.String(), rel)
	}
	if offset > 0 {
		links = append(links, link(max(0, offset-limit), "previous"))
	}
	if end < len(all) {
		links = append(links, link(end, "next"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	key := res
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		key = key[i+1:]
	}
	fmt.Fprintf(w, `{"%s":[%s]}`, key, strings.Join(all[offset:end], ","))
}

// shopifyFixtureData returns the fixture's documents without a server.
func shopifyFixtureData() *shopifyFixture {
	f := &shopifyFixture{
		token:        "shpat_fixture_secret_token",
		firstQueries: map[string]url.Values{}, requests: map[string]int{},
		docs: map[string][]string{
			"custom_collections": {
				`{"id":841564295,"handle":"ipods","title":"IPods","updated_at":"2024-01-02T09:28:43-05:00","body_html":"<p>The best selling ipod ever</p>","published_at":"2024-01-02T09:28:43-05:00","sort_order":"manual"}`,
			},
			"smart_collections": {
				`{"id":482865238,"handle":"smart-ipods","title":"Smart iPods","updated_at":"2024-01-02T09:28:43-05:00","rules":[{"column":"type","relation":"equals","condition":"Cult Products"}],"disjunctive":false}`,
			},
			"collects": {
				`{"id":455204334,"collection_id":841564295,"product_id":632910392,"position":1}`,
			},
			"collections/482865238/products": {
				`{"id":632910392}`, `{"id":921728736}`,
			},
			"products": {
				`{"id":632910392,"title":"IPod Nano - 8GB","body_html":"<p>It's the small iPod with one very big idea: <strong>Video</strong>.</p><p>Now the world&#39;s most popular music player&nbsp;plays movies.</p><script>track()</script>","vendor":"Apple","product_type":"Cult Products","created_at":"2024-01-02T09:28:43-05:00","handle":"ipod-nano","updated_at":"2024-01-02T09:28:43-05:00","published_at":"2024-01-02T09:28:43-05:00","status":"active","tags":"Emotive, Flash Memory, MP3, Music","variants":[{"id":808950810,"product_id":632910392,"title":"Pink","price":"199.00","sku":"IPOD2008PINK","position":1,"compare_at_price":"249.00","inventory_quantity":10},{"id":49148385,"product_id":632910392,"title":"Black","price":"189.00","sku":"IPOD2008BLACK","position":2,"compare_at_price":"229.00","inventory_quantity":5}],"images":[{"id":850703190,"product_id":632910392,"position":1,"src":"https://cdn.shopify.com/s/files/1/0005/4838/0009/products/ipod-nano.png?v=1704205723"}],"image":{"id":850703190,"src":"https://cdn.shopify.com/s/files/1/0005/4838/0009/products/ipod-nano.png?v=1704205723"}}`,
				`{"id":921728736,"title":"IPod Touch 8GB","body_html":"The iPod Touch has the iPhone's multi-touch interface.","vendor":"Apple","product_type":"Cult Products","created_at":"2024-01-02T09:28:43-05:00","handle":"ipod-touch","status":"draft","tags":"","variants":[{"id":447654529,"price":"19.99","sku":"IPOD2009BLACK","compare_at_price":null,"inventory_quantity":null}],"images":[],"image":null}`,
				`{"id":1001,"title":"Broken price","handle":"broken","status":"active","variants":[{"id":1,"price":{"amount":"1.00"}}],"images":[]}`,
				`{"id":1002,"title":"No variants","handle":"no-variants","status":"active","variants":[],"images":[]}`,
				`{"id":1003,"title":"Gift wrap","body_html":"","handle":"gift-wrap","vendor":"Fixture","created_at":"2024-02-01T00:00:00Z","status":"active","variants":[{"id":2,"price":"2.50","sku":"WRAP","compare_at_price":"2.00","inventory_quantity":-3}],"images":[{"src":"https://cdn.shopify.com/wrap.png"}]}`,
				`{"id":1004,"title":"Negative","handle":"negative","status":"active","variants":[{"id":3,"price":"-5.00"}],"images":[]}`,
			},
			"customers": {
				`{"id":207119551,"email":"bob.norman@mail.example.com","first_name":"Bob","last_name":"Norman","orders_count":1,"state":"disabled","total_spent":"199.65","currency":"USD"}`,
				`{"id":207119552,"email":null,"first_name":"Anna","last_name":null}`,
			},
			"orders": {
				`{"id":450789469,"email":"bob.norman@mail.example.com","created_at":"2024-01-02T10:00:00-05:00","currency":"USD","cancelled_at":null,"test":false,"customer":{"id":207119551,"email":"bob.norman@mail.example.com"},"line_items":[{"id":466157049,"product_id":632910392,"variant_id":39072856,"quantity":2,"price":"199.00","sku":"IPOD2008GREEN"},{"id":466157050,"product_id":null,"title":"Engraving","quantity":1,"price":"10.00"}]}`,
				`{"id":450789470,"email":"anna@example.com","created_at":"2024-01-03T10:00:00Z","currency":"EUR","cancelled_at":null,"customer":null,"line_items":[{"product_id":921728736,"quantity":1,"price":"18.00"}]}`,
				`{"id":450789471,"email":"bob.norman@mail.example.com","created_at":"2024-01-04T10:00:00Z","currency":"USD","cancelled_at":"2024-01-04T11:00:00Z","line_items":[{"product_id":632910392,"quantity":1,"price":"199.00"}]}`,
			},
		},
	}
	return f
}

func newShopifyFixture(t *testing.T) (*shopifyFixture, *httptest.Server) {
	f := shopifyFixtureData()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func shopifyTestConfig(srv *httptest.Server, token string) ShopifyConfig {
	cfg := DefaultShopifyConfig()
	cfg.BaseURL = srv.URL
	cfg.AccessToken = token
	cfg.StoreURL = "https://shop.example.com"
	cfg.Currency = "USD"
	cfg.PageSize = 2
	return cfg
}

func TestShopifyFetch(t *testing.T) {
	f, srv := newShopifyFixture(t)
	src, err := NewShopify(shopifyTestConfig(srv, f.token), srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	sink := &recordingSink{}
	res, err := src.Fetch(context.Background(), time.Time{}, sink)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Complete || !slices.Equal(res.Kinds, []ingest.Kind{ingest.KindCategories, ingest.KindProducts, ingest.KindCustomers, ingest.KindOrders}) {
		t.Fatalf("complete %v kinds %v", res.Complete, res.Kinds)
	}
	// Six products at two per page: three pages, followed by Link.
	if f.requests["products"] != 3 {
		t.Fatalf("products requests = %d, want 3", f.requests["products"])
	}
	if q := f.firstQueries["orders"]; q.Get("status") != "any" || q.Get("updated_at_min") != "" {
		t.Fatalf("orders query %v", q)
	}

	// Categories first, then products, customers, orders.
	if sink.calls[0] != ingest.KindCategories || sink.calls[len(sink.calls)-1] != ingest.KindOrders {
		t.Fatalf("call order %v", sink.calls)
	}
	if got := ids(sink.categories, func(c ingest.Category) ingest.ID { return c.ID }); !slices.Equal(got, []string{"841564295", "482865238"}) {
		t.Fatalf("categories %v", got)
	}
	if sink.categories[0].Name != "IPods" || sink.categories[0].URL != "https://shop.example.com/collections/ipods" {
		t.Fatalf("category %+v", sink.categories[0])
	}

	nano := sink.product(t, "632910392")
	want := ingest.Product{
		ID: "632910392", Name: "IPod Nano - 8GB",
		Description: "It's the small iPod with one very big idea: Video. Now the world's most popular music player plays movies.",
		Price:       189, ListPrice: 229, SKU: "IPOD2008BLACK", Brand: "Apple",
		Image:      "https://cdn.shopify.com/s/files/1/0005/4838/0009/products/ipod-nano.png?v=1704205723",
		URL:        "https://shop.example.com/products/ipod-nano",
		Categories: []ingest.ID{"841564295", "482865238"},
		CreatedAt:  time.Date(2024, 1, 2, 14, 28, 43, 0, time.UTC).Unix(),
	}
	checkProduct(t, nano, want, 15)
	if nano.Index != nil {
		t.Fatalf("active product index = %v", *nano.Index)
	}
	if nano.Extra["product_type"] != "Cult Products" || !slices.Equal(nano.Extra["tags"].([]string), []string{"Emotive", "Flash Memory", "MP3", "Music"}) {
		t.Fatalf("extra %v", nano.Extra)
	}

	touch := sink.product(t, "921728736")
	checkProduct(t, touch, ingest.Product{
		ID: "921728736", Name: "IPod Touch 8GB", Description: "The iPod Touch has the iPhone's multi-touch interface.",
		Price: 19.99, SKU: "IPOD2009BLACK", Brand: "Apple", URL: "https://shop.example.com/products/ipod-touch",
		Categories: []ingest.ID{"482865238"}, CreatedAt: nano.CreatedAt,
	}, -1)
	if touch.Index == nil || *touch.Index {
		t.Fatal("a draft product must have index false")
	}
	wrap := sink.product(t, "1003")
	checkProduct(t, wrap, ingest.Product{
		ID: "1003", Name: "Gift wrap", Price: 2.5, SKU: "WRAP", Brand: "Fixture", Image: "https://cdn.shopify.com/wrap.png",
		URL: "https://shop.example.com/products/gift-wrap", CreatedAt: time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC).Unix(),
	}, -3)

	// Three bad products: each a record error, none fails the run.
	if len(sink.products) != 3 || res.Records[ingest.KindProducts] != 3 || res.Rejected[ingest.KindProducts] != 3 {
		t.Fatalf("products %v records %v rejected %v", productIDs(sink.products), res.Records, res.Rejected)
	}
	wantError(t, res, ingest.KindProducts, `(id "1001")`)
	wantError(t, res, ingest.KindProducts, "no variant has a price")
	wantError(t, res, ingest.KindProducts, `field "price": invalid value`)

	if len(sink.customers) != 2 || fmt.Sprint(sink.customers[0]) != fmt.Sprint(ingest.Customer{ID: "207119551", Email: "bob.norman@mail.example.com", Name: "Bob Norman"}) ||
		sink.customers[1].Name != "Anna" || sink.customers[1].Email != "" {
		t.Fatalf("customers %+v", sink.customers)
	}

	// One sale; the EUR order is rejected, the cancelled one skipped.
	if len(sink.orders) != 1 {
		t.Fatalf("orders %+v", sink.orders)
	}
	o := sink.order(t, "450789469")
	if o.Time != time.Date(2024, 1, 2, 15, 0, 0, 0, time.UTC).Unix() || o.Customer != "207119551" || o.Email != "bob.norman@mail.example.com" ||
		!slices.Equal(o.Products, []ingest.OrderLine{{ID: "632910392", Quantity: 2, Price: 199}}) {
		t.Fatalf("order %+v", o)
	}
	if res.Rejected[ingest.KindOrders] != 1 {
		t.Fatalf("rejected orders %d", res.Rejected[ingest.KindOrders])
	}
	wantError(t, res, ingest.KindOrders, `order in "EUR", the store's currency is USD`)
	if res.Bytes == 0 || res.Requests < 10 {
		t.Fatalf("bytes %d requests %d", res.Bytes, res.Requests)
	}
}

// checkProduct compares the plain fields of a product, its categories and
// its stock (-1 for "no stock").
func checkProduct(t *testing.T, got, want ingest.Product, stock float64) {
	t.Helper()
	g, w := got, want
	g.Stock, g.Index, g.Extra, g.Categories = nil, nil, nil, nil
	w.Stock, w.Index, w.Extra, w.Categories = nil, nil, nil, nil
	if fmt.Sprintf("%+v", g) != fmt.Sprintf("%+v", w) {
		t.Fatalf("product\n got %+v\nwant %+v", g, w)
	}
	if !slices.Equal(got.Categories, want.Categories) {
		t.Fatalf("product %s categories %v, want %v", got.ID, got.Categories, want.Categories)
	}
	switch {
	case stock == -1 && got.Stock != nil:
		t.Fatalf("product %s stock %v, want none", got.ID, *got.Stock)
	case stock != -1 && (got.Stock == nil || *got.Stock != stock):
		t.Fatalf("product %s stock %v, want %v", got.ID, got.Stock, stock)
	}
}

func TestShopifyIncremental(t *testing.T) {
	f, srv := newShopifyFixture(t)
	src, err := NewShopify(shopifyTestConfig(srv, f.token), srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	since := time.Date(2024, 3, 1, 12, 30, 0, 0, time.FixedZone("CET", 3600))
	res, err := src.Fetch(context.Background(), since, &recordingSink{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Complete || len(res.Kinds) != 0 {
		t.Fatalf("incremental read claims completeness: %v %v", res.Complete, res.Kinds)
	}
	for _, r := range []string{"products", "customers", "orders"} {
		if got := f.firstQueries[r].Get("updated_at_min"); got != "2024-03-01T11:30:00Z" {
			t.Fatalf("%s updated_at_min = %q", r, got)
		}
	}
	if got := f.firstQueries["custom_collections"].Get("updated_at_min"); got != "" {
		t.Fatalf("collections must be read whole, got updated_at_min %q", got)
	}
}

func TestShopifyUnauthorized(t *testing.T) {
	_, srv := newShopifyFixture(t)
	src, err := NewShopify(shopifyTestConfig(srv, "shpat_wrong_secret"), srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	res, err := src.Fetch(context.Background(), time.Time{}, &recordingSink{})
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 401 || !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "shopify") || !strings.Contains(err.Error(), "401") {
		t.Fatalf("error must name the platform and the status: %v", err)
	}
	notLeaking(t, err, "shpat_wrong_secret")
	if res.Complete || res.Requests != 1 {
		t.Fatalf("complete %v requests %d", res.Complete, res.Requests)
	}
}

func TestShopifyRateLimited(t *testing.T) {
	f, srv := newShopifyFixture(t)
	f.rateLimited = true
	src, err := NewShopify(shopifyTestConfig(srv, f.token), srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	res, err := src.Fetch(context.Background(), time.Time{}, &recordingSink{})
	var se *StatusError
	if !errors.As(err, &se) || !errors.Is(err, ErrRateLimited) || se.RetryAfter != 2*time.Second {
		t.Fatalf("err = %#v", err)
	}
	// The connector leaves retrying to the Doer: one request, then out.
	if res.Requests != 1 {
		t.Fatalf("requests = %d", res.Requests)
	}
}

func TestShopifyRefusesForeignNextLink(t *testing.T) {
	f, srv := newShopifyFixture(t)
	f.foreignNext = "evil.example.com"
	f.docs["custom_collections"] = append(f.docs["custom_collections"], `{"id":1,"title":"x"}`, `{"id":2,"title":"y"}`)
	src, err := NewShopify(shopifyTestConfig(srv, f.token), srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Fetch(context.Background(), time.Time{}, &recordingSink{})
	if !errors.Is(err, ErrBadPage) || !strings.Contains(err.Error(), "leaves the shop's origin") {
		t.Fatalf("err = %v", err)
	}
}

func TestShopifyMaxPages(t *testing.T) {
	f, srv := newShopifyFixture(t)
	cfg := shopifyTestConfig(srv, f.token)
	cfg.MaxPages = 2
	src, err := NewShopify(cfg, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	sink := &recordingSink{}
	res, err := src.Fetch(context.Background(), time.Time{}, sink)
	if !errors.Is(err, ErrTooManyPages) || res.Complete {
		t.Fatalf("err = %v complete %v", err, res.Complete)
	}
	// What was read before the stop was delivered and is reported.
	if res.Records[ingest.KindProducts] != len(sink.products) || len(sink.products) == 0 {
		t.Fatalf("records %v delivered %d", res.Records, len(sink.products))
	}
}

func TestShopifyConfigValidate(t *testing.T) {
	f := func(mutate func(*ShopifyConfig), want string) {
		t.Helper()
		cfg := DefaultShopifyConfig()
		cfg.BaseURL, cfg.AccessToken, cfg.Currency = "https://x.myshopify.com", "shpat_secret_value", "USD"
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
		notLeaking(t, err, "shpat_secret_value")
	}
	f(func(*ShopifyConfig) {}, "")
	f(func(c *ShopifyConfig) { c.BaseURL = "" }, "base URL is required")
	f(func(c *ShopifyConfig) { c.BaseURL = "ftp://x" }, "https://")
	f(func(c *ShopifyConfig) { c.AccessToken = "" }, "access token is required")
	f(func(c *ShopifyConfig) { c.Currency = "usd" }, "ISO 4217")
	f(func(c *ShopifyConfig) { c.PageSize = 251 }, "1..250")
	f(func(c *ShopifyConfig) { c.APIVersion = "v1" }, "2024-01")
	f(func(c *ShopifyConfig) { c.Rates = map[string]float64{"EUR": 0} }, "rate for EUR")
	f(func(c *ShopifyConfig) { c.Rates = map[string]float64{"USD": 1} }, "other than the store's")
	f(func(c *ShopifyConfig) { c.MaxPages = 0 }, "max pages")
}

func TestLinkNext(t *testing.T) {
	f := func(header, want string) {
		t.Helper()
		if got := linkNext([]string{header}); got != want {
			t.Fatalf("linkNext(%q) = %q, want %q", header, got, want)
		}
	}
	f(`<https://s.myshopify.com/admin/api/2024-01/products.json?limit=250&page_info=abc>; rel="next"`,
		"https://s.myshopify.com/admin/api/2024-01/products.json?limit=250&page_info=abc")
	f(`<https://s/p?page_info=a>; rel="previous", <https://s/p?page_info=b>; rel="next"`, "https://s/p?page_info=b")
	f(`<https://s/p?page_info=a>; rel="previous"`, "")
	f(`<https://s/p?page_info=a>; rel=next`, "https://s/p?page_info=a")
	f(``, "")
	f(`<unterminated; rel="next"`, "")
	f(`garbage, <x>`, "")
}

func TestShopifyOrderConversion(t *testing.T) {
	cfg := DefaultShopifyConfig()
	cfg.Currency = "USD"
	cfg.Rates = map[string]float64{"EUR": 1.25}
	m := newShopifyMapper(cfg)
	o, err := m.order([]byte(`{"id":7,"created_at":"2024-01-02T10:00:00Z","currency":"EUR","line_items":[{"product_id":1,"quantity":1,"price":"8.00"}]}`))
	if err != nil || len(o.Products) != 1 || o.Products[0].Price != 10 {
		t.Fatalf("order %+v err %v", o, err)
	}
	_, err = m.order([]byte(`{"id":8,"created_at":"2024-01-02T10:00:00Z","currency":"GBP","line_items":[{"product_id":1,"quantity":1,"price":"8.00"}]}`))
	if !errors.Is(err, ingest.ErrInvalidValue) || !strings.Contains(err.Error(), `"GBP"`) {
		t.Fatalf("err = %v", err)
	}
}
