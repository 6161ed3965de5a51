package ingest

// UCI Online Retail importer. The data set is described in D. Chen, S. L. Sain,
// K. Guo (2012), "Data mining for the online retail industry: A case study of
// RFM model-based customer segmentation using data mining", Journal of
// Database Marketing and Customer Strategy Management 19(3):197-208,
// doi:10.1057/dbm.2012.17 (UCI Machine Learning Repository, CC BY 4.0).
//
// Decisions (the "retail-temporal" evaluation protocol depends on them):
//
//   - Rows are filtered in this order, and each dropped row is counted under
//     the first reason that applies: SkipMalformed (wrong field count, bad
//     number, bad date, empty InvoiceNo or StockCode), SkipCancelled
//     (InvoiceNo starts with "C"), SkipNoCustomer, SkipQuantity
//     (Quantity <= 0), SkipPrice (UnitPrice <= 0), SkipNonProduct (POST, D,
//     M, C2, DOT, BANK CHARGES, AMAZONFEE, PADS, CRUK, S, B).
//   - Invoices are grouped over kept rows only, so a dropped row between two
//     lines of one invoice does not split it. On the real file exactly one
//     invoice (542806) is interrupted, by two cancellation rows of C542805;
//     over kept rows every invoice is contiguous.
//   - A bounded window of open invoices (RetailConfig.OpenInvoices) absorbs
//     interleaving without holding the file: an invoice is emitted when it
//     is the least recently touched one and the window is full, or at EOF.
//     If an invoice reappears after it was emitted, its further lines are
//     emitted as a separate continuation order with id "<invoice>#<n>"
//     (n = 2, 3, ...) and counted in RetailStats.Continuations. Re-emitting
//     the same id would make an upserting sink drop the first part, which
//     is why the continuation gets its own id; none occur on the real file.
//   - Repeated lines of one product within one invoice are merged into one
//     order line: quantities are summed and the price is the
//     quantity-weighted mean, so the line's revenue equals the sum of the
//     rows' revenues. RetailStats.MergedRows counts the rows folded in.
//   - An order's time is its earliest row's InvoiceDate (30 invoices on the
//     real file span a minute boundary).
//   - Products come from kept rows only: id StockCode, price the first kept
//     row's UnitPrice, name the first non-empty Description with surrounding
//     spaces trimmed. If a product was emitted with an empty name and a name
//     turns up later, the product is emitted again (an upsert) with it.
//   - Customers: CustomerID "17850.0" becomes id "17850".

