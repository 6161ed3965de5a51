package platform

// Magento 2 (Adobe Commerce) REST connector.
//
// Authentication: "Authorization: Bearer <token>" with an integration
// access token (allowed as a standalone bearer token in the store's OAuth
// settings) or an admin token.
//   https://developer.adobe.com/commerce/webapi/get-started/authentication/gs-authentication-token/
// Listing and filtering: searchCriteria[pageSize], [currentPage] and
// [filter_groups][i][filters][j][field|value|condition_type] in the query;
// answers are {"items": [...], "search_criteria": {...}, "total_count": n}.
// Paging stops on total_count: past the last page Magento answers the last
// page again instead of an empty one.
//   https://developer.adobe.com/commerce/webapi/rest/use-rest/performing-searches/
//   https://github.com/magento/magento2/issues/25619

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

// MagentoConfig configures a Magento 2 connector.
type MagentoConfig struct {
	// BaseURL is the shop's origin; the API is under /rest/V1, or
	// /rest/{StoreCode}/V1 when StoreCode is set.
	BaseURL   string
	StoreCode string
	// Token is the bearer token. It never appears in an error.
	Token string
	// StoreURL is the storefront's origin for product URLs
	// (StoreURL/{url_key}{URLSuffix}); URLSuffix is Magento's product URL
	// suffix, ".html" by default. MediaURL is where product images live,
	// StoreURL/media/catalog/product when empty.
	StoreURL  string
	URLSuffix string
	MediaURL  string
	// Currency is the store's ISO 4217 code; Rates optionally converts
	// orders in other currencies.
	Currency string
	Rates    map[string]float64
	// PageSize is searchCriteria[pageSize], 1..1000.
	PageSize int
	// MaxPages bounds the pages of each listing.
	MaxPages int
	// MaxPageBytes bounds each response body (the category tree is one).
	MaxPageBytes int64
}

// DefaultMagentoConfig returns pages of 100, the ".html" suffix and the
// package's bounds; BaseURL, Token and Currency must be set.
func DefaultMagentoConfig() MagentoConfig {
	return MagentoConfig{URLSuffix: ".html", PageSize: 100, MaxPages: defaultMaxPages, MaxPageBytes: defaultMaxPageBytes}
}

// Validate reports a configuration that cannot work. Its errors never
// quote the token.
func (c MagentoConfig) Validate() error {
	if err := validateCommon(Magento2, c.BaseURL, c.Currency, c.Rates, c.PageSize, 1000, c.MaxPages, c.MaxPageBytes); err != nil {
		return err
	}
	if _, err := url.Parse(c.BaseURL); err != nil {
		return fmt.Errorf("%s: base URL is not a URL", Magento2)
	}
	if c.Token == "" {
		return fmt.Errorf("%s: token is required", Magento2)
	}
	if c.StoreCode != "" && (strings.ContainsAny(c.StoreCode, "/?#%") || len(c.StoreCode) > 64) {
		return fmt.Errorf("%s: store code %s is not a store code", Magento2, ingest.Quote(c.StoreCode))
	}
	return nil
}

func (c MagentoConfig) common() commonConfig {
	return commonConfig{platform: Magento2, currency: c.Currency, rates: c.Rates, maxPages: c.MaxPages, maxPageBytes: c.MaxPageBytes}
}

// MagentoSource reads a Magento 2 shop; it implements source.Source.
type MagentoSource struct {
	cfg  MagentoConfig
	base *url.URL
	doer source.Doer
	m    magentoMapper
}

var _ source.Source = (*MagentoSource)(nil)

// NewMagento returns a connector sending its requests through doer.
func NewMagento(cfg MagentoConfig, doer source.Doer) (*MagentoSource, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if doer == nil {
		return nil, fmt.Errorf("%s: an HTTP client (Doer) is required", Magento2)
	}
	base, _ := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	return &MagentoSource{cfg: cfg, base: base, doer: doer, m: newMagentoMapper(cfg)}, nil
}

