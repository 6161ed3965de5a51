package query

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/engine"
)

// TestMerchandisingSearch: synonyms, customized searches, campaigns and
// redirects written through their endpoints change what search/search
// answers, and survive a restart (the engine rebuilt from its records).
func TestMerchandisingSearch(t *testing.T) {
	c, b := startAPI(t)
	st := createStore(c, "merch")
	seedShop(t, c, st) // lamp "Desk lamp" 30, bulb "LED bulb" 5, tea "Green tea" 8, cup "Tea cup" 12
	search := func(kv ...string) answer {
		t.Helper()
		a := c.Do("GET", "/v2/search/search"+q(st, false, kv...), nil)
		expect(t, a, 200, "")
		return a
	}
	write := func(method, path string, body any) answer {
		t.Helper()
		a := c.Do(method, path+q(st, true), body)
		expect(t, a, 200, "")
		return a
	}
	ids := func(kv ...string) []string { t.Helper(); return search(kv...).IDs() }

	// Synonyms: two-way finds what the query alone does not; one-way
	// works from its query only.
	if got := ids("query", "light"); len(got) != 0 {
		t.Fatalf("before any synonym, light found %v", got)
	}
	write("POST", "/v2/synonyms", map[string]any{"synonyms": []map[string]any{
		{"query": "Light", "synonyms": []string{"lamp"}},
		{"query": "bulb", "directed_synonyms": []string{"lamp"}},
	}})
	if got := ids("query", "light"); !slices.Equal(got, []string{"lamp"}) {
		t.Errorf("light with the synonym lamp: %v", got)
	}
	if got := ids("query", "bulb"); !slices.Equal(got, []string{"bulb", "lamp"}) {
		t.Errorf("bulb -> lamp (one-way): %v, want the bulb, then the lamp", got)
	}
	if got := ids("query", "lamp"); slices.Contains(got, "bulb") {
		t.Errorf("lamp found the bulb: a one-way synonym worked backwards: %v", got)
	}

	// A customized search pins (first, even past the filter) and hides.
	write("POST", "/v2/customized_search", map[string]any{"rules": []map[string]any{
		{"query": "tea", "products": map[string]any{"pin": []string{"bulb"}, "hide": []string{"cup"}}}}})
	if got := ids("query", "tea"); !slices.Equal(got, []string{"bulb", "tea"}) {
		t.Errorf("tea, bulb pinned and cup hidden: %v", got)
	}
	if got := ids("query", "tea", "filter", "price > 10"); !slices.Equal(got, []string{"bulb"}) {
		t.Errorf("tea with price > 10: %v, want the pinned bulb (price 5) only: the pin overrides the filter, cup stays hidden", got)
	}

	// Campaigns: one outside its window does nothing, a running one pins.
	now := time.Now().Unix()
	a := write("POST", "/v2/merchandising", map[string]any{"campaigns": []map[string]any{
		{"name": "over", "end_at": now - 3600, "rules": []map[string]any{{"action": "pin", "products": []string{"cup"}}},
			"triggers": []map[string]any{{"type": "searches_all"}}},
	}})
	minted, _ := a.Body["campaign_ids"].([]any)
	if len(minted) != 1 || !strings.HasPrefix(fmt.Sprint(minted[0]), "mc_") {
		t.Fatalf("POST /v2/merchandising: %s, want the minted campaign id", a.Raw)
	}
	if got := ids("query", "lamp"); !slices.Equal(got, []string{"lamp"}) {
		t.Errorf("lamp with an ended campaign: %v", got)
	}
	write("POST", "/v2/merchandising", map[string]any{"campaigns": []map[string]any{
		{"id": "winter", "start_at": now - 3600, "end_at": now + 3600, "rules": []map[string]any{{"action": "pin", "products": []string{"cup"}}},
			"triggers": []map[string]any{{"type": "searches_query", "queries": []string{"Desk LAMP", "lamp"}}}},
	}})
	a = search("query", "lamp", "debug", "true")
	if got := a.IDs(); !slices.Equal(got, []string{"cup", "lamp"}) {
		t.Errorf("lamp with a running campaign pinning cup: %v", got)
	}
	if !strings.Contains(a.Raw, `campaign \"winter\": pinned 1`) || !strings.Contains(a.Raw, "ended at") {
		t.Errorf("debug does not say what the campaigns did: %s", a.Raw)
	}
	if got := ids("query", "tea"); slices.Contains(got, "cup") {
		t.Errorf("the lamp campaign fired on tea: %v", got)
	}

	// Redirects: exact match on the whole query; otherwise as words.
	write("POST", "/v2/redirects", `{"redirects":[{"url":"/help","queries":["help"],"exact_match":true},{"url":"/lighting","queries":["desk"],"exact_match":false}]}`)
	for query, want := range map[string]any{"Help!": "/help", "need help": nil, "desk lamp": "/lighting", "desks": nil} {
		if got := search("query", query).Body["redirect"]; got != want {
			t.Errorf("redirect of %q: %v, want %v", query, got, want)
		}
	}

	// The records read back, patched, deleted, and kept over a restart.
	write("PATCH", "/v2/synonyms", `{"synonyms":[{"query":"LIGHT","synonyms":["lamp","lantern"]}]}`)
	a = write("GET", "/v2/synonyms", nil)
	if !strings.Contains(a.Raw, `"synonyms":["lamp","lantern"]`) || !strings.Contains(a.Raw, `"directed_synonyms":["lamp"]`) {
		t.Errorf("GET /v2/synonyms after the patch: %s", a.Raw)
	}
	b.restart(t)
	if got := ids("query", "light"); !slices.Equal(got, []string{"lamp"}) {
		t.Errorf("after a restart, light: %v", got)
	}
	if got := ids("query", "tea"); !slices.Equal(got, []string{"bulb", "tea"}) {
		t.Errorf("after a restart, tea: %v", got)
	}
	a = c.Do("GET", "/v2/merchandising"+q(st, true, "campaigns", `["winter"]`), nil)
	if list, _ := a.Body["campaigns"].([]any); len(list) != 1 || !strings.Contains(a.Raw, `"triggers_match":"any"`) || !strings.Contains(a.Raw, `"active":true`) {
		t.Errorf("GET a campaign after a restart: %s", a.Raw)
	}
	expect(t, c.Do("DELETE", "/v2/synonyms"+q(st, true, "synonyms", "light"), nil), 200, "")
	if got := ids("query", "light"); len(got) != 0 {
		t.Errorf("light after deleting its synonyms: %v", got)
	}
	a = c.Do("DELETE", "/v2/customized_search"+q(st, true, "rules", `["TEA"]`), nil)
	if expect(t, a, 200, ""); a.Body["applied"] != float64(1) {
		t.Errorf("DELETE customized_search TEA: %s", a.Raw)
	}
	if got := ids("query", "tea"); !slices.Contains(got, "cup") {
		t.Errorf("tea after deleting its customization still hides cup: %v", got)
	}
}

