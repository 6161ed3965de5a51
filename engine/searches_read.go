package engine

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/sibylhq/sibyl/ingest"
)

// Reads of the search statistics (see searches.go). Each scans at most
// searchQueriesKept queries under the sessions part's read lock.

// PopularSearches lists the most made searches of now's UTC day and the
// day before, most searched first (ties: more searches in all, then the
// text), at most limit; only queries whose latest search found products,
// and, when the store makes any full search (search/search), only
// queries made so at least once (not the prefixes typed as you type).
func (s *Store) PopularSearches(now time.Time, limit int) []string {
	if limit <= 0 {
		return nil
	}
	today := floorDiv(now.UnixMilli(), dayMs)
	type row struct {
		q           string
		recent, all int64
		full        bool
	}
	var rows []row
	anyFull := false
	t := &s.sessions
	t.mu.RLock()
	for q, st := range t.searches.m {
		if r := st.recent(today); r > 0 && st.Hits > 0 {
			rows = append(rows, row{q, r, st.Searches, st.Full > 0})
			anyFull = anyFull || st.Full > 0
		}
	}
	t.mu.RUnlock()
	if anyFull {
		rows = slices.DeleteFunc(rows, func(r row) bool { return !r.full })
	}
	slices.SortFunc(rows, func(a, b row) int {
		return cmp.Or(cmp.Compare(b.recent, a.recent), cmp.Compare(b.all, a.all), cmp.Compare(a.q, b.q))
	})
	out := make([]string, 0, min(limit, len(rows)))
	for _, r := range rows[:min(limit, len(rows))] {
		out = append(out, r.q)
	}
	return out
}

// SearchRow is one query's statistics in a SearchStatsPage.
type SearchRow struct {
	Query    string
	Searches int64
	Hits     int // of the latest search
	Clicks   int64
}

// SearchStatsPage is a page of the store's search statistics.
type SearchStatsPage struct {
	// Top are the most searched queries (ties: by text), from the
	// page's offset.
	Top []SearchRow
	// NoResults are the most searched queries whose latest search found
	// nothing, from the same offset.
	NoResults []SearchRow
	// Total and TotalNoResults count the queries of each list.
	Total, TotalNoResults int
	// Other counts queries displaced from the bounded table.
	Other SearchTotals
}

// SearchStats reports the searches counted, most searched first, from
// offset, at most limit rows per list.
func (s *Store) SearchStats(offset, limit int) SearchStatsPage {
	var p SearchStatsPage
	var none []SearchRow
	t := &s.sessions
	t.mu.RLock()
	all := make([]SearchRow, 0, len(t.searches.m))
	for q, st := range t.searches.m {
		r := SearchRow{Query: q, Searches: st.Searches, Hits: st.Hits, Clicks: st.Clicks}
		all = append(all, r)
		if r.Hits == 0 {
			none = append(none, r)
		}
	}
	p.Other = t.searches.other
	t.mu.RUnlock()
	page := func(rows []SearchRow) []SearchRow {
		slices.SortFunc(rows, func(a, b SearchRow) int {
			return cmp.Or(cmp.Compare(b.Searches, a.Searches), cmp.Compare(a.Query, b.Query))
		})
		rows = rows[min(max(offset, 0), len(rows)):]
		return rows[:min(max(limit, 0), len(rows))]
	}
	p.Total, p.TotalNoResults = len(all), len(none)
	p.Top, p.NoResults = page(all), page(none)
	return p
}

// SearchClicks returns the clicks per product attributed to a query
// (normalized as NormalizeSearchQuery does); nil when none.
func (s *Store) SearchClicks(query string) map[ingest.ID]int {
	q := NormalizeSearchQuery(query)
	t := &s.sessions
	t.mu.RLock()
	defer t.mu.RUnlock()
	st := t.searches.m[q]
	if st == nil || len(st.Products) == 0 {
		return nil
	}
	out := make(map[ingest.ID]int, len(st.Products))
	for id, n := range st.Products {
		out[id] = int(n)
	}
	return out
}

// ClickedSearches lists full searches (search/search) that start with
// prefix (normalized) and had search clicks, most clicked first (ties:
// more searches, then the text), at most limit: what shoppers searched
// and then found.
func (s *Store) ClickedSearches(prefix string, limit int) []string {
	p := NormalizeSearchQuery(prefix)
	if p == "" || limit <= 0 {
		return nil
	}
	var rows []SearchRow
	t := &s.sessions
	t.mu.RLock()
	for q, st := range t.searches.m {
		if st.Clicks > 0 && st.Hits > 0 && st.Full > 0 && strings.HasPrefix(q, p) {
			rows = append(rows, SearchRow{Query: q, Searches: st.Searches, Clicks: st.Clicks})
		}
	}
	t.mu.RUnlock()
	slices.SortFunc(rows, func(a, b SearchRow) int {
		return cmp.Or(cmp.Compare(b.Clicks, a.Clicks), cmp.Compare(b.Searches, a.Searches), cmp.Compare(a.Query, b.Query))
	})
	out := make([]string, 0, min(limit, len(rows)))
	for _, r := range rows[:min(limit, len(rows))] {
		out = append(out, r.Query)
	}
	return out
}
