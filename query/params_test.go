package query

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/valyala/fasthttp"
)

func ctxWith(method, uri, body string) *fasthttp.RequestCtx {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(uri)
	ctx.Request.SetBodyString(body)
	return &ctx
}

func TestListParamForms(t *testing.T) {
	cases := []struct {
		method, uri, body string
		want              []string
	}{
		{"GET", `/x?products=["a",2,"c d"]`, "", []string{"a", "2", "c d"}},
		{"GET", `/x?products=a,2,%20c`, "", []string{"a", "2", "c"}},
		{"GET", `/x?products=single`, "", []string{"single"}},
		{"GET", `/x`, "", nil},
		{"POST", `/x`, `{"products":["a",2]}`, []string{"a", "2"}},
		{"POST", `/x`, `{"products":7}`, []string{"7"}},
		{"POST", `/x?products=["q"]`, `{"key":"k"}`, []string{"q"}}, // URL fills what the body lacks
	}
	for _, c := range cases {
		p, err := parseParams(ctxWith(c.method, c.uri, c.body))
		if err != nil {
			t.Fatalf("%s %s: %v", c.method, c.uri, err)
		}
		got, aerr := p.list("products")
		if aerr != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s %s %s: got %q (%v), want %q", c.method, c.uri, c.body, got, aerr, c.want)
		}
	}
}

func TestParamErrors(t *testing.T) {
	p, _ := parseParams(ctxWith("POST", "/x", `{"limit":"ten","products":{"a":1},"flag":"maybe"}`))
	var ae *APIError
	if _, err := p.intParam("limit", 10, 0, 100); !errors.As(err, &ae) || ae.Status != 400 {
		t.Fatalf("limit ten: %v", err)
	}
	if _, err := p.list("products"); err == nil {
		t.Fatal("an object is not a list")
	}
	if _, err := p.boolParam("flag", false); err == nil {
		t.Fatal("maybe is not a boolean")
	}
	if _, err := parseParams(ctxWith("POST", "/x", `{"limit":`)); err == nil || err.Type != ErrTypeBadRequest {
		t.Fatalf("truncated body: %v", err)
	}
	p, _ = parseParams(ctxWith("GET", "/x?limit=500", ""))
	if _, err := p.intParam("limit", 10, 0, 100); err == nil {
		t.Fatal("limit above max accepted")
	}
	if n, err := p.intParam("offset", 3, 0, 100); err != nil || n != 3 {
		t.Fatalf("absent offset = %d, %v; want the default 3", n, err)
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"plain", `q"uote`, "back\\slash", "new\nline", "ünï", "\x01"} {
		got := string(appendJSONString(nil, s))
		want, _ := jsonMarshalString(s)
		if got != want {
			t.Errorf("%q: got %s, want %s", s, got, want)
		}
	}
}

// FuzzParams feeds arbitrary query strings and bodies to the parameter
// parser: it must never panic, and a list it returns must come back the
// same when asked twice.
func FuzzParams(f *testing.F) {
	f.Add("products=[\"a\",1]&limit=5", `{"exclude":["x"],"limit":3}`)
	f.Add("exclude=a,,b", `[1,2]`)
	f.Add("limit=-1", `{"products":[{"a":1}]}`)
	f.Fuzz(func(t *testing.T, query, body string) {
		ctx := ctxWith("POST", "/x?"+query, body)
		p, err := parseParams(ctx)
		if err != nil {
			return
		}
		for _, name := range []string{"products", "exclude", "attributes", "limit"} {
			a, e1 := p.list(name)
			b, e2 := p.list(name)
			if (e1 == nil) != (e2 == nil) || !slices.Equal(a, b) {
				t.Fatalf("list %s not stable", name)
			}
			if c, err := p.listN(name, 3); err == nil && len(c) > 3 {
				t.Fatalf("listN(%s, 3) returned %d items", name, len(c))
			} else if err == nil && e1 == nil && len(a) <= 3 && !slices.Equal(a, c) {
				t.Fatalf("listN(%s, 3) = %q, list = %q", name, c, a)
			}
			p.str(name)
			p.intParam(name, 10, 0, 1000)
			p.boolParam(name, false)
		}
	})
}

func jsonMarshalString(s string) (string, error) {
	b, err := json.Marshal(s)
	return string(b), err
}

// BenchmarkRawListShort is the usual list parameter: one product id.
func BenchmarkRawListShort(b *testing.B) {
	raw := []byte(`["85123A"]`)
	for b.Loop() {
		if _, err := rawList("products", raw, 100); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRawItemsBothPathsAgree: the short-list fast path (Unmarshal) and the
// streaming decoder accept and refuse the same inputs.
func TestRawItemsBothPathsAgree(t *testing.T) {
	for _, in := range []string{`[]`, `["a"]`, `["a","b"]`, `[1, {"x":[1,2]}, null]`, `["a",]`, `[`, `"a"`, `["a"] x`, `[1,2,3]`} {
		fast, ferr := rawItems("p", []byte(in), 1000)
		slow, serr := streamItems("p", []byte(in), 1000)
		if (ferr == nil) != (serr == nil) || len(fast) != len(slow) {
			t.Fatalf("%s: fast %v %v, streaming %v %v", in, fast, ferr, slow, serr)
		}
	}
}
