package source

// A store's sync source as JSON, the "source" object of POST /v2/sync:
//
//	{"type": "feed", "url": "https://shop.example/clerk.json", "token": "..."}
//	{"type": "feed_v2", "urls": {"products": "https://...", "orders": "https://..."},
//	 "token": "...", "token_header": "X-Clerk-Authorization", "page_size": 500}
//	{"type": "csv", "url": "https://.../products.csv", "kind": "products",
//	 "delimiter": ";", "mapping": {"id": "SKU", "name": "Title"}, "category_separator": ">",
//	 "decimal_comma": true, "user": "export", "password": "..."}
//	{"type": "shopify" | "woocommerce" | "magento2", "url": "https://shop...", ...,
//	 "currency": "EUR", "rates": {"USD": 0.92}, "store_url": "https://shop.example",
//	 "api_version": "2024-01", "allow_http": false, "webhook_secret": "..."}
//
// Secrets (token, password, consumer_secret, webhook_secret) are stored with the
// configuration (Raft replicates it like any write) but never appear in
// errors, String or Redacted, which is what the API shows.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/sibylhq/sibyl/ingest"
)

// Source types.
const (
	TypeFeed        = "feed"
	TypeFeedV2      = "feed_v2"
	TypeCSV         = "csv"
	TypeShopify     = "shopify"
	TypeWooCommerce = "woocommerce"
	TypeMagento2    = "magento2"
)

// Types lists every source type; the platform types are built by
// ingest/platform.
var Types = []string{TypeFeed, TypeFeedV2, TypeCSV, TypeShopify, TypeWooCommerce, TypeMagento2}

// platformTypes are the types this package does not build.
var platformTypes = []string{TypeShopify, TypeWooCommerce, TypeMagento2}

// ErrNotBuiltHere is returned by Build for the platform types, which
// ingest/platform builds.
var ErrNotBuiltHere = errors.New("source type is built by ingest/platform")

// Config is a store's source, as JSON.
type Config struct {
	// Type is one of Types.
	Type string `json:"type"`
	// URL is the feed or file (feed, csv) or the shop's base URL
	// (platforms).
	URL string `json:"url,omitempty"`
	// URLs holds feed_v2's URL per resource (products, categories,
	// customers, orders, pages).
	URLs map[string]string `json:"urls,omitempty"`

	// Token is a bearer token (feed, feed_v2, csv, magento2) or an
	// access token (shopify).
	Token string `json:"token,omitempty"`
	// TokenHeader names the header carrying Token; "" is Authorization.
	TokenHeader string `json:"token_header,omitempty"`
	// User and Password are basic auth.
	User     string `json:"user,omitempty"`
	Password string `json:"password,omitempty"`
	// ConsumerKey and ConsumerSecret are WooCommerce's REST API keys.
	ConsumerKey    string `json:"consumer_key,omitempty"`
	ConsumerSecret string `json:"consumer_secret,omitempty"`

	// Strict stops a sync at the first invalid record (feed, feed_v2,
	// csv); a feed can also ask for it itself.
	Strict bool `json:"strict,omitempty"`
	// PageSize asks feed_v2 (and platforms) for pages of this size.
	PageSize int `json:"page_size,omitempty"`

	// Kind, Delimiter, Mapping, CategorySeparator, DecimalComma and
	// TimeLayout describe a csv file (CSVConfig). Delimiter is one of
	// ",", ";", "|", "\t" or "tab".
	Kind              string            `json:"kind,omitempty"`
	Delimiter         string            `json:"delimiter,omitempty"`
	Mapping           map[string]string `json:"mapping,omitempty"`
	CategorySeparator string            `json:"category_separator,omitempty"`
	DecimalComma      bool              `json:"decimal_comma,omitempty"`
	TimeLayout        string            `json:"time_layout,omitempty"`

	// Currency is the store's ISO 4217 code for the platforms; orders in
	// another currency are converted with Rates (that currency -> rate
	// into Currency) or rejected. Empty: the connector's default.
	Currency string             `json:"currency,omitempty"`
	Rates    map[string]float64 `json:"rates,omitempty"`
	// StoreURL is the storefront's origin for record URLs (shopify:
	// products and collections; woocommerce: categories; magento2:
	// products).
	StoreURL string `json:"store_url,omitempty"`
	// APIVersion is Shopify's Admin API version (2024-01, "unstable").
	APIVersion string `json:"api_version,omitempty"`
	// AllowHTTP lets woocommerce reach an http:// shop, which sends the
	// key pair in clear text.
	AllowHTTP bool `json:"allow_http,omitempty"`
	// WebhookSecret verifies the platform's webhooks (shopify: the app's
	// client secret; woocommerce: the webhook's secret) at
	// POST /v2/webhooks/<type>/<store>.
	WebhookSecret string `json:"webhook_secret,omitempty"`
}

