package source

// CSV and TSV files with a column mapping: the export many shops can make
// when they have no feed. The format is Sibyl's choice (Clerk documents
// only JSON feeds): a header row names the columns; Mapping says which
// column holds which canonical field, and a field not mapped is looked
// for under its own name (case-insensitive). Orders are one line per
// order line; consecutive lines with the same order id form one order.
// A row that cannot be read is a record error, never a failed sync.

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/sibylhq/sibyl/ingest"
)

// CSVConfig describes one CSV or TSV file of one kind.
type CSVConfig struct {
	// URL is the file's address.
	URL string
	// Auth is sent with the request.
	Auth Auth
	// Kind is what each row is: products, categories, customers,
	// orders (one row per order line) or pages.
	Kind ingest.Kind
	// Delimiter separates fields: ',' (the default when 0), ';', '\t'
	// (TSV) or '|'.
	Delimiter rune
	// Mapping maps a canonical field (csvFields lists them per kind) to
	// the header of the column holding it.
	Mapping map[string]string
	// CategorySeparator splits a product's categories cell (and a
	// category's subcategories); default "|".
	CategorySeparator string
	// DecimalComma reads "12,50" and "1.234,50" as 12.5 and 1234.5;
	// without it "1,234.50" is 1234.5 and "12,50" is an error.
	DecimalComma bool
	// TimeLayout, when set, is tried (as time.Parse's layout, UTC) before
	// the built-in forms: unix seconds, RFC 3339, "2006-01-02 15:04:05",
	// "2006-01-02".
	TimeLayout string
	// NoExtra drops the columns no field maps to; by default they become
	// string attributes of products and customers (names lowered, other
	// characters than letters, digits and "_" turned into "_"), at most
	// Feed.Limits.MaxExtraAttributes of them.
	NoExtra bool
	// Feed tunes record handling: batch size, limits, strict mode,
	// reported errors.
	Feed ingest.FeedConfig
	// MaxRows bounds the data rows read.
	MaxRows int
	// MaxRowBytes bounds one row (a quote left open would otherwise read
	// the rest of the file into one field).
	MaxRowBytes int
}

// DefaultCSVConfig returns a comma-separated products file with "|"
// between categories, at most 10 million rows of 1 MiB.
func DefaultCSVConfig() CSVConfig {
	return CSVConfig{
		Kind:              ingest.KindProducts,
		Delimiter:         ',',
		CategorySeparator: "|",
		Feed:              ingest.DefaultFeedConfig(),
		MaxRows:           10_000_000,
		MaxRowBytes:       1 << 20,
	}
}

// csvFields lists the canonical fields each kind reads.
var csvFields = map[ingest.Kind][]string{
	ingest.KindProducts:   {"id", "name", "description", "price", "list_price", "image", "url", "categories", "brand", "sku", "stock", "created_at"},
	ingest.KindCategories: {"id", "name", "url", "subcategories"},
	ingest.KindCustomers:  {"id", "name", "email"},
	ingest.KindOrders:     {"id", "customer", "email", "time", "product", "quantity", "price"},
	ingest.KindPages:      {"id", "type", "url", "title", "text"},
}

// Validate reports a configuration that cannot work.
func (c CSVConfig) Validate() error {
	if err := checkURL(c.URL); err != nil {
		return fmt.Errorf("csv %w", err)
	}
	fields, ok := csvFields[c.Kind]
	if !ok {
		return fmt.Errorf("csv kind must be one of products, categories, customers, orders, pages; got %s", ingest.Quote(string(c.Kind)))
	}
	switch c.Delimiter {
	case 0, ',', ';', '\t', '|':
	default:
		return fmt.Errorf("csv delimiter must be ',', ';', tab or '|', got %q", c.Delimiter)
	}
	if len(c.Mapping) > len(fields) {
		return fmt.Errorf("csv mapping has %d fields, %s have %d", len(c.Mapping), c.Kind, len(fields))
	}
	for field, column := range c.Mapping {
		known := false
		for _, f := range fields {
			known = known || f == field
		}
		if !known {
			return fmt.Errorf("csv mapping: %s has no field %s (fields: %s)", c.Kind, ingest.Quote(field), strings.Join(fields, ", "))
		}
		if column == "" || len(column) > 256 {
			return fmt.Errorf("csv mapping: column for %s must be 1 to 256 bytes", field)
		}
	}
	if len(c.CategorySeparator) > 8 || len(c.TimeLayout) > 64 {
		return fmt.Errorf("csv category separator (at most 8 bytes) or time layout (at most 64) too long")
	}
	if c.CategorySeparator != "" && c.Delimiter != 0 && strings.ContainsRune(c.CategorySeparator, c.Delimiter) {
		return fmt.Errorf("csv category separator %q contains the delimiter", c.CategorySeparator)
	}
	if err := c.Feed.Validate(); err != nil {
		return err
	}
	if c.MaxRows < 1 || c.MaxRowBytes < 64 {
		return fmt.Errorf("csv max rows (at least 1) and max row bytes (at least 64) must be set, got %d and %d", c.MaxRows, c.MaxRowBytes)
	}
	return nil
}

