package query

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/sibylhq/sibyl/engine"
	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/ingest/platform"
	"github.com/sibylhq/sibyl/ingest/source"
	"github.com/valyala/fasthttp"
)

// Platform webhooks: POST /v2/webhooks/shopify/{store} and
// /v2/webhooks/woocommerce/{store}. A platform cannot send a Sibyl key, so
// the signature over the raw body, keyed with the webhook_secret of the
// store's sync source, is the authentication (AccessSigned): nothing is
// parsed before it verifies, a bad one is a 401 that writes nothing. The
// decoded Change is proposed as the write endpoints propose (engine ops
// through Backend.Propose), on the shard leader (the routes are shard
// writes, so another node forwards them there).

// maxWebhookBodyBytes bounds a webhook's body: one resource document
// (Shopify's limit on its own payloads is far below it).
const maxWebhookBodyBytes = 1 << 20

// webhookPlatform is what differs between the platforms' webhooks.
type webhookPlatform struct {
	// typ is the sync source type whose webhook_secret signs them.
	typ                          string
	signatureHeader, topicHeader string
	verify                       func(body []byte, header string, secret []byte) bool
	decode                       func(src source.Config, topic string, body []byte) (platform.Change, error)
	// ping reports a body to acknowledge without a signature (it writes
	// nothing).
	ping func(body []byte) bool
}

var (
	shopifyWebhook = webhookPlatform{typ: source.TypeShopify,
		signatureHeader: "X-Shopify-Hmac-Sha256", topicHeader: "X-Shopify-Topic",
		verify: platform.VerifyShopifyWebhook,
		decode: func(src source.Config, topic string, body []byte) (platform.Change, error) {
			cfg := platform.DefaultShopifyConfig()
			cfg.Currency, cfg.Rates, cfg.StoreURL = src.PlatformCurrency(), src.Rates, src.StoreURL
			return platform.DecodeShopifyWebhook(cfg, topic, body)
		},
		ping: func([]byte) bool { return false }}
	wooWebhook = webhookPlatform{typ: source.TypeWooCommerce,
		signatureHeader: "X-WC-Webhook-Signature", topicHeader: "X-WC-Webhook-Topic",
		verify: platform.VerifyWooWebhook,
		decode: func(src source.Config, topic string, body []byte) (platform.Change, error) {
			cfg := platform.DefaultWooConfig()
			cfg.Currency, cfg.Rates, cfg.StoreURL = src.PlatformCurrency(), src.Rates, src.StoreURL
			return platform.DecodeWooWebhook(cfg, topic, body)
		},
		// WooCommerce posts an unsigned "webhook_id=<n>" when a webhook is
		// saved and disables it unless the answer is 2xx.
		ping: platform.IsWooPing}
)

// validStorePathID reports a plausible store id in a path: 1..128 bytes
// of letters, digits, '_', '-' and '.'.
func validStorePathID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// handleWebhook serves one platform's webhooks.
func (s *Server) handleWebhook(wp webhookPlatform) func(*request) error {
	return func(r *request) error {
		if !r.signed {
			return errForbidden("webhooks are authenticated by their signature only")
		}
		body := r.ctx.PostBody()
		if len(body) > maxWebhookBodyBytes {
			return errTooLarge("the webhook body is %d bytes, at most %d", len(body), maxWebhookBodyBytes)
		}
		src, st, err := s.webhookSource(r.store, wp.typ)
		if err != nil {
			return err
		}
		if wp.ping(body) {
			return writeJSON(r.ctx, map[string]any{"status": "ok", "ignored": true})
		}
		sig := string(r.ctx.Request.Header.Peek(wp.signatureHeader))
		if !wp.verify(body, sig, []byte(src.WebhookSecret)) {
			return &APIError{Status: fasthttp.StatusUnauthorized, Type: ErrTypeInvalidKey,
				Message: wp.signatureHeader + " is missing or is not the HMAC-SHA256 of the body with the store's webhook_secret"}
		}
		topic := string(r.ctx.Request.Header.Peek(wp.topicHeader))
		if topic == "" {
			return errBadRequest("the %s header is missing", wp.topicHeader)
		}
		ch, err := wp.decode(src, topic, body)
		switch {
		case errors.Is(err, platform.ErrUnsupportedTopic):
			return writeJSON(r.ctx, map[string]any{"status": "ok", "ignored": true})
		case err != nil:
			// platform's errors quote no secret, and at most clipped values.
			return errBadRequest("%s", capMessage(err.Error()))
		}
		keepCategories(st, ch.Products)
		applied, err := s.applyChange(r, ch)
		if err != nil {
			return err
		}
		return writeJSON(r.ctx, map[string]any{"status": "ok", "applied": applied})
	}
}

