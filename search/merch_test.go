package search

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSynonymAlternatives(t *testing.T) {
	s := NewSynonyms([]Synonym{
		{Query: "sofa", Synonyms: []string{"couch", "Settee"}},
		{Query: "tee", DirectedSynonyms: []string{"T-Shirt"}},
		{Query: "hand bag", Synonyms: []string{"purse"}},
	})
	f := func(query string, want ...string) {
		t.Helper()
		if got := s.Alternatives(query); !slices.Equal(got, want) {
			t.Errorf("Alternatives(%q) = %q, want %q", query, got, want)
		}
	}
	f("Sofa", "couch", "settee")
	f("grey couch", "grey sofa", "grey settee")              // two-way: any member stands for the others
	f("tee red", "t shirt red")                              // one-way, from the root
	f("t-shirt")                                             // ... not back
	f("leather HAND-BAG", "leather purse")                   // a multi-word phrase, folded
	f("purse", "hand bag")                                   // and back
	f("handbag")                                             // words, not substrings
	f("lamp")                                                // nothing matches
	f("sofa tee", "couch tee", "settee tee", "sofa t shirt") // each phrase replaced on its own
}

func TestSynonymAlternativesBounded(t *testing.T) {
	var many []string
	for i := range 50 {
		many = append(many, "word"+strings.Repeat("x", i))
	}
	s := NewSynonyms([]Synonym{{Query: "big", Synonyms: many}})
	if got := s.Alternatives("big big big"); len(got) != MaxAlternatives {
		t.Errorf("got %d alternatives, want the bound %d", len(got), MaxAlternatives)
	}
}

func TestRedirect(t *testing.T) {
	m := NewMerch(nil, []Redirect{
		{URL: "/sale", Queries: []string{"Sale"}, ExactMatch: true},
		{URL: "/contact", Queries: []string{"customer service", "contact"}},
		{URL: "/service", Queries: []string{"service"}},
	}, nil, nil, DefaultSettings())
	f := func(query, want string) {
		t.Helper()
		got, ok := m.Redirect(query)
		if got != want || ok != (want != "") {
			t.Errorf("Redirect(%q) = %q, %v; want %q", query, got, ok, want)
		}
	}
	f("SALE!", "/sale")
	f("summer sale", "")                       // exact_match: the whole query only
	f("where is customer service", "/contact") // contained, the longest phrase wins
	f("service hours", "/service")
	f("contacts", "") // words, not substrings
	f("", "")
}

func TestPlan(t *testing.T) {
	at := func(s int64) *int64 { return &s }
	off := false
	now := time.Unix(1000, 0)
	m := NewMerch(nil, nil, []Customization{
		{Query: "Shoes", Products: PinHide{Pin: []string{"p9", "p8"}, Hide: []string{"p1"}}},
	}, []Campaign{
		{ID: "b-all", Rules: []CampaignRule{{Action: ActionPin, Products: []string{"p7", "p9"}}}, Triggers: []Trigger{{Type: TriggerAllSearches}}},
		{ID: "a-later", StartAt: at(2000), Rules: []CampaignRule{{Action: ActionPin, Products: []string{"p6"}}}, Triggers: []Trigger{{Type: TriggerAllSearches}}},
		{ID: "c-over", EndAt: at(1000), Rules: []CampaignRule{{Action: ActionPin, Products: []string{"p5"}}}, Triggers: []Trigger{{Type: TriggerAllSearches}}},
		{ID: "d-off", Active: &off, Rules: []CampaignRule{{Action: ActionPin, Products: []string{"p4"}}}, Triggers: []Trigger{{Type: TriggerAllSearches}}},
		{ID: "e-boots", StartAt: at(500), EndAt: at(1500), Rules: []CampaignRule{{Action: ActionHide, Products: []string{"p2", "p7"}}},
			Triggers: []Trigger{{Type: TriggerQueries, Queries: []string{"boots", "winter boots"}}}},
		{ID: "f-both", TriggersMatch: MatchAll, Rules: []CampaignRule{{Action: ActionPin, Products: []string{"p3"}}},
			Triggers: []Trigger{{Type: TriggerQueries, Queries: []string{"boots", "hats"}}, {Type: TriggerQueries, Queries: []string{"hats"}}}},
	}, DefaultSettings())
	ranked := []string{"p1", "p2", "p3", "p7", "p8", "p10"}
	f := func(query string, want ...string) {
		t.Helper()
		p := m.Plan(query, now, true)
		if got := ApplyPlan(p, ranked); !slices.Equal(got, want) {
			t.Errorf("%q: got %q, want %q (notes %q)", query, got, want, p.Notes)
		}
	}
	// The customization's pins lead, then the running campaign's; p1 is hidden.
	f("shoes", "p9", "p8", "p7", "p2", "p3", "p10")
	// Only the all-searches campaign runs: the others are outside their windows or off.
	f("lamp", "p7", "p9", "p1", "p2", "p3", "p8", "p10")
	// A hide beats a pin (p7), and the query trigger fires on its query only.
	f("Boots", "p9", "p1", "p3", "p8", "p10")
	// triggers_match all: every trigger must fire.
	f("hats", "p7", "p9", "p3", "p1", "p2", "p8", "p10")
	p := m.Plan("lamp", now, true)
	notes := strings.Join(p.Notes, "\n")
	for _, want := range []string{`"a-later": starts at 2000`, `"c-over": ended at 1000`, `"d-off": inactive`, `"b-all": pinned 2`} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes %q lack %q", notes, want)
		}
	}
}

