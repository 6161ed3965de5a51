package platform

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"slices"
	"testing"

	"github.com/sibylhq/sibyl/ingest"
)

func sign(body, secret []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func TestVerifyWebhook(t *testing.T) {
	body := []byte(`{"id":632910392,"title":"IPod Nano - 8GB"}`)
	secret := []byte("hush")
	good := sign(body, secret)
	for name, verify := range map[string]func([]byte, string, []byte) bool{
		"shopify": VerifyShopifyWebhook, "woocommerce": VerifyWooWebhook,
	} {
		f := func(body []byte, header string, secret []byte, want bool) {
			t.Helper()
			if got := verify(body, header, secret); got != want {
				t.Fatalf("%s: verify(%q, %q, %q) = %v, want %v", name, body, header, secret, got, want)
			}
		}
		f(body, good, secret, true)
		f(body, " "+good+" ", secret, true)
		f(append(slices.Clone(body), ' '), good, secret, false) // a changed body
		f(body, good, []byte("hush!"), false)                   // another secret
		f(body, "", secret, false)
		f(body, good, nil, false) // no secret configured: nothing verifies
		f(body, sign(body, nil), nil, false)
		f(body, "not base64!", secret, false)
		mac := hmac.New(sha256.New, secret)
		mac.Write(body)
		f(body, hex.EncodeToString(mac.Sum(nil)), secret, false) // hex is not the documented encoding
		f(body, good[:len(good)-4], secret, false)
	}
}

func webhookShopifyConfig() ShopifyConfig {
	cfg := DefaultShopifyConfig()
	cfg.Currency = "USD"
	cfg.StoreURL = "https://shop.example.com"
	return cfg
}

func TestDecodeShopifyWebhook(t *testing.T) {
	cfg := webhookShopifyConfig()
	fx := shopifyFixtureData()
	// products/update carries the REST product document: the same
	// mapping as the pull connector, without categories.
	ch, err := DecodeShopifyWebhook(cfg, "products/update", []byte(fx.docs["products"][0]))
	if err != nil || len(ch.Products) != 1 {
		t.Fatalf("change %+v err %v", ch, err)
	}
	p := ch.Products[0]
	if p.ID != "632910392" || p.Price != 189 || p.ListPrice != 229 || p.URL != "https://shop.example.com/products/ipod-nano" ||
		p.Description != "It's the small iPod with one very big idea: Video. Now the world's most popular music player plays movies." ||
		len(p.Categories) != 0 || *p.Stock != 15 {
		t.Fatalf("product %+v", p)
	}

	ch, err = DecodeShopifyWebhook(cfg, "products/delete", []byte(`{"id":632910392}`))
	if err != nil || !slices.Equal(ch.DeleteProducts, []ingest.ID{"632910392"}) || len(ch.Products) != 0 {
		t.Fatalf("delete: %+v %v", ch, err)
	}
	// Shopify ids outgrow float64's exact integers: kept as written.
	ch, err = DecodeShopifyWebhook(cfg, "products/delete", []byte(`{"id":788032119674292922}`))
	if err != nil || !slices.Equal(ch.DeleteProducts, []ingest.ID{"788032119674292922"}) {
		t.Fatalf("large id: %+v %v", ch, err)
	}
	ch, err = DecodeShopifyWebhook(cfg, "customers/delete", []byte(`{"id":207119551}`))
	if err != nil || !slices.Equal(ch.DeleteCustomers, []ingest.ID{"207119551"}) {
		t.Fatalf("customer delete: %+v %v", ch, err)
	}
	ch, err = DecodeShopifyWebhook(cfg, "orders/create", []byte(fx.docs["orders"][0]))
	if err != nil || len(ch.Orders) != 1 || ch.Orders[0].ID != "450789469" || ch.Orders[0].Products[0] != (ingest.OrderLine{ID: "632910392", Quantity: 2, Price: 199}) {
		t.Fatalf("order: %+v %v", ch, err)
	}
	// A cancelled order is no sale: nothing to write, no error.
	ch, err = DecodeShopifyWebhook(cfg, "orders/cancelled", []byte(fx.docs["orders"][2]))
	if err != nil || !ch.Empty() {
		t.Fatalf("cancelled: %+v %v", ch, err)
	}
	ch, err = DecodeShopifyWebhook(cfg, "orders/delete", []byte(`{"id":450789469}`))
	if err != nil || !ch.Empty() {
		t.Fatalf("orders are never deleted: %+v %v", ch, err)
	}
	ch, err = DecodeShopifyWebhook(cfg, "customers/update", []byte(fx.docs["customers"][0]))
	if err != nil || len(ch.Customers) != 1 || ch.Customers[0].Name != "Bob Norman" {
		t.Fatalf("customer: %+v %v", ch, err)
	}

	_, err = DecodeShopifyWebhook(cfg, "orders/create", []byte(fx.docs["orders"][1]))
	if !errors.Is(err, ErrBadWebhook) || !errors.Is(err, ingest.ErrInvalidValue) {
		t.Fatalf("EUR order: %v", err)
	}
	_, err = DecodeShopifyWebhook(cfg, "products/update", []byte(fx.docs["products"][5]))
	if !errors.Is(err, ErrBadWebhook) || !errors.Is(err, ingest.ErrInvalidValue) {
		t.Fatalf("negative price: %v", err)
	}
	_, err = DecodeShopifyWebhook(cfg, "products/update", []byte(`[1,2]`))
	if !errors.Is(err, ErrBadWebhook) {
		t.Fatalf("malformed: %v", err)
	}
	_, err = DecodeShopifyWebhook(cfg, "products/delete", []byte(`{}`))
	if !errors.Is(err, ErrBadWebhook) {
		t.Fatalf("delete without id: %v", err)
	}
	_, err = DecodeShopifyWebhook(cfg, "collections/update", []byte(`{"id":1}`))
	if !errors.Is(err, ErrUnsupportedTopic) {
		t.Fatalf("unsupported: %v", err)
	}
}

func TestDecodeWooWebhook(t *testing.T) {
	cfg := DefaultWooConfig()
	cfg.Currency = "USD"
	fx := wooFixtureData()
	ch, err := DecodeWooWebhook(cfg, "product.updated", []byte(fx.docs["products"][0]))
	if err != nil || len(ch.Products) != 1 {
		t.Fatalf("change %+v err %v", ch, err)
	}
	if p := ch.Products[0]; p.ID != "794" || p.Price != 21.99 || p.ListPrice != 24.99 || !slices.Equal(p.Categories, []ingest.ID{"9", "14"}) {
		t.Fatalf("product %+v", p)
	}
	// A deleted product's webhook body is {"id": n}.
	ch, err = DecodeWooWebhook(cfg, "product.deleted", []byte(`{"id":794}`))
	if err != nil || !slices.Equal(ch.DeleteProducts, []ingest.ID{"794"}) {
		t.Fatalf("delete: %+v %v", ch, err)
	}
	ch, err = DecodeWooWebhook(cfg, "customer.deleted", []byte(`{"id":25}`))
	if err != nil || !slices.Equal(ch.DeleteCustomers, []ingest.ID{"25"}) {
		t.Fatalf("customer delete: %+v %v", ch, err)
	}
	ch, err = DecodeWooWebhook(cfg, "order.created", []byte(fx.docs["orders"][0]))
	if err != nil || len(ch.Orders) != 1 || len(ch.Orders[0].Products) != 2 || ch.Orders[0].Customer != "25" {
		t.Fatalf("order: %+v %v", ch, err)
	}
	ch, err = DecodeWooWebhook(cfg, "order.updated", []byte(fx.docs["orders"][1])) // cancelled
	if err != nil || !ch.Empty() {
		t.Fatalf("cancelled: %+v %v", ch, err)
	}
	ch, err = DecodeWooWebhook(cfg, "product.updated", []byte(`{"id":800,"type":"variation","parent_id":799,"price":"19.00"}`))
	if err != nil || !ch.Empty() {
		t.Fatalf("variation: %+v %v", ch, err)
	}
	ch, err = DecodeWooWebhook(cfg, "customer.created", []byte(fx.docs["customers"][0]))
	if err != nil || len(ch.Customers) != 1 || ch.Customers[0].Email != "john.doe@example.com" {
		t.Fatalf("customer: %+v %v", ch, err)
	}
	_, err = DecodeWooWebhook(cfg, "order.created", []byte(fx.docs["orders"][2])) // EUR
	if !errors.Is(err, ErrBadWebhook) || !errors.Is(err, ingest.ErrInvalidValue) {
		t.Fatalf("EUR order: %v", err)
	}
	_, err = DecodeWooWebhook(cfg, "coupon.created", []byte(`{"id":1}`))
	if !errors.Is(err, ErrUnsupportedTopic) {
		t.Fatalf("unsupported: %v", err)
	}
}

func TestIsWooPing(t *testing.T) {
	f := func(body string, want bool) {
		t.Helper()
		if got := IsWooPing([]byte(body)); got != want {
			t.Fatalf("IsWooPing(%q) = %v", body, got)
		}
	}
	f("webhook_id=15", true)
	f("webhook_id=", false)
	f("webhook_id=1&x=2", false)
	f(`{"id":15}`, false)
	f("", false)
}
