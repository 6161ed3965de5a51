package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/search"
	"github.com/sibylhq/sibyl/shard/statemachine"
)

func merchOp(kind, action string) string { return kind + "." + action }

// TestMerchSurvivesLoad: every merchandising kind written, patched and
// deleted is the same after a rebuild from the records (a restart, or a
// snapshot restore, which Loads the copied keys).
func TestMerchSurvivesLoad(t *testing.T) {
	h := newHarness(t)
	h.mustApply("s1", merchOp("synonyms", ActionUpsert), []search.Synonym{
		{Query: "Sofa", Synonyms: []string{"couch"}}, {Query: "tee", DirectedSynonyms: []string{"t-shirt"}}})
	h.mustApply("s1", merchOp("synonyms", ActionPatch), []map[string]any{{"query": "SOFA", "synonyms": []string{"couch", "settee"}}})
	h.mustApply("s1", merchOp("redirects", ActionUpsert), []search.Redirect{{URL: "/sale", Queries: []string{"sale"}, ExactMatch: true}, {URL: "/x", Queries: []string{"x"}}})
	if r := h.mustApply("s1", merchOp("redirects", ActionDelete), []string{"/x", "/unknown"}); r.Applied != 1 {
		t.Errorf("delete applied %d, want 1 (an unknown url is no-op)", r.Applied)
	}
	h.mustApply("s1", merchOp("customized_search", ActionUpsert), []search.Customization{{Query: "shoes", Products: search.PinHide{Pin: []string{"p2"}}}})
	h.mustApply("s1", merchOp("merchandising", ActionUpsert), []search.Campaign{{ID: "c1", Rules: []search.CampaignRule{{Action: "pin", Products: []string{"p3"}}},
		Triggers: []search.Trigger{{Type: search.TriggerAllSearches}}}})
	v := h.e.Store("s1").Version()
	h.mustApply("s1", merchOp("search_settings", ActionUpsert), search.Settings{Language: "da", Weights: search.FieldWeights{Name: 2, Description: 1}})
	if got := h.e.Store("s1").Version(); got != v+1 {
		t.Errorf("a settings write moved the data version from %d to %d, want +1 (the index is built in its language)", v, got)
	}

	fresh := New(DefaultConfig())
	if err := fresh.Load(h.kv); err != nil {
		t.Fatal(err)
	}
	for name, st := range map[string]*Store{"before": h.e.Store("s1"), "after Load": fresh.Store("s1")} {
		got := fmt.Sprintf("%+v | %+v | %+v | %d | %+v", st.Synonyms(nil), st.Redirects(nil), st.CustomizedSearches(nil), len(st.Campaigns(nil)), st.SearchSettings())
		want := "[{Query:Sofa Synonyms:[couch settee] DirectedSynonyms:[]} {Query:tee Synonyms:[] DirectedSynonyms:[t-shirt]}] | " +
			"[{URL:/sale Queries:[sale] ExactMatch:true}] | " +
			"[{Query:shoes Products:{Pin:[p2] Hide:[]} Categories:{Pin:[] Hide:[]} Pages:{Pin:[] Hide:[]} Suggestions:{Pin:[] Hide:[]}}] | 1 | " +
			"{Language:danish Weights:{Name:2 Keywords:0 Categories:0 Brand:0 Description:1}}"
		if got != want {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
		m := st.Merch()
		if alts := m.Synonyms.Alternatives("settee"); !slices.Equal(alts, []string{"sofa", "couch"}) {
			t.Errorf("%s: alternatives of settee = %q", name, alts)
		}
		if p := m.Plan("shoes", time.Unix(0, 0), true); !slices.Equal(p.Pins, []string{"p2", "p3"}) {
			t.Errorf("%s: pins %q", name, p.Pins)
		}
	}
	if fresh.Store("s1").Version() != h.e.Store("s1").Version() {
		t.Errorf("version after Load %d, before %d", fresh.Store("s1").Version(), h.e.Store("s1").Version())
	}
}

// TestMerchRejectsBadCommands: bad bytes and bad records are refused at
// apply, whole, without panicking or changing anything; limits hold.
func TestMerchRejectsBadCommands(t *testing.T) {
	h := newHarness(t)
	h.mustApply("s1", merchOp("synonyms", ActionUpsert), []search.Synonym{{Query: "a", Synonyms: []string{"b"}}})
	before := len(h.kv)
	raw := func(op, body string) any {
		h.n++
		return h.e.Apply(h.kv, &statemachine.Command{ID: fmt.Sprint(h.n), Store: "s1", Op: op, Time: 1, Body: []byte(body)})
	}
	for _, c := range []struct{ op, body, want string }{
		{"synonyms.upsert", `{`, "JSON list"},
		{"synonyms.upsert", `[]`, "empty"},
		{"synonyms.upsert", `[{"query":"c","synonyms":["d"]},{"query":"","synonyms":["d"]}]`, "synonyms 1"},
		{"synonyms.upsert", `[{"query":"c","synonym":["d"]}]`, "unknown field"},
		{"synonyms.upsert", "[{\"query\":\"\xff\",\"synonyms\":[\"d\"]}]", "synonyms 0"},
		{"synonyms.patch", `[{"query":"nope","synonyms":["d"]}]`, "no synonyms record"},
		{"synonyms.patch", `[{"synonyms":["d"]}]`, "names its record"},
		{"synonyms.delete", `{"a":1}`, "JSON list of names"},
		{"redirects.upsert", `[{"url":"","queries":["x"]}]`, "url is required"},
		{"merchandising.upsert", `[{"id":"c","rules":[],"triggers":[{"type":"searches_all"}]}]`, "rules"},
		{"search_settings.upsert", `{"language":"xx","weights":{"name":1}}`, "language"},
		{"search_settings.patch", `{}`, "unknown op"},
		{"search_settings.upsert", `null`, "at least one field weight"},
	} {
		res := raw(c.op, c.body)
		err, ok := res.(error)
		if !ok || !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: got %v, want a rejection saying %q", c.op, c.body, res, c.want)
		}
	}
	if len(h.kv) != before {
		t.Errorf("rejected commands wrote %d keys", len(h.kv)-before)
	}
	if got := h.e.Store("s1").Synonyms(nil); len(got) != 1 {
		t.Errorf("rejected commands changed the synonyms: %+v", got)
	}

	// Limits: the count per store holds across commands.
	saved := MerchLimits
	defer func() { MerchLimits = saved }()
	MerchLimits.MaxRedirects = 2
	h.mustApply("s1", merchOp("redirects", ActionUpsert), []search.Redirect{{URL: "/1", Queries: []string{"one"}}, {URL: "/2", Queries: []string{"two"}}})
	h.mustApply("s1", merchOp("redirects", ActionUpsert), []search.Redirect{{URL: "/1", Queries: []string{"uno"}}}) // a replacement is not one more
	if err, ok := h.apply("s1", merchOp("redirects", ActionUpsert), []search.Redirect{{URL: "/3", Queries: []string{"three"}}}).(error); !ok || !strings.Contains(err.Error(), "at most 2 allowed") {
		t.Errorf("third redirect: %v, want the count limit", err)
	}
	MerchLimits.MaxKindBytes = 100
	big := search.Synonym{Query: "long", Synonyms: []string{strings.Repeat("word ", 7)}}
	if err, ok := h.apply("s1", merchOp("synonyms", ActionUpsert), []search.Synonym{big, {Query: "x", Synonyms: []string{"y"}}}).(error); !ok || !strings.Contains(err.Error(), "bytes, at most 100") {
		t.Errorf("oversized synonyms: %v, want the byte limit", err)
	}
}

