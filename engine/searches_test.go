package engine

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/ingest"
)

// day0 is a fixed time, noon UTC, for the search tests.
var day0 = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func ms(t time.Time) int64 { return t.UnixMilli() }

func searchEv(visitor, q string, hits int, at time.Time) Event {
	return Event{Kind: EventSearch, Visitor: visitor, API: "search/search", Query: NormalizeSearchQuery(q), Hits: hits, Time: ms(at)}
}

func clickEv(visitor, api, product string, at time.Time) Event {
	return Event{Kind: EventClick, Visitor: visitor, API: api, Products: []ingest.ID{ingest.ID(product)}, Time: ms(at)}
}

// TestSearchStats: searches and search clicks are counted per normalized
// query, popular keeps the last two days' found queries, no-hit queries
// are listed apart, and everything survives a reload.
func TestSearchStats(t *testing.T) {
	h := newHarness(t)
	at := day0
	h.mustApply("s", OpEvents, []Event{
		searchEv("v1", "Green  Tea", 3, at),
		searchEv("", "green tea", 3, at.Add(time.Minute)), // no visitor: counted all the same
		searchEv("v2", "GREEN TEA ", 2, at.Add(2*time.Minute)),
		searchEv("v3", "lamp", 1, at),
		searchEv("v4", "xyzzy", 0, at),
		searchEv("v4", "xyzzy", 0, at.Add(time.Second)),
		searchEv("v5", "old", 4, at.Add(-72*time.Hour)),
	})
	// v1 clicks from search: counted for "green tea"; a recommendation
	// click of v1 and a search click of a visitor who never searched are not.
	h.mustApply("s", OpEvents, []Event{
		clickEv("v1", "search/search", "tea1", at.Add(3*time.Minute)),
		clickEv("v1", "search/predictive", "tea1", at.Add(4*time.Minute)),
		clickEv("v1", "recommendations/popular", "tea2", at.Add(4*time.Minute)),
		clickEv("v9", "search/search", "tea2", at.Add(4*time.Minute)),
		clickEv("v3", "search/search", "lamp1", at.Add(2*time.Hour)), // long after v3's search
	})
	s := h.e.Store("s")
	check := func(s *Store) {
		t.Helper()
		if got := s.PopularSearches(at, 10); !slices.Equal(got, []string{"green tea", "lamp"}) {
			t.Errorf("popular: %v (want green tea, lamp: not the no-hit xyzzy, not the 3-day-old old)", got)
		}
		if got := s.PopularSearches(at.Add(48*time.Hour), 10); len(got) != 0 {
			t.Errorf("popular two days later: %v", got)
		}
		if got := s.PopularSearches(at, 1); !slices.Equal(got, []string{"green tea"}) {
			t.Errorf("popular limit 1: %v", got)
		}
		p := s.SearchStats(0, 10)
		want := []SearchRow{{"green tea", 3, 2, 2}, {"xyzzy", 2, 0, 0}, {"lamp", 1, 1, 0}, {"old", 1, 4, 0}}
		if !reflect.DeepEqual(p.Top, want) || p.Total != 4 {
			t.Errorf("top: %+v total %d", p.Top, p.Total)
		}
		if !reflect.DeepEqual(p.NoResults, []SearchRow{{"xyzzy", 2, 0, 0}}) || p.TotalNoResults != 1 {
			t.Errorf("no results: %+v", p.NoResults)
		}
		if p := s.SearchStats(1, 2); len(p.Top) != 2 || p.Top[0].Query != "xyzzy" || p.Top[1].Query != "lamp" {
			t.Errorf("page 2: %+v", p.Top)
		}
		if got := s.SearchClicks("GREEN tea"); !maps.Equal(got, map[ingest.ID]int{"tea1": 2}) {
			t.Errorf("clicks of green tea: %v", got)
		}
		if got := s.SearchClicks("lamp"); got != nil {
			t.Errorf("a click 2 hours after the search was attributed: %v", got)
		}
		if got := s.ClickedSearches("gre", 5); !slices.Equal(got, []string{"green tea"}) {
			t.Errorf("clicked searches: %v", got)
		}
		if got := s.ClickedSearches("la", 5); len(got) != 0 {
			t.Errorf("clicked searches of la: %v", got)
		}
	}
	check(s)
	fresh := New(DefaultConfig())
	if err := fresh.Load(h.kv); err != nil {
		t.Fatal(err)
	}
	check(fresh.Store("s"))
	// The reloaded session still attributes the next click.
	h.e = fresh
	h.mustApply("s", OpEvents, []Event{clickEv("v2", "search/search", "tea3", at.Add(5*time.Minute))})
	if got := fresh.Store("s").SearchClicks("green tea"); !maps.Equal(got, map[ingest.ID]int{"tea1": 2, "tea3": 1}) {
		t.Errorf("after reload: %v", got)
	}
}

