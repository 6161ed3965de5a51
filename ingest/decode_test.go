package ingest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func batchErrors(t *testing.T, err error) []RecordError {
	t.Helper()
	var be *BatchError
	if !errors.As(err, &be) {
		t.Fatalf("err = %v (%T), want *BatchError", err, err)
	}
	return be.Errors
}

func TestDecodeForms(t *testing.T) {
	lim := DefaultLimits()
	arr, err := DecodeProducts([]byte(`[{"id":1,"name":"a"},{"id":"2","name":"b"}]`), lim)
	if err != nil {
		t.Fatal(err)
	}
	if len(arr.Records) != 2 || arr.Records[0].ID != "1" || arr.Records[1].Name != "b" || arr.Other != nil {
		t.Errorf("array form = %+v", arr)
	}
	obj, err := DecodeProducts([]byte(`{"key":"pub","products":[{"id":3}],"private_key":"priv"}`), lim)
	if err != nil {
		t.Fatal(err)
	}
	if len(obj.Records) != 1 || obj.Records[0].ID != "3" || string(obj.Other["key"]) != `"pub"` || string(obj.Other["private_key"]) != `"priv"` {
		t.Errorf("object form = %+v", obj)
	}
	orders, err := DecodeOrders([]byte(`{"orders":[{"id":1,"time":5,"products":[{"id":2,"quantity":1,"price":3}]}]}`), lim)
	if err != nil || len(orders.Records) != 1 || orders.Records[0].Products[0].Price != 3 {
		t.Errorf("orders = %+v, %v", orders, err)
	}
	empty, err := DecodePages([]byte(` [ ] `), lim)
	if err != nil || len(empty.Records) != 0 {
		t.Errorf("empty = %+v, %v", empty, err)
	}
}

func TestDecodeErrors(t *testing.T) {
	lim := DefaultLimits()
	cases := []struct {
		name   string
		body   string
		kind   error
		index  int
		field  string
		reason string
	}{
		{"truncated", `[{"id":1},{"id":2`, ErrMalformedJSON, 1, "", "end of input"},
		{"syntax in record", "[{\"id\":1},\n{\"id\":2,,}]", ErrMalformedJSON, 1, "", "byte 19 (line 2, column 9)"},
		{"not a list", `"products"`, ErrMalformedJSON, -1, "", "want a list"},
		{"wrong member", `{"orders":[]}`, ErrMalformedJSON, -1, "", `no "products" member`},
		{"member not a list", `{"products":{}}`, ErrMalformedJSON, -1, "products", "want a list"},
		{"trailing data", `[] []`, ErrMalformedJSON, -1, "", "after the JSON value"},
		{"record not object", `[{"id":1},42]`, ErrWrongType, 1, "", "must be a JSON object"},
		{"wrong field type", `[{"id":1},{"id":"x","price":true}]`, ErrWrongType, 1, "price", "want number"},
		{"empty body", ``, ErrMalformedJSON, -1, "", "end of input"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeProducts([]byte(c.body), lim)
			errs := batchErrors(t, err)
			e := errs[0]
			if !errors.Is(err, c.kind) || e.Kind != c.kind || e.Index != c.index || e.Field != c.field || !strings.Contains(e.Reason, c.reason) {
				t.Errorf("error = %+v, want kind %v index %d field %q reason containing %q", e, c.kind, c.index, c.field, c.reason)
			}
			if StatusCode(err) != 400 {
				t.Errorf("status = %d, want 400", StatusCode(err))
			}
		})
	}
	// Every wrongly typed record is reported, with its id.
	_, err := DecodeProducts([]byte(`[{"id":"a","name":1},{"id":"ok"},{"id":"c","tags":{"x":1}}]`), lim)
	errs := batchErrors(t, err)
	if len(errs) != 2 || errs[0].Index != 0 || errs[0].ID != "a" || errs[1].Index != 2 || errs[1].ID != "c" || errs[1].Field != "tags" {
		t.Errorf("errors = %+v", errs)
	}
}