// CSVSource reads one CSV or TSV file.
type CSVSource struct {
	Config CSVConfig
	Doer   Doer
}

// Fetch reads the file; since is ignored (a file is always complete).
func (s *CSVSource) Fetch(ctx context.Context, since time.Time, sink ingest.FeedSink) (res Result, err error) {
	f := &fetcher{doer: s.Doer, auth: s.Config.Auth}
	res = newResult()
	defer f.fill(&res) // res is named: the deferred fill reaches the caller
	if err := s.Config.Validate(); err != nil {
		return res, err
	}
	resp, err := f.get(ctx, s.Config.URL, "text/csv, text/tab-separated-values, text/plain;q=0.5, */*;q=0.1")
	if err != nil {
		return res, err
	}
	defer resp.Body.Close()
	if err := ReadCSV(resp.Body, s.Config, sink, &res); err != nil {
		return res, fmt.Errorf("csv %s: %w", RedactString(s.Config.URL), err)
	}
	res.Complete = true
	res.Kinds = []ingest.Kind{s.Config.Kind}
	return res, nil
}

// ReadCSV reads CSV from r into sink, adding counts and record errors to
// res (whose maps must be made). cfg.URL is not used.
func ReadCSV(r io.Reader, cfg CSVConfig, sink ingest.FeedSink, res *Result) error {
	if cfg.Delimiter == 0 {
		cfg.Delimiter = ','
	}
	if cfg.CategorySeparator == "" {
		cfg.CategorySeparator = "|"
	}
	guard := &rowGuard{r: skipBOM(r), max: int64(cfg.MaxRowBytes)}
	cr := csv.NewReader(guard)
	cr.Comma = cfg.Delimiter
	cr.FieldsPerRecord = -1 // short rows leave fields empty
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: no header row", ingest.ErrInvalidFeed)
		}
		return fmt.Errorf("%w: header row: %v", ingest.ErrInvalidFeed, err)
	}
	cols, err := newColumns(header, cfg)
	if err != nil {
		return err
	}
	t := &tally{res: res, cfg: cfg.Feed}
	rr := &csvRows{cfg: cfg, cols: cols}
	switch cfg.Kind {
	case ingest.KindProducts:
		return readRows(cr, guard, rr, newBatcher(t, sink.Products, 0), rr.product)
	case ingest.KindCategories:
		return readRows(cr, guard, rr, newBatcher(t, sink.Categories, 0), rr.category)
	case ingest.KindCustomers:
		return readRows(cr, guard, rr, newBatcher(t, sink.Customers, 0), rr.customer)
	case ingest.KindPages:
		return readRows(cr, guard, rr, newBatcher(t, sink.Pages, 0), rr.page)
	case ingest.KindOrders:
		return readOrders(cr, guard, rr, newBatcher(t, sink.Orders, 0))
	}
	return fmt.Errorf("csv kind %s not supported", ingest.Quote(string(cfg.Kind)))
}

// readRows turns each data row into one record.
func readRows[T ingest.Record](cr *csv.Reader, guard *rowGuard, rr *csvRows, b *batcher[T], build func(row []string) (T, error)) error {
	for rows := 0; ; rows++ {
		row, line, err := nextRow(cr, guard)
		if errors.Is(err, io.EOF) {
			return b.flush()
		}
		if rows >= rr.cfg.MaxRows {
			return fmt.Errorf("%w: more than %d rows", ErrTooManyRecords, rr.cfg.MaxRows)
		}
		if err == nil {
			var rec T
			if rec, err = build(row); err == nil {
				if err := b.add(rec); err != nil {
					return err
				}
				continue
			}
		}
		if fatal := fatalRowErr(err); fatal != nil {
			return fatal
		}
		if err := b.bad(rowError(row, rr.cols, line, err)); err != nil {
			return err
		}
	}
}