func TestMerchValidate(t *testing.T) {
	lim := DefaultMerchLimits()
	long := strings.Repeat("a ", lim.MaxPhraseWords+1)
	f := func(name string, err error, want string) {
		t.Helper()
		if want == "" && err != nil {
			t.Errorf("%s: unexpected error %v", name, err)
		}
		if want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: error %v, want one saying %q", name, err, want)
		}
	}
	ok := Synonym{Query: "a", Synonyms: []string{"b"}}
	f("good synonym", ok.Validate(lim), "")
	f("no synonyms", (&Synonym{Query: "a"}).Validate(lim), "neither synonyms nor directed_synonyms")
	f("empty query", (&Synonym{Query: " !", Synonyms: []string{"b"}}).Validate(lim), "has no words")
	f("long phrase", (&Synonym{Query: "a", Synonyms: []string{long}}).Validate(lim), "synonyms[0]")
	f("folds long", (&Synonym{Query: strings.Repeat("\uFDFA", 80), Synonyms: []string{"b"}}).Validate(lim), "folds to")
	f("bad utf8", (&Synonym{Query: "a\xff", Synonyms: []string{"b"}}).Validate(lim), "UTF-8")
	f("redirect no url", (&Redirect{Queries: []string{"x"}}).Validate(lim), "url is required")
	f("redirect no queries", (&Redirect{URL: "/x"}).Validate(lim), "no queries")
	f("custom empty id", (&Customization{Query: "x", Products: PinHide{Pin: []string{""}}}).Validate(lim), "products.pin[0]")
	c := Campaign{ID: "c1", Rules: []CampaignRule{{Action: "pin", Products: []string{"p"}}}, Triggers: []Trigger{{Type: TriggerAllSearches}}}
	f("good campaign", c.Validate(lim), "")
	if c.Active == nil || !*c.Active || c.TriggersMatch != MatchAny {
		t.Errorf("defaults not filled: %+v", c)
	}
	bad := c
	bad.ID = "a/b"
	f("campaign id", bad.Validate(lim), "campaign id")
	bad = c
	bad.Rules = []CampaignRule{{Action: "boost", Products: []string{"p"}}}
	f("campaign action", bad.Validate(lim), "rules[0].action")
	s, e := int64(10), int64(5)
	bad = c
	bad.StartAt, bad.EndAt = &s, &e
	f("campaign window", bad.Validate(lim), "must be after start_at")
	bad = c
	bad.Triggers = []Trigger{{Type: TriggerQueries}}
	f("trigger queries", bad.Validate(lim), "needs queries")
	st := Settings{Language: "da", Weights: FieldWeights{Name: 1}}
	f("settings", st.Validate(), "")
	if st.Language != "danish" {
		t.Errorf("language not canonical: %q", st.Language)
	}
	f("settings language", (&Settings{Language: "klingon", Weights: FieldWeights{Name: 1}}).Validate(), "language")
	f("settings weights", (&Settings{Weights: FieldWeights{Name: -1}}).Validate(), "weights.name")
	f("settings no weight", (&Settings{}).Validate(), "at least one field weight")
}

// NextChange is the nearest campaign start or end ahead: until then a
// query's plan does not change with time.
func TestMerchNextChange(t *testing.T) {
	at := func(s int64) *int64 { return &s }
	m := NewMerch(nil, nil, nil, []Campaign{
		{ID: "a", StartAt: at(100), EndAt: at(500)},
		{ID: "b", StartAt: at(300)},
		{ID: "c"},
	}, DefaultSettings())
	for _, tc := range []struct{ now, want int64 }{{50, 100}, {100, 300}, {299, 300}, {300, 500}, {600, 0}} {
		got := m.NextChange(time.Unix(tc.now, 0))
		if (tc.want == 0) != got.IsZero() || tc.want != 0 && got.Unix() != tc.want {
			t.Errorf("at %d: next change %v, want %d", tc.now, got, tc.want)
		}
	}
}
