package source

// CSV and TSV files with a column mapping: the export many shops can make
// when they have no feed. The format is Sibyl's choice (Clerk documents
// only JSON feeds): a header row names the columns; Mapping says which
// column holds which canonical field, and a field not mapped is looked
// for under its own name (case-insensitive). Orders are one line per
// order line; consecutive lines with the same order id form one order.
// A row that cannot be read is a record error, never a failed sync.

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
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
	if err = s.Config.Validate(); err != nil {
		return res, err
	}
	resp, err := f.get(ctx, s.Config.URL, "text/csv, text/tab-separated-values, text/plain;q=0.5, */*;q=0.1")
	if err != nil {
		return res, err
	}
	defer resp.Body.Close()
	if err = ReadCSV(resp.Body, s.Config, sink, &res); err != nil {
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
	guard := &sizeGuard{r: skipBOM(r), max: int64(cfg.MaxRowBytes), what: "row (an unclosed quote?)"}
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
func readRows[T ingest.Record](cr *csv.Reader, guard *sizeGuard, rr *csvRows, b *batcher[T], build func(row []string) (T, error)) error {
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
func readOrders(cr *csv.Reader, guard *sizeGuard, rr *csvRows, b *batcher[ingest.Order]) error {
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
func nextRow(cr *csv.Reader, guard *sizeGuard) ([]string, int, error) {
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
	case errors.Is(err, errRecordTooLong):
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
