package query

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sibylhq/sibyl/engine"
	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/search"
	"github.com/sibylhq/sibyl/text"
)

// The indexes behind search/suggestions, search/categories and
// search/pages, each built from the catalog once per data version
// (Derived), like the product index of search.go.

// Bounds of the suggestion phrases: phrases of up to suggestWords words,
// from the first suggestNameWords words of each name, at most
// suggestPhrasesKept phrases per store (the best scored).
const (
	suggestWords       = 3
	suggestNameWords   = 10
	suggestPhrasesKept = 100_000
)

// phraseTable holds the catalog's phrases sorted by text, so the phrases
// beginning with what a shopper typed are one range (binary search), and
// a dictionary of its single words for typo correction.
type phraseTable struct {
	phrases []string
	score   []float64
	words   *search.Dict
}

// phrasesOf builds the store's phrase table: every run of 1 to
// suggestWords words of a recommendable product's name, scored by the
// products carrying it, each weighing 1 plus up to 1 more by its rank
// among best sellers: a phrase many products share, and that sells, is
// the likelier completion.
func phrasesOf(st StoreReader) *phraseTable {
	return st.Derived("search.suggestions", func() any {
		pop := st.Popular()
		boost := make(map[ingest.ID]float64, len(pop))
		for i, id := range pop {
			boost[id] = 1 - float64(i)/float64(len(pop))
		}
		// Phrases are numbered as first met; a product's phrases are
		// counted once each (its ids, checked linearly: a name has at most
		// suggestNameWords*suggestWords of them). Lookups by a reused
		// buffer allocate nothing; only a new phrase makes a string.
		index := make(map[string]int32)
		var texts []string
		var scores []float64
		var mine []int32
		var toks []text.Token
		var buf []byte
		for _, p := range st.Products() {
			if !engine.Recommendable(p) {
				continue
			}
			toks = foldAnalyzer.Tokens(p.Name, toks[:0])
			toks = toks[:min(len(toks), suggestNameWords)]
			mine = mine[:0]
			w := 1 + boost[p.ID]
			for i := range toks {
				buf = buf[:0]
				for n := 1; n <= suggestWords && i+n <= len(toks); n++ {
					if n > 1 {
						buf = append(buf, ' ')
					}
					buf = append(buf, toks[i+n-1].Text...)
					if n > 1 && (!phraseEdge(toks[i].Text) || !phraseEdge(toks[i+n-1].Text)) {
						continue // "heart t", "heart of": no completion a shopper types
					}
					id, ok := index[string(buf)]
					if !ok {
						id = int32(len(texts))
						ph := string(buf)
						index[ph] = id
						texts, scores = append(texts, ph), append(scores, 0)
					}
					if !slices.Contains(mine, id) {
						mine = append(mine, id)
						scores[id] += w
					}
				}
			}
		}
		score := make(map[string]float64, len(texts))
		for i, ph := range texts {
			score[ph] = scores[i]
		}
		all := make([]string, 0, len(score))
		for ph := range score {
			all = append(all, ph)
		}
		if len(all) > suggestPhrasesKept {
			slices.SortFunc(all, func(a, b string) int { return cmp.Or(cmp.Compare(score[b], score[a]), cmp.Compare(a, b)) })
			all = all[:suggestPhrasesKept]
		}
		slices.Sort(all)
		t := &phraseTable{phrases: all, score: make([]float64, len(all))}
		var single []string
		for i, ph := range all {
			t.score[i] = score[ph]
			if !strings.Contains(ph, " ") {
				single = append(single, ph)
			}
		}
		t.words = search.NewDict(single)
		return t
	}).(*phraseTable)
}

// complete returns at most limit phrases beginning with key, best scored
// first (ties: shorter, then by text).
func (t *phraseTable) complete(key string, limit int) []string {
	lo, _ := slices.BinarySearch(t.phrases, key)
	type cand struct {
		ph    string
		score float64
	}
	best := make([]cand, 0, limit+1)
	better := func(a, b cand) int {
		return cmp.Or(cmp.Compare(b.score, a.score), cmp.Compare(len(a.ph), len(b.ph)), cmp.Compare(a.ph, b.ph))
	}
	for i := lo; i < len(t.phrases) && strings.HasPrefix(t.phrases[i], key); i++ {
		c := cand{t.phrases[i], t.score[i]}
		if len(best) == limit && better(c, best[limit-1]) >= 0 {
			continue
		}
		at, _ := slices.BinarySearchFunc(best, c, better)
		best = slices.Insert(best, at, c)
		if len(best) > limit {
			best = best[:limit]
		}
	}
	out := make([]string, len(best))
	for i, c := range best {
		out[i] = c.ph
	}
	return out
}

// wordScore is the score of a single word (0: not a phrase).
func (t *phraseTable) wordScore(w string) float64 {
	if i, ok := slices.BinarySearch(t.phrases, w); ok {
		return t.score[i]
	}
	return math.Inf(-1)
}

// correct replaces each word by the catalog word nearest to it (fewest
// typos as text.MaxTypos allows, then the best scored); the last, with
// prefix, by a word it may begin. ok is false when a word has none.
func (t *phraseTable) correct(words []string, prefix bool) ([]string, bool) {
	out := make([]string, len(words))
	for i, w := range words {
		last := prefix && i == len(words)-1
		best, bestTypos, bestScore := "", math.MaxInt, math.Inf(-1)
		t.words.Match(w, text.MaxTypos(utf8.RuneCountInString(w)), last, func(term, typos int) {
			word := t.words.Term(term)
			if s := t.wordScore(word); typos < bestTypos || (typos == bestTypos && s > bestScore) {
				best, bestTypos, bestScore = word, typos, s
			}
		})
		if best == "" {
			return nil, false
		}
		out[i] = best
	}
	return out, true
}

