package query

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/search"
)

// Search answers are cached per store: shoppers type the same prefixes
// and search the same words all day ("t", "te", "tea"), and an answer
// computed once serves the next identical request until the store's data
// changes under it (as Elasticsearch's request cache and Algolia's query
// cache do). An entry is valid for the catalog, popularity, search
// settings, merchandising and clicks on the query's results it was
// computed from, until the next campaign start or end, and for at most
// answerCacheTTL (a safety net: every input above is checked). A request
// with a visitor, or debug, is always computed: its answer is that
// visitor's.
const answerCacheTTL = time.Minute

// answerCacheMaxBytes bounds one cached answer (its key, ids and facets,
// about as encoded; larger answers are computed each time), and
// answerCacheStoreBytes a store's cache: past it the least recently used
// answers go, whatever SearchCacheEntries allows.
const (
	answerCacheMaxBytes   = 8 << 10
	answerCacheStoreBytes = 4 << 20
)

// size estimates an answer's bytes in the cache.
func (a *searchAnswer) size() int {
	n := 64 + len(a.redirect)
	for _, id := range a.page {
		n += 16 + len(id)
	}
	for name, f := range a.facets {
		n += 32 + len(name)
		if m, ok := f.(map[string]any); ok {
			vals, _ := m["values"].([]facetValue)
			for _, v := range vals {
				n += 24 + len(v.Value)
			}
		}
	}
	return n
}

// answerCache is a store's cache of search answers.
type answerCache struct {
	lru *lru.Cache[string, *cachedAnswer]
	// mu serialises puts; bytes is the cached answers' size (the evict
	// callback subtracts, under the lru's lock, inside a put or get).
	mu    sync.Mutex
	bytes atomic.Int64
}

func newAnswerCache(entries int) *answerCache {
	c := &answerCache{}
	c.lru, _ = lru.NewWithEvict(entries, func(_ string, e *cachedAnswer) { c.bytes.Add(-int64(e.size)) }) // fails only for a size <= 0
	return c
}

// cachedAnswer is an answer and what it was computed from.
type cachedAnswer struct {
	ans      searchAnswer
	seq      uint64
	popular  *ingest.ID
	merch    *search.Merch
	settings search.Settings
	clicks   int
	size     int
	at       time.Time
	// until is when a campaign starts or ends (zero: none ahead).
	until time.Time
}

// answerCacheOf is the store's cache, nil when entries is 0 (off).
func answerCacheOf(st StoreReader, entries int) *answerCache {
	if entries <= 0 {
		return nil
	}
	return st.Attached("search-answers", func() any { return newAnswerCache(entries) }).(*answerCache)
}

// answerKey is the request's parameters that decide its answer (not
// `attributes`, `labels` or the callback, which only shape or count it).
func answerKey(path string, rp *recParams, sp *searchParams, filterSrc string) string {
	var b strings.Builder
	b.Grow(len(sp.query) + len(filterSrc) + 64)
	sep := func(s string) { b.WriteString(s); b.WriteByte(0) }
	sep(path)
	sep(sp.query)
	sep(strconv.Itoa(rp.limit))
	sep(strconv.Itoa(rp.offset))
	sep(strconv.FormatBool(sp.longtail))
	sep(sp.language)
	sep(filterSrc)
	sep(rp.orderBy)
	sep(rp.order)
	sep(strings.Join(rp.exclude, "\x01"))
	sep(strings.Join(rp.facets, "\x01"))
	return b.String()
}

// stamp is what an answer to query computed now depends on.
func answerStamp(st StoreReader, v *searchView, query string) cachedAnswer {
	c := cachedAnswer{seq: v.seq.Load(), settings: v.settings, at: time.Now()}
	if pop := st.Popular(); len(pop) > 0 {
		c.popular = &pop[0]
	}
	if ms := merchOf(st); ms != nil {
		c.merch = ms.Merch()
		c.until = c.merch.NextChange(c.at)
	}
	for _, n := range st.SearchClicks(query) {
		c.clicks += n
	}
	return c
}

// get is the cached answer for key if it is still valid.
func (c *answerCache) get(key string, now cachedAnswer) (searchAnswer, bool) {
	e, ok := c.lru.Get(key)
	if !ok || e.seq != now.seq || e.popular != now.popular || e.merch != now.merch ||
		e.settings != now.settings || e.clicks != now.clicks || now.at.Sub(e.at) > answerCacheTTL ||
		!e.until.IsZero() && !now.at.Before(e.until) {
		return searchAnswer{}, false
	}
	return e.ans, true
}

func (c *answerCache) put(key string, stamp cachedAnswer, ans searchAnswer) {
	size := len(key) + ans.size()
	if size > answerCacheMaxBytes {
		return
	}
	stamp.ans, stamp.size = ans, size
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Remove(key) // a replaced entry's bytes leave through the callback
	c.bytes.Add(int64(size))
	c.lru.Add(key, &stamp)
	for c.bytes.Load() > answerCacheStoreBytes && c.lru.Len() > 1 {
		c.lru.RemoveOldest()
	}
}
