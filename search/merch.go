package search

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Merch is a store's merchandising, compiled for searches: synonyms,
// redirects, customized searches and campaigns, each looked up by the
// normalized query in constant time (campaigns for every search are the
// only ones walked). Build it with NewMerch; it is read-only afterwards.
type Merch struct {
	Synonyms *Synonyms
	Settings Settings

	exactRedirect    map[string]string
	containsRedirect map[string]string
	redirectWords    int

	custom map[string]*Customization

	campaigns []Campaign
	// allSearches are the campaigns with a searches_all trigger, byQuery
	// those with the normalized query in a searches_query trigger.
	allSearches []int
	byQuery     map[string][]int
}

// NewMerch compiles a store's records. Records sharing a key are taken
// in the order given, the first winning; callers pass them sorted by key
// so that every replica compiles the same Merch.
func NewMerch(synonyms []Synonym, redirects []Redirect, custom []Customization, campaigns []Campaign, settings Settings) *Merch {
	m := &Merch{
		Synonyms:         NewSynonyms(synonyms),
		Settings:         settings,
		exactRedirect:    make(map[string]string),
		containsRedirect: make(map[string]string),
		custom:           make(map[string]*Customization, len(custom)),
		campaigns:        campaigns,
		byQuery:          make(map[string][]int),
	}
	for _, r := range redirects {
		for _, q := range r.Queries {
			n := Normalize(q)
			if n == "" {
				continue
			}
			target := m.containsRedirect
			if r.ExactMatch {
				target = m.exactRedirect
			} else {
				m.redirectWords = max(m.redirectWords, strings.Count(n, " ")+1)
			}
			if _, ok := target[n]; !ok {
				target[n] = r.URL
			}
		}
	}
	for i := range custom {
		if k := custom[i].Key(); k != "" && m.custom[k] == nil {
			m.custom[k] = &custom[i]
		}
	}
	for i, c := range campaigns {
		all, queries := campaignQueries(&c)
		if all {
			m.allSearches = append(m.allSearches, i)
			continue
		}
		for _, q := range queries {
			m.byQuery[q] = append(m.byQuery[q], i)
		}
	}
	return m
}

// Empty reports whether the store has no synonyms, redirects,
// customized searches or campaigns: searches then skip merchandising.
func (m *Merch) Empty() bool {
	return m == nil || (len(m.Synonyms.byPhrase) == 0 && len(m.exactRedirect) == 0 && len(m.containsRedirect) == 0 &&
		len(m.custom) == 0 && len(m.campaigns) == 0)
}

// campaignQueries says which searches trigger c: all of them, or those
// whose normalized query is in the list. With triggers_match "any" a
// query triggers when any trigger fires (the union of the lists); with
// "all" when every one does (the intersection; searches_all fires for
// every query).
func campaignQueries(c *Campaign) (all bool, queries []string) {
	var lists [][]string
	anyAll := false
	for _, t := range c.Triggers {
		switch t.Type {
		case TriggerAllSearches:
			anyAll = true
		case TriggerQueries:
			var l []string
			for _, q := range t.Queries {
				if n := Normalize(q); n != "" {
					l = append(l, n)
				}
			}
			lists = append(lists, l)
		}
	}
	if c.TriggersMatch == MatchAll {
		if len(lists) == 0 {
			return anyAll, nil
		}
		queries = lists[0]
		for _, l := range lists[1:] {
			queries = slices.DeleteFunc(slices.Clone(queries), func(q string) bool { return !slices.Contains(l, q) })
		}
	} else {
		if anyAll {
			return true, nil
		}
		for _, l := range lists {
			queries = append(queries, l...)
		}
	}
	slices.Sort(queries)
	return false, slices.Compact(queries)
}

// Redirect returns the url a query redirects to: a redirect with
// exact_match whose query is the whole (normalized) query, else one
// without whose query appears in it as consecutive words, the longest
// such phrase winning, then the leftmost.
func (m *Merch) Redirect(query string) (url string, ok bool) {
	if m == nil {
		return "", false
	}
	words := Words(query)
	if url, ok := m.exactRedirect[strings.Join(words, " ")]; ok {
		return url, true
	}
	for n := min(m.redirectWords, len(words)); n >= 1; n-- {
		for i := 0; i+n <= len(words); i++ {
			if url, ok := m.containsRedirect[strings.Join(words[i:i+n], " ")]; ok {
				return url, true
			}
		}
	}
	return "", false
}