func TestDecodeLimits(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxBodyBytes = 20
	_, err := DecodeProducts([]byte(`[{"id":1},{"id":2},{"id":3}]`), lim)
	if !errors.Is(err, ErrBodyTooLarge) || StatusCode(err) != 413 {
		t.Errorf("body limit: err = %v (status %d)", err, StatusCode(err))
	}
	lim = DefaultLimits()
	lim.MaxRecords = 2
	_, err = DecodeProducts([]byte(`[{"id":1},{"id":2},{"id":3}]`), lim)
	if !errors.Is(err, ErrTooManyRecords) || StatusCode(err) != 413 {
		t.Errorf("record limit: err = %v (status %d)", err, StatusCode(err))
	}
	if _, err := DecodeProducts([]byte(`[{"id":1},{"id":2}]`), lim); err != nil {
		t.Errorf("at the record limit: %v", err)
	}
	lim = DefaultLimits()
	lim.MaxErrors = 3
	var b strings.Builder
	b.WriteString("[")
	for i := range 10 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id":%d,"name":false}`, i)
	}
	b.WriteString("]")
	_, err = DecodeProducts([]byte(b.String()), lim)
	if errs := batchErrors(t, err); len(errs) != 3 {
		t.Errorf("reported %d errors, want MaxErrors 3", len(errs))
	}
}

func TestValidate(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxNameBytes = 8
	lim.MaxExtraAttributes = 1
	lim.MaxListItems = 2
	stock := 1.0
	products := []Product{
		{ID: "ok", Name: "fine", Price: 1, Stock: &stock, Extra: map[string]any{"x": "y"}},
		{ID: "", Price: 1},
		{ID: "ok", Price: 1},
		{ID: "neg", Price: -1},
		{ID: "long", Name: "123456789"},
		{ID: "attrs", Extra: map[string]any{"a": 1.0, "b": 2.0}},
		{ID: "badx", Extra: map[string]any{"a": 1}},
		{ID: "cats", Categories: []ID{"1", "2", "3"}},
		{ID: "emptycat", Categories: []ID{""}},
		{ID: "shadow", Extra: map[string]any{"price": 1.0}},
	}
	errs := ValidateProducts(products, lim)
	want := []struct {
		index int
		field string
		kind  error
	}{
		{1, "id", ErrMissingID},
		{2, "id", ErrDuplicateID},
		{3, "price", ErrInvalidValue},
		{4, "name", ErrStringTooLong},
		{5, "", ErrTooManyAttributes},
		{6, "a", ErrWrongType},
		{7, "categories", ErrListTooLong},
		{8, "categories[0]", ErrMissingID},
		{9, "price", ErrWrongType},
	}
	if len(errs) != len(want) {
		t.Fatalf("got %d errors %v, want %d", len(errs), errs, len(want))
	}
	for i, w := range want {
		e := errs[i]
		if e.Index != w.index || e.Field != w.field || e.Kind != w.kind || e.ID != products[w.index].ID {
			t.Errorf("error %d = %+v, want index %d field %q kind %v", i, e, w.index, w.field, w.kind)
		}
	}
	if errs := ValidateProducts(products[:1], lim); len(errs) != 0 {
		t.Errorf("valid product rejected: %v", errs)
	}
}

