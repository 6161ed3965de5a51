//go:build explore

package quality

import (
	"github.com/sibylhq/sibyl/search"
	"slices"
	"testing"
	"time"
)

// TestExploreSearchSlow lists the slowest validation queries of
// search-known-item on Sibyl's index (the p99 tail), for latency work.
func TestExploreSearchSlow(t *testing.T) {
	d := loadRetail(t)
	sib, err := NewSibylSearch(d, d.Orders)
	if err != nil {
		t.Fatal(err)
	}
	_, rest := splitItems(len(d.ItemIDs), DefaultSearchQueries, 1)
	targets := rest[:min(DefaultSearchQueries, len(rest))]
	var all []KnownQuery
	for _, kind := range QueryKinds {
		all = append(all, MakeKnownQueries(kind, d.Names, targets, 1^0x7a11da7e)...)
	}
	type timed struct {
		q  KnownQuery
		el time.Duration
	}
	var dst []int32
	best := make([]time.Duration, len(all))
	for pass := range 5 {
		for i, q := range all {
			start := time.Now()
			dst = sib.Search(q.Text, q.Kind == KindPrefix, true, searchDepth, dst[:0])
			el := time.Since(start)
			if pass == 0 || el < best[i] {
				best[i] = el
			}
		}
	}
	ts := make([]timed, len(all))
	for i, q := range all {
		ts[i] = timed{q, best[i]}
	}
	slices.SortFunc(ts, func(a, b timed) int { return int(b.el - a.el) })
	t.Logf("p99 (best of 5) %v, p50 %v", ts[len(ts)/100].el, ts[len(ts)/2].el)
	start := time.Now()
	for range 300 {
		for _, x := range ts[:100] {
			dst = sib.Search(x.q.Text, x.q.Kind == KindPrefix, true, searchDepth, dst[:0])
		}
	}
	t.Logf("slowest 100, again: %v each", time.Since(start)/30000)
	for _, x := range ts[:60] {
		r := sib.ix.Run(searchQuery(x.q))
		t.Logf("%8v %-8s %q hits %d matched %d all words %v", x.el, x.q.Kind, x.q.Text, len(r.Hits), r.Matched.GetCardinality(), r.AllWords)
	}
}

func searchQuery(q KnownQuery) search.Query {
	return search.Query{Text: q.Text, Prefix: q.Kind == KindPrefix, Limit: searchDepth}
}