// Plan is what merchandising does to one search's products: Pins go
// first in this order (whether the text matched them or not), Hidden
// never appear, and Notes say why (the answer's debug).
type Plan struct {
	Pins   []string
	Hidden map[string]bool
	Notes  []string
	// moved are the ids ApplyPlan takes out of the ranking: the pinned
	// and the hidden, one lookup per ranked product.
	moved map[string]bool
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool { return len(p.Pins) == 0 && len(p.Hidden) == 0 }

// Plan decides the pins and hides of a query at time now: the customized
// search of the query first (its pins lead), then the running campaigns
// it triggers, in id order. A product both pinned and hidden is hidden.
// With explain, Notes say what each rule did (the answer's debug).
func (m *Merch) Plan(query string, now time.Time, explain bool) Plan {
	var p Plan
	if m == nil {
		return p
	}
	q := Normalize(query)
	pinned := make(map[string]bool)
	pin := func(ids []string) int {
		n := 0
		for _, id := range ids {
			if !pinned[id] {
				pinned[id] = true
				p.Pins = append(p.Pins, id)
				n++
			}
		}
		return n
	}
	hide := func(ids []string) {
		for _, id := range ids {
			if p.Hidden == nil {
				p.Hidden = make(map[string]bool)
			}
			p.Hidden[id] = true
		}
	}
	if c := m.custom[q]; c != nil {
		n := pin(c.Products.Pin)
		hide(c.Products.Hide)
		if explain {
			p.Notes = append(p.Notes, fmt.Sprintf("customized_search %q: pinned %d, hid %d products", c.Query, n, len(c.Products.Hide)))
		}
	}
	triggered := append(slices.Clone(m.allSearches), m.byQuery[q]...)
	slices.Sort(triggered)
	triggered = slices.Compact(triggered)
	slices.SortFunc(triggered, func(a, b int) int { return strings.Compare(m.campaigns[a].ID, m.campaigns[b].ID) })
	sec := now.Unix()
	for _, i := range triggered {
		c := &m.campaigns[i]
		if why := c.idle(sec); why != "" {
			if explain {
				p.Notes = append(p.Notes, fmt.Sprintf("campaign %q: %s", c.ID, why))
			}
			continue
		}
		pins, hides := 0, 0
		for _, r := range c.Rules {
			switch r.Action {
			case ActionPin:
				pins += pin(r.Products)
			case ActionHide:
				hide(r.Products)
				hides += len(r.Products)
			}
		}
		if explain {
			p.Notes = append(p.Notes, fmt.Sprintf("campaign %q: pinned %d, hid %d products", c.ID, pins, hides))
		}
	}
	if len(p.Hidden) > 0 {
		p.Pins = slices.DeleteFunc(p.Pins, func(id string) bool { return p.Hidden[id] })
	}
	if !p.Empty() {
		p.moved = make(map[string]bool, len(p.Pins)+len(p.Hidden))
		for _, id := range p.Pins {
			p.moved[id] = true
		}
		for id := range p.Hidden {
			p.moved[id] = true
		}
	}
	return p
}

// idle says why a campaign does not run at unix second now ("" when it
// does).
func (c *Campaign) idle(now int64) string {
	switch {
	case c.Active != nil && !*c.Active:
		return "inactive"
	case c.StartAt != nil && now < *c.StartAt:
		return fmt.Sprintf("starts at %d, after now (%d)", *c.StartAt, now)
	case c.EndAt != nil && now >= *c.EndAt:
		return fmt.Sprintf("ended at %d, before now (%d)", *c.EndAt, now)
	}
	return ""
}

// ApplyPlan returns ranked with the plan applied: the pins first in pin
// order, then the rest of ranked in its order, without hidden products.
// ranked is not changed.
func ApplyPlan[ID ~string](p Plan, ranked []ID) []ID {
	if p.Empty() {
		return ranked
	}
	out := make([]ID, 0, len(p.Pins)+len(ranked))
	for _, id := range p.Pins {
		out = append(out, ID(id))
	}
	moved := p.moved
	if moved == nil { // a Plan made by hand
		moved = make(map[string]bool)
		for _, id := range p.Pins {
			moved[id] = true
		}
		for id := range p.Hidden {
			moved[id] = true
		}
	}
	for _, id := range ranked {
		if !moved[string(id)] {
			out = append(out, id)
		}
	}
	return out
}

// NextChange is the first campaign start or end after now (zero when no
// campaign has one ahead): until then, Plan's answer for a query at any
// time equals its answer now, so a cached search answer stays true.
func (m *Merch) NextChange(now time.Time) time.Time {
	var next time.Time
	if m == nil {
		return next
	}
	for _, c := range m.campaigns {
		for _, at := range []*int64{c.StartAt, c.EndAt} {
			if at == nil {
				continue
			}
			if t := time.Unix(*at, 0); t.After(now) && (next.IsZero() || t.Before(next)) {
				next = t
			}
		}
	}
	return next
}

// Customized is the customized search of a query (nil: none): its pins
// and hides apply to the query's categories, pages and suggestions as
// Plan applies its products'.
func (m *Merch) Customized(query string) *Customization {
	if m == nil {
		return nil
	}
	return m.custom[Normalize(query)]
}
