package platform

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sibylhq/sibyl/ingest"
)

// Fuzz targets for every parser of network input. Run one with
//
//	go test ./ingest/platform -run '^$' -fuzz FuzzShopifyProduct -fuzztime 30s
//
// The seeds run with the ordinary tests.

var productSeeds = []string{
	`{}`, `null`, `[]`, `{"id":1}`, `{"id":"x","variants":null}`,
	`{"id":1,"variants":[{"price":"1e309"}]}`, `{"id":1,"variants":[{"price":"NaN"}]}`,
	`{"id":1.5}`, `{"id":1,"body_html":"<p>a<script>b</script>c</p><"}`,
	`{"id":1,"price":"-0","regular_price":"1","custom_attributes":[{"attribute_code":"special_price","value":["x"]}]}`,
	`{"id":1,"price":3,"custom_attributes":[{"attribute_code":"image","value":null},{"attribute_code":"url_key"}]}`,
	`{"id":1,"created_at":"2024-13-45","variants":[{"price":"1"}]}`,
}

func seedProducts(f *testing.F, fixture func() []string) {
	for _, s := range productSeeds {
		f.Add([]byte(s))
	}
	for _, s := range fixture() {
		f.Add([]byte(s))
	}
}

func fixtureDocs(kind string) []string {
	var docs map[string][]string
	switch kind {
	case Shopify:
		docs = shopifyFixtureData().docs
	case WooCommerce:
		docs = wooFixtureData().docs
	default:
		fx := magentoFixtureData()
		docs = fx.docs
		docs["tree"] = []string{fx.tree}
	}
	var out []string
	for _, k := range slices.Sorted(maps.Keys(docs)) {
		out = append(out, docs[k]...)
	}
	return out
}

// checkMapped checks what every mapper promises besides not panicking:
// a mapped product's description is within the text limit and valid UTF-8
// when its input was.
func checkMapped(t *testing.T, raw []byte, p ingest.Product, err error) {
	if err != nil {
		return
	}
	if len(p.Description) > ingest.DefaultLimits().MaxTextBytes {
		t.Fatalf("description of %d bytes", len(p.Description))
	}
	if utf8.Valid(raw) && !utf8.ValidString(p.Description) {
		t.Fatalf("description %q is not UTF-8", p.Description)
	}
}

func FuzzShopifyProduct(f *testing.F) {
	seedProducts(f, func() []string { return fixtureDocs(Shopify) })
	m := newShopifyMapper(webhookShopifyConfig())
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := m.product(raw, []ingest.ID{"1"})
		checkMapped(t, raw, p, err)
		_, _ = m.order(raw)
		_, _ = m.customer(raw)
		_, _ = m.collection(raw)
	})
}

func FuzzWooProduct(f *testing.F) {
	seedProducts(f, func() []string { return fixtureDocs(WooCommerce) })
	cfg := DefaultWooConfig()
	cfg.Currency = "USD"
	m := newWooMapper(cfg)
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := m.product(raw)
		checkMapped(t, raw, p, err)
		_, _ = m.order(raw)
		_, _ = m.customer(raw)
		_, _, _ = m.category(raw)
	})
}

func FuzzMagentoProduct(f *testing.F) {
	seedProducts(f, func() []string { return fixtureDocs(Magento2) })
	cfg := DefaultMagentoConfig()
	cfg.Currency, cfg.StoreURL = "USD", "https://m.example.com"
	m := newMagentoMapper(cfg)
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := m.product(raw)
		checkMapped(t, raw, p, err)
		_, _ = m.order(raw)
		_, _ = m.customer(raw)
		cats := m.categoryTree(raw, 100, func([]byte, error) {})
		if len(cats) > 100 {
			t.Fatalf("%d categories past the bound", len(cats))
		}
	})
}

var shopifyTopics = []string{"products/create", "products/update", "products/delete", "orders/create", "orders/updated",
	"orders/cancelled", "orders/delete", "customers/create", "customers/delete", "collections/update", ""}

var wooTopics = []string{"product.created", "product.updated", "product.deleted", "product.restored", "order.created",
	"order.updated", "order.deleted", "customer.created", "customer.deleted", "coupon.created", ""}

// checkChange: whatever a decoder returns without error is valid.
func checkChange(t *testing.T, ch Change, err error) {
	if err != nil {
		if !ch.Empty() {
			t.Fatalf("an error with a non-empty change: %+v", ch)
		}
		return
	}
	lim := ingest.DefaultLimits()
	if errs := ingest.Validate(ch.Products, lim); len(errs) > 0 {
		t.Fatalf("invalid product delivered: %v", errs[0])
	}
	if errs := ingest.Validate(ch.Orders, lim); len(errs) > 0 {
		t.Fatalf("invalid order delivered: %v", errs[0])
	}
	if errs := ingest.Validate(ch.Customers, lim); len(errs) > 0 {
		t.Fatalf("invalid customer delivered: %v", errs[0])
	}
	for _, id := range append(ch.DeleteProducts, ch.DeleteCustomers...) {
		if id == "" {
			t.Fatal("empty id to delete")
		}
	}
}

func FuzzShopifyWebhook(f *testing.F) {
	for i, doc := range append(fixtureDocs(Shopify), productSeeds...) {
		f.Add(shopifyTopics[i%len(shopifyTopics)], []byte(doc))
	}
	cfg := webhookShopifyConfig()
	f.Fuzz(func(t *testing.T, topic string, body []byte) {
		ch, err := DecodeShopifyWebhook(cfg, topic, body)
		checkChange(t, ch, err)
		secret := []byte("s")
		if VerifyShopifyWebhook(body, topic, secret) != (topic == sign(body, secret)) {
			t.Fatalf("verify disagrees with the reference for %q", topic)
		}
	})
}

func FuzzWooWebhook(f *testing.F) {
	for i, doc := range append(fixtureDocs(WooCommerce), productSeeds...) {
		f.Add(wooTopics[i%len(wooTopics)], []byte(doc))
	}
	cfg := DefaultWooConfig()
	cfg.Currency = "USD"
	f.Fuzz(func(t *testing.T, topic string, body []byte) {
		ch, err := DecodeWooWebhook(cfg, topic, body)
		checkChange(t, ch, err)
		_ = VerifyWooWebhook(body, topic, []byte("s"))
	})
}

func FuzzStripHTML(f *testing.F) {
	for _, s := range []string{"", "<p>a</p>", "a &amp; b", "<script>x</script>y", "<", "<p", "&#xFFFFFFFF;", "<!-- x", "<style>", strings.Repeat("<b>", 100)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := stripHTML(s, 64)
		if len(out) > 64 {
			t.Fatalf("%d bytes past the bound", len(out))
		}
		if utf8.ValidString(s) && !utf8.ValidString(out) {
			t.Fatalf("stripHTML(%q) = %q is not UTF-8", s, out)
		}
	})
}

func FuzzLinkNext(f *testing.F) {
	for _, s := range []string{`<https://a/b?page_info=x>; rel="next"`, `<a>; rel="previous", <b>; rel=next`, `<`, `>;<;rel=next`, `,,,;;;`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		if got := linkNext([]string{h}); len(got) > len(h) {
			t.Fatalf("target longer than the header")
		}
	})
}