// TestSearchSettingsLanguage: the store's language decides stemming:
// the Danish plural "stolene" finds a "Stol" only in Danish.
func TestSearchSettingsLanguage(t *testing.T) {
	c, _ := startAPI(t)
	st := createStore(c, "lang")
	expect(t, c.Do("POST", "/v2/products"+q(st, true), `[{"id":"chair","name":"Stol"},{"id":"table","name":"Bord"}]`), 200, "")
	find := func() []string {
		t.Helper()
		return c.Do("GET", "/v2/search/search"+q(st, false, "query", "stolene"), nil).IDs()
	}
	if got := find(); len(got) != 0 {
		t.Fatalf("stolene found %v in English", got)
	}
	a := c.Do("GET", "/v2/search/settings"+q(st, true), nil)
	if expect(t, a, 200, ""); !strings.Contains(a.Raw, `"language":"english"`) {
		t.Errorf("default settings: %s", a.Raw)
	}
	a = c.Do("POST", "/v2/search/settings"+q(st, true), `{"language":"da","weights":{"description":0}}`)
	if expect(t, a, 200, ""); !strings.Contains(a.Raw, `"language":"danish"`) || !strings.Contains(a.Raw, `"name":5`) {
		t.Errorf("POST settings: %s, want the canonical language and the other weights kept", a.Raw)
	}
	if got := find(); !slices.Equal(got, []string{"chair"}) {
		t.Errorf("stolene in Danish: %v, want the chair", got)
	}
	expect(t, c.Do("POST", "/v2/search/settings"+q(st, true), `{"language":"klingon"}`), 400, "")
	expect(t, c.Do("POST", "/v2/search/settings"+q(st, true), `{"weights":{"price":1}}`), 400, "")
	expect(t, c.Do("GET", "/v2/search/settings"+q(st, false), nil), 403, "")
}