import (
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// RetailSink receives records in an order that never names an unknown record:
// a product or customer is emitted before the first order that refers to it.
type RetailSink interface {
	Product(*Product) error
	Customer(*Customer) error
	Order(*Order) error
}

// Skip reasons, the keys of RetailStats.Skipped.
const (
	SkipMalformed  = "malformed"
	SkipCancelled  = "cancelled"
	SkipNoCustomer = "no_customer"
	SkipQuantity   = "quantity"
	SkipPrice      = "price"
	SkipNonProduct = "non_product"
)

// RetailStats summarises one import. Every data row is either skipped
// (counted once in Skipped), the first row of an order line (Lines) or merged
// into an existing line (MergedRows):
// Rows == sum(Skipped) + Lines + MergedRows.
type RetailStats struct {
	Rows, Orders, Lines, Products, Customers int
	// Skipped maps a reason (Skip* constants) to the number of rows dropped.
	Skipped map[string]int
	// MergedRows counts rows folded into an earlier line of the same
	// product in the same invoice.
	MergedRows int
	// Continuations counts orders emitted for invoices that reappeared
	// after they had been emitted (see package notes).
	Continuations int
	// Broken holds the first RetailConfig.MaxReportedErrors malformed rows.
	Broken []RowError
}

// RowError describes one malformed input row. Line is 1-based and counts the
// header.
type RowError struct {
	Line   int
	Reason string
}

func (e RowError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }

// RetailConfig tunes ReadOnlineRetailConfig.
type RetailConfig struct {
	// OpenInvoices is how many invoices may be open at once (see the
	// package notes); 1 means "emit when the invoice number changes".
	OpenInvoices int
	// MaxReportedErrors caps RetailStats.Broken; further malformed rows
	// are still counted.
	MaxReportedErrors int
}

// DefaultRetailConfig returns the configuration ReadOnlineRetail uses.
func DefaultRetailConfig() RetailConfig {
	return RetailConfig{OpenInvoices: 8, MaxReportedErrors: 100}
}

// Validate reports a configuration that cannot work.
func (c RetailConfig) Validate() error {
	if c.OpenInvoices < 1 {
		return fmt.Errorf("open invoices must be at least 1, got %d", c.OpenInvoices)
	}
	if c.MaxReportedErrors < 0 {
		return fmt.Errorf("max reported errors must not be negative, got %d", c.MaxReportedErrors)
	}
	return nil
}

// ErrBadHeader is returned when the CSV header lacks a required column.
var ErrBadHeader = errors.New("bad header")

// retailColumns are the columns ReadOnlineRetail needs; Country is ignored.
var retailColumns = []string{"InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"}

const (
	colInvoice = iota
	colStock
	colDescription
	colQuantity
	colDate
	colPrice
	colCustomer
)

// nonProductCodes are StockCodes for postage, fees, discounts and manual
// adjustments rather than goods.
var nonProductCodes = map[string]bool{
	"POST": true, "D": true, "M": true, "C2": true, "DOT": true, "BANK CHARGES": true,
	"AMAZONFEE": true, "PADS": true, "CRUK": true, "S": true, "B": true,
}

const retailTimeLayout = "2006-01-02 15:04:05"

// ReadOnlineRetail streams the UCI Online Retail CSV (plain, not gzipped) from
// r into sink with DefaultRetailConfig.
func ReadOnlineRetail(r io.Reader, sink RetailSink) (RetailStats, error) {
	return ReadOnlineRetailConfig(r, sink, DefaultRetailConfig())
}

// ReadOnlineRetailConfig is ReadOnlineRetail with an explicit configuration.
// Malformed rows are counted and skipped; only an unreadable header, a read
// error of r or a sink error stop the import.
func ReadOnlineRetailConfig(r io.Reader, sink RetailSink, cfg RetailConfig) (RetailStats, error) {
	if err := cfg.Validate(); err != nil {
		return RetailStats{}, fmt.Errorf("invalid retail config: %w", err)
	}
	rr := &retailReader{
		cfg:       cfg,
		sink:      sink,
		stats:     RetailStats{Skipped: map[string]int{}},
		products:  map[ID]*productState{},
		customers: map[ID]bool{},
		emitted:   map[string]int{},
	}
	err := rr.run(r)
	return rr.stats, err
}

type productState struct {
	product Product
	emitted bool
}

type openInvoice struct {
	key      string // InvoiceNo
	order    Order
	lineOf   map[ID]int // product -> index in order.Products
	lastSeen int        // row number of the last line added, for LRU
}

type retailReader struct {
	cfg       RetailConfig
	sink      RetailSink
	stats     RetailStats
	products  map[ID]*productState
	customers map[ID]bool
	// emitted maps an InvoiceNo to how many parts of it were emitted.
	emitted map[string]int
	open    []*openInvoice

	lastDate string
	lastUnix int64
}

func (rr *retailReader) run(r io.Reader) error {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		if err == io.EOF {
			return fmt.Errorf("cannot read retail header: %w: empty input", ErrBadHeader)
		}
		return fmt.Errorf("cannot read retail header: %w: %v", ErrBadHeader, err)
	}
	idx, err := retailHeader(header)
	if err != nil {
		return err
	}
	cr.FieldsPerRecord = len(header)
	maxIdx := 0
	for _, i := range idx {
		maxIdx = max(maxIdx, i)
	}

	for row := 1; ; row++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return fmt.Errorf("cannot read retail csv: %w", err)
			}
			rr.stats.Rows++
			rr.broken(pe.StartLine, pe.Err.Error())
			continue
		}
		rr.stats.Rows++
		line, _ := cr.FieldPos(0)
		if err := rr.row(rec, idx, line, row); err != nil {
			return err
		}
	}
	for len(rr.open) > 0 {
		if err := rr.flushOldest(); err != nil {
			return err
		}
	}
	return nil
}

