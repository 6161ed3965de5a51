package query

import (
	"io"
	"log/slog"
	"testing"

	"github.com/valyala/fasthttp"
)

// BenchmarkRoute is a request's way through the router to a handler that
// does almost nothing: /health (exact path), an unknown path (404), and a
// templated path (/v2/stores/{id}/limits, refused with 401 before its
// handler runs).
func BenchmarkRoute(b *testing.B) {
	s, err := New(DefaultConfig(), &fakeBackend{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, method, uri string }{
		{"health", "GET", "/health"},
		{"unknown", "GET", "/v2/nope"},
		{"template", "POST", "/v2/stores/st_1/limits"},
	} {
		b.Run(c.name, func(b *testing.B) {
			var ctx fasthttp.RequestCtx
			b.ReportAllocs()
			for b.Loop() {
				ctx.Request.Header.SetMethod(c.method)
				ctx.Request.SetRequestURI(c.uri)
				ctx.Response.Reset()
				s.handle(&ctx)
			}
		})
	}
}

// BenchmarkRouteLookup is the router alone: an exact path, a templated
// one, and the method's operation. No allocation but the templated
// path's parameter.
func BenchmarkRouteLookup(b *testing.B) {
	s, err := New(DefaultConfig(), &fakeBackend{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, method, path string }{
		{"exact", "GET", "/v2/recommendations/complementary"},
		{"slash", "POST", "/v2/log/product/"},
		{"template", "POST", "/v2/stores/st_1/limits"},
	} {
		b.Run(c.name, func(b *testing.B) {
			var ctx fasthttp.RequestCtx
			ctx.Request.Header.SetMethod(c.method)
			path := []byte(c.path)
			b.ReportAllocs()
			for b.Loop() {
				rt, ok := s.routes.lookup(&ctx, path)
				if !ok || rt.op(&ctx) == nil {
					b.Fatal("no route")
				}
			}
		})
	}
}