// TestMerchApplyNeverPanics feeds arbitrary bodies to every op.
func TestMerchApplyNeverPanics(t *testing.T) {
	h := newHarness(t)
	bodies := []string{"", "null", "[null]", "[1]", `[{"query":null}]`, `[{"id":"c","active":"yes"}]`, `[[[]]]`, `"x"`, `[{"url":"/u","queries":[null]}]`,
		`[{"id":"c","rules":[{"action":"pin","products":[""]}],"triggers":[{"type":"searches_all"}]}]`, `[{"query":"a","products":{"pin":[1]}}]`}
	for _, kind := range []string{"synonyms", "redirects", "customized_search", "merchandising", "search_settings"} {
		for _, action := range []string{ActionUpsert, ActionPatch, ActionDelete} {
			for _, b := range bodies {
				h.n++
				res := h.e.Apply(h.kv, &statemachine.Command{ID: fmt.Sprint(h.n), Store: "s1", Op: kind + "." + action, Body: []byte(b)})
				if r, ok := res.(Result); ok && r.Applied > 0 {
					js, _ := json.Marshal(b)
					t.Errorf("%s.%s %s applied %d", kind, action, js, r.Applied)
				}
			}
		}
	}
}

// FuzzMerchApply: no command body panics a replica, and a store's
// records always read back as they validate.
func FuzzMerchApply(f *testing.F) {
	for _, seed := range []string{`[{"query":"a","synonyms":["b"]}]`, `[{"url":"/u","queries":["q"],"exact_match":true}]`,
		`[{"query":"q","products":{"pin":["p"],"hide":["h"]}}]`, `{"language":"da","weights":{"name":1}}`, `["a"]`,
		`[{"id":"c","start_at":1,"end_at":2,"rules":[{"action":"pin","products":["p"]}],"triggers":[{"type":"searches_query","queries":["x"]}],"triggers_match":"all"}]`} {
		f.Add(uint8(0), uint8(0), []byte(seed))
	}
	kinds := []string{"synonyms", "redirects", "customized_search", "merchandising", "search_settings"}
	actions := []string{ActionUpsert, ActionPatch, ActionDelete}
	f.Fuzz(func(t *testing.T, k, a uint8, body []byte) {
		h := newHarness(t)
		op := kinds[int(k)%len(kinds)] + "." + actions[int(a)%len(actions)]
		h.e.Apply(h.kv, &statemachine.Command{ID: "1", Store: "s", Op: op, Body: body})
		if st := h.e.Store("s"); st != nil {
			st.Merch().Plan("q x a", time.Unix(1, 0), true)
			for _, c := range st.Campaigns(nil) {
				if err := c.Validate(MerchLimits); err != nil {
					t.Fatalf("stored an invalid campaign: %v", err)
				}
			}
		}
		fresh := New(DefaultConfig())
		if err := fresh.Load(h.kv); err != nil {
			t.Fatalf("Load of what Apply wrote: %v", err)
		}
	})
}