func retailHeader(header []string) ([]int, error) {
	pos := make(map[string]int, len(header))
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		pos[h] = i
	}
	idx := make([]int, len(retailColumns))
	for i, name := range retailColumns {
		p, ok := pos[name]
		if !ok {
			return nil, fmt.Errorf("cannot read retail csv: %w: missing column %q", ErrBadHeader, name)
		}
		idx[i] = p
	}
	return idx, nil
}

func (rr *retailReader) skip(reason string) { rr.stats.Skipped[reason]++ }

func (rr *retailReader) broken(line int, reason string) {
	rr.skip(SkipMalformed)
	if len(rr.stats.Broken) < rr.cfg.MaxReportedErrors {
		rr.stats.Broken = append(rr.stats.Broken, RowError{Line: line, Reason: reason})
	}
}

func (rr *retailReader) row(rec []string, idx []int, line, row int) error {
	invoice := strings.TrimSpace(rec[idx[colInvoice]])
	stock := strings.TrimSpace(rec[idx[colStock]])
	if invoice == "" {
		rr.broken(line, "empty InvoiceNo")
		return nil
	}
	if stock == "" {
		rr.broken(line, "empty StockCode")
		return nil
	}
	qty, err := strconv.ParseFloat(strings.TrimSpace(rec[idx[colQuantity]]), 64)
	if err != nil || math.IsNaN(qty) || math.IsInf(qty, 0) {
		rr.broken(line, fmt.Sprintf("bad Quantity %q", truncate(rec[idx[colQuantity]], 40)))
		return nil
	}
	price, err := strconv.ParseFloat(strings.TrimSpace(rec[idx[colPrice]]), 64)
	if err != nil || math.IsNaN(price) || math.IsInf(price, 0) {
		rr.broken(line, fmt.Sprintf("bad UnitPrice %q", truncate(rec[idx[colPrice]], 40)))
		return nil
	}
	unix, err := rr.parseDate(rec[idx[colDate]])
	if err != nil {
		rr.broken(line, fmt.Sprintf("bad InvoiceDate %q", truncate(rec[idx[colDate]], 40)))
		return nil
	}
	rawCustomer := strings.TrimSpace(rec[idx[colCustomer]])
	var customer ID
	if rawCustomer != "" {
		c, ok := retailCustomerID(rawCustomer)
		if !ok {
			rr.broken(line, fmt.Sprintf("bad CustomerID %q", truncate(rawCustomer, 40)))
			return nil
		}
		customer = c
	}

	switch {
	case invoice[0] == 'C' || invoice[0] == 'c':
		rr.skip(SkipCancelled)
		return nil
	case customer == "":
		rr.skip(SkipNoCustomer)
		return nil
	case qty <= 0:
		rr.skip(SkipQuantity)
		return nil
	case price <= 0:
		rr.skip(SkipPrice)
		return nil
	case nonProductCodes[stock]:
		rr.skip(SkipNonProduct)
		return nil
	}

	pid := ID(stock)
	name := strings.TrimSpace(rec[idx[colDescription]])
	ps := rr.products[pid]
	if ps == nil {
		ps = &productState{product: Product{ID: pid, Name: name, Price: price}}
		rr.products[pid] = ps
	} else if ps.product.Name == "" && name != "" {
		ps.product.Name = name
		if ps.emitted {
			// Upsert so the catalog gets the first non-empty name.
			p := ps.product
			if err := rr.sink.Product(&p); err != nil {
				return fmt.Errorf("cannot emit product %s: %w", pid, err)
			}
		}
	}

	inv, err := rr.openFor(invoice, customer, unix)
	if err != nil {
		return err
	}
	inv.lastSeen = row
	inv.order.Time = min(inv.order.Time, unix)
	if i, ok := inv.lineOf[pid]; ok {
		l := &inv.order.Products[i]
		total := l.Quantity + qty
		l.Price = (l.Price*l.Quantity + price*qty) / total
		l.Quantity = total
		rr.stats.MergedRows++
		return nil
	}
	inv.lineOf[pid] = len(inv.order.Products)
	inv.order.Products = append(inv.order.Products, OrderLine{ID: pid, Quantity: qty, Price: price})
	return nil
}

