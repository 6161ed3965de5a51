package apitest

import (
	"fmt"
	"strings"
	"testing"
)

// SeedShop loads a small shop: "lamp" sells most and goes with "bulb";
// "tea" goes with "cup".
func SeedShop(t testing.TB, c *Client, st Store) {
	t.Helper()
	Expect(t, c.Do("POST", "/v2/products"+Q(st, true), `{"products":[
		{"id":"lamp","name":"Desk lamp","price":30,"categories":[1],"created_at":100},
		{"id":"bulb","name":"LED bulb","price":5,"created_at":200},
		{"id":"tea","name":"Green tea","price":8,"created_at":300},
		{"id":"cup","name":"Tea cup","price":12,"created_at":400},
		{"id":"hidden","name":"Secret","price":1,"index":false,"created_at":500}]}`), 200, "")
	Expect(t, c.Do("POST", "/v2/customers"+Q(st, true), `[{"id":"c1","email":"Ann@example.com","name":"Ann"},{"id":2,"name":"Bo"}]`), 200, "")
	Expect(t, c.Do("POST", "/v2/orders"+Q(st, true), `{"orders":[
		{"id":"o1","time":1700000000,"customer":"c1","products":[{"id":"lamp","quantity":1,"price":30},{"id":"bulb","quantity":2,"price":5}]},
		{"id":"o2","time":1700000100,"customer":2,"products":[{"id":"lamp","quantity":1,"price":30},{"id":"bulb","quantity":1,"price":5}]},
		{"id":"o3","time":1700000200,"customer":"c1","products":[{"id":"tea","quantity":1,"price":8},{"id":"cup","quantity":1,"price":12},{"id":"hidden","quantity":1,"price":1}]},
		{"id":"o4","time":1700000300,"email":"x@example.com","products":[{"id":"lamp","quantity":1,"price":30}]}]}`), 200, "")
}

// TwoNeedShop: mugs m0-m2 go with saucers s0-s2 (tea), notebooks n0-n2
// with pens p0-p2 (stationery). Customers t0..t39 buy one mug and one
// saucer, w0..w39 one notebook and one pen; two mugs are never bought
// together, so mugs substitute each other.
func TwoNeedShop(t testing.TB, c *Client, st Store) {
	var products, customers, orders []string
	for _, g := range []string{"m", "s", "n", "p"} {
		for i := 0; i < 3; i++ {
			name := map[string]string{"m": "tea mug", "s": "saucer plate", "n": "paper notebook", "p": "ink pen"}[g]
			products = append(products, fmt.Sprintf(`{"id":"%s%d","name":"%s %d","price":%d,"categories":["%s"]}`, g, i, name, i, 5+i, g))
		}
	}
	for u := 0; u < 80; u++ {
		cust, a, b := fmt.Sprintf("t%d", u), fmt.Sprintf("m%d", u%3), fmt.Sprintf("s%d", (u/3)%3)
		if u >= 40 {
			cust, a, b = fmt.Sprintf("w%d", u-40), fmt.Sprintf("n%d", u%3), fmt.Sprintf("p%d", (u/3)%3)
		}
		customers = append(customers, fmt.Sprintf(`{"id":"%s"}`, cust))
		orders = append(orders, fmt.Sprintf(`{"id":"o%d","time":%d,"customer":"%s","products":[{"id":"%s","quantity":1,"price":5},{"id":"%s","quantity":1,"price":5}]}`,
			u, 1700000000+u*3600, cust, a, b))
	}
	Expect(t, c.Do("POST", "/v2/products"+Q(st, true), "["+strings.Join(products, ",")+"]"), 200, "")
	Expect(t, c.Do("POST", "/v2/customers"+Q(st, true), "["+strings.Join(customers, ",")+"]"), 200, "")
	Expect(t, c.Do("POST", "/v2/orders"+Q(st, true), "["+strings.Join(orders, ",")+"]"), 200, "")
}