// foldAnalyzer cuts text into folded words without stemming: phrases
// are completed as written.
var foldAnalyzer, _ = text.NewAnalyzer("")

// suggestKey is typed text as phrases are written: its words folded and
// joined by one space; ends tells whether the last word is finished (the
// text ends in a space or punctuation), so only longer phrases follow.
func suggestKey(typed string) (words []string, ends bool) {
	for _, t := range foldAnalyzer.Tokens(typed, nil) {
		words = append(words, t.Text)
	}
	r, _ := utf8.DecodeLastRuneInString(typed)
	return words, len(words) > 0 && !unicode.IsLetter(r) && !unicode.IsDigit(r)
}

// suggestions completes typed text: first queries shoppers searched and
// then clicked from (beginning with the text), then the catalog's
// phrases; when no phrase begins with the text, the text's words
// corrected for typos.
func suggestions(st StoreReader, typed string, limit int) []string {
	out := st.ClickedSearches(typed, limit)
	words, ends := suggestKey(typed)
	if len(words) == 0 || len(out) >= limit {
		return out
	}
	t := phrasesOf(st)
	key := func(ws []string) string {
		k := strings.Join(ws, " ")
		if ends {
			k += " "
		}
		return k
	}
	more := t.complete(key(words), limit)
	if len(more) == 0 {
		if fixed, ok := t.correct(words, !ends); ok {
			more = t.complete(key(fixed), limit)
		}
	}
	for _, ph := range more {
		if len(out) >= limit {
			break
		}
		if !slices.Contains(out, ph) {
			out = append(out, ph)
		}
	}
	return out
}

// namedIndex is a search index over named records (categories, pages):
// doc i is record i.
type namedIndex struct {
	ix    *search.Index
	ids   []ingest.ID
	names []string
	urls  []string
	types []string  // pages only
	score []float64 // tie-breaker and the order of an empty query
}

func (n *namedIndex) hits(q string, limit int, keep func(doc uint32) bool) []uint32 {
	var out []uint32
	if strings.TrimSpace(q) == "" {
		docs := make([]uint32, len(n.ids))
		for i := range docs {
			docs[i] = uint32(i)
		}
		slices.SortStableFunc(docs, func(a, b uint32) int { return cmp.Compare(n.score[b], n.score[a]) })
		for _, d := range docs {
			if len(out) < limit && keep(d) {
				out = append(out, d)
			}
		}
		return out
	}
	for _, h := range n.ix.Search(search.Query{Text: q, Prefix: true, Score: func(d uint32) float64 { return n.score[d] }}) {
		if len(out) >= limit {
			break
		}
		if keep(h.Doc) {
			out = append(out, h.Doc)
		}
	}
	return out
}

// categoryIndex indexes category names; a category's score is the number
// of recommendable products in it.
func categoryIndex(st StoreReader) *namedIndex {
	return st.Derived("search.categories", func() any {
		recs, _ := st.List(ingest.KindCategories, 0, math.MaxInt)
		inCat := make(map[ingest.ID]int)
		for _, p := range st.Products() {
			if engine.Recommendable(p) {
				for _, c := range p.Categories {
					inCat[c]++
				}
			}
		}
		n := &namedIndex{}
		var docs []search.Doc
		for _, r := range recs {
			c, ok := r.(*ingest.Category)
			if !ok {
				continue
			}
			var d search.Doc
			d.Fields[search.FieldName] = c.Name
			docs = append(docs, d)
			n.ids, n.names, n.urls = append(n.ids, c.ID), append(n.names, c.Name), append(n.urls, c.URL)
			n.score = append(n.score, float64(inCat[c.ID]))
		}
		n.ix = search.NewIndex(searchAnalyzer, docs)
		return n
	}).(*namedIndex)
}

// pageIndex indexes page titles (as names) and texts (as descriptions:
// a title word ranks first).
func pageIndex(st StoreReader) *namedIndex {
	return st.Derived("search.pages", func() any {
		recs, _ := st.List(ingest.KindPages, 0, math.MaxInt)
		n := &namedIndex{}
		var docs []search.Doc
		for _, r := range recs {
			p, ok := r.(*ingest.Page)
			if !ok {
				continue
			}
			var d search.Doc
			d.Fields[search.FieldName] = p.Title
			d.Fields[search.FieldKeywords] = p.Type
			d.Fields[search.FieldDescription] = p.Text
			docs = append(docs, d)
			n.ids, n.names, n.urls = append(n.ids, p.ID), append(n.names, p.Title), append(n.urls, p.URL)
			n.types = append(n.types, p.Type)
			n.score = append(n.score, 0)
		}
		n.ix = search.NewIndex(searchAnalyzer, docs)
		return n
	}).(*namedIndex)
}

// phraseEdge reports whether a word may begin or end a suggested phrase
// of several words: not a single letter (a "t" cut from "T-LIGHT") nor an
// English function word. Single words are suggested as they are.
func phraseEdge(w string) bool {
	if utf8.RuneCountInString(w) < 2 {
		return false
	}
	switch w {
	case "an", "and", "the", "of", "for", "with", "in", "on", "to", "by", "or", "at", "from":
		return false
	}
	return true
}
