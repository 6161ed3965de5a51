//go:build explore

package query

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/bench"
	"github.com/sibylhq/sibyl/bench/storegen"
)

// TestExploreSlowPredictive lists the slowest as-you-type queries on a
// 50,000-product store, first (cold) and best of 3 (warm), for latency work.
func TestExploreSlowPredictive(t *testing.T) {
	cat, err := storegen.GenerateCatalog(storegen.CatalogConfig{Products: 50_000, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	h := newSearchBench(t)
	h.load(t, cat)
	d := &bench.Dataset{OnSale: true}
	for _, p := range cat.Products {
		d.Products = append(d.Products, string(p.ID))
		d.Names = append(d.Names, p.Name)
	}
	h.search(t, "warm")
	qs := bench.PredictiveQueries(d, 3000, 13)
	type timed struct {
		q          string
		cold, warm time.Duration
	}
	var ts []timed
	for _, q := range qs {
		u := "/v2/search/predictive?key=" + url.QueryEscape(h.store.pub) + "&limit=6&query=" + url.QueryEscape(q)
		start := time.Now()
		h.do(t, "GET", u, nil)
		cold := time.Since(start)
		warm := time.Hour
		for range 3 {
			start = time.Now()
			h.do(t, "GET", u, nil)
			warm = min(warm, time.Since(start))
		}
		ts = append(ts, timed{q, cold, warm})
	}
	slices.SortFunc(ts, func(a, b timed) int { return int(b.warm - a.warm) })
	t.Logf("warm p99 %v p50 %v", ts[len(ts)/100].warm, ts[len(ts)/2].warm)
	for _, x := range ts[:25] {
		t.Logf("warm %8v cold %8v %q (last word %d letters)", x.warm, x.cold, x.q, len(x.q)-strings.LastIndexByte(x.q, ' ')-1)
	}
	slices.SortFunc(ts, func(a, b timed) int { return int(b.cold - a.cold) })
	t.Logf("cold p99 %v p50 %v", ts[len(ts)/100].cold, ts[len(ts)/2].cold)
	for _, x := range ts[:15] {
		t.Logf("cold %8v warm %8v %q", x.cold, x.warm, x.q)
	}
	_ = fmt.Sprint
	for _, q := range []string{"b", "b", "b", "black b", "classic c"} {
		u := "/v2/search/predictive?key=" + url.QueryEscape(h.store.pub) + "&limit=6&query=" + url.QueryEscape(q)
		start := time.Now()
		for range 300 {
			h.do(t, "GET", u, nil)
		}
		t.Logf("%q: %v each", q, time.Since(start)/300)
	}
}
