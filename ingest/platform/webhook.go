package platform

// Webhooks: signature checks and decoders from a topic and a body to
// canonical writes. They are pure functions; the HTTP layer reads the raw
// body (bounded), checks the signature over exactly those bytes, answers
// 401 on a bad one, and applies the Change otherwise.
//
// Shopify: X-Shopify-Hmac-Sha256 is the base64 HMAC-SHA256 of the raw body
// keyed with the app's client secret; X-Shopify-Topic names the topic
// (products/create, orders/updated, ...); the body is the resource's REST
// document ({"id": n} for deletions).
//   https://shopify.dev/docs/apps/build/webhooks/subscribe/https#step-5-verify-the-webhook
//   https://shopify.dev/docs/api/admin-rest/2024-01/resources/webhook
// WooCommerce: X-WC-Webhook-Signature is the base64 HMAC-SHA256 of the raw
// body keyed with the webhook's secret; X-WC-Webhook-Topic names the topic
// (product.created, order.updated, customer.deleted, ...); the body is the
// resource's REST v3 document ({"id": n} for deletions).
//   https://developer.woocommerce.com/docs/apis/rest-api/v3/webhooks/

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/sibylhq/sibyl/ingest"
)

// Change is what one webhook asks to write: records to upsert and ids to
// delete. Orders are never deleted (an order deletion webhook yields an
// empty Change).
type Change struct {
	Products        []ingest.Product
	Orders          []ingest.Order
	Customers       []ingest.Customer
	DeleteProducts  []ingest.ID
	DeleteCustomers []ingest.ID
}

// Empty reports whether the change writes nothing.
func (c Change) Empty() bool {
	return len(c.Products) == 0 && len(c.Orders) == 0 && len(c.Customers) == 0 &&
		len(c.DeleteProducts) == 0 && len(c.DeleteCustomers) == 0
}

// ErrUnsupportedTopic is returned for a webhook topic this package does
// not map (collections, coupons, app events): the HTTP layer should
// acknowledge it (2xx, so the platform does not retry) and write nothing.
var ErrUnsupportedTopic = errors.New("unsupported webhook topic")

// ErrBadWebhook wraps every error for a body that is not the topic's
// document; the HTTP layer answers 400.
var ErrBadWebhook = errors.New("malformed webhook")

// maxWebhookBytes bounds a body given to the decoders; one resource
// document is far smaller.
const maxWebhookBytes = 8 << 20

// VerifyShopifyWebhook reports whether header (X-Shopify-Hmac-Sha256) is
// the base64 HMAC-SHA256 of body under secret, compared in constant time.
// An empty secret or header never verifies.
func VerifyShopifyWebhook(body []byte, header string, secret []byte) bool {
	return verifyHMAC(body, header, secret)
}

// VerifyWooWebhook reports whether header (X-WC-Webhook-Signature) is the
// base64 HMAC-SHA256 of body under secret, compared in constant time. An
// empty secret or header never verifies.
func VerifyWooWebhook(body []byte, header string, secret []byte) bool {
	return verifyHMAC(body, header, secret)
}

func verifyHMAC(body []byte, header string, secret []byte) bool {
	if len(secret) == 0 || header == "" || len(header) > 128 {
		return false
	}
	got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(header))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// DecodeShopifyWebhook maps a Shopify webhook to a Change. cfg gives the
// store's currency, rates and storefront URL (its credentials are not
// used). Products from webhooks carry no categories: the payload does not
// list collections, the next pull sync fills them in. A cancelled or test
// order yields an empty Change.
func DecodeShopifyWebhook(cfg ShopifyConfig, topic string, body []byte) (Change, error) {
	m := newShopifyMapper(cfg)
	switch topic {
	case "products/create", "products/update":
		return decodeOne(Shopify, topic, body, func(raw []byte) (Change, error) {
			p, err := m.product(raw, nil)
			return Change{Products: []ingest.Product{p}}, err
		})
	case "products/delete":
		return decodeDelete(Shopify, topic, body, func(id ingest.ID) Change { return Change{DeleteProducts: []ingest.ID{id}} })
	case "orders/create", "orders/updated", "orders/paid", "orders/fulfilled", "orders/partially_fulfilled", "orders/cancelled":
		return decodeOne(Shopify, topic, body, func(raw []byte) (Change, error) {
			o, err := m.order(raw)
			return Change{Orders: []ingest.Order{o}}, err
		})
	case "orders/delete":
		return decodeDelete(Shopify, topic, body, func(ingest.ID) Change { return Change{} })
	case "customers/create", "customers/update", "customers/enable", "customers/disable":
		return decodeOne(Shopify, topic, body, func(raw []byte) (Change, error) {
			c, err := m.customer(raw)
			return Change{Customers: []ingest.Customer{c}}, err
		})
	case "customers/delete":
		return decodeDelete(Shopify, topic, body, func(id ingest.ID) Change { return Change{DeleteCustomers: []ingest.ID{id}} })
	}
	return Change{}, fmt.Errorf("%s: %w %s", Shopify, ErrUnsupportedTopic, ingest.Quote(topic))
}

