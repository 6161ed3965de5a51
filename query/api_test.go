package query

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestAPIRecommendationsMeanSomething(t *testing.T) {
	c, _ := startAPI(t)
	st := createStore(c, "shop")
	seedShop(t, c, st)

	pop := c.Do("GET", "/v2/recommendations/popular"+q(st, false, "limit", "3"), nil)
	expect(t, pop, 200, "")
	if got := pop.IDs(); len(got) != 3 || got[0] != "lamp" || got[1] != "bulb" {
		t.Fatalf("popular = %v, want lamp, bulb first", got)
	}
	// exclude really excludes; offset pages.
	ex := c.Do("GET", "/v2/recommendations/popular"+q(st, false, "exclude", `["lamp"]`), nil)
	if got := ex.IDs(); slices.Contains(got, "lamp") || got[0] != "bulb" {
		t.Fatalf("popular excluding lamp = %v", got)
	}
	off := c.Do("GET", "/v2/recommendations/popular"+q(st, false, "offset", "1", "limit", "1"), nil)
	if got := off.IDs(); !slices.Equal(got, []string{"bulb"}) {
		t.Fatalf("popular offset 1 limit 1 = %v", got)
	}
	// Hidden products never come back.
	for _, logic := range []string{"popular", "trending", "new", "recently_bought"} {
		a := c.Do("GET", "/v2/recommendations/"+logic+q(st, false, "limit", "50"), nil)
		expect(t, a, 200, "")
		if slices.Contains(a.IDs(), "hidden") {
			t.Fatalf("%s returns the index:false product: %v", logic, a.IDs())
		}
		if len(a.IDs()) == 0 {
			t.Fatalf("%s is empty", logic)
		}
	}
	if got := c.Do("GET", "/v2/recommendations/new"+q(st, false), nil).IDs(); got[0] != "cup" {
		t.Fatalf("new = %v, want cup (latest created_at) first", got)
	}
	// Co-purchase, GET and POST with the same names.
	msw := c.Do("GET", "/v2/recommendations/most_sold_with"+q(st, false, "products", `["lamp"]`, "limit", "1"), nil)
	if got := msw.IDs(); !slices.Equal(got, []string{"bulb"}) {
		t.Fatalf("most_sold_with(lamp) = %v, want [bulb]", got)
	}
	post := c.Do("POST", "/v2/recommendations/complementary", map[string]any{"key": st.Public, "products": []string{"tea"}, "limit": 1, "attributes": []string{"name", "price"}})
	expect(t, post, 200, "")
	if got := post.IDs(); !slices.Equal(got, []string{"cup"}) {
		t.Fatalf("complementary(tea) = %v, want [cup]", got)
	}
	data, _ := post.Body["product_data"].([]any)
	if len(data) != 1 || data[0].(map[string]any)["name"] != "Tea cup" || data[0].(map[string]any)["price"] != 12.0 {
		t.Fatalf("attributes not returned: %s", post.Raw)
	}
	// Customer history by id and by email, most recent order first.
	h := c.Do("GET", "/v2/recommendations/customer/history"+q(st, true, "customer", "c1"), nil)
	if got := h.IDs(); !slices.Equal(got, []string{"tea", "cup", "lamp", "bulb"}) {
		t.Fatalf("history(c1) = %v, want tea cup lamp bulb (hidden excluded)", got)
	}
	he := c.Do("GET", "/v2/recommendations/customer/history"+q(st, true, "email", "ann@EXAMPLE.com"), nil)
	if !slices.Equal(he.IDs(), h.IDs()) {
		t.Fatalf("history by email = %v, by id %v", he.IDs(), h.IDs())
	}
	expect(t, c.Do("GET", "/v2/recommendations/customer/history"+q(st, true, "customer", "nobody"), nil), 404, "not_found")
	expect(t, c.Do("GET", "/v2/recommendations/customer/history"+q(st, true), nil), 400, "bad_request")
	// product/attributes
	pa := c.Do("GET", "/v2/product/attributes"+q(st, false, "products", `["cup","hidden"]`, "attributes", `["price"]`), nil)
	if res, _ := pa.Body["result"].([]any); len(res) != 1 || res[0].(map[string]any)["price"] != 12.0 {
		t.Fatalf("product/attributes = %s", pa.Raw)
	}
	// JSONP wraps the same answer.
	resp, err := c.HTTP.Get(c.Base + "/v2/recommendations/popular" + q(st, false, "limit", "1", "callback", "cb"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != `cb({"status":"ok","result":["lamp"],"count":1});` {
		t.Fatalf("JSONP answer: %s", body)
	}
}

func TestAPIDataEndpoints(t *testing.T) {
	c, _ := startAPI(t)
	st := createStore(c, "shop")
	seedShop(t, c, st)

	got := c.Do("GET", "/v2/orders"+q(st, true, "orders", `["o1","o3","nope"]`), nil)
	expect(t, got, 200, "")
	if res := got.Body["result"].([]any); len(res) != 2 || res[0].(map[string]any)["id"] != "o1" {
		t.Fatalf("orders by id = %s", got.Raw)
	}
	page := c.Do("GET", "/v2/products"+q(st, true, "limit", "2", "offset", "1"), nil)
	if res := page.Body["result"].([]any); len(res) != 2 || res[0].(map[string]any)["id"] != "cup" || page.Body["total"] != 5.0 {
		t.Fatalf("products page = %s", page.Raw)
	}
	// PATCH changes only the named fields.
	expect(t, c.Do("PATCH", "/v2/products"+q(st, true), `[{"id":"lamp","price":25}]`), 200, "")
	lamp := c.Do("GET", "/v2/products"+q(st, true, "products", "lamp"), nil).Body["result"].([]any)[0].(map[string]any)
	if lamp["price"] != 25.0 || lamp["name"] != "Desk lamp" {
		t.Fatalf("after patch lamp = %v", lamp)
	}
	expect(t, c.Do("PATCH", "/v2/products"+q(st, true), `[{"id":"lamp","price":-3}]`), 400, "bad_request")
	// DELETE, and the legacy product/remove.
	expect(t, c.Do("DELETE", "/v2/orders"+q(st, true, "orders", `["o4"]`), nil), 200, "")
	if res := c.Do("GET", "/v2/orders"+q(st, true, "orders", `["o4"]`), nil).Body["result"].([]any); len(res) != 0 {
		t.Fatal("deleted order still there")
	}
	expect(t, c.Do("POST", "/v2/product/remove"+q(st, true, "products", `["bulb"]`), nil), 200, "")
	if ids := c.Do("GET", "/v2/recommendations/most_sold_with"+q(st, false, "products", "lamp"), nil).IDs(); slices.Contains(ids, "bulb") {
		t.Fatalf("removed product still recommended: %v", ids)
	}
	expect(t, c.Do("POST", "/v2/product/add"+q(st, true), `{"products":[{"id":"bulb","name":"LED bulb","price":5}]}`), 200, "")
}

func TestAPIBadInput(t *testing.T) {
	c, _ := startAPI(t)
	st := createStore(c, "shop")
	other := createStore(c, "other")
	seedShop(t, c, st)

	cases := []struct {
		name, method, path string
		body               any
		status             int
		errType            string
	}{
		{"malformed JSON", "POST", "/v2/products" + q(st, true), `{"products":[{"id":"a",}]}`, 400, "bad_request"},
		{"malformed JSON list", "POST", "/v2/products" + q(st, true), `[{"id":"a",}]`, 400, "invalid_records"},
		{"wrong type", "POST", "/v2/products" + q(st, true), `[{"id":"a","name":"x","price":"cheap"}]`, 400, "invalid_records"},
		{"empty batch", "POST", "/v2/products" + q(st, true), `{"products":[]}`, 400, "bad_request"},
		{"empty body", "POST", "/v2/products" + q(st, true), ``, 400, "bad_request"},
		{"duplicate ids", "POST", "/v2/products" + q(st, true), `[{"id":"a","name":"x","price":1},{"id":"a","name":"y","price":2}]`, 400, "invalid_records"},
		{"order without lines", "POST", "/v2/orders" + q(st, true), `[{"id":"o9","time":1700000000,"products":[]}]`, 400, "invalid_records"},
		{"missing key", "GET", "/v2/recommendations/popular", nil, 401, "missing_key"},
		{"wrong key", "GET", "/v2/recommendations/popular?key=pk_nope", nil, 401, "invalid_key"},
		{"public key on a write", "POST", "/v2/products?key=" + st.Public, `[{"id":"a","name":"x","price":1}]`, 403, "forbidden"},
		{"public key on customer data", "GET", "/v2/recommendations/customer/history?key=" + st.Public + "&customer=c1", nil, 403, "forbidden"},
		{"keys of two stores", "GET", "/v2/orders?key=" + st.Public + "&private_key=" + other.Private, nil, 401, "invalid_key"},
		{"bad limit", "GET", "/v2/recommendations/popular" + q(st, false, "limit", "many"), nil, 400, "bad_request"},
		{"limit too large", "GET", "/v2/recommendations/popular" + q(st, false, "limit", "100000"), nil, 400, "bad_request"},
		{"missing products", "GET", "/v2/recommendations/complementary" + q(st, false), nil, 400, "bad_request"},
		{"unknown endpoint", "GET", "/v2/recommendations/nope" + q(st, false), nil, 404, "not_found"},
		{"store without admin token", "POST", "/v2/stores", `{"name":"x"}`, 401, "missing_key"},
		{"store with wrong token", "POST", "/v2/stores", `{"name":"x"}`, 401, "invalid_key"},
		{"store without name", "POST", "/v2/stores", `{}`, 400, "bad_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.name == "store with wrong token" {
				hdr = []string{"Authorization", "Bearer wrong-token-wrong-token"}
			}
			if tc.name == "store without name" {
				hdr = []string{"Authorization", "Bearer " + testAdminToken}
			}
			expect(t, c.Do(tc.method, tc.path, tc.body, hdr...), tc.status, tc.errType)
		})
	}
	t.Run("rejected batch applies nothing", func(t *testing.T) {
		a := c.Do("POST", "/v2/products"+q(st, true), `[{"id":"new1","name":"ok","price":1},{"id":"new2","name":"bad","price":-1}]`)
		expect(t, a, 400, "invalid_records")
		details, _ := a.Body["details"].([]any)
		if len(details) != 1 || details[0].(map[string]any)["index"] != 1.0 {
			t.Fatalf("details should name record 1: %s", a.Raw)
		}
		if res := c.Do("GET", "/v2/products"+q(st, true, "products", "new1"), nil).Body["result"].([]any); len(res) != 0 {
			t.Fatal("the good record of a rejected batch was applied")
		}
	})
	t.Run("oversized body", func(t *testing.T) {
		// The server refuses by Content-Length, before the body is sent:
		// speak HTTP by hand so the answer can be read first.
		conn, err := net.Dial("tcp", strings.TrimPrefix(c.Base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /v2/products%s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", q(st, true), 64<<20)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 413 || !strings.Contains(string(body), `"type":"too_large"`) {
			t.Fatalf("status %d, body %s; want 413 too_large", resp.StatusCode, body)
		}
	})
	t.Run("order naming an unknown product is accepted and counted", func(t *testing.T) {
		a := c.Do("POST", "/v2/orders"+q(st, true), `[{"id":"o10","time":1700000400,"customer":"c1","products":[{"id":"ghost","quantity":1,"price":3}]}]`)
		expect(t, a, 200, "")
		if a.Body["unknown_products"] != 1.0 {
			t.Fatalf("unknown_products not reported: %s", a.Raw)
		}
	})
	t.Run("a key of store A never reaches store B", func(t *testing.T) {
		// other has no data; its keys must not see shop's.
		if ids := c.Do("GET", "/v2/recommendations/popular"+q(other, false), nil).IDs(); len(ids) != 0 {
			t.Fatalf("store other sees shop's products: %v", ids)
		}
		if res := c.Do("GET", "/v2/orders"+q(other, true, "orders", `["o1"]`), nil).Body["result"].([]any); len(res) != 0 {
			t.Fatal("store other reads shop's order")
		}
		expect(t, c.Do("POST", "/v2/products"+q(other, true), `[{"id":"lamp","name":"Other lamp","price":1}]`), 200, "")
		lamp := c.Do("GET", "/v2/products"+q(st, true, "products", "lamp"), nil).Body["result"].([]any)[0].(map[string]any)
		if lamp["name"] != "Desk lamp" {
			t.Fatalf("a write to store other changed shop's product: %v", lamp)
		}
	})
}
