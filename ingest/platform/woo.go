package platform

// WooCommerce REST API v3 connector (/wp-json/wc/v3).
//
// Authentication over HTTPS: HTTP basic auth with the consumer key as user
// and the consumer secret as password, or, for servers that do not pass
// the Authorization header on, the consumer_key and consumer_secret query
// parameters. Plain HTTP needs OAuth 1.0a, which this connector does not
// speak: an http:// base URL is refused unless AllowHTTP is set (a shop
// on a private network, tests).
//   https://woocommerce.github.io/woocommerce-rest-api-docs/#authentication
// Pagination: page and per_page (at most 100); the X-WP-Total and
// X-WP-TotalPages headers give the totals.
//   https://woocommerce.github.io/woocommerce-rest-api-docs/#pagination
// Incremental reads: modified_after (ISO 8601) with dates_are_gmt=true on
// products and orders (WooCommerce 5.8+).
//   https://woocommerce.github.io/woocommerce-rest-api-docs/#list-all-products

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

// WooConfig configures a WooCommerce connector.
type WooConfig struct {
	// BaseURL is the WordPress site's origin (https://shop.example.com);
	// the API is under /wp-json/wc/v3.
	BaseURL string
	// ConsumerKey and ConsumerSecret are the REST API key pair (read
	// access). They never appear in an error.
	ConsumerKey    string
	ConsumerSecret string
	// QueryAuth sends the key pair as query parameters instead of basic
	// auth, for servers that strip the Authorization header.
	QueryAuth bool
	// AllowHTTP permits an http:// BaseURL, which sends the key pair in
	// clear text.
	AllowHTTP bool
	// StoreURL is the storefront's origin for category URLs; empty: the
	// categories carry none. Products carry their own permalink.
	StoreURL string
	// Currency is the store's ISO 4217 code; Rates optionally converts
	// orders in other currencies.
	Currency string
	Rates    map[string]float64
	// PageSize is per_page, 1..100.
	PageSize int
	// MaxPages bounds the pages of each listing.
	MaxPages int
	// MaxPageBytes bounds each response body.
	MaxPageBytes int64
}

// DefaultWooConfig returns pages of 100 and the package's bounds; BaseURL,
// the key pair and Currency must be set.
func DefaultWooConfig() WooConfig {
	return WooConfig{PageSize: 100, MaxPages: defaultMaxPages, MaxPageBytes: defaultMaxPageBytes}
}

// Validate reports a configuration that cannot work. Its errors never
// quote the key pair.
func (c WooConfig) Validate() error {
	if err := validateCommon(WooCommerce, c.BaseURL, c.Currency, c.Rates, c.PageSize, 100, c.MaxPages, c.MaxPageBytes); err != nil {
		return err
	}
	if _, err := url.Parse(c.BaseURL); err != nil {
		return fmt.Errorf("%s: base URL is not a URL", WooCommerce)
	}
	if !strings.HasPrefix(c.BaseURL, "https://") && !c.AllowHTTP {
		return fmt.Errorf("%s: base URL must be https:// (the key pair would travel in clear text); set AllowHTTP to accept http://", WooCommerce)
	}
	if c.ConsumerKey == "" || c.ConsumerSecret == "" {
		return fmt.Errorf("%s: consumer key and consumer secret are required", WooCommerce)
	}
	return nil
}

func (c WooConfig) common() commonConfig {
	return commonConfig{platform: WooCommerce, currency: c.Currency, rates: c.Rates, maxPages: c.MaxPages, maxPageBytes: c.MaxPageBytes}
}

// WooSource reads a WooCommerce shop; it implements source.Source.
type WooSource struct {
	cfg  WooConfig
	base *url.URL
	doer source.Doer
	m    wooMapper
}

var _ source.Source = (*WooSource)(nil)

// NewWooCommerce returns a connector sending its requests through doer.
func NewWooCommerce(cfg WooConfig, doer source.Doer) (*WooSource, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if doer == nil {
		return nil, fmt.Errorf("%s: an HTTP client (Doer) is required", WooCommerce)
	}
	base, _ := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	return &WooSource{cfg: cfg, base: base, doer: doer, m: newWooMapper(cfg)}, nil
}