// TestMerchandisingBadInput: bad records are 400s that say what is
// wrong, nothing is written, and the per-store limits hold.
func TestMerchandisingBadInput(t *testing.T) {
	c, _ := startAPI(t)
	st := createStore(c, "bad")
	f := func(method, path, body, want string) {
		t.Helper()
		a := c.Do(method, path+q(st, true), body)
		if a.Status != 400 || !strings.Contains(fmt.Sprint(a.Body["message"]), want) {
			t.Errorf("%s %s %s: %d %s, want 400 saying %q", method, path, body, a.Status, a.Raw, want)
		}
	}
	f("POST", "/v2/synonyms", `{"synonyms":[{"query":"a"}]}`, "neither synonyms nor directed_synonyms")
	f("POST", "/v2/synonyms", `{"synonyms":[{"query":"a","synonym":["b"]}]}`, `unknown field "synonym"`)
	f("POST", "/v2/synonyms", `{"synonyms":[]}`, "is empty")
	f("POST", "/v2/synonyms", `{"rules":[]}`, `send {"synonyms": [...]}`)
	f("POST", "/v2/synonyms", `{"synonyms":[{"query":"`+strings.Repeat("word ", 9)+`","synonyms":["b"]}]}`, "at most 8")
	f("POST", "/v2/redirects", `{"redirects":[{"url":"","queries":["x"]}]}`, "url is required")
	f("POST", "/v2/customized_search", `{"rules":[{"query":"x","products":{"pin":[""]}}]}`, "products.pin[0]")
	f("POST", "/v2/merchandising", `{"campaigns":[{"rules":[{"action":"boost","products":["p"]}],"triggers":[{"type":"searches_all"}]}]}`, "rules[0].action")
	f("POST", "/v2/merchandising", `{"campaigns":[{"start_at":10,"end_at":5,"rules":[{"action":"pin","products":["p"]}],"triggers":[{"type":"searches_all"}]}]}`, "after start_at")
	f("PATCH", "/v2/synonyms", `{"synonyms":[{"query":"nothing","synonyms":["x"]}]}`, "no synonyms record")
	f("PATCH", "/v2/redirects", `{"redirects":[{"queries":["x"]}]}`, `by "url"`)
	f("DELETE", "/v2/redirects", ``, "name the redirects to delete")
	if a := c.Do("GET", "/v2/synonyms"+q(st, true), nil); !strings.Contains(a.Raw, `"synonyms":[]`) {
		t.Errorf("rejected writes left records: %s", a.Raw)
	}
	expect(t, c.Do("GET", "/v2/synonyms"+q(st, false), nil), 403, "")

	saved := engine.MerchLimits
	defer func() { engine.MerchLimits = saved }()
	engine.MerchLimits.MaxRedirects = 1
	expect(t, c.Do("POST", "/v2/redirects"+q(st, true), `[{"url":"/a","queries":["a"]}]`), 200, "")
	f("POST", "/v2/redirects", `[{"url":"/b","queries":["b"]}]`, "at most 1 allowed")
	expect(t, c.Do("POST", "/v2/redirects"+q(st, true), `[{"url":"/a","queries":["aa"]}]`), 200, "") // a replacement fits
}