// readOrders groups consecutive rows with the same order id.
func readOrders(cr *csv.Reader, guard *rowGuard, rr *csvRows, b *batcher[ingest.Order]) error {
	var open *ingest.Order
	var openErr error // the first bad line of the open order
	var openLine int
	closeOpen := func() error {
		if open == nil {
			return nil
		}
		o, oerr := open, openErr
		open, openErr = nil, nil
		if oerr != nil {
			return b.bad(ingest.RecordError{ID: o.ID, Field: fieldOf(oerr), Kind: kindOf(oerr), Reason: fmt.Sprintf("line %d: %s", openLine, reasonOf(oerr))})
		}
		return b.add(*o)
	}
	for rows := 0; ; rows++ {
		row, line, err := nextRow(cr, guard)
		if errors.Is(err, io.EOF) {
			if err := closeOpen(); err != nil {
				return err
			}
			return b.flush()
		}
		if rows >= rr.cfg.MaxRows {
			return fmt.Errorf("%w: more than %d rows", ErrTooManyRecords, rr.cfg.MaxRows)
		}
		if fatal := fatalRowErr(err); fatal != nil {
			return fatal
		}
		if err != nil {
			// A malformed row belongs to no order for sure: report it and
			// leave the open order open.
			if berr := b.bad(rowError(nil, rr.cols, line, err)); berr != nil {
				return berr
			}
			continue
		}
		id := ingest.ID(rr.get(row, "id"))
		if id == "" || open == nil || open.ID != id {
			if cerr := closeOpen(); cerr != nil {
				return cerr
			}
		}
		if id == "" {
			err := &ingest.FieldError{Field: "id", Reason: "empty order id"}
			if berr := b.bad(rowError(row, rr.cols, line, err)); berr != nil {
				return berr
			}
			continue
		}
		if open == nil {
			open = &ingest.Order{ID: id}
			if open.Time, err = rr.time(row, "time"); err != nil {
				openErr, openLine = err, line
			}
			open.Customer = ingest.ID(rr.get(row, "customer"))
			open.Email = rr.get(row, "email")
		}
		l, err := rr.orderLine(row)
		if err != nil && openErr == nil {
			openErr, openLine = err, line
		}
		if len(open.Products) < rr.cfg.Feed.Limits.MaxListItems+1 { // one more lets Validate report it
			open.Products = append(open.Products, l)
		}
	}
}

// nextRow reads a row and its line number.
func nextRow(cr *csv.Reader, guard *rowGuard) ([]string, int, error) {
	guard.mark()
	row, err := cr.Read()
	line := 0
	var pe *csv.ParseError
	switch {
	case err == nil && len(row) > 0:
		line, _ = cr.FieldPos(0)
	case errors.As(err, &pe):
		line = pe.StartLine
	}
	return row, line, err
}

// fatalRowErr picks the errors that end the read: the body failing, a
// row too long to resynchronise. A malformed row is not one of them.
func fatalRowErr(err error) error {
	var pe *csv.ParseError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errRowTooLong):
		return fmt.Errorf("%w: %v", ingest.ErrInvalidFeed, err)
	case errors.As(err, &pe): // a malformed row; the reader goes on after it
		return nil
	}
	var fe *ingest.FieldError
	if errors.As(err, &fe) {
		return nil
	}
	return err
}

func fieldOf(err error) string {
	var fe *ingest.FieldError
	if errors.As(err, &fe) {
		return fe.Field
	}
	return ""
}

func reasonOf(err error) string {
	var fe *ingest.FieldError
	if errors.As(err, &fe) {
		return fe.Reason
	}
	return err.Error()
}

func kindOf(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return ingest.ErrMalformedJSON // the closest sentinel: the row does not parse
	}
	return ingest.ErrInvalidValue
}

// rowError reports a row that could not become a record.
func rowError(row []string, cols *columns, line int, err error) ingest.RecordError {
	var id ingest.ID
	if err == nil || fieldOf(err) != "" {
		id = ingest.ID(clip(cols.get(row, "id"), 256))
	}
	return ingest.RecordError{ID: id, Field: fieldOf(err), Kind: kindOf(err), Reason: fmt.Sprintf("line %d: %s", line, reasonOf(err))}
}

// columns maps fields to column indexes.
type columns struct {
	field map[string]int
	// extra lists the other columns kept as attributes.
	extra []extraColumn
}

type extraColumn struct {
	index int
	name  string
}