// SecretFields are the JSON members of Config that Redacted hides; a
// PATCH that sends one back as RedactedPlaceholder keeps its value.
var SecretFields = []string{"token", "password", "consumer_secret", "webhook_secret"}

// RedactedPlaceholder is what Redacted shows for a secret.
const RedactedPlaceholder = redacted

// PlatformCurrency is the store's currency for the platform connectors:
// Currency; "" takes the shop's amounts in whatever currency the
// platform sends, unconverted.
func (c Config) PlatformCurrency() string { return c.Currency }

// maxRates bounds Config.Rates: there are fewer ISO 4217 codes.
const maxRates = 200

// Bounds on a Config's strings: a configuration is small.
const (
	maxSecretBytes = 4096
	maxNameBytes   = 256
	// MaxConfigBytes bounds the JSON ParseConfig reads.
	MaxConfigBytes = 64 << 10
)

// ParseConfig decodes and validates a source's JSON, refusing unknown
// members (a misspelt "mapping" must not be ignored).
func ParseConfig(data []byte) (Config, error) {
	var cfg Config
	if len(data) > MaxConfigBytes {
		return cfg, fmt.Errorf("source configuration is %d bytes, at most %d", len(data), MaxConfigBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		// encoding/json quotes no values in its errors, only names and
		// offsets, so no secret can leak through them.
		return Config{}, fmt.Errorf("source configuration: %w", err)
	}
	if dec.More() {
		return Config{}, fmt.Errorf("source configuration: unexpected data after the object")
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Validate reports a configuration that cannot work, without quoting any
// secret.
func (c Config) Validate() error {
	if !slices.Contains(Types, c.Type) {
		return fmt.Errorf("unknown source type %s; want one of %s", ingest.Quote(clip(c.Type, 40)), strings.Join(Types, ", "))
	}
	for name, v := range map[string]string{"token": c.Token, "password": c.Password, "consumer_secret": c.ConsumerSecret, "webhook_secret": c.WebhookSecret} {
		if len(v) > maxSecretBytes {
			return fmt.Errorf("%s is %d bytes, at most %d", name, len(v), maxSecretBytes)
		}
		if strings.ContainsAny(v, "\r\n") {
			return fmt.Errorf("%s must not hold line breaks", name)
		}
	}
	for name, v := range map[string]string{"user": c.User, "consumer_key": c.ConsumerKey, "kind": c.Kind, "delimiter": c.Delimiter,
		"category_separator": c.CategorySeparator, "time_layout": c.TimeLayout} {
		if len(v) > maxNameBytes {
			return fmt.Errorf("%s is %d bytes, at most %d", name, len(v), maxNameBytes)
		}
	}
	if strings.ContainsRune(c.User, ':') || strings.ContainsAny(c.User, "\r\n") {
		return fmt.Errorf("user must not hold ':' or line breaks")
	}
	if c.TokenHeader != "" && !validHeaderName(c.TokenHeader) {
		return fmt.Errorf("token_header must be a header name (letters, digits, '-'; at most 64 bytes)")
	}
	if c.Token != "" && c.User != "" && c.TokenHeader == "" {
		return fmt.Errorf("token and user both want the Authorization header; set token_header or use one")
	}
	if c.PageSize < 0 || c.PageSize > 100_000 {
		return fmt.Errorf("page_size must be between 0 and 100000, got %d", c.PageSize)
	}
	if c.Type != TypeFeedV2 && len(c.URLs) > 0 {
		return fmt.Errorf("urls is for feed_v2; %s takes url", c.Type)
	}
	if c.Type != TypeCSV && (c.Kind != "" || c.Delimiter != "" || len(c.Mapping) > 0 || c.CategorySeparator != "" || c.DecimalComma || c.TimeLayout != "") {
		return fmt.Errorf("kind, delimiter, mapping, category_separator, decimal_comma and time_layout are for csv")
	}
	if err := c.validatePlatform(); err != nil {
		return err
	}
	switch c.Type {
	case TypeFeed:
		return checkURL(c.URL)
	case TypeFeedV2:
		if c.URL != "" {
			return fmt.Errorf("feed_v2 takes urls, one per resource, not url")
		}
		_, err := c.feedV2()
		return err
	case TypeCSV:
		_, err := c.csv()
		return err
	case TypeWooCommerce:
		if (c.ConsumerKey == "") != (c.ConsumerSecret == "") {
			return fmt.Errorf("woocommerce needs consumer_key and consumer_secret together")
		}
	}
	// Platforms: the shop's URL; ingest/platform checks the rest.
	return checkURL(c.URL)
}

// validatePlatform checks the members only platforms take.
func (c Config) validatePlatform() error {
	platform := slices.Contains(platformTypes, c.Type)
	if !platform && (c.Currency != "" || len(c.Rates) > 0 || c.StoreURL != "") {
		return fmt.Errorf("currency, rates and store_url are for %s", strings.Join(platformTypes, ", "))
	}
	if c.APIVersion != "" && c.Type != TypeShopify {
		return fmt.Errorf("api_version is for shopify")
	}
	if c.AllowHTTP && c.Type != TypeWooCommerce {
		return fmt.Errorf("allow_http is for woocommerce")
	}
	if c.WebhookSecret != "" && c.Type != TypeShopify && c.Type != TypeWooCommerce {
		return fmt.Errorf("webhook_secret is for shopify and woocommerce")
	}
	if c.Currency != "" && !validCurrency(c.Currency) {
		return fmt.Errorf("currency must be a three-letter ISO 4217 code such as EUR, got %s", ingest.Quote(clip(c.Currency, 20)))
	}
	if len(c.Rates) > 0 && c.Currency == "" {
		return fmt.Errorf("rates convert into the store's currency: set currency too")
	}
	if len(c.Rates) > maxRates {
		return fmt.Errorf("rates has %d currencies, at most %d", len(c.Rates), maxRates)
	}
	for cur, rate := range c.Rates {
		if !validCurrency(cur) || cur == c.Currency {
			return fmt.Errorf("rates key %s must be an ISO 4217 code other than the store's currency", ingest.Quote(clip(cur, 20)))
		}
		if math.IsNaN(rate) || math.IsInf(rate, 0) || rate <= 0 || rate > 1e9 {
			return fmt.Errorf("rate for %s must be a number above 0 and at most 1e9", cur)
		}
	}
	if c.StoreURL != "" {
		if err := checkURL(c.StoreURL); err != nil {
			return fmt.Errorf("store_url: %v", err)
		}
	}
	if c.APIVersion != "" && !validAPIVersion(c.APIVersion) {
		return fmt.Errorf("api_version must look like 2024-01 (or be \"unstable\"), got %s", ingest.Quote(clip(c.APIVersion, 20)))
	}
	if c.Type == TypeWooCommerce && !c.AllowHTTP && strings.HasPrefix(strings.ToLower(c.URL), "http://") {
		return fmt.Errorf("woocommerce over http:// sends the key pair in clear text: use https:// or set allow_http")
	}
	return nil
}

// validCurrency reports an ISO 4217 code's shape: three capital letters.
func validCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// validAPIVersion reports a Shopify API version: YYYY-MM or "unstable".
func validAPIVersion(v string) bool {
	if v == "unstable" {
		return true
	}
	if len(v) != 7 || v[4] != '-' {
		return false
	}
	for i, c := range []byte(v) {
		if i != 4 && (c < '0' || c > '9') {
			return false
		}
	}
	return v[5:] >= "01" && v[5:] <= "12"
}

func validHeaderName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Auth returns the configuration's credentials for a feed or file.
func (c Config) Auth() Auth {
	return Auth{Bearer: c.Token, Header: c.TokenHeader, User: c.User, Password: c.Password}
}

func (c Config) feedConfig() ingest.FeedConfig {
	fc := ingest.DefaultFeedConfig()
	fc.Strict = c.Strict
	return fc
}

func (c Config) feedV2() (FeedV2Config, error) {
	v2 := DefaultFeedV2Config()
	v2.Auth = c.Auth()
	v2.Feed = c.feedConfig()
	v2.PageSize = c.PageSize
	for name, u := range c.URLs {
		if len(name) > maxNameBytes {
			return v2, fmt.Errorf("feed_v2 urls: resource name too long")
		}
		v2.URLs[ingest.Kind(name)] = u
	}
	return v2, v2.Validate()
}

func (c Config) csv() (CSVConfig, error) {
	cc := DefaultCSVConfig()
	cc.URL = c.URL
	cc.Auth = c.Auth()
	cc.Feed = c.feedConfig()
	if c.Kind != "" {
		cc.Kind = ingest.Kind(c.Kind)
	}
	switch c.Delimiter {
	case "", ",":
		cc.Delimiter = ','
	case ";":
		cc.Delimiter = ';'
	case "|":
		cc.Delimiter = '|'
	case "\t", "tab", "\\t":
		cc.Delimiter = '\t'
	default:
		return cc, fmt.Errorf("csv delimiter must be \",\", \";\", \"|\" or \"tab\", got %s", ingest.Quote(c.Delimiter))
	}
	cc.Mapping = c.Mapping
	if c.CategorySeparator != "" {
		cc.CategorySeparator = c.CategorySeparator
	}
	cc.DecimalComma = c.DecimalComma
	cc.TimeLayout = c.TimeLayout
	return cc, cc.Validate()
}

// Build returns the Source for cfg, fetching through doer. The platform
// types answer ErrNotBuiltHere: ingest/platform builds them.
func Build(cfg Config, doer Doer) (Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if doer == nil {
		return nil, fmt.Errorf("source %s: no HTTP client", cfg.Type)
	}
	switch cfg.Type {
	case TypeFeed:
		return &FeedSource{URL: cfg.URL, Auth: cfg.Auth(), Feed: cfg.feedConfig(), Doer: doer}, nil
	case TypeFeedV2:
		v2, err := cfg.feedV2()
		if err != nil {
			return nil, err
		}
		return &FeedV2Source{Config: v2, Doer: doer}, nil
	case TypeCSV:
		cc, err := cfg.csv()
		if err != nil {
			return nil, err
		}
		return &CSVSource{Config: cc, Doer: doer}, nil
	}
	if slices.Contains(platformTypes, cfg.Type) {
		return nil, fmt.Errorf("%w: %s", ErrNotBuiltHere, cfg.Type)
	}
	return nil, fmt.Errorf("unknown source type %s", ingest.Quote(cfg.Type))
}

// redacted is what a secret shows as.
const redacted = "REDACTED"

// Redacted returns c with every secret replaced by "REDACTED" and URLs
// without user info or credential-like query values: what GET /v2/sync
// may show.
func (c Config) Redacted() Config {
	hide := func(s string) string {
		if s == "" {
			return ""
		}
		return redacted
	}
	r := c
	r.Token, r.Password, r.ConsumerSecret = hide(c.Token), hide(c.Password), hide(c.ConsumerSecret)
	r.WebhookSecret = hide(c.WebhookSecret)
	if c.StoreURL != "" {
		r.StoreURL = RedactString(c.StoreURL)
	}
	if c.Rates != nil {
		r.Rates = maps.Clone(c.Rates)
	}
	if c.URL != "" {
		r.URL = RedactString(c.URL)
	}
	if c.URLs != nil {
		r.URLs = make(map[string]string, len(c.URLs))
		for k, u := range c.URLs {
			r.URLs[k] = RedactString(u)
		}
	}
	return r
}

// String describes the source without secrets.
func (c Config) String() string {
	b, err := json.Marshal(c.Redacted())
	if err != nil {
		return "source{" + c.Type + "}"
	}
	return string(b)
}

// GoString keeps %#v from printing the secrets.
func (c Config) GoString() string { return "source.Config" + c.String() }
