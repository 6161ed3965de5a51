package platform

// Shopify Admin REST API connector.
//
// Authentication: the X-Shopify-Access-Token header.
//   https://shopify.dev/docs/api/admin-rest#authentication
// Pagination: cursor based; each page's Link header names the next page
// (rel="next") with a page_info that must be used as is; limit is at most
// 250; a page_info URL takes no other filter.
//   https://www.shopify.dev/docs/api/admin-rest/usage/pagination
// Rate limits: a leaky bucket; over it the API answers 429 with
// Retry-After. The connector makes no retry of its own: the Doer (the
// sync runner's retrying client) does, and a 429 that reaches the
// connector ends the Fetch with a *StatusError carrying RetryAfter.
//   https://shopify.dev/docs/api/admin-rest/usage/rate-limits
// Collections: custom collections get their products through collects
// (since 2020-01 the Collect API lists custom-collection members only);
// smart collections through /collections/{id}/products.json.
//   https://shopify.dev/api/admin-rest/2022-04/resources/collect
//   https://shopify.dev/changelog/collects-api-now-returns-only-collects-associated-with-custom-collections

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/ingest/source"
)

// ShopifyConfig configures a Shopify connector.
type ShopifyConfig struct {
	// BaseURL is the shop's Admin API origin,
	// https://{shop}.myshopify.com.
	BaseURL string
	// APIVersion is the Admin API version in the path, such as 2024-01.
	APIVersion string
	// AccessToken is the Admin API access token. It is sent only to
	// BaseURL's host and never appears in an error.
	AccessToken string
	// StoreURL is the storefront's origin (https://shop.example.com);
	// product URLs are StoreURL/products/{handle}, collection URLs
	// StoreURL/collections/{handle}. Empty: records carry no URL.
	StoreURL string
	// Currency is the store's ISO 4217 code; Rates optionally converts
	// orders in other currencies (amount in that currency times rate).
	Currency string
	Rates    map[string]float64
	// PageSize is the limit parameter, 1..250.
	PageSize int
	// MaxPages bounds the pages of each listing.
	MaxPages int
	// MaxPageBytes bounds each response body.
	MaxPageBytes int64
	// MaxSmartCollections bounds the smart collections whose members are
	// listed (one listing each); later ones are still categories, without
	// products.
	MaxSmartCollections int
}

// DefaultShopifyConfig returns API version 2024-01, pages of 250 and the
// package's bounds; BaseURL, AccessToken and Currency must be set.
func DefaultShopifyConfig() ShopifyConfig {
	return ShopifyConfig{
		APIVersion:          "2024-01",
		PageSize:            250,
		MaxPages:            defaultMaxPages,
		MaxPageBytes:        defaultMaxPageBytes,
		MaxSmartCollections: 100,
	}
}

// Validate reports a configuration that cannot work. Its errors never
// quote the access token.
func (c ShopifyConfig) Validate() error {
	if err := validateCommon(Shopify, c.BaseURL, c.Currency, c.Rates, c.PageSize, 250, c.MaxPages, c.MaxPageBytes); err != nil {
		return err
	}
	if _, err := url.Parse(c.BaseURL); err != nil {
		return fmt.Errorf("%s: base URL is not a URL", Shopify)
	}
	if c.AccessToken == "" {
		return fmt.Errorf("%s: access token is required", Shopify)
	}
	if !validAPIVersion(c.APIVersion) {
		return fmt.Errorf("%s: API version must look like 2024-01, got %s", Shopify, ingest.Quote(c.APIVersion))
	}
	if c.MaxSmartCollections < 0 {
		return fmt.Errorf("%s: max smart collections must not be negative, got %d", Shopify, c.MaxSmartCollections)
	}
	if c.StoreURL != "" && !strings.HasPrefix(c.StoreURL, "https://") && !strings.HasPrefix(c.StoreURL, "http://") {
		return fmt.Errorf("%s: store URL must start with https:// or http://", Shopify)
	}
	return nil
}

