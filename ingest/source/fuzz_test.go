package source

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"github.com/sibylhq/sibyl/ingest"
)

// fuzzSink checks each delivery as recordingSink does, but fails the
// fuzz target instead of logging.
func fuzzSink(t *testing.T) *recordingSink { return &recordingSink{t: t} }

func sum(m map[ingest.Kind]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// FuzzReadNDJSON: any input reads without panic; every line with content
// is either delivered or rejected, each delivered batch validates.
func FuzzReadNDJSON(f *testing.F) {
	f.Add([]byte("{\"id\":1,\"name\":\"a\",\"price\":1}\n{\"id\":2,\"price\":-1}\r\n\n{\"id\":1}\nnull\n[1]\n"), uint8(2))
	f.Add([]byte(`{"id":"x","categories":[1,2],"tags":["a"]}`), uint8(0))
	f.Add([]byte("{\"id\":1,\"name\":\""+strings.Repeat("x", 200)+"\"}\n{\"id\":2}"), uint8(1))
	f.Add([]byte("\xff\xfe{\n}\n"), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, batch uint8) {
		res := newResult()
		cfg := ingest.DefaultFeedConfig()
		cfg.BatchSize = 1 + int(batch%5)
		sink := fuzzSink(t)
		b := newBatcher(&tally{res: &res, cfg: cfg}, sink.Products, 0)
		n, err := readNDJSON(bytes.NewReader(data), b, 128)
		if err != nil {
			t.Fatalf("NDJSON read failed: %v", err) // only sink and bound errors may stop it
		}
		if err := b.flush(); err != nil {
			t.Fatal(err)
		}
		lines := 0
		for _, line := range bytes.Split(data, []byte("\n")) {
			// A line that fills the reader's buffer (128 + 2) is a
			// record error even when blank: it is never looked at.
			if len(bytes.TrimSpace(line)) > 0 || len(line) >= 130 {
				lines++
			}
		}
		if n != lines {
			t.Fatalf("read %d records, the input has %d non-blank lines", n, lines)
		}
		if got := len(sink.products) + sum(res.Rejected); got != n {
			t.Fatalf("%d delivered + %d rejected != %d read", len(sink.products), sum(res.Rejected), n)
		}
		if res.Records[ingest.KindProducts] != len(sink.products) {
			t.Fatalf("result counts %d, sink saw %d", res.Records[ingest.KindProducts], len(sink.products))
		}
	})
}

// FuzzReadJSONPage: any input reads or fails cleanly; counts agree.
func FuzzReadJSONPage(f *testing.F) {
	f.Add([]byte(`[{"id":1,"price":1},{"id":1}]`))
	f.Add([]byte(`{"x":{"y":[1,{}]},"products":[{"id":2}],"next":"/p?page=2"}`))
	f.Add([]byte(`{"products":null,"next_page":3}`))
	f.Add([]byte(`{"products":[{"id":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		res := newResult()
		sink := fuzzSink(t)
		b := newBatcher(&tally{res: &res, cfg: ingest.DefaultFeedConfig()}, sink.Products, 0)
		page, err := readJSONPage(bytes.NewReader(data), b, 1<<20)
		if err != nil {
			return
		}
		if err := b.flush(); err != nil {
			t.Fatal(err)
		}
		if len(sink.products)+sum(res.Rejected) != page.records {
			t.Fatalf("%d delivered + %d rejected != %d on the page", len(sink.products), sum(res.Rejected), page.records)
		}
	})
}

// FuzzReadCSV: any input, as products or orders, reads or fails cleanly;
// delivered batches validate and the counts agree with the sink.
func FuzzReadCSV(f *testing.F) {
	f.Add([]byte(productsCSV), false, false)
	f.Add([]byte("id,name,price,categories\n1,a,\"1,5\",x|y\n2,\"b\"\"c\",3\n\"unclosed,4\n"), false, true)
	f.Add([]byte("id,customer,time,product,quantity,price\n1,c,2024-01-01,p,2,1.5\n1,c,2024-01-01,q,x,1\n2,,1,p,1,1\n,,,,\n"), true, false)
	f.Add([]byte("\ufeffid\tproduct\n1\tp\n"), true, true)
	f.Fuzz(func(t *testing.T, data []byte, orders, comma bool) {
		cfg := DefaultCSVConfig()
		cfg.MaxRowBytes = 256
		cfg.DecimalComma = comma
		if orders {
			cfg.Kind = ingest.KindOrders
		}
		if len(data) > 0 && data[0]%2 == 0 {
			cfg.Delimiter = '\t'
		}
		res := newResult()
		sink := fuzzSink(t)
		if err := ReadCSV(bytes.NewReader(data), cfg, sink, &res); err != nil {
			return
		}
		if res.Records[ingest.KindProducts] != len(sink.products) || res.Records[ingest.KindOrders] != len(sink.orders) {
			t.Fatalf("result %v, sink %d products %d orders", res.Records, len(sink.products), len(sink.orders))
		}
		if len(res.Errors) > cfg.Feed.MaxReportedErrors || len(res.Errors) > sum(res.Rejected) {
			t.Fatalf("%d errors for %d rejected", len(res.Errors), sum(res.Rejected))
		}
		for _, o := range sink.orders {
			if len(o.Products) == 0 {
				t.Fatalf("empty order %s delivered", o.ID)
			}
		}
	})
}

// The format of a v2 page is told by Content-Type, else by its start.
func TestIsNDJSON(t *testing.T) {
	f := func(contentType, body string, want bool) {
		t.Helper()
		br := bufio.NewReaderSize(strings.NewReader(body), 64<<10)
		if got := isNDJSON(contentType, br, ingest.KindProducts); got != want {
			t.Errorf("%q %q: ndjson = %v, want %v", contentType, body, got, want)
		}
	}
	f("application/x-ndjson; charset=utf-8", `[{"id":1}]`, true)
	f("application/json", "{\"id\":1}\n{\"id\":2}\n", false)
	f("text/plain", "{\"id\":1}\n{\"id\":2}\n", true)
	f("", " [\n{\"id\":1}]", false)
	f("application/octet-stream", "{\n \"products\": []\n}", false)
	f("", `{"products":[{"id":1}],"next":null}`, false)
	f("", `{"id":1,"name":"one record only"}`, true)
}
