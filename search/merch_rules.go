package search

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sibylhq/sibyl/text"
)

// Merchandising records (issue 13 item 4), in the shapes of Clerk's
// /synonyms, /redirects, /customized_search and /merchandising, plus
// Sibyl's per-store search settings. The API validates them before they
// are replicated and the engine validates them again when it applies
// them, so each type's Validate is the one place that says what a good
// record is.

// MerchLimits bound one store's merchandising records: every field is
// network input, and every record is read on every search.
type MerchLimits struct {
	MaxSynonymRules, MaxRedirects, MaxCustomizations, MaxCampaigns int
	// MaxPhraseBytes and MaxPhraseWords bound a query or a synonym.
	MaxPhraseBytes, MaxPhraseWords int
	// MaxListItems bounds every list of a record (synonyms, queries,
	// pins, rules, triggers).
	MaxListItems int
	// MaxURLBytes bounds a redirect's url (it is the record's key).
	MaxURLBytes int
	// MaxIDBytes bounds a product, category or page id and a campaign id.
	MaxIDBytes int
	// MaxTextBytes bounds a campaign's name and description.
	MaxTextBytes int
	// MaxCampaignProducts bounds the products a campaign's rules name.
	MaxCampaignProducts int
	// MaxKindBytes bounds the encoded size of all of a store's records
	// of one kind, whatever mix of counts and sizes makes it.
	MaxKindBytes int
}

// DefaultMerchLimits are the limits every node applies.
func DefaultMerchLimits() MerchLimits {
	return MerchLimits{
		MaxSynonymRules: 10000, MaxRedirects: 1000, MaxCustomizations: 10000, MaxCampaigns: 1000,
		MaxPhraseBytes: 256, MaxPhraseWords: 8, MaxListItems: 100, MaxURLBytes: 1000, MaxIDBytes: 256,
		MaxTextBytes: 2000, MaxCampaignProducts: 1000, MaxKindBytes: 8 << 20,
	}
}

// plain folds and splits text without stemming: merchandising rules
// compare the words a shopper typed, as the rule's author wrote them.
var plain, _ = text.NewAnalyzer("")

// Words returns the folded words of s (text.Fold, split as the index
// splits), the form every merchandising rule compares.
func Words(s string) []string {
	toks := plain.Tokens(s, nil)
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = t.Text
	}
	return out
}

// Normalize is s's folded words joined by single spaces: "Red  Shoes!"
// and "red shoes" are the same query.
func Normalize(s string) string { return strings.Join(Words(s), " ") }

// Synonym is Clerk's synonym object: Query and every one of Synonyms
// mean the same (two-way); Query also finds each DirectedSynonyms, not
// the other way around (one-way). The normalized Query is its key.
type Synonym struct {
	Query            string   `json:"query"`
	Synonyms         []string `json:"synonyms"`
	DirectedSynonyms []string `json:"directed_synonyms"`
}

// Key identifies the rule: its normalized query.
func (s *Synonym) Key() string { return Normalize(s.Query) }

// Validate checks the rule against the limits.
func (s *Synonym) Validate(lim MerchLimits) error {
	if err := checkPhrase("query", s.Query, lim); err != nil {
		return err
	}
	if len(s.Synonyms)+len(s.DirectedSynonyms) == 0 {
		return fmt.Errorf("synonym %s has neither synonyms nor directed_synonyms", quote(s.Query))
	}
	if err := checkPhrases("synonyms", s.Synonyms, lim); err != nil {
		return err
	}
	return checkPhrases("directed_synonyms", s.DirectedSynonyms, lim)
}

// Redirect is Clerk's redirect object: a query matching one of Queries
// answers with URL. ExactMatch: the whole query is one of them; else the
// query holds one of them as consecutive words.
type Redirect struct {
	URL        string   `json:"url"`
	Queries    []string `json:"queries"`
	ExactMatch bool     `json:"exact_match"`
}

// Key identifies the redirect: its url.
func (r *Redirect) Key() string { return r.URL }