// TestSearchTableBounded: a flood of distinct queries keeps at most
// searchQueriesKept, keeps the often searched ones, and counts the
// displaced in Other; the keys written match what is kept.
func TestSearchTableBounded(t *testing.T) {
	h := newHarness(t)
	var evs []Event
	for range 5 {
		evs = append(evs, searchEv("", "keep me", 1, day0))
	}
	h.mustApply("s", OpEvents, evs)
	n := searchQueriesKept + searchQueriesKept/2
	for i := 0; i < n; i += 1000 {
		evs = evs[:0]
		for j := i; j < min(i+1000, n); j++ {
			evs = append(evs, searchEv("", fmt.Sprintf("flood %d", j), 1, day0))
		}
		h.mustApply("s", OpEvents, evs)
	}
	s := h.e.Store("s")
	p := s.SearchStats(0, 1)
	if p.Total > searchQueriesKept || p.Top[0].Query != "keep me" {
		t.Fatalf("total %d, top %+v", p.Total, p.Top)
	}
	if p.Other.Searches != int64(n+1-p.Total) {
		t.Errorf("other %d, want %d", p.Other.Searches, n+1-p.Total)
	}
	keys := 0
	for k := range h.kv {
		if strings.Contains(k, "/"+string(searchKind)+"/") {
			keys++
		}
	}
	if keys != p.Total {
		t.Errorf("%d search keys stored, %d queries kept", keys, p.Total)
	}
	fresh := New(DefaultConfig())
	if err := fresh.Load(h.kv); err != nil {
		t.Fatal(err)
	}
	if q := fresh.Store("s").SearchStats(0, 1); q.Total != p.Total || q.Other != p.Other {
		t.Errorf("reloaded: %d %+v, want %d %+v", q.Total, q.Other, p.Total, p.Other)
	}
	if got, want := fresh.Store("s").sessions.searches.newest, s.sessions.searches.newest; got != want {
		t.Errorf("reloaded newest %d, want %d: replicas would evict differently", got, want)
	}
}

// TestSearchClickProductsBounded: one query keeps the most clicked
// searchProductsKept products.
func TestSearchClickProductsBounded(t *testing.T) {
	h := newHarness(t)
	evs := []Event{searchEv("v", "cup", 9, day0), clickEv("v", "search/search", "best", day0), clickEv("v", "search/search", "best", day0)}
	for i := range 3 * searchProductsKept {
		evs = append(evs, clickEv("v", "search/search", fmt.Sprintf("p%03d", i), day0))
	}
	h.mustApply("s", OpEvents, evs)
	got := h.e.Store("s").SearchClicks("cup")
	if len(got) != searchProductsKept || got["best"] != 2 {
		t.Fatalf("%d products, best %d", len(got), got["best"])
	}
}

// TestSearchEventRejected: a search event with a query past the bound
// is refused at apply, changing nothing; negative hits fail validation.
func TestSearchEventRejected(t *testing.T) {
	h := newHarness(t)
	long := searchEv("v", "", 1, day0)
	long.Query = strings.Repeat("a", MaxSearchQueryBytes+1)
	if _, ok := h.apply("s", OpEvents, []Event{long}).(error); !ok {
		t.Error("accepted a query past the bound")
	}
	// The codec cannot carry negative hits; the API's check refuses them.
	neg := searchEv("v", "x", -1, day0)
	if err := ValidateEvent(&neg, ApplyLimits); err == nil {
		t.Error("negative hits passed ValidateEvent")
	}
	if s := h.e.Store("s"); s != nil && s.SearchStats(0, 10).Total != 0 {
		t.Error("a rejected search was counted")
	}
}

func TestNormalizeSearchQuery(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := NormalizeSearchQuery(in); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
	f("  Crème\tBRÛLÉE  ", "creme brulee")
	f(" \n ", "")
	f(strings.Repeat("é", 200), strings.Repeat("e", 200))
	if got := NormalizeSearchQuery(strings.Repeat("ø", 200)); len(got) > MaxSearchQueryBytes || !strings.HasPrefix(got, "øø") || strings.ToValidUTF8(got, "") != got {
		t.Errorf("long query cut badly: %d bytes", len(got))
	}
}

