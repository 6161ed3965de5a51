package source

import (
	"compress/gzip"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/ingest"
)

// v1Feed follows Clerk's data feed specification
// (docs.clerk.io/docs/data-feed): products, categories and "sales", with
// "created" and "strict"; here in a "config" object as the issue names
// them, and one invalid product.
const v1Feed = `{
  "config": {"created": 1733600000, "strict": false},
  "categories": [{"id": 1, "name": "Imperial Goods", "subcategories": [42], "url": "http://shop.test/imperial"}],
  "products": [
    {"id": 123, "name": "Green Lightsaber", "price": 99995.95, "categories": [1], "brand": "Je'daii", "color": "green"},
    {"id": 789, "name": "Death Star Deluxe", "price": -1},
    {"id": 790, "name": "Tie Fighter", "price": "49.50", "categories": [1]}
  ],
  "sales": [{"id": 5001, "customer": 7, "time": 1733500000, "products": [{"id": 123, "quantity": 1, "price": 99995.95}]}]
}`

// authFeedServer serves body at /feed.json, gzipped, to requests with
// the bearer token; 401 otherwise (help.clerk.io "Data Feeds", Security:
// feeds must require authentication).
func authFeedServer(t *testing.T, token, body string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.Header().Set("WWW-Authenticate", `Bearer realm="feed"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		zw.Write([]byte(body))
		zw.Close()
	}))
}

func TestFeedSource(t *testing.T) {
	srv := authFeedServer(t, "s3cret", v1Feed)
	defer srv.Close()
	src := &FeedSource{URL: srv.URL + "/feed.json", Auth: Auth{Bearer: "s3cret"}, Doer: fastClient(t, nil)}
	sink := newSink(t)
	res, err := src.Fetch(context.Background(), time.Time{}, sink)
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "products", productIDs(sink.products), "123", "790")
	if p := sink.products[1]; p.Price != 49.5 || !slices.Equal(p.Categories, []ingest.ID{"1"}) {
		t.Errorf("product 790 = %+v", p)
	}
	if sink.products[0].Extra["color"] != "green" {
		t.Errorf("extra attribute lost: %+v", sink.products[0])
	}
	if len(sink.orders) != 1 || sink.orders[0].ID != "5001" || sink.orders[0].Customer != "7" {
		t.Errorf("sales as orders: %+v", sink.orders)
	}
	if len(sink.categories) != 1 || sink.categories[0].Name != "Imperial Goods" {
		t.Errorf("categories: %+v", sink.categories)
	}
	if !res.Complete || !slices.Equal(res.Kinds, []ingest.Kind{ingest.KindCategories, ingest.KindProducts, ingest.KindOrders}) {
		t.Errorf("complete %v kinds %v", res.Complete, res.Kinds)
	}
	if res.Records[ingest.KindProducts] != 2 || res.Rejected[ingest.KindProducts] != 1 || len(res.Errors) != 1 || res.Errors[0].ID != "789" {
		t.Errorf("counts: records %v rejected %v errors %v", res.Records, res.Rejected, res.Errors)
	}
	if !res.Created.Equal(time.Unix(1733600000, 0)) {
		t.Errorf("created = %v", res.Created)
	}
	if res.Requests != 1 || res.Bytes != int64(len(v1Feed)) {
		t.Errorf("requests %d bytes %d, want 1 and %d (decompressed)", res.Requests, res.Bytes, len(v1Feed))
	}

	// Without the token: 401, nothing delivered, the error says so and
	// does not show the token.
	src.Auth = Auth{Bearer: "wrong"}
	sink = newSink(t)
	res, err = src.Fetch(context.Background(), time.Time{}, sink)
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 401 || res.Complete || len(sink.products) != 0 {
		t.Errorf("wrong token: err %v, complete %v, %d products", err, res.Complete, len(sink.products))
	}
}

// A strict feed with an invalid record fails; the Result is not Complete.
func TestFeedSourceStrict(t *testing.T) {
	srv := authFeedServer(t, "t", strings.Replace(v1Feed, `"strict": false`, `"strict": true`, 1))
	defer srv.Close()
	src := &FeedSource{URL: srv.URL, Auth: Auth{Bearer: "t"}, Doer: http.DefaultClient}
	res, err := src.Fetch(context.Background(), time.Time{}, newSink(t))
	if !errors.Is(err, ingest.ErrInvalidFeed) || res.Complete || len(res.Kinds) != 0 {
		t.Errorf("strict feed: err %v complete %v kinds %v", err, res.Complete, res.Kinds)
	}
	if res.Requests != 1 || res.Bytes == 0 {
		t.Errorf("plain Doer counted %d requests %d bytes", res.Requests, res.Bytes)
	}
}
