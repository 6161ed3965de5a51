package source

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/ingest"
)

// v2Shop mimics a shop's Clerk feed v2 endpoints (help.clerk.io,
// "Data Feeds", JSON Feed V2: one URL per resource, application/json or
// application/x-ndjson, modified_after, X-Clerk-Authorization). The
// pagination styles are the ones Sibyl supports (see feedv2.go):
//   - /products: JSON lists, 3 pages chained by Link rel="next";
//   - /categories: NDJSON, one page;
//   - /orders: a JSON object {"orders": [...], "next": "..."};
//   - /customers: page/limit parameters until an empty page.
type v2Shop struct {
	mu       sync.Mutex
	requests []string // path?query of every request
}

func (s *v2Shop) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r.URL.RequestURI())
	s.mu.Unlock()
	if r.Header.Get("X-Clerk-Authorization") != "Bearer feedtoken" {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	q := r.URL.Query()
	// Incremental reads return only product 5, as if it alone changed.
	incremental := q.Get("modified_after") != ""
	switch r.URL.Path {
	case "/products":
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		if incremental {
			fmt.Fprint(w, `[{"id":5,"name":"e","price":5}]`)
			return
		}
		switch q.Get("cursor") {
		case "":
			w.Header().Set("Link", `<`+"/products?cursor=p2"+`>; rel="next"`)
			fmt.Fprint(w, `[{"id":1,"name":"a","price":1},{"id":2,"name":"b","price":2}]`)
		case "p2":
			w.Header().Set("Link", `</products?cursor=p1>; rel="prev", <http://`+r.Host+`/products?cursor=p3>; rel="next"`)
			fmt.Fprint(w, `[{"id":3,"name":"c","price":3},{"id":4,"name":"bad","price":-4}]`)
		case "p3":
			fmt.Fprint(w, `[{"id":5,"name":"e","price":5}]`)
		}
	case "/categories":
		w.Header().Set("Content-Type", "application/x-ndjson")
		if q.Get("page") > "1" {
			return // an empty page ends numbered pagination
		}
		fmt.Fprint(w, "{\"id\":10,\"name\":\"Tools\",\"subcategories\":[11]}\r\n\n{\"id\":11,\"name\":\"Saws\"}\nnot json\n{\"id\":12,\"name\":\"Drills\"}")
	case "/orders":
		w.Header().Set("Content-Type", "application/json")
		if q.Get("page") == "2" {
			fmt.Fprint(w, `{"orders":[{"id":"o2","time":1700000100,"products":[{"id":3,"quantity":1,"price":3}]}],"next":null}`)
			return
		}
		fmt.Fprint(w, `{"meta":{"total":2},"orders":[{"id":"o1","time":1700000000,"customer":"c1","products":[{"id":1,"quantity":2,"price":1}]}],"next":"/orders?page=2"}`)
	case "/customers":
		page, _ := strconv.Atoi(q.Get("page"))
		limit, _ := strconv.Atoi(q.Get("limit"))
		const total = 5
		w.Header().Set("Content-Type", "application/json")
		var recs []string
		for i := (page - 1) * limit; i < min(page*limit, total) && page >= 1; i++ {
			recs = append(recs, fmt.Sprintf(`{"id":"c%d","email":"c%d@shop.test"}`, i, i))
		}
		fmt.Fprintf(w, `{"customers":[%s]}`, strings.Join(recs, ","))
	default:
		http.NotFound(w, r)
	}
}

func v2Config(base string) FeedV2Config {
	cfg := DefaultFeedV2Config()
	cfg.Auth = Auth{Bearer: "feedtoken", Header: "X-Clerk-Authorization"}
	for _, kind := range []ingest.Kind{ingest.KindProducts, ingest.KindCategories, ingest.KindOrders, ingest.KindCustomers} {
		cfg.URLs[kind] = base + "/" + string(kind)
	}
	return cfg
}

