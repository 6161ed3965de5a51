package node

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
)

// signWebhook is the platforms' signature: base64 HMAC-SHA256 of the raw
// body (shopify.dev/docs/apps/build/webhooks/subscribe/https#step-5-verify-the-webhook;
// developer.woocommerce.com/docs/apis/rest-api/v3/webhooks/).
func signWebhook(body, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// shopifyProductDoc is a products/create|update payload: the Admin REST
// product document (shopify.dev/docs/api/admin-rest/2024-01/resources/product).
func shopifyProductDoc(id int, title, price string) string {
	return fmt.Sprintf(`{"id":%d,"title":%q,"body_html":"<p>Small <b>and</b> bright</p>","vendor":"Apple","handle":"p-%d",`+
		`"status":"active","created_at":"2024-01-02T03:04:05-05:00","variants":[{"id":%d1,"price":%q,"sku":"S%d","inventory_quantity":4}],`+
		`"images":[{"src":"https://cdn.shopify.com/p%d.jpg"}]}`, id, title, id, id, price, id, id)
}

// TestWebhooks: signed platform webhooks create, update and delete
// products through Raft; a bad signature, an unknown store, a store
// without a webhook secret and an oversized body change nothing; an
// unsupported topic and WooCommerce's ping are acknowledged and ignored;
// a product update without categories keeps the store's categories.
func TestWebhooks(t *testing.T) {
	n := testNode(t, "")
	c := newClient(t, n.HTTPAddr())
	shop := createStore(c, "shopify-shop")
	const secret = "whsec_test_0123"
	expect(t, c.Do("POST", "/v2/sync"+q(shop, true), map[string]any{"schedule": "manual", "source": map[string]any{
		"type": "shopify", "url": "https://s.myshopify.com", "token": "shpat_1", "webhook_secret": secret,
		"store_url": "https://shop.example", "currency": "EUR", "rates": map[string]float64{"USD": 0.5}}}), 200, "")
	if a := c.Do("GET", "/v2/sync"+q(shop, true), nil); strings.Contains(a.Raw, secret) || !strings.Contains(a.Raw, `"webhook_secret":"REDACTED"`) {
		t.Fatalf("GET /v2/sync shows the webhook secret or not its placeholder: %s", a.Raw)
	}
	path := "/v2/webhooks/shopify/" + shop.ID
	send := func(path, topic, body, sig string) answer {
		t.Helper()
		return c.Do("POST", path, body, "X-Shopify-Topic", topic, "X-Shopify-Hmac-Sha256", sig, "Content-Type", "application/json")
	}
	product := func(id string) map[string]any {
		t.Helper()
		a := c.Do("GET", "/v2/products"+q(shop, true, "products", id), nil)
		expect(t, a, 200, "")
		list, _ := a.Body["result"].([]any)
		if len(list) == 0 {
			return nil
		}
		m, _ := list[0].(map[string]any)
		return m
	}

	// Create.
	body := shopifyProductDoc(101, "Nano", "189.00")
	a := send(path, "products/create", body, signWebhook(body, secret))
	expect(t, a, 200, "")
	if a.Body["applied"] != 1.0 {
		t.Fatalf("create: %s", a.Raw)
	}
	p := product("101")
	if p == nil || p["name"] != "Nano" || p["price"] != 189.0 || p["url"] != "https://shop.example/products/p-101" || p["image"] != "https://cdn.shopify.com/p101.jpg" {
		t.Fatalf("created product: %v", p)
	}

	// A bad signature: 401, nothing changed; so is a missing one, and one
	// made with another secret.
	changed := shopifyProductDoc(101, "Hacked", "0.01")
	for _, sig := range []string{"", "bm9wZQ==", signWebhook(changed, "whsec_other"), signWebhook(body, secret)} {
		expect(t, send(path, "products/update", changed, sig), 401, "invalid_key")
	}
	if p := product("101"); p["name"] != "Nano" || p["price"] != 189.0 {
		t.Fatalf("a badly signed webhook changed the product: %v", p)
	}

	// An update without categories keeps the ones the store holds.
	expect(t, c.Do("POST", "/v2/products"+q(shop, true), []map[string]any{{"id": "102", "name": "Shuffle", "price": 49,
		"url": "https://shop.example/products/p-102", "categories": []string{"7", "9"}}}), 200, "")
	body = shopifyProductDoc(102, "Shuffle 2", "59.00")
	expect(t, send(path, "products/update", body, signWebhook(body, secret)), 200, "")
	if p := product("102"); p["name"] != "Shuffle 2" || p["price"] != 59.0 || fmt.Sprint(p["categories"]) != "[7 9]" {
		t.Fatalf("updated product: %v", p)
	}
	// Update of the created one.
	body = shopifyProductDoc(101, "Nano 2", "199.00")
	expect(t, send(path, "products/update", body, signWebhook(body, secret)), 200, "")
	if p := product("101"); p["name"] != "Nano 2" || p["price"] != 199.0 {
		t.Fatalf("updated product: %v", p)
	}

	// An unsupported topic is acknowledged and writes nothing; a malformed
	// document is a 400.
	body = `{"id":5,"title":"Summer"}`
	if a := send(path, "collections/create", body, signWebhook(body, secret)); a.Status != 200 || a.Body["ignored"] != true {
		t.Fatalf("unsupported topic: %d %s", a.Status, a.Raw)
	}
	body = `{"id":103,"title":"No variants"}`
	expect(t, send(path, "products/create", body, signWebhook(body, secret)), 400, "bad_request")
	if p := product("103"); p != nil {
		t.Fatalf("a rejected webhook wrote %v", p)
	}

	// Oversized: 413 before anything.
	big := `{"id":104,"title":"` + strings.Repeat("x", 1<<20) + `"}`
	expect(t, send(path, "products/create", big, signWebhook(big, secret)), 413, "too_large")

	// Unknown store, store without a sync, wrong platform: 404.
	expect(t, send("/v2/webhooks/shopify/st_nosuchstore", "products/create", body, signWebhook(body, secret)), 404, "not_found")
	bare := createStore(c, "no-sync")
	expect(t, send("/v2/webhooks/shopify/"+bare.ID, "products/create", body, signWebhook(body, secret)), 404, "not_found")
	expect(t, send("/v2/webhooks/shopify/bad%20id", "products/create", body, signWebhook(body, secret)), 404, "not_found")
	if a := c.Do("POST", "/v2/webhooks/woocommerce/"+shop.ID, body, "X-WC-Webhook-Topic", "product.created",
		"X-WC-Webhook-Signature", signWebhook(body, secret)); a.Status != 404 || !strings.Contains(a.Raw, "not woocommerce") {
		t.Fatalf("a woocommerce webhook to a shopify store: %d %s", a.Status, a.Raw)
	}
	// A key does not stand in for the signature.
	expect(t, c.Do("POST", path+q(shop, true), changed, "X-Shopify-Topic", "products/update"), 401, "invalid_key")

	// Orders (shopify.dev/docs/api/admin-rest/2024-01/resources/order):
	// one in USD is converted with the configured rate; one in a currency
	// without a rate is refused and writes nothing.
	order := func(id int, currency string) string {
		return fmt.Sprintf(`{"id":%d,"email":"ann@example.com","created_at":"2024-03-01T10:00:00Z","currency":%q,`+
			`"customer":{"id":207},"line_items":[{"product_id":102,"quantity":2,"price":"10.00"}]}`, id, currency)
	}
	body = order(900, "USD")
	expect(t, send(path, "orders/create", body, signWebhook(body, secret)), 200, "")
	if a := c.Do("GET", "/v2/orders"+q(shop, true, "orders", "900"), nil); !strings.Contains(a.Raw, `"price":5`) || !strings.Contains(a.Raw, `"102"`) {
		t.Fatalf("order in USD at 0.5: %s", a.Raw)
	}
	body = order(901, "SEK")
	if a := send(path, "orders/create", body, signWebhook(body, secret)); a.Status != 400 || !strings.Contains(a.Raw, "SEK") {
		t.Fatalf("order in SEK without a rate: %d %s", a.Status, a.Raw)
	}
	if a := c.Do("GET", "/v2/orders"+q(shop, true, "orders", "901"), nil); a.Body["count"] != 0.0 {
		t.Fatalf("a refused order was written: %s", a.Raw)
	}

	// Delete.
	body = `{"id":101}`
	expect(t, send(path, "products/delete", body, signWebhook(body, secret)), 200, "")
	if p := product("101"); p != nil {
		t.Fatalf("deleted product still there: %v", p)
	}
	// Customers: created, then deleted.
	body = `{"id":207,"email":"bob@example.com","first_name":"Bob","last_name":"Norman"}`
	expect(t, send(path, "customers/create", body, signWebhook(body, secret)), 200, "")
	if a := c.Do("GET", "/v2/customers"+q(shop, true, "customers", "207"), nil); !strings.Contains(a.Raw, "bob@example.com") {
		t.Fatalf("customer not created: %s", a.Raw)
	}
	body = `{"id":207}`
	expect(t, send(path, "customers/delete", body, signWebhook(body, secret)), 200, "")
	if a := c.Do("GET", "/v2/customers"+q(shop, true, "customers", "207"), nil); strings.Contains(a.Raw, "bob@example.com") {
		t.Fatalf("customer not deleted: %s", a.Raw)
	}

	// WooCommerce: the unsigned ping is acknowledged; a signed product is
	// written; without a webhook_secret the store refuses with 404.
	woo := createStore(c, "woo-shop")
	expect(t, c.Do("POST", "/v2/sync"+q(woo, true), map[string]any{"schedule": "manual", "source": map[string]any{
		"type": "woocommerce", "url": "https://woo.example", "consumer_key": "ck_1", "consumer_secret": "cs_1"}}), 200, "")
	wooPath := "/v2/webhooks/woocommerce/" + woo.ID
	wooDoc := `{"id":799,"name":"Ship Your Idea","type":"simple","status":"publish","permalink":"https://woo.example/product/ship-your-idea/",` +
		`"price":"21.99","regular_price":"21.99","images":[{"src":"https://woo.example/img.jpg"}],"categories":[{"id":9,"name":"Clothing"}]}`
	if a := c.Do("POST", wooPath, wooDoc, "X-WC-Webhook-Topic", "product.created", "X-WC-Webhook-Signature", signWebhook(wooDoc, secret)); a.Status != 404 || !strings.Contains(a.Raw, "webhook_secret") {
		t.Fatalf("woocommerce store without a secret: %d %s", a.Status, a.Raw)
	}
	expect(t, c.Do("PATCH", "/v2/sync"+q(woo, true), map[string]any{"source": map[string]any{"webhook_secret": secret, "consumer_secret": "REDACTED"}}), 200, "")
	if a := c.Do("POST", wooPath, "webhook_id=12", "Content-Type", "application/x-www-form-urlencoded"); a.Status != 200 || a.Body["ignored"] != true {
		t.Fatalf("woocommerce ping: %d %s", a.Status, a.Raw)
	}
	expect(t, c.Do("POST", wooPath, wooDoc, "X-WC-Webhook-Topic", "product.created", "X-WC-Webhook-Signature", signWebhook(wooDoc, "nope")), 401, "invalid_key")
	expect(t, c.Do("POST", wooPath, wooDoc, "X-WC-Webhook-Topic", "product.created", "X-WC-Webhook-Signature", signWebhook(wooDoc, secret)), 200, "")
	a = c.Do("GET", "/v2/products"+q(woo, true, "products", "799"), nil)
	if !strings.Contains(a.Raw, `"name":"Ship Your Idea"`) || !strings.Contains(a.Raw, `"price":21.99`) {
		t.Fatalf("woocommerce product: %s", a.Raw)
	}
}