// webhookSource returns the store's sync source when it is of type typ
// and has a webhook secret; otherwise a 404 saying what to configure.
func (s *Server) webhookSource(store, typ string) (source.Config, StoreReader, error) {
	st, err := s.backend.StoreData(store)
	if err != nil {
		return source.Config{}, nil, s.backendErr(err)
	}
	var cfg engine.SyncConfig
	ok := false
	if ss := syncOf(st); ss != nil {
		cfg, ok = ss.SyncConfig()
	}
	switch {
	case !ok:
		return source.Config{}, nil, errNotFound("store %s has no sync configuration: POST /v2/sync with a %s source and its webhook_secret first", quote(store), typ)
	case cfg.Source.Type != typ:
		return source.Config{}, nil, errNotFound("store %s syncs from a %s source, not %s: its webhooks are not accepted", quote(store), cfg.Source.Type, typ)
	case cfg.Source.WebhookSecret == "":
		return source.Config{}, nil, errNotFound("store %s's %s source has no webhook_secret: PATCH /v2/sync with {\"source\": {\"webhook_secret\": ...}}", quote(store), typ)
	}
	return cfg.Source, st, nil
}

// keepCategories gives a product that arrives without categories the ones
// the store holds for it: webhook payloads do not list collections, and
// an upsert replaces the whole record.
func keepCategories(st StoreReader, products []ingest.Product) {
	if st == nil {
		return
	}
	for i := range products {
		p := &products[i]
		if len(p.Categories) > 0 {
			continue
		}
		if old := st.Product(p.ID); old != nil && len(old.Categories) > 0 {
			p.Categories = slices.Clone(old.Categories)
		}
	}
}

// applyChange proposes the change's writes, upserts first, and returns
// how many records they applied.
func (s *Server) applyChange(r *request, ch platform.Change) (int, error) {
	type write struct {
		op   string
		body func() ([]byte, error)
		n    int
	}
	upsert := func(kind ingest.Kind, recs any, n int) write {
		return write{engine.Op(kind, engine.ActionUpsert), func() ([]byte, error) {
			switch v := recs.(type) {
			case []ingest.Product:
				return engine.EncodeUpsert(kind, v)
			case []ingest.Customer:
				return engine.EncodeUpsert(kind, v)
			case []ingest.Order:
				return engine.EncodeUpsert(kind, v)
			}
			return nil, fmt.Errorf("no encoder for %T", recs)
		}, n}
	}
	del := func(kind ingest.Kind, ids []ingest.ID) write {
		return write{engine.Op(kind, engine.ActionDelete), func() ([]byte, error) { return json.Marshal(ids) }, len(ids)}
	}
	writes := []write{
		upsert(ingest.KindProducts, ch.Products, len(ch.Products)),
		upsert(ingest.KindCustomers, ch.Customers, len(ch.Customers)),
		upsert(ingest.KindOrders, ch.Orders, len(ch.Orders)),
		del(ingest.KindProducts, ch.DeleteProducts),
		del(ingest.KindCustomers, ch.DeleteCustomers),
	}
	applied := 0
	for _, w := range writes {
		if w.n == 0 {
			continue
		}
		body, err := w.body()
		if err != nil {
			return applied, errInternal("cannot encode: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.WriteTimeout)
		res, err := s.backend.Propose(ctx, r.store, w.op, body)
		cancel()
		if err != nil {
			return applied, s.backendErr(err)
		}
		switch v := res.(type) {
		case error:
			if errors.Is(v, engine.ErrRejected) {
				return applied, errBadRequest("%v", v)
			}
			return applied, errInternal("apply failed: %v", v)
		case engine.Result:
			applied += v.Applied
		}
	}
	return applied, nil
}
