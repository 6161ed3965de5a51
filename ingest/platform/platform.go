// Package platform reads a store from an e-commerce platform's REST API
// (Shopify Admin, WooCommerce REST v3, Magento 2 REST) and from the
// platform's webhooks, in Sibyl's canonical records.
//
// Each platform has one file of mapping functions (shopify_map.go,
// woo_map.go, magento_map.go) from the platform's documents to
// ingest.Product, Category, Customer and Order; the pull connectors
// (source.Source) and the webhook decoders both use them, so a record
// reads the same whichever way it arrives.
//
// Everything read from the network is hostile: pages are bounded in bytes
// (Config.MaxPageBytes), paging is bounded in count (Config.MaxPages), each
// record is decoded on its own so that one bad record is a record error
// (Result.Rejected, Result.Errors) and never fails the run, and every
// record passes ingest.Validate before the sink sees it.
//
// Currency: a connector's Config names the store's currency. Product
// prices carry no currency on any of the three platforms (they are in the
// shop's currency); orders do. An order in another currency is converted
// when Config.Rates has a rate for it (Magento: its own base-currency
// amounts are used first), and otherwise rejected as a record error naming
// both currencies. Nothing is converted silently.
package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"

	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/ingest/source"
)

// Platform names, as they appear in errors and in the sync source "type".
const (
	Shopify     = "shopify"
	WooCommerce = "woocommerce"
	Magento2    = "magento2"
)

var (
	// ErrUnauthorized is wrapped by a StatusError for 401 and 403.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrRateLimited is wrapped by a StatusError for 429.
	ErrRateLimited = errors.New("rate limited")
	// ErrTooManyPages is returned when a listing has more pages than
	// Config.MaxPages: the read is incomplete, so nothing may be deleted
	// on its strength.
	ErrTooManyPages = errors.New("too many pages")
	// ErrPageTooLarge is returned when one response body exceeds
	// Config.MaxPageBytes.
	ErrPageTooLarge = errors.New("page too large")
	// ErrBadPage is returned when a response is not the documented shape
	// (not JSON, not a list where one is expected).
	ErrBadPage = errors.New("malformed page")
)

// Common bounds shared by the three connectors' defaults.
const (
	// defaultMaxPages bounds one listing: 10,000 pages of 100-250
	// records is 1-2.5 million records, more than any shop these
	// connectors target, and stops a server whose "next" never ends.
	defaultMaxPages = 10_000
	// defaultMaxPageBytes bounds one response body: 250 Shopify products
	// with 100 variants each and long descriptions stay well under it.
	defaultMaxPageBytes = 32 << 20
	// maxReportedErrors matches ingest.DefaultFeedConfig.
	maxReportedErrors = 100
)

// commonConfig is the part of every connector's Config that the run uses.
type commonConfig struct {
	platform     string
	currency     string
	rates        map[string]float64
	maxPages     int
	maxPageBytes int64
}

// validateCommon checks the fields every connector has.
func validateCommon(platform, baseURL, currency string, rates map[string]float64, pageSize, maxPageSize, maxPages int, maxPageBytes int64) error {
	if baseURL == "" {
		return fmt.Errorf("%s: base URL is required", platform)
	}
	if !strings.HasPrefix(baseURL, "https://") && !strings.HasPrefix(baseURL, "http://") {
		return fmt.Errorf("%s: base URL must start with https:// or http://", platform)
	}
	// No currency: the shop's amounts are taken as they come, in
	// whatever currency the platform sends (a shop that sells in one).
	if currency != "" && !validCurrency(currency) {
		return fmt.Errorf("%s: currency must be a three-letter ISO 4217 code such as USD, got %s", platform, ingest.Quote(currency))
	}
	if currency == "" && len(rates) > 0 {
		return fmt.Errorf("%s: a rate table needs the store's currency", platform)
	}
	for cur, rate := range rates {
		if !validCurrency(cur) || cur == currency {
			return fmt.Errorf("%s: rate table key %s must be an ISO 4217 code other than the store's", platform, ingest.Quote(cur))
		}
		if math.IsNaN(rate) || math.IsInf(rate, 0) || rate <= 0 {
			return fmt.Errorf("%s: rate for %s must be a finite number > 0, got %g", platform, cur, rate)
		}
	}
	if pageSize < 1 || pageSize > maxPageSize {
		return fmt.Errorf("%s: page size must be within 1..%d, got %d", platform, maxPageSize, pageSize)
	}
	if maxPages < 1 {
		return fmt.Errorf("%s: max pages must be at least 1, got %d", platform, maxPages)
	}
	if maxPageBytes < 1<<10 {
		return fmt.Errorf("%s: max page bytes must be at least 1 KiB, got %d", platform, maxPageBytes)
	}
	return nil
}

