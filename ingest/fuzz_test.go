package ingest

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func FuzzReadOnlineRetail(f *testing.F) {
	f.Add([]byte(retailHeaderLine + "1,A,a,2,2011-01-01 10:00:00,1.5,100.0,UK\n1,A,a,1,2011-01-01 10:01:00,2.5,100.0,UK\n"))
	f.Add([]byte(retailHeaderLine + "1,A,a,2,2011-01-01 10:00:00,1.5,100.0\n2,B,\"x\"y,1,bad,1,1,UK\n"))
	f.Add([]byte(retailHeaderLine + "C1,A,a,-2,2011-01-01 10:00:00,1.5,100.0,UK\n2,POST,p,1,2011-01-01 10:00:00,1,,UK\n"))
	f.Add([]byte(retailHeaderLine + "1,A,,1,2011-01-01 10:00:00,1,5.0,UK\n2,A,x,1,2011-01-01 10:00:00,1,6.0,UK\n1,C2,c,1,2011-01-01 10:00:00,1,5.0,UK\n1,E,e,1,2011-01-01 10:00:00,1,7.0,UK\n"))
	f.Add([]byte("InvoiceNo\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := DefaultRetailConfig()
		cfg.OpenInvoices = 1 + len(data)%3
		sink := newRecordingSink(t)
		st, err := ReadOnlineRetailConfig(bytes.NewReader(data), sink, cfg)
		if err != nil {
			return
		}
		if sink.violation != nil {
			t.Fatalf("sink contract broken: %v", sink.violation)
		}
		if got := skippedTotal(st) + st.Lines + st.MergedRows; got != st.Rows {
			t.Fatalf("rows %d != skipped %d + lines %d + merged %d", st.Rows, skippedTotal(st), st.Lines, st.MergedRows)
		}
		if st.Orders != len(sink.orders) || st.Customers != len(sink.customers) || st.Products != len(sink.products) {
			t.Fatalf("stats %+v disagree with the sink (%d orders, %d customers, %d products)", st, len(sink.orders), len(sink.customers), len(sink.products))
		}
		seen := map[ID]bool{}
		lines := 0
		for _, o := range sink.orders {
			if seen[o.ID] {
				t.Fatalf("order %s emitted twice", o.ID)
			}
			seen[o.ID] = true
			lines += len(o.Products)
			if errs := ValidateOrders([]Order{o}, DefaultLimits()); len(errs) != 0 && !strings.Contains(errs[0].Error(), "too long") {
				t.Fatalf("emitted order %+v is invalid: %v", o, errs)
			}
		}
		if lines != st.Lines {
			t.Fatalf("orders hold %d lines, stats say %d", lines, st.Lines)
		}
	})
}

// FuzzDecode checks that decoding never panics and that whatever decodes
// survives a marshal/decode round trip unchanged.
func FuzzDecode(f *testing.F) {
	f.Add(uint8(0), []byte(`[{"id":1,"name":"a","price":"2.5","categories":[1,"x"],"tags":["a"],"n":[1,2],"b":true,"created_at":"2008-01-01"}]`))
	f.Add(uint8(0), []byte(`{"key":"k","products":[{"id":"a","index":0,"stock":3,"dims":{"w":1}}]}`))
	f.Add(uint8(1), []byte(`[{"id":1,"time":"1500000000","customer":2,"products":[{"id":3,"quantity":"1","price":2}]}]`))
	f.Add(uint8(2), []byte(`[{"id":7,"email":"a@b.dk","vip":true,"mixed":[1,"a"]}]`))
	f.Add(uint8(3), []byte(`[{"id":1,"name":"c","subcategories":[2,3]},{"id":1.5}]`))
	f.Add(uint8(4), []byte(`[{"id":"p","type":"blog","text":"hi"}] x`))
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		lim := DefaultLimits()
		// Direct calls skip encoding/json's validation: they must not
		// panic on any input, and must agree with it on valid input.
		var direct, via Product
		directErr := direct.UnmarshalJSON(body)
		if json.Valid(body) {
			viaErr := json.Unmarshal(body, &via)
			if (directErr == nil) != (viaErr == nil) {
				t.Fatalf("direct decode error %v, via encoding/json %v", directErr, viaErr)
			}
		}
		var c Customer
		_ = c.UnmarshalJSON(body)
		var l OrderLine
		_ = l.UnmarshalJSON(body)
		switch kind % 5 {
		case 0:
			roundTrip[Product](t, body, lim)
		case 1:
			roundTrip[Order](t, body, lim)
		case 2:
			roundTrip[Customer](t, body, lim)
		case 3:
			roundTrip[Category](t, body, lim)
		default:
			roundTrip[Page](t, body, lim)
		}
	})
}