// Validate checks the redirect against the limits.
func (r *Redirect) Validate(lim MerchLimits) error {
	if strings.TrimSpace(r.URL) == "" {
		return fmt.Errorf("url is required")
	}
	if len(r.URL) > lim.MaxURLBytes {
		return fmt.Errorf("url of %d bytes, at most %d", len(r.URL), lim.MaxURLBytes)
	}
	if !utf8.ValidString(r.URL) || strings.IndexFunc(r.URL, unicode.IsControl) >= 0 || strings.TrimSpace(r.URL) != r.URL {
		return fmt.Errorf("url %s: not valid UTF-8, or it has control characters or surrounding spaces", quote(r.URL))
	}
	if len(r.Queries) == 0 {
		return fmt.Errorf("redirect %s has no queries", quote(r.URL))
	}
	return checkPhrases("queries", r.Queries, lim)
}

// PinHide is what a customized search does to one kind of result: Pin
// puts these first, in this order; Hide leaves these out.
type PinHide struct {
	Pin  []string `json:"pin"`
	Hide []string `json:"hide"`
}

// Customization is Clerk's customized search rule for one query: pins
// and hides of products, categories, pages and suggestions. Sibyl
// applies the products' (the other kinds are stored and returned for the
// search/categories, pages and suggestions calls to come).
type Customization struct {
	Query       string  `json:"query"`
	Products    PinHide `json:"products"`
	Categories  PinHide `json:"categories"`
	Pages       PinHide `json:"pages"`
	Suggestions PinHide `json:"suggestions"`
}

// Key identifies the rule: its normalized query.
func (c *Customization) Key() string { return Normalize(c.Query) }

