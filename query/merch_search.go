package query

import (
	"fmt"
	"sync"
	"time"

	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/search"
	"github.com/sibylhq/sibyl/text"
)

// Merchandising applied to a search (issue 13 item 4): searchLogic ranks
// the query's products, then hands them to applyMerch, which adds the
// products of the query's synonyms, puts the pins first, drops the
// hidden, and notes a redirect. What it decided travels to the answer as
// request user values: the redirect url, the pinned ids (which pass the
// `filter` parameter, as Clerk's pins do) and notes for `debug`.

const (
	// redirectKey holds the url a search redirects to.
	redirectKey = "search.redirect"
	// pinnedKey holds the idSet of products merchandising pinned.
	pinnedKey = "search.pinned"
	// merchNotesKey holds what merchandising did ([]string), for debug.
	merchNotesKey = "search.merch_notes"
)

// applyMerch applies the store's merchandising to a search's ranked
// products and returns the new ranking.
func applyMerch(r *request, st StoreReader, query string, predictive bool, ranked []ingest.ID) []ingest.ID {
	ms := merchOf(st)
	if ms == nil {
		return ranked
	}
	m := ms.Merch()
	if m.Empty() {
		return ranked
	}
	// Notes cost formatting: only debug answers show them (recs has
	// already refused a malformed debug parameter).
	explain, _ := r.p.boolParam("debug", false)
	var notes []string
	if url, ok := m.Redirect(query); ok {
		r.ctx.SetUserValue(redirectKey, url)
		if explain {
			notes = append(notes, fmt.Sprintf("redirect to %q", url))
		}
	}
	if alts := m.Synonyms.Alternatives(query); len(alts) > 0 {
		var added int
		ranked, added = mergeAlternatives(r, st, alts, predictive, ranked)
		if explain {
			notes = append(notes, fmt.Sprintf("synonyms: also searched %q (%d more products)", alts, added))
		}
	}
	plan := m.Plan(query, time.Now(), explain)
	notes = append(notes, plan.Notes...)
	if !plan.Empty() {
		ranked = search.ApplyPlan(plan, ranked)
		r.ctx.SetUserValue(pinnedKey, newIDSet(toIDs(plan.Pins)))
	}
	if len(notes) > 0 {
		r.ctx.SetUserValue(merchNotesKey, notes)
	}
	return ranked
}

// searchAlternatives are the other texts a query is searched as, by the
// store's synonyms (at most search.MaxAlternatives).
func searchAlternatives(st StoreReader, query string) []string {
	ms := merchOf(st)
	if ms == nil {
		return nil
	}
	return ms.Merch().Synonyms.Alternatives(query)
}

// mergeAlternatives runs the search for each alternative and appends the
// products they find that the query did not, in the alternatives' order,
// and returns how many it added. When the query itself found nothing and
// an alternative matches exactly, the answer is no longer "no exact
// match".
//
// TODO(coordinator): search.Query.Alternatives ranks a doc by the best
// of its matches inside search.Index; once searchLogic passes
// searchAlternatives(st, q) there, delete this function and its call.
func mergeAlternatives(r *request, st StoreReader, alts []string, predictive bool, ranked []ingest.ID) ([]ingest.ID, int) {
	ss := searchOf(st)
	an := storeAnalyzer(st)
	seen := newIDSet(ranked)
	added := 0
	wasEmpty := len(ranked) == 0
	for _, alt := range alts {
		hits := ss.ix.Search(search.Query{Text: alt, Prefix: predictive})
		if wasEmpty && len(hits) > 0 && hits[0].Typos == 0 && hits[0].Words == len(an.Tokens(alt, nil)) {
			r.ctx.SetUserValue(noExactMatchKey, false)
		}
		for _, h := range hits {
			id := ss.ids[h.Doc]
			if !seen.has(id) {
				seen.add(id)
				ranked = append(ranked, id)
				added++
			}
		}
	}
	return ranked, added
}

// storeAnalyzer is the analyzer of the store's search language (its
// settings; English until it chooses). Analyzers are made once per
// language.
//
// TODO(coordinator): the index must be rebuilt when the language
// changes. A settings write bumps the data version; if the index is
// kept by CatalogSeq, key it by the language too.
func storeAnalyzer(st StoreReader) *text.Analyzer {
	lang := search.DefaultSettings().Language
	if ms := merchOf(st); ms != nil {
		lang = ms.SearchSettings().Language
	}
	if an, ok := analyzers.Load(lang); ok {
		return an.(*text.Analyzer)
	}
	an, err := text.NewAnalyzer(lang)
	if err != nil {
		// Settings are validated before they are stored; a language a
		// newer node knows falls back to the default.
		return searchAnalyzer
	}
	analyzers.Store(lang, an)
	return an
}

// analyzers caches an analyzer per language name (a dozen at most: the
// names text.NewAnalyzer accepts).
var analyzers sync.Map
