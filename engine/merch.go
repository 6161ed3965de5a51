package engine

import (
	"encoding/json"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/search"
)

// Merchandising (issue 13 item 4): a store's synonyms, redirects,
// customized searches, campaigns and search settings are records like
// products, replicated by the same commands ("synonyms.upsert",
// "redirects.delete", ...) and stored one Badger key each,
// "s/<store>/<kind>/<key>", so Load and snapshots carry them unchanged.
// The key is the record's natural one: a synonym's or customized
// search's normalized query, a redirect's url, a campaign's id, and
// "settings" for the one settings document.

// Kinds of merchandising records.
const (
	KindSynonyms         ingest.Kind = "synonyms"
	KindRedirects        ingest.Kind = "redirects"
	KindCustomizedSearch ingest.Kind = "customized_search"
	KindMerchandising    ingest.Kind = "merchandising"
	KindSearchSettings   ingest.Kind = "search_settings"
)

// settingsKey is the key of a store's one settings record.
const settingsKey = "settings"

// MerchLimits bound every store's merchandising records; Apply checks
// them, and the API checks them first to answer 400 without a round of
// replication.
var MerchLimits = search.DefaultMerchLimits()

// IsMerchKind reports whether kind is a merchandising record kind.
func IsMerchKind(kind ingest.Kind) bool {
	switch kind {
	case KindSynonyms, KindRedirects, KindCustomizedSearch, KindMerchandising, KindSearchSettings:
		return true
	}
	return false
}

// MerchKey is the key a merchandising record of kind is stored and
// deleted by, from the value a client names it with (a query, url or
// id).
func MerchKey(kind ingest.Kind, name string) string {
	if kind == KindSynonyms || kind == KindCustomizedSearch {
		return search.Normalize(name)
	}
	return name
}

// merchPart holds a store's merchandising records and their compiled
// form. mu guards the maps; it is a leaf lock, taken after catalog.mu
// when both are held (a settings write bumps the data version).
type merchPart struct {
	mu        sync.RWMutex
	synonyms  map[string]search.Synonym
	redirects map[string]search.Redirect
	custom    map[string]search.Customization
	campaigns map[string]search.Campaign
	settings  *search.Settings
	// bytes are the stored sizes of each keyed kind's records (see
	// kindSlot), bounded by MerchLimits.MaxKindBytes.
	bytes [4]int
	// compiled is the Merch of the current records, nil after a change;
	// it is built and stored under mu read-locked, so a write (under mu
	// locked) cannot interleave and leave a stale one behind.
	compiled atomic.Pointer[search.Merch]
}

// kindSlot numbers the keyed kinds for merchPart.bytes.
func kindSlot(kind ingest.Kind) int {
	switch kind {
	case KindRedirects:
		return 1
	case KindCustomizedSearch:
		return 2
	case KindMerchandising:
		return 3
	}
	return 0
}

// init makes the tables of a part that has none yet (the zero part is
// a store's before its first merchandising record).
func (m *merchPart) init() {
	if m.synonyms == nil {
		m.synonyms = make(map[string]search.Synonym)
		m.redirects = make(map[string]search.Redirect)
		m.custom = make(map[string]search.Customization)
		m.campaigns = make(map[string]search.Campaign)
	}
}

// Merch returns the store's merchandising compiled for searches.
func (s *Store) Merch() *search.Merch {
	m := &s.merch
	if c := m.compiled.Load(); c != nil {
		return c
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	c := search.NewMerch(sortedValues(m.synonyms), sortedValues(m.redirects), sortedValues(m.custom),
		sortedValues(m.campaigns), m.settingsLocked())
	m.compiled.Store(c)
	return c
}

// SearchSettings returns the store's search settings (the defaults until
// it sets its own).
func (s *Store) SearchSettings() search.Settings {
	s.merch.mu.RLock()
	defer s.merch.mu.RUnlock()
	return s.merch.settingsLocked()
}

func (m *merchPart) settingsLocked() search.Settings {
	if m.settings == nil {
		return search.DefaultSettings()
	}
	return *m.settings
}

// Synonyms returns the synonym rules of the given queries (any form that
// normalizes alike), or all of them in key order when queries is nil.
func (s *Store) Synonyms(queries []string) []search.Synonym {
	return pickMerch(s, func(m *merchPart) map[string]search.Synonym { return m.synonyms }, KindSynonyms, queries)
}

// Redirects returns the redirects of the given urls, or all of them.
func (s *Store) Redirects(urls []string) []search.Redirect {
	return pickMerch(s, func(m *merchPart) map[string]search.Redirect { return m.redirects }, KindRedirects, urls)
}

// CustomizedSearches returns the customized searches of the given
// queries, or all of them.
func (s *Store) CustomizedSearches(queries []string) []search.Customization {
	return pickMerch(s, func(m *merchPart) map[string]search.Customization { return m.custom }, KindCustomizedSearch, queries)
}

// Campaigns returns the campaigns with the given ids, or all of them.
func (s *Store) Campaigns(ids []string) []search.Campaign {
	return pickMerch(s, func(m *merchPart) map[string]search.Campaign { return m.campaigns }, KindMerchandising, ids)
}

// MerchCount is the number of records of a keyed merchandising kind.
func (s *Store) MerchCount(kind ingest.Kind) int {
	m := &s.merch
	m.mu.RLock()
	defer m.mu.RUnlock()
	switch kind {
	case KindSynonyms:
		return len(m.synonyms)
	case KindRedirects:
		return len(m.redirects)
	case KindCustomizedSearch:
		return len(m.custom)
	case KindMerchandising:
		return len(m.campaigns)
	}
	return 0
}

func pickMerch[T any](s *Store, table func(*merchPart) map[string]T, kind ingest.Kind, names []string) []T {
	m := &s.merch
	m.mu.RLock()
	defer m.mu.RUnlock()
	t := table(m)
	if names == nil {
		return sortedValues(t)
	}
	out := make([]T, 0, len(names))
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		k := MerchKey(kind, n)
		if r, ok := t[k]; ok && !seen[k] {
			seen[k] = true
			out = append(out, r)
		}
	}
	return out
}

func sortedValues[T any](t map[string]T) []T {
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]T, len(keys))
	for i, k := range keys {
		out[i] = t[k]
	}
	return out
}

// EncodeMerch encodes the body of a merchandising upsert or patch (a
// JSON list of records or partial records) or delete (a list of names):
// engine owns the format Apply decodes.
func EncodeMerch(v any) ([]byte, error) { return json.Marshal(v) }