func TestValidateOrdersAndCustomers(t *testing.T) {
	lim := DefaultLimits()
	orders := []Order{
		{ID: "1", Time: 10, Customer: "c", Email: "a@b.dk", Products: []OrderLine{{ID: "p", Quantity: 1, Price: 2}}},
		{ID: "2", Time: 0, Products: []OrderLine{{ID: "p", Quantity: 1}}},
		{ID: "3", Time: 10},
		{ID: "4", Time: 10, Products: []OrderLine{{ID: "p", Quantity: 0}}},
		{ID: "5", Time: 10, Products: []OrderLine{{ID: "", Quantity: 1}}},
		{ID: "6", Time: 10, Email: "not-an-email", Products: []OrderLine{{ID: "p", Quantity: 1}}},
	}
	errs := ValidateOrders(orders, lim)
	want := []string{"time", "products", "products[0].quantity", "products[0].id", "email"}
	if len(errs) != len(want) {
		t.Fatalf("errors = %v, want fields %v", errs, want)
	}
	for i, f := range want {
		if errs[i].Field != f || errs[i].Index != i+1 {
			t.Errorf("error %d = %+v, want record %d field %q", i, errs[i], i+1, f)
		}
	}
	customers := []Customer{
		{ID: "1", Email: "x@y.com"}, {ID: "2", Email: "Bob <b@y.com>"}, {ID: "3", Email: "b@localhost"}, {ID: "4"},
	}
	errs = ValidateCustomers(customers, lim)
	if len(errs) != 2 || errs[0].Index != 1 || errs[1].Index != 2 || !errors.Is(errs[0], ErrInvalidEmail) {
		t.Errorf("customer errors = %v, want records 1 and 2 invalid email", errs)
	}
	lim.MaxRecords = 3
	errs = ValidateCustomers(customers, lim)
	if len(errs) != 1 || errs[0].Kind != ErrTooManyRecords || StatusCode(&BatchError{Errors: errs}) != 413 {
		t.Errorf("too many records: %v", errs)
	}
}

func TestLimitsValidate(t *testing.T) {
	if err := DefaultLimits().Validate(); err != nil {
		t.Errorf("default limits invalid: %v", err)
	}
	lim := DefaultLimits()
	lim.MaxRecords = 0
	if lim.Validate() == nil {
		t.Error("MaxRecords 0 accepted")
	}
}

func benchmarkBody(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"products":[`)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id":%d,"name":"Product %d","description":"A fine product with a longer description text","price":%d.95,"image":"https://shop.example/img/%d.jpg","url":"https://shop.example/p/%d","categories":[%d,%d],"created_at":1500000000,"brand":"Acme","on_sale":true,"colors":["red","blue"]}`, i, i, i%500, i, i, i%40, i%7)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// BenchmarkDecodeValidateProducts measures the HTTP write path's parsing
// cost for a full batch of 10,000 products.
func BenchmarkDecodeValidateProducts(b *testing.B) {
	body := benchmarkBody(10_000)
	lim := DefaultLimits()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		batch, err := DecodeProducts(body, lim)
		if err != nil {
			b.Fatal(err)
		}
		if errs := ValidateProducts(batch.Records, lim); len(errs) != 0 {
			b.Fatal(errs)
		}
	}
	b.ReportMetric(float64(10_000*b.N)/b.Elapsed().Seconds(), "records/s")
}

func TestDecodeAndValidate(t *testing.T) {
	lim := DefaultLimits()
	b, err := DecodeAndValidate[Order]([]byte(`[{"id":1,"time":5,"products":[{"id":2,"quantity":1,"price":3}]}]`), lim)
	if err != nil || len(b.Records) != 1 {
		t.Fatalf("valid batch: %+v, %v", b, err)
	}
	_, err = DecodeAndValidate[Order]([]byte(`[{"id":1,"time":5,"products":[{"id":2,"quantity":1}]},{"id":1,"time":5,"products":[]}]`), lim)
	errs := batchErrors(t, err)
	if len(errs) != 2 || !errors.Is(err, ErrDuplicateID) || !errors.Is(err, ErrInvalidValue) || StatusCode(err) != 400 {
		t.Errorf("errors = %v (status %d), want duplicate id and empty products", errs, StatusCode(err))
	}
	if !strings.Contains(err.Error(), "invalid orders batch: record 1") {
		t.Errorf("message = %q", err.Error())
	}
	if _, err := DecodeAndValidate[Order]([]byte(`[{"id":1,"time":"x"}]`), lim); !errors.Is(err, ErrWrongType) {
		t.Errorf("wrong type: err = %v", err)
	}
}

// Misconfigured limits must never turn a failure into silence.
func TestZeroMaxErrorsStillFails(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxErrors = 0
	if _, err := DecodeProducts([]byte(`[{"id":1,"name":2}]`), lim); !errors.Is(err, ErrWrongType) {
		t.Errorf("decode: err = %v, want ErrWrongType", err)
	}
	if errs := ValidateProducts([]Product{{}}, lim); len(errs) != 1 {
		t.Errorf("validate: %v, want one error", errs)
	}
}