func validCurrency(c string) bool {
	if len(c) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if c[i] < 'A' || c[i] > 'Z' {
			return false
		}
	}
	return true
}

// convert returns amount, given in currency cur, in the store's currency.
// ok is false when cur is neither the store's nor in the rate table.
func (c *commonConfig) convert(amount float64, cur string) (float64, bool) {
	cur = strings.ToUpper(strings.TrimSpace(cur))
	if cur == "" || c.currency == "" || cur == c.currency {
		return amount, true
	}
	if rate, ok := c.rates[cur]; ok {
		return amount * rate, true
	}
	return 0, false
}

// currencyError is the record error of an order in a currency the store
// cannot take.
func (c *commonConfig) currencyError(cur string) error {
	return &mapError{field: "currency", kind: ingest.ErrInvalidValue,
		reason: fmt.Sprintf("order in %s, the store's currency is %s and no rate for %s is configured",
			ingest.Quote(cur), c.currency, ingest.Quote(cur))}
}

// run is the state of one Fetch: its counters, its sink and its HTTP.
type run struct {
	cfg    commonConfig
	doer   source.Doer
	sink   ingest.FeedSink
	limits ingest.Limits
	res    source.Result
	// seen numbers the records of each kind across pages, for errors.
	seen map[ingest.Kind]int
	// auth sets the platform's credentials on a request.
	auth func(*http.Request)
	// secrets are the credentials, removed from any error text that
	// quotes them (a Doer's error may quote the whole URL).
	secrets []string
}

func newRun(cfg commonConfig, doer source.Doer, sink ingest.FeedSink, auth func(*http.Request), secrets ...string) *run {
	lim := ingest.DefaultLimits()
	// Each record must be checked, so that each bad one can be dropped
	// alone (as ingest.ReadFeed does).
	lim.MaxErrors = math.MaxInt
	return &run{
		cfg: cfg, doer: doer, sink: sink, limits: lim, auth: auth, secrets: secrets,
		seen: map[ingest.Kind]int{},
		res: source.Result{
			Records:  map[ingest.Kind]int{},
			Rejected: map[ingest.Kind]int{},
		},
	}
}

// nextPage checks the page budget, and that the Fetch is still wanted,
// before another request of a listing.
func (r *run) nextPage(ctx context.Context, what string, page int) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %s: %w", r.cfg.platform, what, err)
	}
	if page >= r.cfg.maxPages {
		return fmt.Errorf("%s: %s: %w: more than %d", r.cfg.platform, what, ErrTooManyPages, r.cfg.maxPages)
	}
	return nil
}

// splitList decodes a JSON list into its elements without decoding them,
// so that a malformed record costs only itself.
func splitList(platform, what string, b []byte) ([]json.RawMessage, error) {
	var list []json.RawMessage
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("%s: %s: %w: want a JSON list: %v", platform, what, ErrBadPage, clipErr(err))
	}
	return list, nil
}

func clipErr(err error) string { return ingest.Clip(err.Error(), 200) }

// errSkip marks a document that is deliberately not a record (a cancelled
// order, a test order): neither delivered nor rejected.
var errSkip = errors.New("skipped")

// mapError is a mapping problem of one record: its field, ingest error
// kind and reason.
type mapError struct {
	field  string
	kind   error
	reason string
}

func (e *mapError) Error() string {
	if e.field == "" {
		return fmt.Sprintf("%v: %s", e.kind, e.reason)
	}
	return fmt.Sprintf("field %s: %v: %s", ingest.Quote(e.field), e.kind, e.reason)
}

