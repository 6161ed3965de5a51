package query

// The platform webhook routes of the table in routes.go (query/webhook.go
// serves them). They take no key: the signature over the body is checked
// with the store's sync source webhook_secret (AccessSigned).

var (
	webhookResult = jsObject("written, or acknowledged and ignored", fStatus,
		field{"applied", jsInt("records written")},
		field{"ignored", jsBool("true: a topic Sibyl does not map, or WooCommerce's ping; nothing written")})

	shopifyWebhookEndpoint = Endpoint{Path: "/v2/webhooks/shopify/{store}", Access: AccessSigned, Tag: tagData,
		Summary: "Shopify webhooks (products, orders, customers): X-Shopify-Hmac-Sha256 must be the HMAC-SHA256 of the body with the sync source's webhook_secret; X-Shopify-Topic names the topic",
		Ops: []Op{{Method: "POST", ID: "webhook-shopify", Writes: ShardWrite,
			Params: []Param{pathParam("store", "the store's id (st_...)")},
			Body:   jsObject("the topic's resource document, as Shopify sends it (at most 1 MiB)"), Result: webhookResult}},
		bind: func(s *Server) func(*request) error { return s.handleWebhook(shopifyWebhook) }}
	wooWebhookEndpoint = Endpoint{Path: "/v2/webhooks/woocommerce/{store}", Access: AccessSigned, Tag: tagData,
		Summary: "WooCommerce webhooks (product, order, customer): X-WC-Webhook-Signature must be the HMAC-SHA256 of the body with the sync source's webhook_secret; X-WC-Webhook-Topic names the topic",
		Ops: []Op{{Method: "POST", ID: "webhook-woocommerce", Writes: ShardWrite,
			Params: []Param{pathParam("store", "the store's id (st_...)")},
			Body:   jsObject("the topic's resource document, as WooCommerce sends it (at most 1 MiB)"), Result: webhookResult}},
		bind: func(s *Server) func(*request) error { return s.handleWebhook(wooWebhook) }}
)
