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
	// Order A first (earlier): home, x page, cart [x], z page, cart [x z], sale; then B.
	want := []struct{ label, products string }{
		{"home_popular", ""},
		{"product_page_most_sold_with", `["x"]`},
		{"cart_complementary", `["x"]`},
		{"product_page_most_sold_with", `["z"]`},
		{"cart_complementary", `["x","z"]`},
		{"sale_order", ""},
		{"home_popular", ""},
		{"product_page_most_sold_with", `["y"]`},
		{"cart_complementary", `["y"]`},
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
	if noSales.Steps() != 5 {
		t.Errorf("public-only replay of one order has %d steps, want 5", noSales.Steps())
	}
}
