package node

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// twoNeedShop: mugs m0-m2 go with saucers s0-s2 (tea), notebooks n0-n2
// with pens p0-p2 (stationery). Customers t0..t39 buy one mug and one
// saucer, w0..w39 one notebook and one pen; two mugs are never bought
// together, so mugs substitute each other.
func twoNeedShop(t *testing.T, c *client, st testStore) {
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
	expect(t, c.Do("POST", "/v2/products"+q(st, true), "["+strings.Join(products, ",")+"]"), 200, "")
	expect(t, c.Do("POST", "/v2/customers"+q(st, true), "["+strings.Join(customers, ",")+"]"), 200, "")
	expect(t, c.Do("POST", "/v2/orders"+q(st, true), "["+strings.Join(orders, ",")+"]"), 200, "")
}

// TestModelLoopTrainsInBackground: the node's model loop trains a store's
// model in the background once its data is quiet, and the model logics
// answer from it without a query waiting for training (the logics
// themselves are tested in query/models_test.go).
func TestModelLoopTrainsInBackground(t *testing.T) {
	n := testNode(t, "")
	c := newClient(t, n.HTTPAddr())
	st := createStore(c, "two needs")
	twoNeedShop(t, c, st)

	var subs []string
	checkFor(t, time.Minute, func() error {
		a := c.Do("GET", "/v2/recommendations/substituting"+q(st, false, "products", "m0", "limit", "2"), nil)
		expect(t, a, 200, "")
		subs = a.IDs()
		if len(subs) < 2 || !strings.HasPrefix(subs[0], "m") {
			return fmt.Errorf("substituting(m0) = %v, want the other mugs first", subs)
		}
		return nil
	})
	if !slices.Equal(slices.Sorted(slices.Values(subs)), []string{"m1", "m2"}) {
		t.Fatalf("substituting(m0) = %v, want m1 and m2", subs)
	}
}
