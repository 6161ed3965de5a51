package query

import (
	"strings"
	"testing"
)

// Only the webhook routes skip the key check, and the route table refuses
// a signed endpoint anywhere else or with a method that is not a POST
// shard write.
func TestSignedAccessIsOnlyWebhooks(t *testing.T) {
	var signed []string
	for _, e := range endpoints {
		if e.Access == AccessSigned {
			signed = append(signed, e.Path)
		}
	}
	if strings.Join(signed, " ") != "/v2/webhooks/shopify/{store} /v2/webhooks/woocommerce/{store}" {
		t.Errorf("signed endpoints: %v", signed)
	}
	bind := handler(func(*Server, *request) error { return nil })
	f := func(e Endpoint, want string) {
		t.Helper()
		e.Access, e.Tag, e.Summary, e.bind = AccessSigned, tagData, "x", bind
		err := e.check()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", e.Path, err, want)
		}
	}
	post := []Op{{Method: "POST", ID: "x", Writes: ShardWrite, Params: []Param{pathParam("store", "s")}, Result: okResult}}
	f(Endpoint{Path: "/v2/products/{store}", Ops: post}, "signed endpoints are /v2/webhooks/")
	f(Endpoint{Path: "/v2/webhooks/x", Ops: post}, "signed endpoints are")
	f(Endpoint{Path: "/v2/webhooks/x/{store}", Ops: []Op{{Method: "GET", ID: "x", Params: []Param{pathParam("store", "s")}, Result: okResult}}}, "only POST shard writes")
	ok := Endpoint{Path: "/v2/webhooks/x/{store}", Access: AccessSigned, Tag: tagData, Summary: "x", Ops: post, bind: bind}
	if err := ok.check(); err != nil {
		t.Errorf("a well-formed signed endpoint: %v", err)
	}
	for _, id := range []string{"st_0123abcd", "shop-1.eu"} {
		if !validStorePathID(id) {
			t.Errorf("%q refused", id)
		}
	}
	for _, id := range []string{"", "a b", "a%2Fb", strings.Repeat("s", 129), "st_\x00"} {
		if validStorePathID(id) {
			t.Errorf("%q accepted", id)
		}
	}
}

// Webhooks carry no key but still spend their client's IP bucket (and
// not the store's): over the burst they are answered 429 before any
// store lookup.
func TestWebhookRateLimitedPerIP(t *testing.T) {
	base, _ := startEdge(t, func(c *Config) {
		c.Rate.IPRate, c.Rate.IPBurst = 0.001, 2
		c.Rate.StoreRate, c.Rate.StoreBurst = 0.001, 1
	})
	hook := base + "/v2/webhooks/shopify/st_0123abcd"
	for i := range 2 {
		// The fake backend holds no store: 404 within the burst, proving
		// the store's bucket (burst 1) was not spent.
		if a := call(t, "POST", hook, `{"id":1}`, "X-Shopify-Topic", "products/delete"); a.status != 404 || a.Type != ErrTypeNotFound {
			t.Fatalf("webhook %d within the IP burst: %d %s", i, a.status, a.body)
		}
	}
	if a := call(t, "POST", hook, `{"id":1}`, "X-Shopify-Topic", "products/delete"); a.status != 429 || a.Type != ErrTypeRateLimited {
		t.Fatalf("webhook over the IP burst: %d %s", a.status, a.body)
	}
}