// DecodeWooWebhook maps a WooCommerce webhook to a Change. cfg gives the
// store's currency, rates and storefront URL (its credentials are not
// used). A variation's document, or an order that is not a sale (see
// wooSaleStatuses), yields an empty Change.
func DecodeWooWebhook(cfg WooConfig, topic string, body []byte) (Change, error) {
	m := newWooMapper(cfg)
	switch topic {
	case "product.created", "product.updated", "product.restored":
		return decodeOne(WooCommerce, topic, body, func(raw []byte) (Change, error) {
			p, err := m.product(raw)
			return Change{Products: []ingest.Product{p}}, err
		})
	case "product.deleted":
		return decodeDelete(WooCommerce, topic, body, func(id ingest.ID) Change { return Change{DeleteProducts: []ingest.ID{id}} })
	case "order.created", "order.updated", "order.restored":
		return decodeOne(WooCommerce, topic, body, func(raw []byte) (Change, error) {
			o, err := m.order(raw)
			return Change{Orders: []ingest.Order{o}}, err
		})
	case "order.deleted":
		return decodeDelete(WooCommerce, topic, body, func(ingest.ID) Change { return Change{} })
	case "customer.created", "customer.updated":
		return decodeOne(WooCommerce, topic, body, func(raw []byte) (Change, error) {
			c, err := m.customer(raw)
			return Change{Customers: []ingest.Customer{c}}, err
		})
	case "customer.deleted":
		return decodeDelete(WooCommerce, topic, body, func(id ingest.ID) Change { return Change{DeleteCustomers: []ingest.ID{id}} })
	}
	return Change{}, fmt.Errorf("%s: %w %s", WooCommerce, ErrUnsupportedTopic, ingest.Quote(topic))
}

// IsWooPing reports whether body is the ping WooCommerce posts when a
// webhook is created or activated: a form body "webhook_id=<n>" instead
// of a resource document, which the HTTP layer should acknowledge (2xx)
// and otherwise ignore, or WooCommerce disables the webhook.
func IsWooPing(body []byte) bool {
	v, ok := strings.CutPrefix(string(body), "webhook_id=")
	if !ok || len(v) == 0 || len(v) > 20 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}

// decodeOne maps one document and validates the record it yields.
func decodeOne(platform, topic string, body []byte, mapDoc func([]byte) (Change, error)) (Change, error) {
	if len(body) > maxWebhookBytes {
		return Change{}, fmt.Errorf("%s webhook %s: %w: body over %d bytes", platform, topic, ErrBadWebhook, maxWebhookBytes)
	}
	ch, err := mapDoc(body)
	if errors.Is(err, errSkip) {
		return Change{}, nil
	}
	if err != nil {
		return Change{}, fmt.Errorf("%s webhook %s: %w: %w", platform, topic, ErrBadWebhook, err)
	}
	lim := ingest.DefaultLimits()
	var errs []ingest.RecordError
	switch {
	case len(ch.Products) > 0:
		errs = ingest.Validate(ch.Products, lim)
	case len(ch.Orders) > 0:
		errs = ingest.Validate(ch.Orders, lim)
	case len(ch.Customers) > 0:
		errs = ingest.Validate(ch.Customers, lim)
	}
	if len(errs) > 0 {
		return Change{}, fmt.Errorf("%s webhook %s: %w: %w", platform, topic, ErrBadWebhook, errs[0])
	}
	return ch, nil
}

// decodeDelete reads the {"id": n} of a deletion.
func decodeDelete(platform, topic string, body []byte, change func(ingest.ID) Change) (Change, error) {
	if len(body) > maxWebhookBytes {
		return Change{}, fmt.Errorf("%s webhook %s: %w: body over %d bytes", platform, topic, ErrBadWebhook, maxWebhookBytes)
	}
	var doc struct {
		ID ingest.ID `json:"id"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return Change{}, fmt.Errorf("%s webhook %s: %w: %s", platform, topic, ErrBadWebhook, clipErr(err))
	}
	if doc.ID == "" || len(doc.ID) > ingest.DefaultLimits().MaxIDBytes {
		return Change{}, fmt.Errorf("%s webhook %s: %w: want {\"id\": ...} with an id", platform, topic, ErrBadWebhook)
	}
	return change(doc.ID), nil
}
