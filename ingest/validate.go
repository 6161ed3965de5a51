package ingest

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// QuoteMax is how many bytes of a client's value an error message quotes:
// enough to recognise it, never enough to turn a 1 MB id into a 1 MB
// error, log line or response.
const QuoteMax = 100

// Quote renders a client-supplied value for an error message: Go-quoted,
// cut at about QuoteMax bytes (on a rune boundary) with an ellipsis and
// the value's full length, e.g. "abc…" (1048576 bytes). It is the one
// implementation; the API (query) uses it too.
func Quote(s string) string {
	if len(s) <= QuoteMax {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:runeCut(s, QuoteMax)]+"…") + " (" + strconv.Itoa(len(s)) + " bytes)"
}

// Clip is Quote for a value that will be quoted by its encoding anyway
// (a JSON field): cut the same way, not Go-quoted.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:runeCut(s, n)] + "… (" + strconv.Itoa(len(s)) + " bytes)"
}

// runeCut is the largest index <= n that starts a rune of s (len(s) > n).
func runeCut(s string, n int) int {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return n
}

// Error kinds. Every RecordError wraps exactly one of them, so callers can
// branch with errors.Is; StatusCode maps them to HTTP statuses.
var (
	// ErrBodyTooLarge: the request body exceeds Limits.MaxBodyBytes (413).
	ErrBodyTooLarge = errors.New("body too large")
	// ErrTooManyRecords: the batch exceeds Limits.MaxRecords (413).
	ErrTooManyRecords = errors.New("too many records")
	// ErrMalformedJSON: the body is not valid JSON or not a list of records.
	ErrMalformedJSON = errors.New("malformed json")
	// ErrWrongType: a record or attribute has the wrong JSON type.
	ErrWrongType = errors.New("wrong type")
	// ErrMissingID: a record has no id or an empty one.
	ErrMissingID = errors.New("missing id")
	// ErrDuplicateID: two records of one batch share an id.
	ErrDuplicateID = errors.New("duplicate id")
	// ErrInvalidValue: a value is out of range (negative price, zero
	// quantity, missing order time, empty order, ...).
	ErrInvalidValue = errors.New("invalid value")
	// ErrInvalidEmail: an email attribute is not an email address.
	ErrInvalidEmail = errors.New("invalid email")
	// ErrStringTooLong: a string exceeds its Limits length.
	ErrStringTooLong = errors.New("string too long")
	// ErrListTooLong: a list exceeds Limits.MaxListItems.
	ErrListTooLong = errors.New("list too long")
	// ErrTooManyAttributes: a record has more than
	// Limits.MaxExtraAttributes extra attributes.
	ErrTooManyAttributes = errors.New("too many attributes")
)

// StatusCode maps an error from this package to the HTTP status the API
// should answer with: 413 for size limits of the whole request, 400 for
// anything wrong with the records, 500 for anything else.
func StatusCode(err error) int {
	switch {
	case err == nil:
		return 200
	case errors.Is(err, ErrBodyTooLarge), errors.Is(err, ErrTooManyRecords):
		return 413
	case errors.Is(err, ErrMalformedJSON), errors.Is(err, ErrWrongType), errors.Is(err, ErrMissingID),
		errors.Is(err, ErrDuplicateID), errors.Is(err, ErrInvalidValue), errors.Is(err, ErrInvalidEmail),
		errors.Is(err, ErrStringTooLong), errors.Is(err, ErrListTooLong), errors.Is(err, ErrTooManyAttributes):
		return 400
	}
	return 500
}

// RecordError is one problem with one record of a batch.
type RecordError struct {
	// Index is the record's position in the batch, or -1 when the
	// problem concerns the whole batch (size, syntax before any record).
	Index int
	// ID is the record's id when it could be read.
	ID ID
	// Field is the attribute at fault, "" for the record as a whole.
	Field string
	// Kind is one of the Err* sentinels above.
	Kind   error
	Reason string
}

func (e RecordError) Error() string {
	var b strings.Builder
	if e.Index >= 0 {
		fmt.Fprintf(&b, "record %d", e.Index)
		if e.ID != "" {
			fmt.Fprintf(&b, " (id %s)", Quote(string(e.ID)))
		}
		b.WriteString(": ")
	}
	if e.Field != "" {
		fmt.Fprintf(&b, "field %s: ", Quote(e.Field))
	}
	b.WriteString(e.Kind.Error())
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	return b.String()
}

func (e RecordError) Unwrap() error { return e.Kind }