func newColumns(header []string, cfg CSVConfig) (*columns, error) {
	byName := make(map[string]int, len(header))
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		if _, dup := byName[h]; !dup {
			byName[h] = i
		}
	}
	c := &columns{field: map[string]int{}}
	used := map[int]bool{}
	for _, f := range csvFields[cfg.Kind] {
		name := f
		if m, ok := cfg.Mapping[f]; ok {
			name = m
		}
		if i, ok := byName[strings.ToLower(strings.TrimSpace(name))]; ok {
			c.field[f] = i
			used[i] = true
		} else if _, mapped := cfg.Mapping[f]; mapped {
			return nil, fmt.Errorf("%w: no column %s (mapped to %s) in the header", ingest.ErrInvalidFeed, ingest.Quote(name), f)
		}
	}
	if _, ok := c.field["id"]; !ok {
		return nil, fmt.Errorf("%w: no id column in the header (map \"id\" to the column holding it)", ingest.ErrInvalidFeed)
	}
	if cfg.Kind == ingest.KindOrders {
		if _, ok := c.field["product"]; !ok {
			return nil, fmt.Errorf("%w: no product column in the header", ingest.ErrInvalidFeed)
		}
	}
	if !cfg.NoExtra && (cfg.Kind == ingest.KindProducts || cfg.Kind == ingest.KindCustomers) {
		builtin := map[string]bool{"index": true}
		for _, f := range csvFields[cfg.Kind] {
			builtin[f] = true
		}
		seen := map[string]bool{}
		for i, h := range header {
			name := attributeName(h)
			if used[i] || name == "" || builtin[name] || seen[name] || len(c.extra) >= cfg.Feed.Limits.MaxExtraAttributes {
				continue
			}
			seen[name] = true
			c.extra = append(c.extra, extraColumn{index: i, name: name})
		}
	}
	return c, nil
}

// attributeName makes a header a Clerk attribute name: lower case,
// letters, digits and "_" (help.clerk.io "Data Feeds", attribute names).
func attributeName(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	if len(h) > 64 {
		return ""
	}
	var b strings.Builder
	for _, r := range h {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	name := strings.Trim(b.String(), "_")
	if name == "" {
		return ""
	}
	return name
}

func (c *columns) get(row []string, field string) string {
	i, ok := c.field[field]
	if !ok || i >= len(row) {
		return ""
	}
	return strings.TrimSpace(row[i])
}

// csvRows builds records from rows.
type csvRows struct {
	cfg  CSVConfig
	cols *columns
}

func (r *csvRows) get(row []string, field string) string { return r.cols.get(row, field) }

func (r *csvRows) money(row []string, field string) (float64, error) {
	s := r.get(row, field)
	if s == "" {
		return 0, nil
	}
	v, err := parseDecimal(s, r.cfg.DecimalComma)
	if err != nil {
		return 0, &ingest.FieldError{Field: field, Reason: err.Error()}
	}
	return v, nil
}

func (r *csvRows) time(row []string, field string) (int64, error) {
	s := r.get(row, field)
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	layouts := []string{time.RFC3339, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02"}
	if r.cfg.TimeLayout != "" {
		layouts = append([]string{r.cfg.TimeLayout}, layouts...)
	}
	for _, layout := range layouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Unix(), nil
		}
	}
	return 0, &ingest.FieldError{Field: field, Reason: fmt.Sprintf("want a unix timestamp or a date, got %s", ingest.Quote(s))}
}

func (r *csvRows) ids(row []string, field string) []ingest.ID {
	s := r.get(row, field)
	if s == "" {
		return nil
	}
	parts := strings.Split(s, r.cfg.CategorySeparator)
	ids := make([]ingest.ID, 0, len(parts))
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			ids = append(ids, ingest.ID(p))
		}
	}
	return ids
}

func (r *csvRows) product(row []string) (ingest.Product, error) {
	p := ingest.Product{
		ID:          ingest.ID(r.get(row, "id")),
		Name:        r.get(row, "name"),
		Description: r.get(row, "description"),
		Image:       r.get(row, "image"),
		URL:         r.get(row, "url"),
		Categories:  r.ids(row, "categories"),
		Brand:       r.get(row, "brand"),
		SKU:         r.get(row, "sku"),
	}
	var err error
	if p.Price, err = r.money(row, "price"); err != nil {
		return p, err
	}
	if p.ListPrice, err = r.money(row, "list_price"); err != nil {
		return p, err
	}
	if r.get(row, "stock") != "" {
		stock, err := r.money(row, "stock")
		if err != nil {
			return p, err
		}
		p.Stock = &stock
	}
	if p.CreatedAt, err = r.time(row, "created_at"); err != nil {
		return p, err
	}
	p.Extra = r.extra(row)
	return p, nil
}

func (r *csvRows) extra(row []string) map[string]any {
	var extra map[string]any
	for _, x := range r.cols.extra {
		if x.index >= len(row) {
			continue
		}
		v := strings.TrimSpace(row[x.index])
		if v == "" {
			continue
		}
		if extra == nil {
			extra = map[string]any{}
		}
		extra[x.name] = v
	}
	return extra
}