func roundTrip[T Record](t *testing.T, body []byte, lim Limits) {
	b, err := Decode[T](body, lim)
	if err != nil {
		if StatusCode(err) != 400 && StatusCode(err) != 413 {
			t.Fatalf("decode error %v maps to status %d", err, StatusCode(err))
		}
		return
	}
	Validate(b.Records, lim) // must not panic
	first, err := json.Marshal(b.Records)
	if err != nil {
		t.Fatalf("marshal decoded records: %v", err)
	}
	again, err := Decode[T](first, lim)
	if err != nil {
		t.Fatalf("cannot decode own output %s: %v", first, err)
	}
	second, err := json.Marshal(again.Records)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Fatalf("round trip changed records:\n%s\n%s", first, second)
	}
}

func FuzzReadFeed(f *testing.F) {
	f.Add([]byte(sampleFeed), uint8(2))
	f.Add([]byte(`{"products":[{"id":1,"price":-1},{"id":1}],"orders":[{"id":1,"products":[]}]}`), uint8(1))
	f.Add([]byte(`{"x":[[[{}]]],"pages":null,"customers":[{"id":1,"email":"bad"}]}`), uint8(3))
	f.Add([]byte(`{"products":[{"id":1}`), uint8(1))
	// The same id in two lists (or dropped records closing a batch early)
	// is legal: each delivered batch is checked on its own.
	f.Add([]byte(`{"products":[{"id":0,"price":-1},{"id":0}],"products":[{"id":0}]}`), uint8(1))
	f.Add([]byte(`{"config":{"created":"2020-01-01","strict":true},"sales":[{"id":1,"time":1,"products":[{"id":2,"quantity":1,"price":1}]}]}`), uint8(2))
	f.Add([]byte(`{"products":[{"id":1,"price":-1}],"strict":1,"created":17e8}`), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, batch uint8) {
		cfg := DefaultFeedConfig()
		cfg.BatchSize = 1 + int(batch%8)
		var rec feedRecorder
		st, err := ReadFeed(bytes.NewReader(data), &rec, cfg)
		if err != nil {
			return
		}
		calls := 0
		for _, n := range st.Batches {
			calls += n
		}
		if calls != len(rec.calls) {
			t.Fatalf("stats count %d batches, sink saw %d", calls, len(rec.calls))
		}
		if st.Records[KindProducts] != len(rec.products) || st.Records[KindOrders] != len(rec.orders) {
			t.Fatalf("stats %+v disagree with the sink", st)
		}
		// Each delivery must validate on its own; the same id may come
		// again in a later batch (a later record replaces an earlier one).
		for _, b := range rec.productBatches {
			if len(b) > cfg.BatchSize {
				t.Fatalf("delivered %d products in one batch, BatchSize %d", len(b), cfg.BatchSize)
			}
			if errs := ValidateProducts(b, cfg.Limits); len(errs) != 0 {
				t.Fatalf("delivered invalid products: %v", errs)
			}
		}
		if errs := ValidateOrders(rec.orders[:min(len(rec.orders), 1)], cfg.Limits); len(errs) != 0 {
			t.Fatalf("delivered invalid order: %v", errs)
		}
	})
}
