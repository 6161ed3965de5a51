package bench

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

func TestReplayFollowsVisits(t *testing.T) {
	d := &Dataset{Name: "two", Orders: []Order{
		{ID: "B", Time: 20, Products: []OrderLine{{ID: "y", Quantity: 1, Price: 2}}},
		{ID: "A", Time: 10, Products: []OrderLine{{ID: "x", Quantity: 1, Price: 1}, {ID: "z", Quantity: 2, Price: 3}, {ID: "x", Quantity: 1, Price: 1}}},
	}}
	r, err := NewReplay(d, Keys{Public: "pub", Private: "priv"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Order A first (earlier): home, per product its view, page, cart add
	// and cart complementary, then the tracked sale and the order; then B.
	want := []struct{ label, products string }{
		{"home_popular", ""},
		{"log_product", ""},
		{"product_page_most_sold_with", `["x"]`},
		{"log_cart_add", ""},
		{"cart_complementary", `["x"]`},
		{"log_product", ""},
		{"product_page_most_sold_with", `["z"]`},
		{"log_cart_add", ""},
		{"cart_complementary", `["x","z"]`},
		{"log_sale", `["x","z"]`},
		{"sale_order", ""},
		{"home_popular", ""},
		{"log_product", ""},
		{"product_page_most_sold_with", `["y"]`},
		{"log_cart_add", ""},
		{"cart_complementary", `["y"]`},
		{"log_sale", `["y"]`},
		{"sale_order", ""},
	}
	if r.Steps() != len(want) {
		t.Fatalf("steps = %d, want %d", r.Steps(), len(want))
	}
	var sales []string
	for pass := range 2 {
		for i, w := range want {
			var req Request
			r.Next(nil, &req)
			if req.Label != w.label {
				t.Fatalf("pass %d step %d: %s, want %s", pass, i, req.Label, w.label)
			}
			u, _ := url.Parse(req.Path)
			if strings.HasPrefix(req.Label, "log_") {
				// Guest orders: the visitor is named after the order.
				wantVisitor := "rv-oA"
				if i > 10 {
					wantVisitor = "rv-oB"
				}
				if got := u.Query().Get("visitor"); got != wantVisitor {
					t.Errorf("step %d visitor = %q, want %q", i, got, wantVisitor)
				}
			}
			if got := u.Query().Get("products"); got != w.products {
				t.Errorf("step %d products = %q, want %q", i, got, w.products)
			}
			if w.label == "sale_order" {
				var os []Order
				if err := json.Unmarshal(req.Body, &os); err != nil || len(os) != 1 {
					t.Fatalf("sale body %s: %v", req.Body, err)
				}
				sales = append(sales, os[0].ID)
				if u.Query().Get("private_key") != "priv" || req.Method != "POST" {
					t.Errorf("sale request %s %s", req.Method, req.Path)
				}
			}
		}
	}
	// Every pass sells under fresh ids.
	if strings.Join(sales, ",") != "A-r0,B-r0,A-r1,B-r1" {
		t.Errorf("sale ids %v", sales)
	}
	noSales, err := NewReplay(d, Keys{Public: "pub"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if noSales.Steps() != 10 {
		t.Errorf("public-only replay of one order has %d steps, want 10", noSales.Steps())
	}
}