// Fetch reads the category tree, products, customers and orders. A
// non-zero since reads only products, customers and orders with
// updated_at at or after it; the category tree is read whole.
func (s *MagentoSource) Fetch(ctx context.Context, since time.Time, sink ingest.FeedSink) (source.Result, error) {
	r := newRun(s.cfg.common(), s.doer, sink, func(req *http.Request) {
		req.Header.Set("Authorization", "Bearer "+s.cfg.Token)
	}, s.cfg.Token)
	err := s.fetch(ctx, r, since)
	if err == nil && since.IsZero() {
		r.res.Complete = true
		r.res.Kinds = completeKinds(ingest.KindCategories, ingest.KindProducts, ingest.KindCustomers, ingest.KindOrders)
	}
	return r.res, err
}

func (s *MagentoSource) endpoint(path string) *url.URL {
	parts := []string{"rest"}
	if s.cfg.StoreCode != "" {
		parts = append(parts, s.cfg.StoreCode)
	}
	return s.base.JoinPath(append(parts, "V1", path)...)
}

func (s *MagentoSource) fetch(ctx context.Context, r *run, since time.Time) error {
	u := s.endpoint("categories")
	body, _, err := r.get(ctx, u.String())
	if err != nil {
		return err
	}
	bad := func(raw []byte, err error) {
		pos := r.seen[ingest.KindCategories]
		r.seen[ingest.KindCategories]++
		r.reject(ingest.KindCategories, recordError(pos, raw, err))
	}
	if !json.Valid(body) {
		return fmt.Errorf("%s: categories: %w: not JSON", Magento2, ErrBadPage)
	}
	cats := s.m.categoryTree(body, r.cfg.maxPages*s.cfg.PageSize, bad)
	pos := make([]int, len(cats))
	for k := range pos {
		pos[k] = r.seen[ingest.KindCategories]
		r.seen[ingest.KindCategories]++
	}
	if err := deliverCategories(r, cats, pos); err != nil {
		return err
	}

	err = s.search(ctx, r, "products", since, func(docs []json.RawMessage) error {
		return deliverDocs(r, ingest.KindProducts, docs, s.m.product, r.sink.Products)
	})
	if err != nil {
		return err
	}
	err = s.search(ctx, r, "customers/search", since, func(docs []json.RawMessage) error {
		return deliverDocs(r, ingest.KindCustomers, docs, s.m.customer, r.sink.Customers)
	})
	if err != nil {
		return err
	}
	return s.search(ctx, r, "orders", since, func(docs []json.RawMessage) error {
		return deliverDocs(r, ingest.KindOrders, docs, s.m.order, r.sink.Orders)
	})
}

// magentoTime is Magento's timestamp layout (UTC).
const magentoTime = "2006-01-02 15:04:05"

// search pages through a searchCriteria listing until total_count.
func (s *MagentoSource) search(ctx context.Context, r *run, path string, since time.Time, page func([]json.RawMessage) error) error {
	read := 0
	for n := 1; ; n++ {
		if err := r.nextPage(ctx, path, n-1); err != nil {
			return err
		}
		q := url.Values{}
		q.Set("searchCriteria[pageSize]", strconv.Itoa(s.cfg.PageSize))
		q.Set("searchCriteria[currentPage]", strconv.Itoa(n))
		// Entity id order keeps pages stable while the shop changes.
		q.Set("searchCriteria[sortOrders][0][field]", "entity_id")
		q.Set("searchCriteria[sortOrders][0][direction]", "ASC")
		if !since.IsZero() {
			q.Set("searchCriteria[filter_groups][0][filters][0][field]", "updated_at")
			q.Set("searchCriteria[filter_groups][0][filters][0][value]", since.UTC().Format(magentoTime))
			q.Set("searchCriteria[filter_groups][0][filters][0][condition_type]", "gteq")
		}
		u := s.endpoint(path)
		u.RawQuery = q.Encode()
		body, _, err := r.get(ctx, u.String())
		if err != nil {
			return err
		}
		var doc struct {
			Items      json.RawMessage `json:"items"`
			TotalCount int             `json:"total_count"`
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			return fmt.Errorf("%s: %s: %w: want {items, total_count}: %s", Magento2, path, ErrBadPage, clipErr(err))
		}
		var docs []json.RawMessage
		if len(doc.Items) > 0 && string(doc.Items) != "null" {
			if docs, err = splitList(Magento2, path, doc.Items); err != nil {
				return err
			}
		}
		if err := page(docs); err != nil {
			return err
		}
		read += len(docs)
		if len(docs) == 0 || read >= doc.TotalCount || n*s.cfg.PageSize >= doc.TotalCount {
			return nil
		}
	}
}