func TestFeedV2(t *testing.T) {
	shop := &v2Shop{}
	srv := httptest.NewServer(shop)
	defer srv.Close()
	cfg := v2Config(srv.URL)
	cfg.Feed.BatchSize = 2
	// Customers use numbered pages of 2: pages 1-3 hold 5, page 4 is empty.
	src := &FeedV2Source{Config: cfg, Doer: fastClient(t, nil)}
	// page/limit are asked for every resource; the fixture ignores them
	// where it paginates otherwise.
	src.Config.PageSize = 2
	sink := newSink(t)
	res, err := src.Fetch(context.Background(), time.Time{}, sink)
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "products", productIDs(sink.products), "1", "2", "3", "5")
	var cats, custs, orders []string
	for _, c := range sink.categories {
		cats = append(cats, string(c.ID))
	}
	for _, c := range sink.customers {
		custs = append(custs, string(c.ID))
	}
	for _, o := range sink.orders {
		orders = append(orders, string(o.ID))
	}
	sameIDs(t, "categories", cats, "10", "11", "12")
	sameIDs(t, "customers", custs, "c0", "c1", "c2", "c3", "c4")
	sameIDs(t, "orders", orders, "o1", "o2")
	if sink.customers[4].Email != "c4@shop.test" || sink.orders[0].Customer != "c1" {
		t.Errorf("fields lost: %+v %+v", sink.customers[4], sink.orders[0])
	}
	if res.Rejected[ingest.KindProducts] != 1 || res.Rejected[ingest.KindCategories] != 1 || len(res.Errors) != 2 {
		t.Errorf("rejected %v errors %v", res.Rejected, res.Errors)
	}
	// The bad category is the NDJSON's third record (blank lines skipped).
	for _, e := range res.Errors {
		if e.Kind == ingest.KindCategories && e.Index != 2 {
			t.Errorf("bad category reported at %d, want 2: %v", e.Index, e)
		}
	}
	if res.Records[ingest.KindProducts] != 4 || res.Records[ingest.KindCustomers] != 5 {
		t.Errorf("records %v", res.Records)
	}
	wantKinds := []ingest.Kind{ingest.KindCategories, ingest.KindProducts, ingest.KindCustomers, ingest.KindOrders}
	if !res.Complete || !slices.Equal(res.Kinds, wantKinds) {
		t.Errorf("complete %v kinds %v, want true %v", res.Complete, res.Kinds, wantKinds)
	}
	// products 3 + categories 2 + customers 4 + orders 2.
	if res.Requests != 11 || len(shop.requests) != 11 || res.Bytes == 0 {
		t.Errorf("requests %d (server saw %v), bytes %d", res.Requests, shop.requests, res.Bytes)
	}
}

// With since set, every resource is asked for modified_after=<unix> and
// the Result is not Complete (nothing may be deleted).
func TestFeedV2Incremental(t *testing.T) {
	shop := &v2Shop{}
	srv := httptest.NewServer(shop)
	defer srv.Close()
	cfg := v2Config(srv.URL)
	cfg.URLs = map[ingest.Kind]string{ingest.KindProducts: srv.URL + "/products?lang=en"}
	src := &FeedV2Source{Config: cfg, Doer: fastClient(t, nil)}
	sink := newSink(t)
	since := time.Unix(1700000000, 0)
	res, err := src.Fetch(context.Background(), since, sink)
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "products", productIDs(sink.products), "5")
	if res.Complete || len(res.Kinds) != 0 {
		t.Errorf("incremental read: complete %v kinds %v", res.Complete, res.Kinds)
	}
	if len(shop.requests) != 1 || !strings.Contains(shop.requests[0], "modified_after=1700000000") || !strings.Contains(shop.requests[0], "lang=en") {
		t.Errorf("requests %v, want one with modified_after=1700000000 and the URL's own query", shop.requests)
	}
}