func validAPIVersion(v string) bool {
	if v == "unstable" {
		return true
	}
	if len(v) != 7 || v[4] != '-' {
		return false
	}
	_, e1 := strconv.Atoi(v[:4])
	_, e2 := strconv.Atoi(v[5:])
	return e1 == nil && e2 == nil
}

func (c ShopifyConfig) common() commonConfig {
	return commonConfig{platform: Shopify, currency: c.Currency, rates: c.Rates, maxPages: c.MaxPages, maxPageBytes: c.MaxPageBytes}
}

// ShopifySource reads a Shopify shop; it implements source.Source.
type ShopifySource struct {
	cfg  ShopifyConfig
	base *url.URL
	doer source.Doer
	m    shopifyMapper
}

var _ source.Source = (*ShopifySource)(nil)

// NewShopify returns a connector sending its requests through doer.
func NewShopify(cfg ShopifyConfig, doer source.Doer) (*ShopifySource, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if doer == nil {
		return nil, fmt.Errorf("%s: an HTTP client (Doer) is required", Shopify)
	}
	base, _ := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	return &ShopifySource{cfg: cfg, base: base, doer: doer, m: newShopifyMapper(cfg)}, nil
}

// Fetch reads collections (as categories), products, customers and orders
// (status any, so closed orders too; orders older than 60 days need the
// app's read_all_orders scope, without it Shopify lists only the last 60
// days). A non-zero since reads only
// products, customers and orders updated at or after it
// (updated_at_min); collections and their membership are read whole
// either way, so that updated products keep their categories.
func (s *ShopifySource) Fetch(ctx context.Context, since time.Time, sink ingest.FeedSink) (source.Result, error) {
	r := newRun(s.cfg.common(), s.doer, sink, func(req *http.Request) {
		req.Header.Set("X-Shopify-Access-Token", s.cfg.AccessToken)
	}, s.cfg.AccessToken)
	err := s.fetch(ctx, r, since)
	if err == nil && since.IsZero() {
		r.res.Complete = true
		r.res.Kinds = completeKinds(ingest.KindCategories, ingest.KindProducts, ingest.KindCustomers, ingest.KindOrders)
	}
	return r.res, err
}

