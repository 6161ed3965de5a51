package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sibylhq/sibyl/demo"
)

// recordingSink keeps everything it receives and checks the RetailSink
// contract: no order names a product or customer not emitted before it.
type recordingSink struct {
	t         testing.TB
	products  map[ID]Product
	customers map[ID]bool
	orders    []Order
	violation error
	failOn    string // "product", "customer" or "order": return errSinkFull
}

var errSinkFull = errors.New("sink full")

func newRecordingSink(t testing.TB) *recordingSink {
	return &recordingSink{t: t, products: map[ID]Product{}, customers: map[ID]bool{}}
}

func (s *recordingSink) Product(p *Product) error {
	if s.failOn == "product" {
		return errSinkFull
	}
	s.products[p.ID] = *p
	return nil
}

func (s *recordingSink) Customer(c *Customer) error {
	if s.failOn == "customer" {
		return errSinkFull
	}
	s.customers[c.ID] = true
	return nil
}

func (s *recordingSink) Order(o *Order) error {
	if s.failOn == "order" {
		return errSinkFull
	}
	if !s.customers[o.Customer] && s.violation == nil {
		s.violation = fmt.Errorf("order %s names unknown customer %s", o.ID, o.Customer)
	}
	for _, l := range o.Products {
		if _, ok := s.products[l.ID]; !ok && s.violation == nil {
			s.violation = fmt.Errorf("order %s names unknown product %s", o.ID, l.ID)
		}
	}
	s.orders = append(s.orders, *o)
	return nil
}

func (s *recordingSink) order(id ID) *Order {
	for i := range s.orders {
		if s.orders[i].ID == id {
			return &s.orders[i]
		}
	}
	return nil
}

func skippedTotal(st RetailStats) int {
	n := 0
	for _, v := range st.Skipped {
		n += v
	}
	return n
}

func checkRowBalance(t *testing.T, st RetailStats) {
	t.Helper()
	if got := skippedTotal(st) + st.Lines + st.MergedRows; got != st.Rows {
		t.Errorf("skipped %d + lines %d + merged %d = %d, want rows %d", skippedTotal(st), st.Lines, st.MergedRows, got, st.Rows)
	}
}