func TestFeedV2Errors(t *testing.T) {
	loop := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/loop":
			w.Header().Set("Link", `</loop>; rel="next"`)
			fmt.Fprint(w, `[]`)
		case "/away":
			w.Header().Set("Link", `<http://elsewhere.test/steal>; rel="next"`)
			fmt.Fprint(w, `[]`)
		case "/endless":
			n, _ := strconv.Atoi(r.URL.Query().Get("n"))
			fmt.Fprintf(w, `{"products":[{"id":%d,"price":1}],"next":"/endless?n=%d"}`, n, n+1)
		case "/broken":
			fmt.Fprint(w, `[{"id":1},`)
		case "/unauthorized":
			http.Error(w, "no", http.StatusUnauthorized)
		}
	})
	srv := httptest.NewServer(loop)
	defer srv.Close()
	f := func(path string, edit func(*FeedV2Config), want string, is error) {
		t.Helper()
		cfg := DefaultFeedV2Config()
		cfg.URLs[ingest.KindProducts] = srv.URL + path
		if edit != nil {
			edit(&cfg)
		}
		res, err := (&FeedV2Source{Config: cfg, Doer: fastClient(t, nil)}).Fetch(context.Background(), time.Time{}, newSink(t))
		if err == nil || !strings.Contains(err.Error(), want) || (is != nil && !errors.Is(err, is)) || res.Complete {
			t.Errorf("%s: err = %v (complete %v), want %q", path, err, res.Complete, want)
		}
	}
	f("/loop", nil, "loops back", nil)
	f("/away", nil, "leaves 127.0.0.1", nil)
	f("/endless", func(c *FeedV2Config) { c.MaxPages = 3 }, "more than 3 pages", nil)
	f("/endless", func(c *FeedV2Config) { c.MaxRecords = 2 }, "more than 2 products", ErrTooManyRecords)
	f("/broken", nil, "products", ingest.ErrInvalidFeed)
	f("/unauthorized", nil, "HTTP 401", nil)
}

func TestFeedV2ConfigValidate(t *testing.T) {
	f := func(edit func(*FeedV2Config), want string) {
		t.Helper()
		cfg := DefaultFeedV2Config()
		cfg.URLs[ingest.KindProducts] = "https://shop.test/p"
		edit(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
	f(func(c *FeedV2Config) { c.URLs = nil }, "at least one")
	f(func(c *FeedV2Config) { c.URLs["sales"] = "https://shop.test/s" }, "unknown resource")
	f(func(c *FeedV2Config) { c.URLs[ingest.KindPages] = "ftp://shop.test/p" }, "http or https")
	f(func(c *FeedV2Config) { c.MaxPages = 0 }, "max pages")
	f(func(c *FeedV2Config) { c.PageSize = -1 }, "page size")
}

func TestNextLink(t *testing.T) {
	f := func(header, want string) {
		t.Helper()
		if got := NextLink(http.Header{"Link": {header}}); got != want {
			t.Errorf("%q: next = %q, want %q", header, got, want)
		}
	}
	// Shopify's form (shopify.dev, "Paginating results with REST").
	f(`<https://s.myshopify.com/admin/api/2024-01/products.json?page_info=abc&limit=2>; rel="next"`, "https://s.myshopify.com/admin/api/2024-01/products.json?page_info=abc&limit=2")
	f(`<https://a/p?x=1>; rel="previous", <https://a/p?x=3>; rel="next"`, "https://a/p?x=3")
	f(`<https://a/p>; rel=next; title="n"`, "https://a/p")
	f(`<https://a/p>; rel="prev"`, "")
	f(`garbage; rel="next"`, "")
}

func newV2Server() *httptest.Server { return httptest.NewServer(&v2Shop{}) }

// doerFunc wraps a Doer, as the runner might (a rate limiter).
type doerFunc func(*http.Request) (*http.Response, error)

func (f doerFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

// A rate limit in the middle of the pagination is waited out
// (Retry-After: 0) and the read goes on; the Result counts every attempt
// once, even through a wrapped Client.
func TestFeedV2RateLimitedPage(t *testing.T) {
	var calls int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		page := r.URL.Query().Get("page")
		switch {
		case page == "2" && n == 2:
			w.Header().Set("Retry-After", "0")
			http.Error(w, "rate limited", http.StatusTooManyRequests)
		case page == "1" || page == "2":
			fmt.Fprintf(w, `[{"id":"p%s","price":1}]`, page)
		default:
			fmt.Fprint(w, `[]`)
		}
	}))
	defer srv.Close()
	cfg := DefaultFeedV2Config()
	cfg.URLs[ingest.KindProducts] = srv.URL + "/products"
	cfg.PageSize = 1
	client := fastClient(t, nil)
	src := &FeedV2Source{Config: cfg, Doer: doerFunc(client.Do)}
	sink := newSink(t)
	res, err := src.Fetch(context.Background(), time.Time{}, sink)
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "products", productIDs(sink.products), "p1", "p2")
	if res.Requests != 4 || calls != 4 {
		t.Errorf("result counts %d requests, server saw %d; want 4 (page 1, 429, page 2, empty page 3)", res.Requests, calls)
	}
}