// Validate checks the rule against the limits.
func (c *Customization) Validate(lim MerchLimits) error {
	if err := checkPhrase("query", c.Query, lim); err != nil {
		return err
	}
	for _, k := range []struct {
		name string
		ph   PinHide
		ids  bool
	}{{"products", c.Products, true}, {"categories", c.Categories, true}, {"pages", c.Pages, true}, {"suggestions", c.Suggestions, false}} {
		for _, l := range []struct {
			name string
			list []string
		}{{"pin", k.ph.Pin}, {"hide", k.ph.Hide}} {
			field := k.name + "." + l.name
			var err error
			if k.ids {
				err = checkIDs(field, l.list, lim)
			} else {
				err = checkPhrases(field, l.list, lim)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// Campaign triggers, rule actions and trigger matching.
const (
	TriggerAllSearches = "searches_all"
	// TriggerQueries fires when the normalized query is one of Queries.
	TriggerQueries = "searches_query"
	ActionPin      = "pin"
	ActionHide     = "hide"
	MatchAny       = "any"
	MatchAll       = "all"
)

// Campaign is Clerk's merchandising campaign: while Active and between
// StartAt and EndAt (unix seconds, each optional), a search its triggers
// match gets its rules (pin or hide products).
type Campaign struct {
	ID            string         `json:"id"`
	Name          string         `json:"name"`
	Description   string         `json:"description"`
	Active        *bool          `json:"active"`
	StartAt       *int64         `json:"start_at"`
	EndAt         *int64         `json:"end_at"`
	Rules         []CampaignRule `json:"rules"`
	Triggers      []Trigger      `json:"triggers"`
	TriggersMatch string         `json:"triggers_match"`
}

// CampaignRule is one action of a campaign on products.
type CampaignRule struct {
	Action   string   `json:"action"`
	Products []string `json:"products"`
}

// Trigger says which searches a campaign is for.
type Trigger struct {
	Type    string   `json:"type"`
	Queries []string `json:"queries,omitempty"`
}

// Key identifies the campaign: its id.
func (c *Campaign) Key() string { return c.ID }

// campaignID is what a campaign id may hold: it names the record in
// URLs and in debug notes.
var campaignID = regexp.MustCompile(`^[A-Za-z0-9_.:-]+$`)

// maxUnixSeconds bounds start_at and end_at (year 5138): times are
// compared as seconds, and nothing later is a campaign.
const maxUnixSeconds = 1 << 37

// Validate checks the campaign against the limits and fills in the
// defaults (active, triggers_match "any").
func (c *Campaign) Validate(lim MerchLimits) error {
	if c.ID == "" || len(c.ID) > lim.MaxIDBytes || !campaignID.MatchString(c.ID) {
		return fmt.Errorf("campaign id %s: 1 to %d letters, digits or _.:-", quote(c.ID), lim.MaxIDBytes)
	}
	if err := checkText("name", c.Name, lim.MaxTextBytes); err != nil {
		return err
	}
	if err := checkText("description", c.Description, lim.MaxTextBytes); err != nil {
		return err
	}
	if c.Active == nil {
		t := true
		c.Active = &t
	}
	for _, t := range []struct {
		name string
		v    *int64
	}{{"start_at", c.StartAt}, {"end_at", c.EndAt}} {
		if t.v != nil && (*t.v < 0 || *t.v > maxUnixSeconds) {
			return fmt.Errorf("%s must be unix seconds between 0 and %d, got %d", t.name, int64(maxUnixSeconds), *t.v)
		}
	}
	if c.StartAt != nil && c.EndAt != nil && *c.EndAt <= *c.StartAt {
		return fmt.Errorf("end_at (%d) must be after start_at (%d)", *c.EndAt, *c.StartAt)
	}
	if len(c.Rules) == 0 || len(c.Rules) > lim.MaxListItems {
		return fmt.Errorf("a campaign has 1 to %d rules, got %d", lim.MaxListItems, len(c.Rules))
	}
	products := 0
	for i, r := range c.Rules {
		if products += len(r.Products); products > lim.MaxCampaignProducts {
			return fmt.Errorf("the rules name more than %d products", lim.MaxCampaignProducts)
		}
		if r.Action != ActionPin && r.Action != ActionHide {
			return fmt.Errorf("rules[%d].action must be %q or %q, got %s", i, ActionPin, ActionHide, quote(r.Action))
		}
		if len(r.Products) == 0 {
			return fmt.Errorf("rules[%d] names no products", i)
		}
		if err := checkIDs(fmt.Sprintf("rules[%d].products", i), r.Products, lim); err != nil {
			return err
		}
	}
	if len(c.Triggers) == 0 || len(c.Triggers) > lim.MaxListItems {
		return fmt.Errorf("a campaign has 1 to %d triggers, got %d", lim.MaxListItems, len(c.Triggers))
	}
	for i, t := range c.Triggers {
		switch t.Type {
		case TriggerAllSearches:
			if len(t.Queries) > 0 {
				return fmt.Errorf("triggers[%d]: %s takes no queries", i, TriggerAllSearches)
			}
		case TriggerQueries:
			if len(t.Queries) == 0 {
				return fmt.Errorf("triggers[%d]: %s needs queries", i, TriggerQueries)
			}
			if err := checkPhrases(fmt.Sprintf("triggers[%d].queries", i), t.Queries, lim); err != nil {
				return err
			}
		default:
			return fmt.Errorf("triggers[%d].type must be %q or %q, got %s", i, TriggerAllSearches, TriggerQueries, quote(t.Type))
		}
	}
	switch c.TriggersMatch {
	case "":
		c.TriggersMatch = MatchAny
	case MatchAny, MatchAll:
	default:
		return fmt.Errorf("triggers_match must be %q or %q, got %s", MatchAny, MatchAll, quote(c.TriggersMatch))
	}
	return nil
}

// FieldWeights weigh where a query word matched. A weight of 0 leaves
// the field out of matching.
type FieldWeights struct {
	Name        float64 `json:"name"`
	Keywords    float64 `json:"keywords"`
	Categories  float64 `json:"categories"`
	Brand       float64 `json:"brand"`
	Description float64 `json:"description"`
}

// Settings is a store's search configuration (Sibyl's own document):
// the language its text is stemmed in ("" = fold, do not stem) and the
// field weights.
type Settings struct {
	Language string       `json:"language"`
	Weights  FieldWeights `json:"weights"`
}

// maxFieldWeight bounds a field weight: weights are relative.
const maxFieldWeight = 100

// DefaultSettings are a store's settings until it sets its own: English
// stemming (as search did before stores could choose) and the fields'
// default order, name first.
func DefaultSettings() Settings {
	return Settings{Language: "english", Weights: FieldWeights{Name: 5, Keywords: 4, Categories: 3, Brand: 2, Description: 1}}
}

// Validate checks the settings and canonicalizes the language (an ISO
// code becomes the language's name).
func (s *Settings) Validate() error {
	an, err := text.NewAnalyzer(s.Language)
	if err != nil {
		return fmt.Errorf("language: %w", err)
	}
	s.Language = an.Language()
	w := s.Weights
	positive := false
	for _, f := range []struct {
		name string
		v    float64
	}{{"name", w.Name}, {"keywords", w.Keywords}, {"categories", w.Categories}, {"brand", w.Brand}, {"description", w.Description}} {
		if math.IsNaN(f.v) || f.v < 0 || f.v > maxFieldWeight {
			return fmt.Errorf("weights.%s must be between 0 and %d, got %v", f.name, maxFieldWeight, f.v)
		}
		positive = positive || f.v > 0
	}
	if !positive {
		return fmt.Errorf("at least one field weight must be above 0: nothing would be searched")
	}
	return nil
}

// Analyzer is the settings' analyzer (the default's when the language is
// not one text knows, which Validate prevents).
func (s Settings) Analyzer() *text.Analyzer {
	if an, err := text.NewAnalyzer(s.Language); err == nil {
		return an
	}
	an, _ := text.NewAnalyzer(DefaultSettings().Language)
	return an
}

func checkPhrase(field, s string, lim MerchLimits) error {
	if len(s) > lim.MaxPhraseBytes {
		return fmt.Errorf("%s of %d bytes, at most %d", field, len(s), lim.MaxPhraseBytes)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", field)
	}
	words := Words(s)
	n := len(words)
	// Folding can lengthen text (NFKD: "㍿" is four letters); the folded
	// phrase is a record key, so it is bounded too.
	if folded := len(strings.Join(words, " ")); folded > 2*lim.MaxPhraseBytes {
		return fmt.Errorf("%s folds to %d bytes, at most %d", field, folded, 2*lim.MaxPhraseBytes)
	}
	if n == 0 {
		return fmt.Errorf("%s %s has no words", field, quote(s))
	}
	if n > lim.MaxPhraseWords {
		return fmt.Errorf("%s %s has %d words, at most %d", field, quote(s), n, lim.MaxPhraseWords)
	}
	return nil
}

func checkPhrases(field string, list []string, lim MerchLimits) error {
	if len(list) > lim.MaxListItems {
		return fmt.Errorf("%s has %d items, at most %d", field, len(list), lim.MaxListItems)
	}
	for i, s := range list {
		if err := checkPhrase(fmt.Sprintf("%s[%d]", field, i), s, lim); err != nil {
			return err
		}
	}
	return nil
}

func checkIDs(field string, ids []string, lim MerchLimits) error {
	if len(ids) > lim.MaxListItems {
		return fmt.Errorf("%s has %d ids, at most %d", field, len(ids), lim.MaxListItems)
	}
	for i, id := range ids {
		if id == "" || len(id) > lim.MaxIDBytes || !utf8.ValidString(id) {
			return fmt.Errorf("%s[%d]: an id is 1 to %d bytes of UTF-8, got %d bytes", field, i, lim.MaxIDBytes, len(id))
		}
	}
	return nil
}

func checkText(field, s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%s of %d bytes, at most %d", field, len(s), max)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", field)
	}
	return nil
}

// quote shows input in an error, clipped: errors echo what was sent.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return fmt.Sprintf("%q", s)
}