func (r *csvRows) category(row []string) (ingest.Category, error) {
	return ingest.Category{
		ID:            ingest.ID(r.get(row, "id")),
		Name:          r.get(row, "name"),
		URL:           r.get(row, "url"),
		Subcategories: r.ids(row, "subcategories"),
	}, nil
}

func (r *csvRows) customer(row []string) (ingest.Customer, error) {
	return ingest.Customer{
		ID:    ingest.ID(r.get(row, "id")),
		Name:  r.get(row, "name"),
		Email: r.get(row, "email"),
		Extra: r.extra(row),
	}, nil
}

func (r *csvRows) page(row []string) (ingest.Page, error) {
	return ingest.Page{
		ID:    ingest.ID(r.get(row, "id")),
		Type:  r.get(row, "type"),
		URL:   r.get(row, "url"),
		Title: r.get(row, "title"),
		Text:  r.get(row, "text"),
	}, nil
}

// orderLine reads one order line; quantity defaults to 1.
func (r *csvRows) orderLine(row []string) (ingest.OrderLine, error) {
	l := ingest.OrderLine{ID: ingest.ID(r.get(row, "product")), Quantity: 1}
	if l.ID == "" {
		return l, &ingest.FieldError{Field: "product", Reason: "empty product id"}
	}
	if r.get(row, "quantity") != "" {
		q, err := r.money(row, "quantity")
		if err != nil {
			return l, err
		}
		l.Quantity = q
	}
	var err error
	l.Price, err = r.money(row, "price")
	return l, err
}

// parseDecimal reads a number with optional thousands grouping: "1,234.50"
// or, with decimalComma, "1.234,50" and "12,50". A separator that is not
// a decimal point must be followed by groups of exactly three digits, so
// that "12,50" never silently becomes 1250.
func parseDecimal(s string, decimalComma bool) (float64, error) {
	dec, group := ".", ","
	if decimalComma {
		dec, group = ",", "."
	}
	s = strings.ReplaceAll(s, "\u00a0", "")
	s = strings.ReplaceAll(s, " ", "")
	intPart, frac, hasFrac := strings.Cut(s, dec)
	if hasFrac && strings.Contains(frac, group) {
		return 0, fmt.Errorf("not a number: %s", ingest.Quote(s))
	}
	if strings.Contains(intPart, group) {
		groups := strings.Split(intPart, group)
		for i, g := range groups {
			digits := strings.TrimLeft(g, "+-")
			if (i == 0 && (digits == "" || len(digits) > 3)) || (i > 0 && len(g) != 3) {
				hint := ""
				if !decimalComma && i == len(groups)-1 && !hasFrac {
					hint = " (a decimal comma? set decimal_comma)"
				}
				return 0, fmt.Errorf("not a number: %s%s", ingest.Quote(s), hint)
			}
		}
		intPart = strings.Join(groups, "")
	}
	num := intPart
	if hasFrac {
		num += "." + frac
	}
	// Digits, one point and a leading sign only: ParseFloat would also
	// take "NaN", "Inf", "1e5" and "0x1p4".
	body := strings.TrimLeft(num, "+-")
	if len(num)-len(body) > 1 || strings.Trim(body, "0123456789.") != "" || strings.Trim(body, ".") == "" {
		return 0, fmt.Errorf("not a number: %s", ingest.Quote(s))
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("not a number: %s", ingest.Quote(s))
	}
	return v, nil
}

// skipBOM drops a UTF-8 byte order mark, which spreadsheet exports put
// before the first header.
func skipBOM(r io.Reader) io.Reader {
	br := bufio.NewReader(r)
	if b, err := br.Peek(3); err == nil && string(b) == "\ufeff" {
		br.Discard(3)
	}
	return br
}

var errRowTooLong = errors.New("row too long")

// rowGuard fails a read that goes more than max bytes past the start of
// the current row: a quote left open must not pull the whole file into
// one field. csv.Reader reads ahead, so the bound is loose by its buffer.
type rowGuard struct {
	r     io.Reader
	n     int64
	start int64
	max   int64
}

const csvReadAhead = 64 << 10

func (g *rowGuard) mark() { g.start = g.n }

func (g *rowGuard) Read(p []byte) (int, error) {
	if g.n-g.start > g.max+csvReadAhead {
		return 0, fmt.Errorf("%w: more than %d bytes in one row (an unclosed quote?)", errRowTooLong, g.max)
	}
	if len(p) > csvReadAhead {
		p = p[:csvReadAhead]
	}
	n, err := g.r.Read(p)
	g.n += int64(n)
	return n, err
}