// Unwrap exposes the ingest error kind (ingest.ErrInvalidValue, ...).
func (e *mapError) Unwrap() error { return e.kind }

// recordError turns a mapping failure of the document raw into a record
// error.
func recordError(index int, raw []byte, err error) ingest.RecordError {
	e := ingest.RecordError{Index: index, ID: peekID(raw), Kind: ingest.ErrWrongType, Reason: ingest.Clip(err.Error(), 300)}
	var me *mapError
	if errors.As(err, &me) {
		e.Field, e.Kind, e.Reason = me.field, me.kind, me.reason
	}
	return e
}

// peekID reads a document's "id" for error messages, "" if it has none.
func peekID(raw []byte) ingest.ID {
	var doc struct {
		ID ingest.ID `json:"id"`
	}
	if json.Unmarshal(raw, &doc) != nil {
		return ""
	}
	return ingest.ID(ingest.Clip(string(doc.ID), 64))
}

func (r *run) reject(kind ingest.Kind, e ingest.RecordError) {
	r.res.Rejected[kind]++
	if len(r.res.Errors) < maxReportedErrors {
		r.res.Errors = append(r.res.Errors, ingest.FeedError{Kind: kind, RecordError: e})
	}
}

// deliverDocs maps each document of one page, validates the records and
// delivers the good ones to the sink in one call.
func deliverDocs[T ingest.Record](r *run, kind ingest.Kind, docs []json.RawMessage, mapDoc func([]byte) (T, error), deliver func([]T) error) error {
	recs := make([]T, 0, len(docs))
	positions := make([]int, 0, len(docs))
	for _, raw := range docs {
		pos := r.seen[kind]
		r.seen[kind]++
		rec, err := mapDoc(raw)
		if errors.Is(err, errSkip) {
			continue
		}
		if err != nil {
			r.reject(kind, recordError(pos, raw, err))
			continue
		}
		recs = append(recs, rec)
		positions = append(positions, pos)
	}
	return deliverRecords(r, kind, recs, positions, deliver)
}

// deliverRecords validates mapped records (positions gives each one's
// number in its kind's stream) and delivers the valid ones.
func deliverRecords[T ingest.Record](r *run, kind ingest.Kind, recs []T, positions []int, deliver func([]T) error) error {
	if len(recs) == 0 {
		return nil
	}
	errs := ingest.Validate(recs, r.limits)
	if len(errs) > 0 {
		bad := make(map[int]bool, len(errs))
		for _, e := range errs {
			if e.Index < 0 || e.Index >= len(recs) {
				return fmt.Errorf("%s: %s: %v", r.cfg.platform, kind, e)
			}
			if !bad[e.Index] {
				bad[e.Index] = true
				e.Index = positions[e.Index]
				r.reject(kind, e)
			}
		}
		good := recs[:0]
		for i, rec := range recs {
			if !bad[i] {
				good = append(good, rec)
			}
		}
		recs = good
	}
	if len(recs) == 0 {
		return nil
	}
	r.res.Records[kind] += len(recs)
	if err := deliver(recs); err != nil {
		return fmt.Errorf("%s: cannot deliver %d %s: %w", r.cfg.platform, len(recs), kind, err)
	}
	return nil
}

// categoryBatch is the most categories per sink call; the category list
// of a shop is read whole before delivery (membership, subcategories).
const categoryBatch = 1000

// deliverCategories validates and delivers a shop's categories in batches.
func deliverCategories(r *run, cats []ingest.Category, positions []int) error {
	for i := 0; i < len(cats); i += categoryBatch {
		j := min(i+categoryBatch, len(cats))
		if err := deliverRecords(r, ingest.KindCategories, cats[i:j], positions[i:j], r.sink.Categories); err != nil {
			return err
		}
	}
	return nil
}

// completeKinds lists the kinds of a complete read, in ingest.Kinds order.
func completeKinds(kinds ...ingest.Kind) []ingest.Kind {
	out := make([]ingest.Kind, 0, len(kinds))
	for _, k := range ingest.Kinds {
		for _, want := range kinds {
			if k == want {
				out = append(out, k)
			}
		}
	}
	return out
}