// openFor returns the open invoice for key, opening it (and flushing the
// least recently touched invoice if the window is full) when needed.
func (rr *retailReader) openFor(key string, customer ID, unix int64) (*openInvoice, error) {
	for _, inv := range rr.open {
		// An invoice has one customer; a row naming another one starts a
		// separate order rather than corrupting this one. (Never seen on
		// the real file.)
		if inv.key == key && inv.order.Customer == customer {
			return inv, nil
		}
	}
	if len(rr.open) >= rr.cfg.OpenInvoices {
		if err := rr.flushOldest(); err != nil {
			return nil, err
		}
	}
	id := ID(key)
	if n := rr.emitted[key] + rr.openCount(key); n > 0 {
		id = ID(fmt.Sprintf("%s#%d", key, n+1))
		rr.stats.Continuations++
	}
	inv := &openInvoice{
		key:    key,
		order:  Order{ID: id, Time: unix, Customer: customer},
		lineOf: map[ID]int{},
	}
	rr.open = append(rr.open, inv)
	return inv, nil
}

func (rr *retailReader) openCount(key string) int {
	n := 0
	for _, inv := range rr.open {
		if inv.key == key {
			n++
		}
	}
	return n
}

// flushOldest emits the least recently touched open invoice together with
// any product or customer it is the first to name.
func (rr *retailReader) flushOldest() error {
	oldest := 0
	for i, inv := range rr.open {
		if inv.lastSeen < rr.open[oldest].lastSeen {
			oldest = i
		}
	}
	inv := rr.open[oldest]
	rr.open = append(rr.open[:oldest], rr.open[oldest+1:]...)
	rr.emitted[inv.key]++

	if c := inv.order.Customer; !rr.customers[c] {
		rr.customers[c] = true
		rr.stats.Customers++
		if err := rr.sink.Customer(&Customer{ID: c}); err != nil {
			return fmt.Errorf("cannot emit customer %s: %w", c, err)
		}
	}
	for _, l := range inv.order.Products {
		ps := rr.products[l.ID]
		if ps.emitted {
			continue
		}
		ps.emitted = true
		rr.stats.Products++
		p := ps.product
		if err := rr.sink.Product(&p); err != nil {
			return fmt.Errorf("cannot emit product %s: %w", l.ID, err)
		}
	}
	rr.stats.Orders++
	rr.stats.Lines += len(inv.order.Products)
	if err := rr.sink.Order(&inv.order); err != nil {
		return fmt.Errorf("cannot emit order %s: %w", inv.order.ID, err)
	}
	return nil
}

// parseDate converts an InvoiceDate to unix seconds (UTC). Consecutive rows
// mostly share a date, so the last conversion is cached.
func (rr *retailReader) parseDate(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == rr.lastDate && s != "" {
		return rr.lastUnix, nil
	}
	t, err := time.Parse(retailTimeLayout, s)
	if err != nil {
		return 0, err
	}
	if t.Unix() <= 0 {
		// An order time must be positive (Validate); such a date is a typo.
		return 0, fmt.Errorf("date %s before 1970", Quote(s))
	}
	rr.lastDate, rr.lastUnix = s, t.Unix()
	return rr.lastUnix, nil
}

// retailCustomerID turns the float-formatted CustomerID ("17850.0") into an
// integer id ("17850"). Anything with a non-zero fraction is rejected.
func retailCustomerID(s string) (ID, bool) {
	intPart, frac, hasFrac := strings.Cut(s, ".")
	if hasFrac && strings.Trim(frac, "0") != "" {
		return "", false
	}
	if intPart == "" {
		return "", false
	}
	for _, c := range intPart {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	return ID(intPart), true
}

// ReadOnlineRetailFile opens path, gunzips it when the name ends in ".gz",
// and streams it into sink with ReadOnlineRetail.
func ReadOnlineRetailFile(path string, sink RetailSink) (RetailStats, error) {
	f, err := os.Open(path)
	if err != nil {
		return RetailStats{}, fmt.Errorf("cannot open retail file: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return RetailStats{}, fmt.Errorf("cannot gunzip %s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	st, err := ReadOnlineRetail(r, sink)
	if err != nil {
		return st, fmt.Errorf("cannot import %s: %w", path, err)
	}
	return st, nil
}
