package query

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/bench"
	"github.com/sibylhq/sibyl/bench/storegen"
	"github.com/sibylhq/sibyl/engine"
	"github.com/sibylhq/sibyl/ingest"
	"github.com/valyala/fasthttp"
)

// BenchmarkSearchIndex50k measures the search index of a generated
// 50,000-product store (bench/storegen: realistic names, categories,
// brands, descriptions) as the server builds it from the engine's
// records, through the API handler over the real engine (engineBackend,
// no network, no Raft):
//
//   - products/s: products divided by the time the index takes to build
//     (the first search after the writes, less a search on the built
//     index);
//   - B/product: heap growth across that first search (runtime.MemStats
//     HeapAlloc after a GC, before and after), divided by the products:
//     the index and whatever else the first search derives and keeps;
//   - ms-write-to-found-p50 and -max: from a single product write's 200
//     (POST /v2/products, applied by the engine) to search/search first
//     answering with it (polled back to back), over 20 writes of new
//     products with a word no other product has.
//
// The issue 13 targets are >= 50,000 products/s, <= 1 KB per product and
// searchable within 50 ms (docs/benchmarks.md, make bench-search).
func BenchmarkSearchIndex50k(b *testing.B) {
	const products = 50_000
	cat, err := storegen.GenerateCatalog(storegen.CatalogConfig{Products: products, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		h := newSearchBench(b)
		h.load(b, cat)
		// Everything a product list derives (catalog views, popularity)
		// first, so that the first search adds its own part only.
		h.get(b, "/v2/recommendations/popular", "limit", "1")
		before := heapAlloc()
		start := time.Now()
		first := h.search(b, strings.ToLower(cat.LargestName))
		build := time.Since(start)
		after := heapAlloc()
		start = time.Now()
		h.search(b, strings.ToLower(cat.LargestName))
		again := time.Since(start)
		if build < 10*again {
			// Then the index is no longer built by the first search (an
			// incremental index builds it as products are written): this
			// measure would be noise, move it to the writes.
			b.Fatalf("the first search took %v, a later one %v: the index was not built by the first search", build, again)
		}
		build -= again
		if len(first) == 0 {
			b.Fatalf("no match for %q", cat.LargestName)
		}

		var waits []time.Duration
		for j := range 20 {
			word := "zorbique" + string(rune('a'+j))
			p := ingest.Product{ID: ingest.ID(fmt.Sprintf("new-%d", j)), Name: "Black " + word + " lamp", Price: 10}
			h.write(b, "products", []ingest.Product{p})
			acked := time.Now()
			for !slices.Contains(h.search(b, word), string(p.ID)) {
				if time.Since(acked) > 10*time.Second {
					b.Fatalf("product %s not found by search 10 s after its write", p.ID)
				}
			}
			waits = append(waits, time.Since(acked))
		}
		slices.Sort(waits)
		b.ReportMetric(float64(products)/build.Seconds(), "products/s")
		b.ReportMetric(float64(int64(after)-int64(before))/products, "B/product")
		b.ReportMetric(float64(waits[len(waits)/2].Microseconds())/1000, "ms-write-to-found-p50")
		b.ReportMetric(float64(waits[len(waits)-1].Microseconds())/1000, "ms-write-to-found-max")
		runtime.KeepAlive(h)
	}
}

// BenchmarkSearchQueries50k breaks the search scenarios of make
// bench-search down, in process (the handler's time, no network, one
// request at a time) on the same generated store: predictive queries as
// typed (bench.PredictiveQueries) by the length of their last word's
// prefix, and the full search (bench.SearchFullPath) with its parts
// added one by one. Each reports p50 and p99 over its requests.
func BenchmarkSearchQueries50k(b *testing.B) {
	const products = 50_000
	cat, err := storegen.GenerateCatalog(storegen.CatalogConfig{Products: products, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	h := newSearchBench(b)
	h.load(b, cat)
	d := &bench.Dataset{Categories: []bench.DatasetCategory{{ID: string(cat.Largest), Name: cat.LargestName, Products: cat.Sizes[cat.Largest]}}, OnSale: true}
	for _, p := range cat.Products {
		d.Products = append(d.Products, string(p.ID))
		d.Names = append(d.Names, p.Name)
	}
	h.search(b, "warm") // builds the index
	byPrefix := map[string][]string{}
	for _, q := range bench.PredictiveQueries(d, 3000, 13) {
		last := q[strings.LastIndexByte(q, ' ')+1:]
		group := "prefix-" + fmt.Sprint(min(len(last), 4))
		if len(last) >= 4 {
			group = "prefix-4+"
		}
		byPrefix[group] = append(byPrefix[group], "/v2/search/predictive?key="+url.QueryEscape(h.store.pub)+"&limit=6&query="+url.QueryEscape(q))
	}
	measure := func(name string, uris []string, n int) {
		b.Run(name, func(b *testing.B) {
			var took []time.Duration
			for b.Loop() {
				took = took[:0]
				for i := range n {
					start := time.Now()
					h.do(b, "GET", uris[i%len(uris)], nil)
					took = append(took, time.Since(start))
				}
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "ms-p50")
			b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "ms-p99")
		})
	}
	for _, g := range []string{"prefix-1", "prefix-2", "prefix-3", "prefix-4+"} {
		measure("predictive/"+g, byPrefix[g], 200)
	}
	keys := bench.Keys{Public: h.store.pub}
	full := bench.SearchFullPath(d, keys, "price < 100 and on_sale = true")
	u, _ := url.Parse(full)
	v := u.Query()
	for _, step := range []struct{ name, drop string }{
		{"query-only", "filter,facets,orderby,order"},
		{"with-filter", "facets,orderby,order"},
		{"with-filter-facets", "orderby,order"},
		{"all", ""},
	} {
		w := url.Values{}
		for k, vs := range v {
			if !slices.Contains(strings.Split(step.drop, ","), k) {
				w[k] = vs
			}
		}
		measure("full/"+step.name, []string{u.Path + "?" + w.Encode()}, 50)
	}
}

// searchBench is a store on the API handler over the real engine.
type searchBench struct {
	s     *Server
	be    *engineBackend
	store struct{ pub, priv string }
	ctx   fasthttp.RequestCtx
}

func newSearchBench(b testing.TB) *searchBench {
	cfg := DefaultConfig()
	// The search's own cost: no answer cache.
	cfg.SearchCacheEntries = 0
	// One caller asking back to back: no rate limit in the way.
	cfg.Rate.IPRate, cfg.Rate.IPBurst, cfg.Rate.StoreRate, cfg.Rate.StoreBurst = 1e9, 1e9, 1e9, 1e9
	be := newEngineBackend()
	s, err := New(cfg, be, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	info, err := be.CreateStore(context.Background(), "search-bench")
	if err != nil {
		b.Fatal(err)
	}
	h := &searchBench{s: s, be: be}
	h.store.pub, h.store.priv = info.PublicKey, info.PrivateKey
	return h
}

// do serves one request and returns the answer's body (copied).
func (h *searchBench) do(b testing.TB, method, uri string, body []byte) []byte {
	h.ctx.Request.Reset()
	h.ctx.Response.Reset()
	h.ctx.Request.Header.SetMethod(method)
	h.ctx.Request.SetRequestURI(uri)
	if body != nil {
		h.ctx.Request.Header.SetContentType("application/json")
		h.ctx.Request.SetBody(body)
	}
	h.s.handle(&h.ctx)
	if code := h.ctx.Response.StatusCode(); code != fasthttp.StatusOK {
		b.Fatalf("%s %s: HTTP %d %s", method, uri, code, h.ctx.Response.Body())
	}
	return append([]byte(nil), h.ctx.Response.Body()...)
}

// load writes the catalog's categories, then its products in batches.
func (h *searchBench) load(b testing.TB, cat *storegen.Catalog) {
	h.write(b, "categories", cat.Categories)
	for i := 0; i < len(cat.Products); i += 1000 {
		h.write(b, "products", cat.Products[i:min(i+1000, len(cat.Products))])
	}
}

func (h *searchBench) write(b testing.TB, kind string, records any) {
	body, err := engine.EncodeUpsert(ingest.Kind(kind), records)
	if err != nil {
		b.Fatal(err)
	}
	h.do(b, "POST", "/v2/"+kind+"?key="+url.QueryEscape(h.store.pub)+"&private_key="+url.QueryEscape(h.store.priv), body)
}

func (h *searchBench) get(b testing.TB, path string, kv ...string) []byte {
	v := url.Values{"key": {h.store.pub}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return h.do(b, "GET", path+"?"+v.Encode(), nil)
}

// search answers search/search's product ids for query.
func (h *searchBench) search(b testing.TB, query string) []string {
	var a struct {
		Result []string `json:"result"`
	}
	if err := json.Unmarshal(h.get(b, "/v2/search/search", "query", query, "limit", "20"), &a); err != nil {
		b.Fatal(err)
	}
	return a.Result
}

func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
