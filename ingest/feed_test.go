package ingest

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// feedRecorder logs every sink call as "kind:id,id".
type feedRecorder struct {
	calls    []string
	products []Product
	// productBatches keeps each delivery apart: ids are unique within
	// one delivered batch, not across batches.
	productBatches [][]Product
	orders         []Order
	onCall         func()
	fail           error
}

func ids[T any](recs []T, id func(*T) ID) string {
	s := make([]string, len(recs))
	for i := range recs {
		s[i] = string(id(&recs[i]))
	}
	return strings.Join(s, ",")
}

func (f *feedRecorder) log(kind Kind, list string) error {
	f.calls = append(f.calls, string(kind)+":"+list)
	if f.onCall != nil {
		f.onCall()
	}
	return f.fail
}

func (f *feedRecorder) Categories(c []Category) error {
	return f.log(KindCategories, ids(c, func(r *Category) ID { return r.ID }))
}
func (f *feedRecorder) Products(p []Product) error {
	f.products = append(f.products, p...)
	f.productBatches = append(f.productBatches, slices.Clone(p))
	return f.log(KindProducts, ids(p, func(r *Product) ID { return r.ID }))
}
func (f *feedRecorder) Customers(c []Customer) error {
	return f.log(KindCustomers, ids(c, func(r *Customer) ID { return r.ID }))
}
func (f *feedRecorder) Orders(o []Order) error {
	f.orders = append(f.orders, o...)
	return f.log(KindOrders, ids(o, func(r *Order) ID { return r.ID }))
}
func (f *feedRecorder) Pages(p []Page) error {
	return f.log(KindPages, ids(p, func(r *Page) ID { return r.ID }))
}

const sampleFeed = `{
  "orders": [{"id":"o1","time":1500000000,"customer":9,"products":[{"id":1,"quantity":1,"price":5}]}],
  "generator": {"name":"shop", "nested":[1,[2,{"x":[]}]]},
  "products": [
    {"id":1,"name":"a","price":5,"color":"red"},
    {"id":2,"name":"b","price":6},
    {"id":3,"name":"c","price":7},
    {"id":4,"name":"d","price":8},
    {"id":5,"name":"e","price":9}
  ],
  "customers": null,
  "categories": [{"id":10,"name":"cat","subcategories":[11]}],
  "version": 1,
  "pages": [{"id":"p","title":"About"}]
}`

func TestReadFeed(t *testing.T) {
	cfg := DefaultFeedConfig()
	cfg.BatchSize = 2
	var rec feedRecorder
	st, err := ReadFeed(strings.NewReader(sampleFeed), &rec, cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"orders:o1", "products:1,2", "products:3,4", "products:5", "categories:10", "pages:p"}
	if !reflect.DeepEqual(rec.calls, want) {
		t.Errorf("calls = %v, want %v", rec.calls, want)
	}
	if st.Records[KindProducts] != 5 || st.Batches[KindProducts] != 3 || st.Records[KindOrders] != 1 || len(st.Errors) != 0 {
		t.Errorf("stats = %+v", st)
	}
	if !reflect.DeepEqual(st.Unknown, []string{"generator", "version"}) {
		t.Errorf("unknown = %v", st.Unknown)
	}
	if rec.products[0].Extra["color"] != "red" || rec.orders[0].Customer != "9" {
		t.Errorf("records lost attributes: %+v %+v", rec.products[0], rec.orders[0])
	}
}

func TestReadFeedSkipsInvalidRecords(t *testing.T) {
	feed := `{"products":[
		{"id":1,"price":1},
		{"id":2,"price":-1},
		{"id":3,"price":"x"},
		{"id":1,"price":2},
		{"price":3},
		{"id":6,"price":-1,"name":5},
		{"id":7,"price":1}
	]}`
	cfg := DefaultFeedConfig()
	var rec feedRecorder
	st, err := ReadFeed(strings.NewReader(feed), &rec, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"products:1,7"}; !reflect.DeepEqual(rec.calls, want) {
		t.Errorf("calls = %v, want %v", rec.calls, want)
	}
	if st.Rejected[KindProducts] != 5 || st.Records[KindProducts] != 2 {
		t.Errorf("rejected %d delivered %d, want 5 and 2", st.Rejected[KindProducts], st.Records[KindProducts])
	}
	// Decode errors come first (as read), then the batch's validation.
	want := []struct {
		index int
		kind  error
	}{{2, ErrWrongType}, {5, ErrWrongType}, {1, ErrInvalidValue}, {3, ErrDuplicateID}, {4, ErrMissingID}}
	if len(st.Errors) != len(want) {
		t.Fatalf("errors = %v", st.Errors)
	}
	for i, w := range want {
		if st.Errors[i].Index != w.index || !errors.Is(st.Errors[i], w.kind) || st.Errors[i].Kind != KindProducts {
			t.Errorf("error %d = %v, want record %d %v", i, st.Errors[i], w.index, w.kind)
		}
	}

	cfg.Strict = true
	rec = feedRecorder{}
	_, err = ReadFeed(strings.NewReader(feed), &rec, cfg)
	if !errors.Is(err, ErrInvalidFeed) || !strings.Contains(err.Error(), "record 2") {
		t.Errorf("strict: err = %v, want ErrInvalidFeed naming record 2", err)
	}
}