// BatchError rejects a whole batch; it lists every problem found, up to
// Limits.MaxErrors.
type BatchError struct {
	Kind   Kind
	Errors []RecordError
}

func (e *BatchError) Error() string {
	if len(e.Errors) == 0 {
		return fmt.Sprintf("invalid %s batch", e.Kind)
	}
	msg := fmt.Sprintf("invalid %s batch: %v", e.Kind, e.Errors[0])
	if n := len(e.Errors) - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more)", n)
	}
	return msg
}

// Unwrap exposes the record errors so errors.Is finds their kinds.
func (e *BatchError) Unwrap() []error {
	errs := make([]error, len(e.Errors))
	for i := range e.Errors {
		errs[i] = e.Errors[i]
	}
	return errs
}

// Limits bound what one request or batch may hold.
type Limits struct {
	// MaxBodyBytes bounds a request body given to Decode.
	MaxBodyBytes int64
	// MaxRecords bounds the records of one batch.
	MaxRecords int
	// MaxIDBytes bounds ids, including category and product references.
	MaxIDBytes int
	// MaxNameBytes bounds short strings: name, title, type, brand, sku,
	// email.
	MaxNameBytes int
	// MaxTextBytes bounds long strings: description, text, url, image
	// and string extra attributes (each item of a list).
	MaxTextBytes int
	// MaxExtraAttributes bounds Extra per record.
	MaxExtraAttributes int
	// MaxListItems bounds categories, subcategories, order lines and
	// list attributes.
	MaxListItems int
	// MaxErrors caps the RecordErrors reported for one batch.
	MaxErrors int

	// The fields below bound one tracking call (log/*) and the list
	// parameters of a recommendation call. The state machine checks every
	// tracking event again at apply time against DefaultLimits (fixed, so
	// every replica decides alike), so raising them above the defaults
	// makes the API accept events that apply then rejects.

	// MaxEventProducts bounds the products of one event (a sale's lines,
	// a cart).
	MaxEventProducts int
	// MaxEventLabels bounds the recommendation labels of one event or
	// request (attribution); MaxLabelBytes bounds each.
	MaxEventLabels int
	MaxLabelBytes  int
	// MaxEmailBytes bounds an email anywhere (RFC 5321 caps a path at 256
	// bytes with its brackets).
	MaxEmailBytes int
	// MaxVisitorBytes bounds a visitor id; MaxShortBytes bounds the other
	// short event strings (the clicked recommendation's api name).
	MaxVisitorBytes int
	MaxShortBytes   int
	// MaxEventBytes bounds the encoded size of one event.
	MaxEventBytes int
	// MaxSeeds bounds the seed products of one recommendation request;
	// MaxExcludes its excluded products; MaxParamItems any other list
	// parameter (attributes, facets).
	MaxSeeds      int
	MaxExcludes   int
	MaxParamItems int
}

// DefaultLimits returns limits suited to the public HTTP API.
func DefaultLimits() Limits {
	return Limits{
		MaxBodyBytes:       32 << 20,
		MaxRecords:         10_000,
		MaxIDBytes:         1 << 10,
		MaxNameBytes:       1 << 10,
		MaxTextBytes:       64 << 10,
		MaxExtraAttributes: 100,
		MaxListItems:       10_000,
		MaxErrors:          100,

		// A shop's event names one product (a view, a click) or a cart
		// or an order's lines: 1,000 is far above any checkout seen, and
		// keeps one event's apply work (co-views, session updates) under
		// a millisecond.
		MaxEventProducts: 1_000,
		// A slot carries one to a few labels; 20 leaves room and bounds
		// the label statistics work per event.
		MaxEventLabels:  20,
		MaxLabelBytes:   128,
		MaxEmailBytes:   254,
		MaxVisitorBytes: 256,
		MaxShortBytes:   256,
		// 1,000 products of 1 KiB ids plus everything else (about
		// 1,030,000 bytes), and below the proposer's 1 MiB per command,
		// so the largest valid event always fits a command of its own.
		MaxEventBytes: 1<<20 - 8<<10,
		// A basket page seeds with its lines; 100 is a large basket, and
		// each seed costs a neighbour-row scan (up to 200 candidates).
		MaxSeeds:      100,
		MaxExcludes:   1_000,
		MaxParamItems: 100,
	}
}

