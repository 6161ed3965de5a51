package ingest

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestProductJSONExtraRoundTrip(t *testing.T) {
	in := `{"id":135,"name":"Green Lightsaber","price":"99.5","categories":[987,"sabers"],
		"created_at":"1199145600","on_sale":true,"age":3,"colors":["green","black"],
		"sizes":[1,2.5],"gender":"any","weird-name":1,"nothing":null,"index":0,"stock":"4"}`
	var p Product
	if err := json.Unmarshal([]byte(in), &p); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	if p.ID != "135" || p.Price != 99.5 || p.CreatedAt != 1199145600 || p.Index == nil || *p.Index || p.Stock == nil || *p.Stock != 4 {
		t.Errorf("built-ins = %+v", p)
	}
	if !reflect.DeepEqual(p.Categories, []ID{"987", "sabers"}) {
		t.Errorf("categories = %v", p.Categories)
	}
	wantExtra := map[string]any{
		"on_sale": true, "age": 3.0, "colors": []string{"green", "black"},
		"sizes": []float64{1, 2.5}, "gender": "any",
	}
	if !reflect.DeepEqual(p.Extra, wantExtra) {
		t.Errorf("extra = %#v, want %#v", p.Extra, wantExtra)
	}
	out, err := json.Marshal(p)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	for _, want := range []string{`"age":3`, `"colors":["green","black"]`, `"on_sale":true`, `"id":"135"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("marshalled %s lacks %s", out, want)
		}
	}
	var back Product
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatalf("unmarshal again: %v", err)
	}
	if !reflect.DeepEqual(back, p) {
		t.Errorf("round trip changed the product:\n got %#v\nwant %#v", back, p)
	}
}

func TestProductJSONRejects(t *testing.T) {
	cases := []struct {
		name, in, field, reason string
	}{
		{"nested object", `{"id":1,"dims":{"w":1}}`, "dims", "nested"},
		{"mixed list", `{"id":1,"tags":["a",1]}`, "tags", "mixed"},
		{"list of lists", `{"id":1,"tags":[[1]]}`, "tags", "not supported"},
		{"list of bools", `{"id":1,"flags":[true]}`, "flags", "not supported"},
		{"name as number", `{"id":1,"name":5}`, "name", "want string"},
		{"price as word", `{"id":1,"price":"cheap"}`, "price", "finite number"},
		{"fractional id", `{"id":1.5}`, "id", "integer"},
		{"id as object", `{"id":{}}`, "id", "string or an integer"},
		{"category object", `{"id":1,"categories":[{"id":2}]}`, "categories", "item 0"},
		{"bad date", `{"id":1,"created_at":"yesterday"}`, "created_at", "unix timestamp"},
		{"bad index", `{"id":1,"index":"maybe"}`, "index", "want bool"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p Product
			err := json.Unmarshal([]byte(c.in), &p)
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a FieldError", err)
			}
			if fe.Field != c.field || !strings.Contains(fe.Reason, c.reason) {
				t.Errorf("err = %v, want field %q with %q", fe, c.field, c.reason)
			}
		})
	}
}

func TestProductJSONTolerance(t *testing.T) {
	cases := []struct {
		in   string
		want Product
	}{
		{`{"id":"a","categories":7}`, Product{ID: "a", Categories: []ID{"7"}}},
		{`{"id":"a","created_at":1199145600.9}`, Product{ID: "a", CreatedAt: 1199145600}},
		{`{"id":"a","created_at":"2008-01-01"}`, Product{ID: "a", CreatedAt: 1199145600}},
		{`{"id":"a","created_at":"2008-01-01T01:00:00+01:00"}`, Product{ID: "a", CreatedAt: 1199145600}},
		{`{"id":"a","created_at":"2008-01-01 00:00:00"}`, Product{ID: "a", CreatedAt: 1199145600}},
		{`{"id":"a","name":null,"price":null,"categories":null}`, Product{ID: "a"}},
		{`{"id":12345678901234}`, Product{ID: "12345678901234"}},
		{`{"id":1e3}`, Product{ID: "1000"}},
	}
	for _, c := range cases {
		var p Product
		if err := json.Unmarshal([]byte(c.in), &p); err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(p, c.want) {
			t.Errorf("%s: got %+v, want %+v", c.in, p, c.want)
		}
	}
}

func TestCustomerJSONExtra(t *testing.T) {
	var c Customer
	if err := json.Unmarshal([]byte(`{"id":7,"email":"a@b.dk","vip":true,"zip":"2100"}`), &c); err != nil {
		t.Fatal(err)
	}
	want := Customer{ID: "7", Email: "a@b.dk", Extra: map[string]any{"vip": true, "zip": "2100"}}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v, want %+v", c, want)
	}
	out, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `{"id":"7","email":"a@b.dk","vip":true,"zip":"2100"}` {
		t.Errorf("marshal = %s", out)
	}
	c.Extra["email"] = "shadow"
	if _, err := json.Marshal(c); !errors.Is(err, ErrBadExtra) {
		t.Errorf("extra shadowing a field: err = %v, want ErrBadExtra", err)
	}
	c.Extra = map[string]any{"when": []int{1}}
	if _, err := json.Marshal(c); !errors.Is(err, ErrBadExtra) {
		t.Errorf("extra of type []int: err = %v, want ErrBadExtra", err)
	}
}

func TestOrderJSON(t *testing.T) {
	var o Order
	in := `{"id":1,"customer":99,"time":"1199145600","products":[{"id":5,"quantity":"2","price":1.5}],"extra":"ignored"}`
	if err := json.Unmarshal([]byte(in), &o); err != nil {
		t.Fatal(err)
	}
	want := Order{ID: "1", Customer: "99", Time: 1199145600, Products: []OrderLine{{ID: "5", Quantity: 2, Price: 1.5}}}
	if !reflect.DeepEqual(o, want) {
		t.Fatalf("got %+v, want %+v", o, want)
	}
	err := json.Unmarshal([]byte(`{"id":1,"products":[{"id":5},{"id":6,"quantity":"x"}]}`), &o)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "products[1].quantity" {
		t.Errorf("err = %v, want field products[1].quantity", err)
	}
}

func TestUnquoteMatchesEncodingJSON(t *testing.T) {
	for _, in := range []string{`"plain"`, `""`, `"tab\there"`, `"quote \" in"`, `"\u00e6\u00f8"`, `"æøå"`, "\"bad \xff utf8\"", ` "spaced" `} {
		var want string
		wantErr := json.Unmarshal([]byte(in), &want)
		got, err := unquote([]byte(in))
		if got != want || (err == nil) != (wantErr == nil) {
			t.Errorf("unquote(%s) = %q, %v; encoding/json gives %q, %v", in, got, err, want, wantErr)
		}
	}
}