func (s *ShopifySource) fetch(ctx context.Context, r *run, since time.Time) error {
	incremental := url.Values{}
	if !since.IsZero() {
		incremental.Set("updated_at_min", since.UTC().Format(time.RFC3339))
	}

	// Collections, then who belongs to which, then the categories.
	var cats []ingest.Category
	var catPos []int
	var smart []ingest.ID
	for _, list := range []struct{ path, key string }{
		{"custom_collections.json", "custom_collections"},
		{"smart_collections.json", "smart_collections"},
	} {
		err := s.list(ctx, r, list.path, nil, list.key, func(docs []json.RawMessage) error {
			for _, raw := range docs {
				pos := r.seen[ingest.KindCategories]
				r.seen[ingest.KindCategories]++
				c, err := s.m.collection(raw)
				if err != nil {
					r.reject(ingest.KindCategories, recordError(pos, raw, err))
					continue
				}
				cats = append(cats, c)
				catPos = append(catPos, pos)
				if list.key == "smart_collections" {
					smart = append(smart, c.ID)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	members := membership{}
	err := s.list(ctx, r, "collects.json", nil, "collects", func(docs []json.RawMessage) error {
		for _, raw := range docs {
			var c struct {
				CollectionID ingest.ID `json:"collection_id"`
				ProductID    ingest.ID `json:"product_id"`
			}
			if json.Unmarshal(raw, &c) == nil {
				members.add(c.ProductID, c.CollectionID)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, id := range smart {
		if i == s.cfg.MaxSmartCollections {
			break
		}
		q := url.Values{"fields": {"id"}}
		err := s.list(ctx, r, "collections/"+url.PathEscape(string(id))+"/products.json", q, "products", func(docs []json.RawMessage) error {
			for _, raw := range docs {
				var p struct {
					ID ingest.ID `json:"id"`
				}
				if json.Unmarshal(raw, &p) == nil {
					members.add(p.ID, id)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if err := deliverCategories(r, cats, catPos); err != nil {
		return err
	}

	err = s.list(ctx, r, "products.json", incremental, "products", func(docs []json.RawMessage) error {
		return deliverDocs(r, ingest.KindProducts, docs, func(raw []byte) (ingest.Product, error) {
			return s.m.product(raw, members[peekID(raw)])
		}, r.sink.Products)
	})
	if err != nil {
		return err
	}
	err = s.list(ctx, r, "customers.json", incremental, "customers", func(docs []json.RawMessage) error {
		return deliverDocs(r, ingest.KindCustomers, docs, s.m.customer, r.sink.Customers)
	})
	if err != nil {
		return err
	}
	orders := url.Values{"status": {"any"}}
	for k, v := range incremental {
		orders[k] = v
	}
	return s.list(ctx, r, "orders.json", orders, "orders", func(docs []json.RawMessage) error {
		return deliverDocs(r, ingest.KindOrders, docs, s.m.order, r.sink.Orders)
	})
}

// membership maps a product id to the collections it belongs to.
type membership map[ingest.ID][]ingest.ID

func (m membership) add(product, collection ingest.ID) {
	if product == "" || collection == "" {
		return
	}
	// Bound per product at the validator's list limit; beyond it the
	// product would be rejected whole.
	if len(m[product]) < ingest.DefaultLimits().MaxListItems {
		m[product] = append(m[product], collection)
	}
}

// list pages through one listing, calling page with each page's records.
func (s *ShopifySource) list(ctx context.Context, r *run, path string, query url.Values, key string, page func([]json.RawMessage) error) error {
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	q.Set("limit", strconv.Itoa(s.cfg.PageSize))
	next := s.base.JoinPath("admin", "api", s.cfg.APIVersion, path)
	next.RawQuery = q.Encode()
	what := strings.TrimSuffix(path, ".json")
	for n := 0; next != nil; n++ {
		if err := r.nextPage(ctx, what, n); err != nil {
			return err
		}
		body, header, err := r.get(ctx, next.String())
		if err != nil {
			return err
		}
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(body, &doc); err != nil {
			return fmt.Errorf("%s: %s: %w: want an object: %s", Shopify, what, ErrBadPage, clipErr(err))
		}
		docs, err := splitList(Shopify, what, doc[key])
		if err != nil {
			return err
		}
		if err := page(docs); err != nil {
			return err
		}
		if next, err = s.nextLink(header.Values("Link")); err != nil {
			return err
		}
	}
	return nil
}

// nextLink returns the rel="next" URL of Link headers, nil on the last
// page. The URL must be on the shop's own origin: the access token is
// never sent anywhere else.
func (s *ShopifySource) nextLink(links []string) (*url.URL, error) {
	raw := linkNext(links)
	if raw == "" {
		return nil, nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != s.base.Scheme || u.Host != s.base.Host {
		return nil, fmt.Errorf("%s: %w: the next-page link leaves the shop's origin %s", Shopify, ErrBadPage, s.base.Host)
	}
	return u, nil
}

// linkNext finds the target of rel="next" in RFC 8288 Link header values:
// `<url>; rel="next", <url>; rel="previous"`.
func linkNext(values []string) string {
	for _, v := range values {
		for len(v) > 0 {
			open := strings.IndexByte(v, '<')
			if open < 0 {
				break
			}
			end := strings.IndexByte(v[open:], '>')
			if end < 0 {
				break
			}
			target := v[open+1 : open+end]
			rest := v[open+end+1:]
			params := rest
			if i := strings.IndexByte(rest, '<'); i >= 0 {
				params = rest[:i]
			}
			for p := range strings.SplitSeq(params, ";") {
				name, val, ok := strings.Cut(strings.TrimSpace(strings.TrimRight(strings.TrimSpace(p), ",")), "=")
				if ok && strings.EqualFold(strings.TrimSpace(name), "rel") {
					for rel := range strings.FieldsSeq(strings.Trim(strings.TrimSpace(val), `"`)) {
						if strings.EqualFold(rel, "next") {
							return target
						}
					}
				}
			}
			v = rest
		}
	}
	return ""
}