func TestReadFeedErrors(t *testing.T) {
	cases := map[string]string{
		"not an object":   `[]`,
		"list not a list": `{"products":{}}`,
		"truncated":       `{"products":[{"id":1}`,
		"syntax":          `{"products":[{"id":1},]}`,
		"trailing":        `{} {}`,
		"empty":           ``,
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := ReadFeed(strings.NewReader(in), &feedRecorder{}, DefaultFeedConfig()); !errors.Is(err, ErrInvalidFeed) {
				t.Errorf("err = %v, want ErrInvalidFeed", err)
			}
		})
	}
	sinkErr := errors.New("push failed")
	_, err := ReadFeed(strings.NewReader(sampleFeed), &feedRecorder{fail: sinkErr}, DefaultFeedConfig())
	if !errors.Is(err, sinkErr) {
		t.Errorf("sink error: err = %v", err)
	}
	cfg := DefaultFeedConfig()
	cfg.BatchSize = cfg.Limits.MaxRecords + 1
	if _, err := ReadFeed(strings.NewReader(`{}`), &feedRecorder{}, cfg); err == nil {
		t.Error("batch size above MaxRecords accepted")
	}
}

// countingReader counts the bytes handed out so far.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// The first batch must reach the sink long before the input is consumed:
// proof that the reader streams instead of loading the feed.
func TestReadFeedStreams(t *testing.T) {
	const products = 50_000
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		var err error
		write := func(s string) {
			if err == nil {
				_, err = io.WriteString(pw, s)
			}
		}
		write(`{"products":[`)
		for i := range products {
			if i > 0 {
				write(",")
			}
			write(fmt.Sprintf(`{"id":%d,"name":"product %d","price":%d.5}`, i, i, i%100))
		}
		write(`]}`)
		pw.CloseWithError(err)
		done <- err
	}()
	cr := &countingReader{r: pr}
	var readAtFirst int64 = -1
	rec := &feedRecorder{}
	rec.onCall = func() {
		if readAtFirst < 0 {
			readAtFirst = cr.n
		}
	}
	cfg := DefaultFeedConfig()
	st, err := ReadFeed(cr, rec, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if werr := <-done; werr != nil {
		t.Fatal(werr)
	}
	if st.Records[KindProducts] != products || st.Batches[KindProducts] != products/cfg.BatchSize {
		t.Errorf("stats = %+v", st)
	}
	if readAtFirst <= 0 || readAtFirst > cr.n/10 {
		t.Errorf("first batch delivered after reading %d of %d bytes; the reader does not stream", readAtFirst, cr.n)
	}
}

// Clerk's original feed names the orders list "sales" and carries
// "created" and "strict" (docs.clerk.io/docs/data-feed); some generators
// put the two in a "config" object.
func TestReadFeedLegacyKeysAndConfig(t *testing.T) {
	feed := `{"config":{"created":1700000000,"generator":{"x":[1]}},
		"products":[{"id":1,"price":2}],
		"sales":[{"id":"s1","time":1500000000,"products":[{"id":1,"quantity":2,"price":2}]}],
		"pages":null,"categories":[]}`
	var rec feedRecorder
	st, err := ReadFeed(strings.NewReader(feed), &rec, DefaultFeedConfig())
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.orders) != 1 || rec.orders[0].ID != "s1" || rec.orders[0].Products[0].Quantity != 2 {
		t.Errorf("sales read as orders: %+v", rec.orders)
	}
	if st.Created != 1700000000 || st.Strict {
		t.Errorf("created %d strict %v, want 1700000000 false", st.Created, st.Strict)
	}
	if want := []Kind{KindProducts, KindOrders, KindCategories}; !reflect.DeepEqual(st.Kinds, want) {
		t.Errorf("kinds = %v, want %v (null pages is not a list)", st.Kinds, want)
	}
	if len(st.Unknown) != 0 {
		t.Errorf("unknown = %v", st.Unknown)
	}

	// Top-level settings, as in Clerk's specification; created as a date.
	st, err = ReadFeed(strings.NewReader(`{"created":"2024-01-02","strict":false}`), &feedRecorder{}, DefaultFeedConfig())
	if err != nil || st.Created != 1704153600 || len(st.Kinds) != 0 {
		t.Errorf("top-level created: %+v, %v", st, err)
	}
	for _, bad := range []string{`{"config":[]}`, `{"created":{}}`, `{"config":{"strict":"maybe"}}`} {
		if _, err := ReadFeed(strings.NewReader(bad), &feedRecorder{}, DefaultFeedConfig()); !errors.Is(err, ErrInvalidFeed) {
			t.Errorf("%s: err = %v, want ErrInvalidFeed", bad, err)
		}
	}
}

// A strict feed stops at the first invalid record after the flag, and
// fails at the end when one was skipped before the flag was read.
func TestReadFeedStrictFromDocument(t *testing.T) {
	var rec feedRecorder
	_, err := ReadFeed(strings.NewReader(`{"strict":true,"products":[{"id":1},{"id":2,"price":-1},{"id":3}]}`), &rec, DefaultFeedConfig())
	if !errors.Is(err, ErrInvalidFeed) || !strings.Contains(err.Error(), "record 1") {
		t.Errorf("strict first: err = %v, want ErrInvalidFeed naming record 1", err)
	}
	if len(rec.products) != 0 {
		t.Errorf("strict feed delivered %v", rec.calls)
	}
	rec = feedRecorder{}
	st, err := ReadFeed(strings.NewReader(`{"products":[{"id":1},{"id":2,"price":-1}],"config":{"strict":true}}`), &rec, DefaultFeedConfig())
	if !errors.Is(err, ErrInvalidFeed) || !strings.Contains(err.Error(), "strict and 1 records") || !st.Strict {
		t.Errorf("strict last: err = %v, stats %+v", err, st)
	}
	// strict false changes nothing.
	st, err = ReadFeed(strings.NewReader(`{"config":{"strict":false},"products":[{"id":1},{"id":2,"price":-1}]}`), &feedRecorder{}, DefaultFeedConfig())
	if err != nil || st.Rejected[KindProducts] != 1 || st.Records[KindProducts] != 1 {
		t.Errorf("non-strict: %+v, %v", st, err)
	}
}