// A feed bigger than the client's limit fails with the limit named and
// nothing complete.
func TestFeedSourceTooLarge(t *testing.T) {
	srv := authFeedServer(t, "t", v1Feed)
	defer srv.Close()
	c := fastClient(t, func(c *ClientConfig) { c.MaxBodyBytes = 100 })
	res, err := (&FeedSource{URL: srv.URL, Auth: Auth{Bearer: "t"}, Doer: c}).Fetch(context.Background(), time.Time{}, newSink(t))
	if !errors.Is(err, ingest.ErrBodyTooLarge) || !strings.Contains(err.Error(), "100 bytes") || res.Complete {
		t.Errorf("err = %v, complete %v", err, res.Complete)
	}
}

// A byte order mark before the JSON is skipped.
func TestFeedSourceBOM(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "\ufeff"+`{"products":[{"id":1,"price":2}]}`)
	}))
	defer srv.Close()
	sink := newSink(t)
	res, err := (&FeedSource{URL: srv.URL, Doer: http.DefaultClient}).Fetch(context.Background(), time.Time{}, sink)
	if err != nil || len(sink.products) != 1 || !res.Complete {
		t.Errorf("BOM feed: %d products, %v", len(sink.products), err)
	}
}

// One record beyond MaxLineBytes stops a JSON page (the stream cannot be
// resynchronised) and is only a record error in NDJSON.
func TestFeedV2RecordBound(t *testing.T) {
	big := `{"id":2,"name":"` + strings.Repeat("x", 300_000) + `","price":1}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ndjson" {
			w.Header().Set("Content-Type", "application/x-ndjson")
			fmt.Fprint(w, `{"id":1,"price":1}`+"\n"+big+"\n"+`{"id":3,"price":1}`+"\n")
			return
		}
		fmt.Fprint(w, `[{"id":1,"price":1},`+big+`]`)
	}))
	defer srv.Close()
	cfg := DefaultFeedV2Config()
	cfg.MaxLineBytes = 1000
	cfg.URLs[ingest.KindProducts] = srv.URL + "/json"
	_, err := (&FeedV2Source{Config: cfg, Doer: http.DefaultClient}).Fetch(context.Background(), time.Time{}, newSink(t))
	if !errors.Is(err, ingest.ErrInvalidFeed) || !strings.Contains(err.Error(), "more than 1000 bytes in one record") {
		t.Errorf("json: err = %v", err)
	}
	cfg.URLs[ingest.KindProducts] = srv.URL + "/ndjson"
	sink := newSink(t)
	res, err := (&FeedV2Source{Config: cfg, Doer: http.DefaultClient}).Fetch(context.Background(), time.Time{}, sink)
	if err != nil || len(sink.products) != 2 || res.Rejected[ingest.KindProducts] != 1 || !errors.Is(res.Errors[0], ingest.ErrStringTooLong) {
		t.Errorf("ndjson: %d products, rejected %v, errors %v, err %v", len(sink.products), res.Rejected, res.Errors, err)
	}
}
