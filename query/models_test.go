package query

import (
	"fmt"
	"slices"
	"testing"
)

func TestModelLogicsThroughTheAPI(t *testing.T) {
	c, b := startAPI(t)
	st := createStore(c, "two needs")
	twoNeedShop(t, c, st)

	// The node's model loop trains in the background (node tests that);
	// here the model is trained at once.
	b.retrain(t)
	a := c.Do("GET", "/v2/recommendations/substituting"+q(st, false, "products", "m0", "limit", "2"), nil)
	expect(t, a, 200, "")
	subs := a.IDs()
	if !slices.Equal(slices.Sorted(slices.Values(subs)), []string{"m1", "m2"}) {
		t.Fatalf("substituting(m0) = %v, want m1 and m2", subs)
	}

	// A stationery customer is offered stationery they have not bought.
	cc := c.Do("GET", "/v2/recommendations/customer/complementary"+q(st, true, "customer", "w0", "limit", "3"), nil)
	expect(t, cc, 200, "")
	got := cc.IDs()
	bought := c.Do("GET", "/v2/recommendations/customer/history"+q(st, true, "customer", "w0"), nil).IDs()
	for _, id := range got {
		if slices.Contains(bought, id) {
			t.Fatalf("customer/complementary(w0) = %v repeats a purchase %v", got, bought)
		}
		if id[0] != 'n' && id[0] != 'p' {
			t.Fatalf("customer/complementary(w0) = %v, want stationery only", got)
		}
	}
	// Unknown customers are a 404, not an empty list.
	expect(t, c.Do("GET", "/v2/recommendations/customer/complementary"+q(st, true, "customer", "nobody"), nil), 404, "not_found")

	// Audience for an offer on m0: tea drinkers who did not just buy m0.
	aud := c.Do("GET", "/v2/campaigns/customers"+q(st, true, "interest", "m0", "limit", "10"), nil)
	expect(t, aud, 200, "")
	who := aud.IDs()
	if len(who) != 10 {
		t.Fatalf("audience = %v, want 10 customers", who)
	}
	for _, id := range who {
		var u int
		fmt.Sscanf(id, "t%d", &u)
		if id[0] != 't' || u%3 == 0 {
			t.Fatalf("audience(m0) = %v: want tea customers who did not buy m0 (t<u> with u%%3 != 0)", who)
		}
	}
	expect(t, c.Do("GET", "/v2/campaigns/customers"+q(st, true), nil), 400, "bad_request")
	expect(t, c.Do("GET", "/v2/campaigns/customers"+q(st, false, "interest", "m0"), nil), 403, "forbidden")
}