func TestReadOnlineRetailRealFile(t *testing.T) {
	f := openOnlineRetail(t)
	defer f.Close()
	sink := newRecordingSink(t)
	st, err := ReadOnlineRetail(f, sink)
	if err != nil {
		t.Fatalf("ReadOnlineRetail: %v", err)
	}
	if sink.violation != nil {
		t.Fatalf("sink contract broken: %v", sink.violation)
	}
	checkRowBalance(t, st)
	// Expected figures were computed independently with Python's csv module
	// over the same file, applying the same filters.
	want := map[string]int{
		SkipCancelled:  9288,
		SkipNoCustomer: 134697,
		SkipPrice:      40,
		SkipNonProduct: 1547,
	}
	for reason, n := range want {
		if st.Skipped[reason] != n {
			t.Errorf("skipped[%s] = %d, want %d", reason, st.Skipped[reason], n)
		}
	}
	for reason, n := range st.Skipped {
		if _, ok := want[reason]; !ok && n != 0 {
			t.Errorf("unexpected skip reason %s: %d rows (broken: %v)", reason, n, st.Broken)
		}
	}
	checks := []struct {
		name      string
		got, want int
	}{
		{"rows", st.Rows, 541909},
		{"orders", st.Orders, 18402},
		{"lines", st.Lines, 386326},
		{"merged rows", st.MergedRows, 10011},
		{"products", st.Products, 3659},
		{"customers", st.Customers, 4334},
		{"continuations", st.Continuations, 0},
		{"orders received", len(sink.orders), 18402},
		{"products received", len(sink.products), 3659},
		{"customers received", len(sink.customers), 4334},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	var revenue, qty float64
	ids := map[ID]bool{}
	for _, o := range sink.orders {
		if ids[o.ID] {
			t.Fatalf("order %s emitted twice", o.ID)
		}
		ids[o.ID] = true
		for _, l := range o.Products {
			revenue += l.Quantity * l.Price
			qty += l.Quantity
		}
	}
	if qty != 5157354 {
		t.Errorf("sum of quantities = %v, want 5157354", qty)
	}
	if math.Abs(revenue-8761066.650) > 0.01 {
		t.Errorf("revenue = %.3f, want 8761066.650 (merging must keep revenue)", revenue)
	}
	// 542806 is interrupted by two cancellation rows; it must stay whole.
	o := sink.order("542806")
	if o == nil || len(o.Products) != 39 {
		t.Fatalf("invoice 542806 = %+v, want one order of 39 lines", o)
	}
	if o.Time != 1296559140 { // 2011-02-01 11:19:00 UTC, the earliest row
		t.Errorf("invoice 542806 time = %d, want 1296559140", o.Time)
	}
	// Over kept rows every invoice is contiguous: even a window of one
	// open invoice needs no continuation.
	f2 := openOnlineRetail(t)
	defer f2.Close()
	cfg := DefaultRetailConfig()
	cfg.OpenInvoices = 1
	st1, err := ReadOnlineRetailConfig(f2, nopRetailSink{}, cfg)
	if err != nil || st1.Continuations != 0 || st1.Orders != st.Orders || st1.Lines != st.Lines {
		t.Errorf("window of one: %+v, %v; want the same orders and no continuation", st1, err)
	}
	first := sink.order("536365")
	if first == nil || first.Customer != "17850" || first.Time != 1291191960 {
		t.Errorf("invoice 536365 = %+v, want customer 17850 at 1291191960", first)
	}
	if p := sink.products["85123A"]; p.Name != "WHITE HANGING HEART T-LIGHT HOLDER" || p.Price != 2.55 {
		t.Errorf("product 85123A = %+v", p)
	}
}

const retailHeaderLine = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"

func TestReadOnlineRetailBrokenRows(t *testing.T) {
	in := retailHeaderLine +
		"1,A,Alpha,2,2011-01-01 10:00:00,1.5,100.0,UK\n" + // line 2
		"1,B,Beta,1,2011-01-01 10:00:00,2.0,100.0\n" + // line 3: 7 fields
		"1,C,\"multi\nline\",1,2011-01-01 10:00:00,2.0,100.0,UK\n" + // lines 4-5: fine
		"1,D,Delta,two,2011-01-01 10:00:00,2.0,100.0,UK\n" + // line 6: bad quantity
		"1,E,Echo,1,01/01/2011 10:00,2.0,100.0,UK\n" + // line 7: bad date
		"1,F,Fox,1,2011-01-01 10:00:00,1e,100.0,UK\n" + // line 8: bad price
		"1,G,Golf,1,2011-01-01 10:00:00,1,100.5,UK\n" + // line 9: bad customer
		"1,H,\"Ho\"tel,1,2011-01-01 10:00:00,1,100.0,UK\n" + // line 10: bare quote
		"2,A,,3,2011-01-02 10:00:00,1.0,200.0,UK\n" // line 11
	sink := newRecordingSink(t)
	st, err := ReadOnlineRetail(strings.NewReader(in), sink)
	if err != nil {
		t.Fatalf("ReadOnlineRetail: %v", err)
	}
	checkRowBalance(t, st)
	if st.Rows != 9 {
		t.Errorf("rows = %d, want 9", st.Rows)
	}
	if st.Skipped[SkipMalformed] != 6 {
		t.Errorf("malformed = %d, want 6", st.Skipped[SkipMalformed])
	}
	wantLines := []struct {
		line int
		word string
	}{{3, "fields"}, {6, "Quantity"}, {7, "InvoiceDate"}, {8, "UnitPrice"}, {9, "CustomerID"}, {10, "quote"}}
	if len(st.Broken) != len(wantLines) {
		t.Fatalf("broken = %v, want %d entries", st.Broken, len(wantLines))
	}
	for i, w := range wantLines {
		if st.Broken[i].Line != w.line || !strings.Contains(st.Broken[i].Reason, w.word) {
			t.Errorf("broken[%d] = %v, want line %d mentioning %q", i, st.Broken[i], w.line, w.word)
		}
	}
	if st.Orders != 2 || len(sink.orders) != 2 {
		t.Fatalf("orders = %d (%v), want 2", st.Orders, sink.orders)
	}
	if got := sink.order("1"); got == nil || len(got.Products) != 2 {
		t.Errorf("order 1 = %+v, want lines A and C", got)
	}
	if sink.products["C"].Name != "multi\nline" {
		t.Errorf("product C = %+v", sink.products["C"])
	}
}

func TestReadOnlineRetailFiltersAndMerges(t *testing.T) {
	in := retailHeaderLine +
		"10,A,  Alpha  ,2,2011-01-01 10:00:59,1.0,7.0,UK\n" +
		"10,POST,Postage,1,2011-01-01 10:00:59,18,7.0,UK\n" +
		"10,A,Alpha other,3,2011-01-01 10:01:00,2.0,7.0,UK\n" +
		"10,BB,,1,2011-01-01 09:59:00,5.0,7.0,UK\n" +
		"C11,A,Alpha,-1,2011-01-01 11:00:00,1.0,7.0,UK\n" +
		"12,A,Alpha,1,2011-01-01 11:00:00,1.0,,UK\n" +
		"13,A,Alpha,0,2011-01-01 11:00:00,1.0,8.0,UK\n" +
		"13,A,Alpha,1,2011-01-01 11:00:00,0,8.0,UK\n" +
		"14,BB,Bravo,1,2011-01-01 12:00:00,4.0,8.0,UK\n"
	sink := newRecordingSink(t)
	st, err := ReadOnlineRetail(strings.NewReader(in), sink)
	if err != nil {
		t.Fatalf("ReadOnlineRetail: %v", err)
	}
	if sink.violation != nil {
		t.Fatal(sink.violation)
	}
	checkRowBalance(t, st)
	want := map[string]int{SkipNonProduct: 1, SkipCancelled: 1, SkipNoCustomer: 1, SkipQuantity: 1, SkipPrice: 1}
	for k, v := range want {
		if st.Skipped[k] != v {
			t.Errorf("skipped[%s] = %d, want %d", k, st.Skipped[k], v)
		}
	}
	o := sink.order("10")
	if o == nil || len(o.Products) != 2 {
		t.Fatalf("order 10 = %+v, want 2 lines", o)
	}
	a := o.Products[0]
	if a.ID != "A" || a.Quantity != 5 || math.Abs(a.Price-1.6) > 1e-12 {
		t.Errorf("merged line = %+v, want A x5 at weighted 1.6", a)
	}
	if o.Time != 1293875940 { // 09:59:00, the earliest row
		t.Errorf("order time = %d, want 1293875940", o.Time)
	}
	if st.MergedRows != 1 {
		t.Errorf("merged rows = %d, want 1", st.MergedRows)
	}
	if p := sink.products["A"]; p.Name != "Alpha" || p.Price != 1.0 {
		t.Errorf("product A = %+v, want trimmed first name and first price", p)
	}
	// BB was emitted nameless with order 10 and re-emitted once named.
	if p := sink.products["BB"]; p.Name != "Bravo" || p.Price != 5.0 {
		t.Errorf("product B = %+v, want name Bravo, first price 5", p)
	}
	if st.Products != 2 || st.Customers != 2 || st.Orders != 2 {
		t.Errorf("stats = %+v", st)
	}
}

func TestReadOnlineRetailInterleavedInvoices(t *testing.T) {
	in := retailHeaderLine +
		"1,A,a,1,2011-01-01 10:00:00,1,5.0,UK\n" +
		"2,BB,b,1,2011-01-01 10:00:00,1,6.0,UK\n" +
		"1,CC,c,1,2011-01-01 10:00:00,1,5.0,UK\n" +
		"3,A,a,1,2011-01-01 10:00:00,1,6.0,UK\n"

	t.Run("window absorbs", func(t *testing.T) {
		sink := newRecordingSink(t)
		st, err := ReadOnlineRetail(strings.NewReader(in), sink)
		if err != nil {
			t.Fatal(err)
		}
		if st.Orders != 3 || st.Continuations != 0 {
			t.Fatalf("stats = %+v, want 3 orders, no continuation", st)
		}
		if o := sink.order("1"); o == nil || len(o.Products) != 2 {
			t.Errorf("order 1 = %+v, want lines A and CC", o)
		}
	})
	t.Run("window of one continues", func(t *testing.T) {
		sink := newRecordingSink(t)
		cfg := DefaultRetailConfig()
		cfg.OpenInvoices = 1
		st, err := ReadOnlineRetailConfig(strings.NewReader(in), sink, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if st.Orders != 4 || st.Continuations != 1 {
			t.Fatalf("stats = %+v, want 4 orders, 1 continuation", st)
		}
		if o := sink.order("1#2"); o == nil || len(o.Products) != 1 || o.Products[0].ID != "CC" {
			t.Errorf("continuation = %+v, want order 1#2 with line CC", o)
		}
		if o := sink.order("1"); o == nil || len(o.Products) != 1 || o.Products[0].ID != "A" {
			t.Errorf("order 1 = %+v, want line A only", o)
		}
	})
}

func TestReadOnlineRetailErrors(t *testing.T) {
	if _, err := ReadOnlineRetail(strings.NewReader("InvoiceNo,StockCode\n1,A\n"), newRecordingSink(t)); !errors.Is(err, ErrBadHeader) {
		t.Errorf("missing columns: err = %v, want ErrBadHeader", err)
	}
	if _, err := ReadOnlineRetail(strings.NewReader(""), newRecordingSink(t)); !errors.Is(err, ErrBadHeader) {
		t.Errorf("empty input: err = %v, want ErrBadHeader", err)
	}
	in := retailHeaderLine + "1,A,a,1,2011-01-01 10:00:00,1,5.0,UK\n"
	for _, kind := range []string{"product", "customer", "order"} {
		sink := newRecordingSink(t)
		sink.failOn = kind
		if _, err := ReadOnlineRetail(strings.NewReader(in), sink); !errors.Is(err, errSinkFull) {
			t.Errorf("sink failing on %s: err = %v, want errSinkFull", kind, err)
		}
	}
	cfg := DefaultRetailConfig()
	cfg.OpenInvoices = 0
	if _, err := ReadOnlineRetailConfig(strings.NewReader(in), newRecordingSink(t), cfg); err == nil {
		t.Error("OpenInvoices 0 accepted")
	}
}

// Reordered columns are found by name.
func TestReadOnlineRetailColumnOrder(t *testing.T) {
	in := "Country,CustomerID,UnitPrice,InvoiceDate,Quantity,Description,StockCode,InvoiceNo\n" +
		"UK,42.0,3.5,2011-01-01 10:00:00,2,Thing,X1,77\n"
	sink := newRecordingSink(t)
	if _, err := ReadOnlineRetail(strings.NewReader(in), sink); err != nil {
		t.Fatal(err)
	}
	o := sink.order("77")
	if o == nil || o.Customer != "42" || len(o.Products) != 1 || o.Products[0] != (OrderLine{ID: "X1", Quantity: 2, Price: 3.5}) {
		t.Errorf("order = %+v", o)
	}
}

type nopRetailSink struct{}

func (nopRetailSink) Product(*Product) error   { return nil }
func (nopRetailSink) Customer(*Customer) error { return nil }
func (nopRetailSink) Order(*Order) error       { return nil }

func BenchmarkReadOnlineRetail(b *testing.B) {
	f := openOnlineRetail(b)
	data, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	var rows int
	for b.Loop() {
		st, err := ReadOnlineRetail(bytes.NewReader(data), nopRetailSink{})
		if err != nil {
			b.Fatal(err)
		}
		rows += st.Rows
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

func TestReadOnlineRetailFile(t *testing.T) {
	path := demo.OnlineRetail(t)
	plain := filepath.Join(t.TempDir(), "small.csv")
	if err := os.WriteFile(plain, []byte(retailHeaderLine+"1,A,a,1,2011-01-01 10:00:00,1,5.0,UK\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := ReadOnlineRetailFile(plain, newRecordingSink(t))
	if err != nil || st.Orders != 1 {
		t.Errorf("plain file: %+v, %v", st, err)
	}
	st, err = ReadOnlineRetailFile(path, nopRetailSink{})
	if err != nil || st.Rows != 541909 {
		t.Errorf("gzip file: rows %d, %v", st.Rows, err)
	}
	if _, err := ReadOnlineRetailFile(filepath.Join(t.TempDir(), "missing.csv"), nopRetailSink{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v, want ErrNotExist", err)
	}
}