// Fetch reads product categories, products, customers and orders, each in
// id order so that records created during the read do not shift the
// pages. A non-zero since reads only products and orders modified after
// it; categories are read whole, and customers not at all (the customers
// listing has no modified_after filter; orders still carry the buyer's
// email).
func (s *WooSource) Fetch(ctx context.Context, since time.Time, sink ingest.FeedSink) (source.Result, error) {
	r := newRun(s.cfg.common(), s.doer, sink, func(req *http.Request) {
		if !s.cfg.QueryAuth {
			req.SetBasicAuth(s.cfg.ConsumerKey, s.cfg.ConsumerSecret)
		}
	}, s.cfg.ConsumerKey, s.cfg.ConsumerSecret)
	err := s.fetch(ctx, r, since)
	if err == nil && since.IsZero() {
		r.res.Complete = true
		r.res.Kinds = completeKinds(ingest.KindCategories, ingest.KindProducts, ingest.KindCustomers, ingest.KindOrders)
	}
	return r.res, err
}

func (s *WooSource) fetch(ctx context.Context, r *run, since time.Time) error {
	incremental := url.Values{}
	if !since.IsZero() {
		incremental.Set("modified_after", since.UTC().Format("2006-01-02T15:04:05"))
		incremental.Set("dates_are_gmt", "true")
	}

	// Categories: read all, then derive each one's subcategories from
	// the children's parent ids.
	var cats []ingest.Category
	var catPos []int
	var parents []ingest.ID
	err := s.list(ctx, r, "products/categories", nil, func(docs []json.RawMessage) error {
		for _, raw := range docs {
			pos := r.seen[ingest.KindCategories]
			r.seen[ingest.KindCategories]++
			c, parent, err := s.m.category(raw)
			if err != nil {
				r.reject(ingest.KindCategories, recordError(pos, raw, err))
				continue
			}
			cats, catPos, parents = append(cats, c), append(catPos, pos), append(parents, parent)
		}
		return nil
	})
	if err != nil {
		return err
	}
	index := make(map[ingest.ID]int, len(cats))
	for i, c := range cats {
		if _, dup := index[c.ID]; !dup {
			index[c.ID] = i
		}
	}
	for i, parent := range parents {
		if j, ok := index[parent]; ok && j != i {
			cats[j].Subcategories = append(cats[j].Subcategories, cats[i].ID)
		}
	}
	if err := deliverCategories(r, cats, catPos); err != nil {
		return err
	}

	err = s.list(ctx, r, "products", incremental, func(docs []json.RawMessage) error {
		return deliverDocs(r, ingest.KindProducts, docs, s.m.product, r.sink.Products)
	})
	if err != nil {
		return err
	}
	if since.IsZero() {
		err = s.list(ctx, r, "customers", nil, func(docs []json.RawMessage) error {
			return deliverDocs(r, ingest.KindCustomers, docs, s.m.customer, r.sink.Customers)
		})
		if err != nil {
			return err
		}
	}
	return s.list(ctx, r, "orders", incremental, func(docs []json.RawMessage) error {
		return deliverDocs(r, ingest.KindOrders, docs, s.m.order, r.sink.Orders)
	})
}

// list pages through /wp-json/wc/v3/{path} until X-WP-TotalPages, or,
// without that header, a short page.
func (s *WooSource) list(ctx context.Context, r *run, path string, query url.Values, page func([]json.RawMessage) error) error {
	for n := 1; ; n++ {
		if err := r.nextPage(ctx, path, n-1); err != nil {
			return err
		}
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		q.Set("per_page", strconv.Itoa(s.cfg.PageSize))
		q.Set("page", strconv.Itoa(n))
		q.Set("orderby", "id")
		q.Set("order", "asc")
		if s.cfg.QueryAuth {
			q.Set("consumer_key", s.cfg.ConsumerKey)
			q.Set("consumer_secret", s.cfg.ConsumerSecret)
		}
		u := s.base.JoinPath("wp-json", "wc", "v3", path)
		u.RawQuery = q.Encode()
		body, header, err := r.get(ctx, u.String())
		if err != nil {
			return err
		}
		docs, err := splitList(WooCommerce, path, body)
		if err != nil {
			return err
		}
		if err := page(docs); err != nil {
			return err
		}
		if total, err := strconv.Atoi(strings.TrimSpace(header.Get("X-WP-TotalPages"))); err == nil {
			if n >= total {
				return nil
			}
		} else if len(docs) < s.cfg.PageSize {
			return nil
		}
		if len(docs) == 0 {
			return nil // a total that promises pages the server no longer has
		}
	}
}