func TestSearchDayBuckets(t *testing.T) {
	var q QueryStats
	d := int64(20000)
	q.addDay(d)
	q.addDay(d)
	q.addDay(d + 1)
	if q.recent(d+1) != 3 || q.recent(d+2) != 1 || q.recent(d+3) != 0 {
		t.Fatalf("recent: %d %d %d", q.recent(d+1), q.recent(d+2), q.recent(d+3))
	}
	q.addDay(d - 5) // older than both buckets: ignored
	q.addDay(d + 2) // replaces day d
	if q.recent(d+2) != 2 {
		t.Fatalf("after a new day: %+v", q.Days)
	}
}

// TestSearchCodecVersions: search fields round-trip, and bodies and
// sessions written before them (version 1) still decode.
func TestSearchCodecVersions(t *testing.T) {
	evs := []Event{searchEv("v", "Tea cup", 7, day0), clickEv("v", "search/search", "p", day0)}
	got, err := DecodeEvents(EncodeEvents(evs))
	if err != nil || !reflect.DeepEqual(got, evs) {
		t.Fatalf("round trip: %v\n got %+v\nwant %+v", err, got, evs)
	}
	old := []Event{clickEv("v", "search/search", "p", day0)}
	b := EncodeEvents(old)
	v1 := append([]byte{1}, b[1:len(b)-2]...) // without the empty query and zero hits
	if got, err := DecodeEvents(v1); err != nil || !reflect.DeepEqual(got, old) {
		t.Fatalf("version 1 body: %v %+v", err, got)
	}
	sess := &session{Last: 5, Recent: []sessionItem{{"r", 1, 2}}, Search: "tea", SearchTime: 9}
	if out, err := decodeSession(sess.encode()); err != nil || out.Search != "tea" || out.SearchTime != 9 {
		t.Fatalf("session round trip: %v %+v", err, out)
	}
	sess.Search, sess.SearchTime = "", 0
	sb := sess.encode()
	sv1 := append([]byte{1}, sb[1:len(sb)-2]...)
	if out, err := decodeSession(sv1); err != nil || out.Last != 5 || len(out.Recent) != 1 {
		t.Fatalf("version 1 session: %v %+v", err, out)
	}
}

// TestPopularSkipsTypedPrefixes: the prefixes search/predictive records
// as a shopper types are not offered back as popular searches or
// suggestions once the store makes full searches.
func TestPopularSkipsTypedPrefixes(t *testing.T) {
	h := newHarness(t)
	typed := func(q string) Event {
		e := searchEv("v", q, 5, day0)
		e.API = "search/predictive"
		return e
	}
	h.mustApply("s", OpEvents, []Event{typed("te"), typed("tea"), typed("te"), typed("tea c")})
	s := h.e.Store("s")
	if got := s.PopularSearches(day0, 10); !slices.Equal(got, []string{"te", "tea", "tea c"}) {
		t.Fatalf("only as-you-type searches: %v", got)
	}
	h.mustApply("s", OpEvents, []Event{searchEv("v", "tea cup", 2, day0), clickEv("v", "search/search", "cup", day0),
		typed("tea"), clickEv("v", "search/predictive", "cup", day0)})
	if got := s.PopularSearches(day0, 10); !slices.Equal(got, []string{"tea cup"}) {
		t.Fatalf("with a full search: %v", got)
	}
	if got := s.ClickedSearches("te", 10); !slices.Equal(got, []string{"tea cup"}) {
		t.Fatalf("clicked searches: %v", got)
	}
	if got := s.SearchClicks("tea"); !maps.Equal(got, map[ingest.ID]int{"cup": 1}) {
		t.Fatalf("clicks of the typed tea: %v", got)
	}
}

// TestSearchNewestSurvivesReload: the latest event time, by which
// eviction ranks, is restored even when its query was displaced since.
func TestSearchNewestSurvivesReload(t *testing.T) {
	h := newHarness(t)
	late := day0.Add(5 * time.Hour)
	h.mustApply("s", OpEvents, []Event{searchEv("", "early", 1, day0), searchEv("", "late", 1, late)})
	delete(h.kv, string(recordKey("s", searchKind, "late"))) // as if displaced
	fresh := New(DefaultConfig())
	if err := fresh.Load(h.kv); err != nil {
		t.Fatal(err)
	}
	if got := fresh.Store("s").sessions.searches.newest; got != ms(late) {
		t.Fatalf("newest %d, want %d", got, ms(late))
	}
}