// Validate reports limits that cannot work.
func (l Limits) Validate() error {
	if l.MaxBodyBytes <= 0 || l.MaxRecords <= 0 || l.MaxIDBytes <= 0 || l.MaxNameBytes <= 0 ||
		l.MaxTextBytes <= 0 || l.MaxExtraAttributes < 0 || l.MaxListItems <= 0 || l.MaxErrors <= 0 ||
		l.MaxEventProducts <= 0 || l.MaxEventLabels <= 0 || l.MaxLabelBytes <= 0 || l.MaxEmailBytes <= 0 ||
		l.MaxVisitorBytes <= 0 || l.MaxShortBytes <= 0 || l.MaxEventBytes <= 0 || l.MaxSeeds <= 0 ||
		l.MaxExcludes <= 0 || l.MaxParamItems <= 0 {
		return fmt.Errorf("every limit must be positive: %+v", l)
	}
	return nil
}

// Record is any canonical record type.
type Record interface {
	Product | Category | Customer | Order | Page
}

// KindOf names the collection of record type T.
func KindOf[T Record]() Kind {
	var zero T
	switch any(zero).(type) {
	case Product:
		return KindProducts
	case Category:
		return KindCategories
	case Customer:
		return KindCustomers
	case Order:
		return KindOrders
	default:
		return KindPages
	}
}

// recordID returns the id of a pointer to a record.
func recordID(rec any) ID {
	switch r := rec.(type) {
	case *Product:
		return r.ID
	case *Category:
		return r.ID
	case *Customer:
		return r.ID
	case *Order:
		return r.ID
	case *Page:
		return r.ID
	}
	return ""
}

// ValidateProducts checks a batch of products; see Validate.
func ValidateProducts(recs []Product, lim Limits) []RecordError { return Validate(recs, lim) }

// ValidateCategories checks a batch of categories; see Validate.
func ValidateCategories(recs []Category, lim Limits) []RecordError { return Validate(recs, lim) }

// ValidateCustomers checks a batch of customers; see Validate.
func ValidateCustomers(recs []Customer, lim Limits) []RecordError { return Validate(recs, lim) }

// ValidateOrders checks a batch of orders; see Validate.
func ValidateOrders(recs []Order, lim Limits) []RecordError { return Validate(recs, lim) }

// ValidatePages checks a batch of pages; see Validate.
func ValidatePages(recs []Page, lim Limits) []RecordError { return Validate(recs, lim) }

// Validate checks a batch and returns every problem found (up to
// lim.MaxErrors); a batch with any problem must be rejected whole. The
// first record of a duplicated id is accepted, each later one is reported.
func Validate[T Record](recs []T, lim Limits) []RecordError {
	v := validator{lim: lim}
	if len(recs) > lim.MaxRecords {
		v.add(-1, "", "", ErrTooManyRecords, fmt.Sprintf("%d records, at most %d allowed", len(recs), lim.MaxRecords))
		return v.errs
	}
	seen := make(map[ID]int, len(recs))
	for i := range recs {
		if v.full() {
			break
		}
		rec := any(&recs[i])
		id := recordID(rec)
		v.index, v.id = i, id
		if id == "" {
			v.fail("id", ErrMissingID, "")
		} else if first, dup := seen[id]; dup {
			v.fail("id", ErrDuplicateID, fmt.Sprintf("also record %d", first))
		} else {
			seen[id] = i
			v.idLen("id", id)
		}
		switch r := rec.(type) {
		case *Product:
			v.product(r)
		case *Category:
			v.name("name", r.Name)
			v.text("url", r.URL)
			v.idList("subcategories", r.Subcategories)
		case *Customer:
			v.name("name", r.Name)
			v.email("email", r.Email)
			v.extra(r.Extra, customerFields)
		case *Order:
			v.order(r)
		case *Page:
			v.name("type", r.Type)
			v.name("title", r.Title)
			v.text("url", r.URL)
			v.text("text", r.Text)
		}
	}
	return v.errs
}

type validator struct {
	lim   Limits
	errs  []RecordError
	index int
	id    ID
}

func (v *validator) full() bool { return len(v.errs) >= max(1, v.lim.MaxErrors) }

func (v *validator) add(index int, id ID, field string, kind error, reason string) {
	if !v.full() {
		v.errs = append(v.errs, RecordError{Index: index, ID: id, Field: field, Kind: kind, Reason: reason})
	}
}

func (v *validator) fail(field string, kind error, reason string) {
	v.add(v.index, v.id, field, kind, reason)
}

func (v *validator) maxLen(field, s string, limit int) {
	if len(s) > limit {
		v.fail(field, ErrStringTooLong, fmt.Sprintf("%d bytes, at most %d allowed", len(s), limit))
	}
}

func (v *validator) idLen(field string, id ID) { v.maxLen(field, string(id), v.lim.MaxIDBytes) }
func (v *validator) name(field, s string)      { v.maxLen(field, s, v.lim.MaxNameBytes) }
func (v *validator) text(field, s string)      { v.maxLen(field, s, v.lim.MaxTextBytes) }

func (v *validator) listLen(field string, n int) bool {
	if n > v.lim.MaxListItems {
		v.fail(field, ErrListTooLong, fmt.Sprintf("%d items, at most %d allowed", n, v.lim.MaxListItems))
		return false
	}
	return true
}

func (v *validator) idList(field string, ids []ID) {
	if !v.listLen(field, len(ids)) {
		return
	}
	for i, id := range ids {
		f := fmt.Sprintf("%s[%d]", field, i)
		if id == "" {
			v.fail(f, ErrMissingID, "empty id in list")
		}
		v.idLen(f, id)
	}
}

func (v *validator) money(field string, x float64) {
	if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
		v.fail(field, ErrInvalidValue, fmt.Sprintf("must be a finite number >= 0, got %g", x))
	}
}

func (v *validator) email(field, s string) {
	if s == "" {
		return
	}
	v.name(field, s)
	// Only a bare address: no display name, no angle brackets.
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Name != "" || addr.Address != s || !strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".") {
		v.fail(field, ErrInvalidEmail, Quote(s)+" is not an email address")
	}
}

func (v *validator) product(p *Product) {
	v.name("name", p.Name)
	v.text("description", p.Description)
	v.money("price", p.Price)
	v.money("list_price", p.ListPrice)
	v.text("image", p.Image)
	v.text("url", p.URL)
	v.idList("categories", p.Categories)
	v.name("brand", p.Brand)
	v.name("sku", p.SKU)
	if p.Stock != nil && (math.IsNaN(*p.Stock) || math.IsInf(*p.Stock, 0)) {
		v.fail("stock", ErrInvalidValue, "must be finite")
	}
	if p.CreatedAt < 0 {
		v.fail("created_at", ErrInvalidValue, fmt.Sprintf("must be a unix timestamp >= 0, got %d", p.CreatedAt))
	}
	v.extra(p.Extra, productFields)
}

func (v *validator) order(o *Order) {
	if o.Time <= 0 {
		v.fail("time", ErrInvalidValue, fmt.Sprintf("must be a unix timestamp > 0, got %d", o.Time))
	}
	v.idLen("customer", o.Customer)
	v.email("email", o.Email)
	if len(o.Products) == 0 {
		v.fail("products", ErrInvalidValue, "an order needs at least one product")
		return
	}
	if !v.listLen("products", len(o.Products)) {
		return
	}
	for i, l := range o.Products {
		prefix := fmt.Sprintf("products[%d].", i)
		if l.ID == "" {
			v.fail(prefix+"id", ErrMissingID, "")
		}
		v.idLen(prefix+"id", l.ID)
		if math.IsNaN(l.Quantity) || math.IsInf(l.Quantity, 0) || l.Quantity <= 0 {
			v.fail(prefix+"quantity", ErrInvalidValue, fmt.Sprintf("must be a finite number > 0, got %g", l.Quantity))
		}
		v.money(prefix+"price", l.Price)
	}
}

func (v *validator) extra(extra map[string]any, builtin map[string]bool) {
	if len(extra) > v.lim.MaxExtraAttributes {
		v.fail("", ErrTooManyAttributes, fmt.Sprintf("%d extra attributes, at most %d allowed", len(extra), v.lim.MaxExtraAttributes))
		return
	}
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		x := extra[k]
		switch {
		case builtin[k]:
			v.fail(k, ErrWrongType, "extra attribute names a built-in field")
			continue
		case !validAttributeName(k):
			v.fail(k, ErrWrongType, "attribute names may hold only letters, digits and underscores")
			continue
		case !checkExtraValue(x):
			v.fail(k, ErrWrongType, fmt.Sprintf("unsupported type %T; use string, float64, bool, []string or []float64", x))
			continue
		}
		v.idLen(k, ID(k))
		switch x := x.(type) {
		case string:
			v.text(k, x)
		case []string:
			if v.listLen(k, len(x)) {
				for _, s := range x {
					v.text(k, s)
				}
			}
		case []float64:
			v.listLen(k, len(x))
		}
	}
}
