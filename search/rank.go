package search

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/sibylhq/sibyl/text"
)

// Ranking: ordered tie-breaking rules, as Meilisearch and Typesense rank
// (https://www.meilisearch.com/docs/learn/relevancy/ranking_rules): a
// rule only orders the docs every earlier rule found equal.
//
//  1. words: more query words matched (only differs when the query falls
//     back to any word, or asks for that: longtail);
//  2. typos: fewer, summed over the words; a typo in the first letter
//     counts two, since shoppers rarely get the first letter wrong;
//  3. field: the words matched in better fields (name before keywords,
//     category names, brand, description; a store may reorder them);
//  4. exactness: more words matched as typed (not by stem, prefix, typo
//     or synonym);
//  5. proximity: the query's words next to each other, in order, in the
//     name;
//  6. value: the caller's score, what the store's customers want (sales,
//     clicks on this query, the visitor's session), less restPenalty for
//     each word of the name the query did not match;
//  7. the name's unmatched words, then doc number, so that equal docs
//     have a stable order.
//
// The order of the rules and restPenalty were chosen on validation
// splits (bench/quality TestExploreSearchMisses, TestExploreSearchSales):
// proximity after exactness, and the name's length weighed against sales
// rather than before them.

// Query is one search.
type Query struct {
	Text string
	// Prefix: the last word may be unfinished (as-you-type) and matches
	// the words it begins, with typos by its length so far.
	Prefix bool
	// Score, if set, breaks ties among docs the text ranks alike; higher
	// first.
	Score func(doc uint32) float64
	// Alternatives are other texts searched as if typed (synonyms); a
	// doc ranks by the best of its matches, where a synonym's words count
	// as not typed (exactness 0): the query's own product leads its
	// synonym's equal. The index adds its own readings of the words
	// (joined and split, readingsLocked) the same way.
	Alternatives []string
	// Any: docs matching any word, not only every word (Clerk's
	// longtail). Without it, any word is the fallback when no doc has
	// every word.
	Any bool
	// Within, if set, limits the search to these docs (a filter);
	// Exclude, if set, leaves these out.
	Within  *roaring.Bitmap
	Exclude *roaring.Bitmap
	// Analyzer, if set, cuts the query instead of the index's own (a
	// request in another language: its stems are looked up as typed).
	Analyzer *text.Analyzer
	// Limit is how many hits to rank (offset plus page); 0: all.
	Limit int
	// ExtraTypos widens every word's typo budget (0-2) beyond the length
	// rule: the fallback for a query that found nothing.
	ExtraTypos int
}

// Hit is one matching doc and why it ranked where it did.
type Hit struct {
	Doc uint32
	// Words is how many query words the doc matched.
	Words int
	// Typos is the sum over matched words of the fewest typos the doc
	// matched each with (a first-letter typo counts two).
	Typos int
	// Proximity is the sum over adjacent query words of their distance
	// in the name (1: next to each other in order; 8: apart or absent).
	Proximity int
	// Field is the best field any query word matched in.
	Field Field
	// FieldRanks is the sum over matched words of their best field's
	// place (the field rule).
	FieldRanks int
	// Exact is how many words matched as typed.
	Exact int
	// Rest is how many words of the name the query did not match: of
	// two names with the query's words, the one that is little more
	// than them is what the shopper named (BM25 prefers short fields
	// for the same reason).
	Rest int
	// Score is the caller's tie-breaker.
	Score float64
}

// Result is a search's hits and what matched.
type Result struct {
	// Hits are the best Limit matches (all, without a limit), best first.
	Hits []Hit
	// Matched is every matching doc (within Query.Within), for counts
	// and facets. It is the caller's to keep.
	Matched *roaring.Bitmap
	// AllWords: the hits matched every word of the query (no fallback).
	AllWords bool
}

// Bounds of one query's work: words beyond maxQueryWords are ignored, a
// prefix expands to at most prefixTerms terms (the most frequent), and
// buckets of more than smallBucket docs of a one-word query are ranked by
// bitmaps rather than doc by doc (the same order, TestLargeBucketRanksAsEach;
// 128 rather than 1,024 took a 3-letter prefix on 50,000 products from
// 0.15 to 0.08 ms, BenchmarkSearchQueries50k).
const (
	maxQueryWords = 16
	prefixTerms   = 64
	smallBucket   = 128
	maxProximity  = 2
	maxRankTypos  = 3 // 2 typos, one of them in the first letter
)

func compareHits(a, b *Hit) int {
	return cmp.Or(cmp.Compare(b.Words, a.Words), cmp.Compare(a.Typos, b.Typos),
		cmp.Compare(a.FieldRanks, b.FieldRanks), cmp.Compare(b.Exact, a.Exact),
		cmp.Compare(a.Proximity, b.Proximity), cmp.Compare(b.value(), a.value()),
		cmp.Compare(a.Rest, b.Rest), cmp.Compare(a.Doc, b.Doc))
}

// value is the last rule's measure: the caller's score less restPenalty
// for each word of the name the query did not match.
func (h *Hit) value() float64 { return h.Score - restPenalty*float64(h.Rest) }

// restPenalty weighs a name's unmatched word against the caller's score
// (popularity spans 0 to 1): 0.5, chosen on the validation splits of
// search-known-item (MRR@10 words 0.6589 -> 0.6609 against a strict rule
// before the score, 0.6437 without) and search-sales (0.6244 with a
// strict rule, 0.6389 at 0.5, 0.6590 without): a shorter name beats a
// better seller only when their sales differ by less than half the
// popularity range per extra word (docs/search.md).
const restPenalty = 0.5

// Search ranks the matching docs (see Run) and returns the hits.
func (ix *Index) Search(q Query) []Hit { return ix.Run(q).Hits }

// Run searches the index: docs that match every word of the query (each
// word by its terms within the typos its length allows, by its stem, and
// the last word as a prefix while typing), or any word when none has
// them all, ranked by the rules above.
func (ix *Index) Run(q Query) Result {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	toks := ix.tokens(&q, q.Text)
	alts := append(ix.readingsLocked(&q, toks), q.Alternatives...)
	var seen wordMatches
	if len(alts) > 0 {
		// The readings share most of their words with the query: each
		// word is matched once.
		seen = make(wordMatches, len(toks)+2)
	}
	res := ix.runLocked(q.Text, toks, &q, seen, true)
	if len(alts) == 0 {
		return res
	}
	words := len(toks)
	for _, alt := range alts {
		// Once a reading has every word, another's any word adds
		// nothing: it is not ranked.
		r := ix.runLocked(alt, ix.tokens(&q, alt), &q, seen, !res.AllWords || q.Any)
		if len(r.Hits) == 0 || !r.AllWords && res.AllWords && !q.Any {
			continue // any word of another reading adds nothing to every word
		}
		if r.AllWords && !res.AllWords && !q.Any {
			res = Result{Matched: roaring.New()} // every word read so beats any word
		}
		res.Matched.Or(r.Matched)
		res.AllWords = res.AllWords || r.AllWords
		for i := range r.Hits {
			r.Hits[i].Exact = 0 // another reading is not the words as typed
			if r.AllWords {
				r.Hits[i].Words = words // it matched every word, read so
			}
		}
		res.Hits = mergeHits(res.Hits, r.Hits, q.Limit)
	}
	return res
}

// maxReadings bounds the other readings of one query.
const maxReadings = 4

// readingsLocked are other ways to cut the query into words, as
// Meilisearch concatenates and splits query words: two neighbours as the
// one word the index has ("tea light" for "tealight"), and a word the
// index lacks as two it has ("tshirt" for "T-SHIRT"). The word being
// typed is left as it is.
func (ix *Index) readingsLocked(q *Query, toks []text.Token) []string {
	words := make([]string, len(toks))
	for i, t := range toks {
		words[i] = t.Text
	}
	typing := -1
	if q.Prefix && !strings.HasSuffix(q.Text, " ") {
		typing = len(words) - 1
	}
	live := func(w string) (uint64, bool) {
		t, ok := ix.termID[w]
		if !ok || ix.any[t].IsEmpty() {
			return 0, false
		}
		return ix.any[t].GetCardinality(), true
	}
	var out []string
	with := func(i, n int, repl string) string {
		parts := append(append(slices.Clone(words[:i]), repl), words[i+n:]...)
		s := strings.Join(parts, " ")
		if typing < 0 && q.Prefix {
			s += " "
		}
		return s
	}
	for i := 0; i+1 < len(words) && len(out) < maxReadings; i++ {
		if i+1 == typing {
			break
		}
		if _, ok := live(words[i] + words[i+1]); ok {
			out = append(out, with(i, 2, words[i]+words[i+1]))
		}
	}
	for i, w := range words {
		if len(out) >= maxReadings || i == typing || utf8.RuneCountInString(w) < 3 {
			continue
		}
		if _, ok := live(w); ok {
			continue
		}
		best, bestDF := "", uint64(0)
		for cut := range w {
			if cut == 0 {
				continue
			}
			l, okL := live(w[:cut])
			r, okR := live(w[cut:])
			if okL && okR && min(l, r) > bestDF {
				best, bestDF = w[:cut]+" "+w[cut:], min(l, r)
			}
		}
		if best != "" {
			out = append(out, with(i, 1, best))
		}
	}
	return out
}

// mergeHits merges two ranked lists, each doc once at its better rank.
func mergeHits(a, b []Hit, limit int) []Hit {
	best := make(map[uint32]int, len(a)+len(b))
	all := make([]Hit, 0, len(a)+len(b))
	for _, list := range [][]Hit{a, b} {
		for _, h := range list {
			if i, ok := best[h.Doc]; ok {
				if compareHits(&h, &all[i]) < 0 {
					all[i] = h
				}
				continue
			}
			best[h.Doc] = len(all)
			all = append(all, h)
		}
	}
	slices.SortFunc(all, func(x, y Hit) int { return compareHits(&x, &y) })
	if limit > 0 && len(all) > limit {
		all = all[:limit]
	}
	return all
}

// wordMatch is one query word's matching terms and docs.
type wordMatch struct {
	// byTypos[k] are the docs whose best match of the word has k rank
	// typos (each doc in one); terms[k] the terms matched with k.
	byTypos [maxRankTypos + 1]*roaring.Bitmap
	terms   [maxRankTypos + 1][]uint32
	all     *roaring.Bitmap
	// exact is the term as typed, if the vocabulary has it.
	exact    uint32
	hasExact bool
	// inField[k][f], when set, is the docs with one of terms[k] in
	// field f: made ahead for the cached short prefixes, whose large
	// buckets are split by field (rankOneWord).
	inField *[maxRankTypos + 1][numFields]*roaring.Bitmap
}

// fieldDocs is the docs with one of terms[k] in field f.
func (ix *Index) fieldDocs(w *wordMatch, k int, f Field) *roaring.Bitmap {
	if w.inField != nil {
		return w.inField[k][f]
	}
	b := roaring.New()
	for _, t := range w.terms[k] {
		if p := ix.postings[f][t]; p != nil {
			b.Or(p)
		}
	}
	return b
}

// queryState is one text's words and the per-term lookup the per-doc
// rules use.
type queryState struct {
	ix    *Index
	words []wordMatch
	// termWords packs, for each matched term, each word's rank typos in
	// 3 bits (7: the term does not match the word) and in the top 16
	// bits which words it is the exact term of.
	termWords map[uint32]uint64
	// matched has bit t set for each term in termWords: most of a doc's
	// terms match no query word, and a bit test turns them away for a
	// fraction of a map lookup's cost.
	matched []uint64
	score   func(uint32) float64
}

func (st *queryState) has(t uint32) bool {
	return int(t>>6) < len(st.matched) && st.matched[t>>6]&(1<<(t&63)) != 0
}

// matchedBits recycles the matched bit sets (a few KB each), cleared
// after use.
var matchedBits = sync.Pool{New: func() any { return new([]uint64) }}

// release clears and returns the state's bit set.
func (st *queryState) release(p *[]uint64) {
	for t := range st.termWords {
		st.matched[t>>6] = 0
	}
	*p = st.matched
	matchedBits.Put(p)
}

const noMatch = 7

// tokens cuts a query text as the index (or q.Analyzer) does, at most
// maxQueryWords words.
func (ix *Index) tokens(q *Query, qtext string) []text.Token {
	an := ix.an
	if q.Analyzer != nil {
		an = q.Analyzer
	}
	toks := an.Tokens(qtext, nil)
	return toks[:min(len(toks), maxQueryWords)]
}

// wordMatches are the words one Run has matched, by what decides the
// match; nil when the query has no other reading.
type wordMatches map[wordKey]wordMatch

type wordKey struct {
	text, stem string
	prefix     bool
	extra      int
}

func (ix *Index) runLocked(qtext string, toks []text.Token, q *Query, seen wordMatches, anyWord bool) Result {
	if len(toks) == 0 {
		return Result{Matched: roaring.New()}
	}
	st := &queryState{ix: ix, words: make([]wordMatch, len(toks)), termWords: make(map[uint32]uint64), score: q.Score}
	for i, t := range toks {
		prefix := q.Prefix && i == len(toks)-1 && !strings.HasSuffix(qtext, " ")
		key := wordKey{t.Text, t.Stem, prefix, q.ExtraTypos}
		m, ok := seen[key]
		if !ok {
			m = ix.matchWord(t, prefix, q.ExtraTypos)
			if seen != nil {
				seen[key] = m
			}
		}
		st.words[i] = m
		w := &st.words[i]
		for k, terms := range w.terms {
			for _, t := range terms {
				v, ok := st.termWords[t]
				if !ok {
					v = 1<<48 - 1 // every word: no match
				}
				if cur := v >> (3 * i) & 7; uint64(k) < cur {
					v = v&^(7<<(3*i)) | uint64(k)<<(3*i)
				}
				st.termWords[t] = v
			}
		}
		if w.hasExact {
			v, ok := st.termWords[w.exact]
			if !ok {
				v = 1<<48 - 1
			}
			st.termWords[w.exact] = v | 1<<(48+i)
		}
	}
	bits := matchedBits.Get().(*[]uint64)
	if need := (len(ix.terms) + 63) / 64; cap(*bits) < need {
		*bits = make([]uint64, need)
	}
	st.matched = (*bits)[:(len(ix.terms)+63)/64]
	for t := range st.termWords {
		st.matched[t>>6] |= 1 << (t & 63)
	}
	defer st.release(bits)
	matched := st.words[0].all.Clone()
	for _, w := range st.words[1:] {
		matched.And(w.all)
	}
	q.limitTo(matched)
	allWords := !matched.IsEmpty()
	if !allWords && !anyWord {
		return Result{Matched: matched}
	}
	if !allWords || q.Any {
		matched.Clear()
		for _, w := range st.words {
			matched.Or(w.all)
		}
		q.limitTo(matched)
	}
	res := Result{Matched: matched, AllWords: allWords && !q.Any}
	if matched.IsEmpty() {
		return res
	}
	switch {
	case len(st.words) == 1 && q.Limit > 0 && matched.GetCardinality() > smallBucket:
		res.Hits = st.rankOneWord(matched, q.Limit)
	case q.Limit > 0 && matched.GetCardinality() > smallBucket:
		if lead, words := st.leaders(matched, res.AllWords); lead != nil && lead.GetCardinality() >= uint64(q.Limit) {
			res.Hits = st.rankLeaders(lead, words, q.Limit)
			break
		}
		fallthrough
	default:
		res.Hits = st.rankEach(matched, q.Limit)
	}
	return res
}

// maxLeaderWords bounds the words leaders counts matches of (any word:
// a bitmap per count and word).
const maxLeaderWords = 6

// leaders are the docs of matched that the first rules put ahead of all
// the others: the most words matched (all of them when allWords), each
// without a typo and in the best field. A doc outside matched fewer
// words, or has a typo (the typo rule puts it after), or a word not in
// the best field (the field rule does); when the leaders fill the page,
// only they are ranked doc by doc. A shopper's words are mostly in the
// names of what they want, while descriptions match them by the
// thousand. nil: not worked out (too many words).
func (st *queryState) leaders(matched *roaring.Bitmap, allWords bool) (*roaring.Bitmap, int) {
	ix := st.ix
	best := ix.bestField()
	lead, words := matched, len(st.words)
	if !allWords {
		// atLeast[k]: the docs that matched k words or more.
		n := len(st.words)
		if n > maxLeaderWords {
			return nil, 0
		}
		atLeast := make([]*roaring.Bitmap, n+1)
		atLeast[0] = matched
		for k := 1; k <= n; k++ {
			atLeast[k] = roaring.New()
		}
		for i := range st.words {
			for k := i + 1; k >= 1; k-- {
				atLeast[k].Or(roaring.And(atLeast[k-1], st.words[i].all))
			}
		}
		for k := n; k >= 1; k-- {
			if !atLeast[k].IsEmpty() {
				lead, words = atLeast[k], k
				break
			}
		}
	}
	lead = lead.Clone()
	for i := range st.words {
		w := &st.words[i]
		inBest := roaring.New()
		for k := range w.terms {
			if len(w.terms[k]) > 0 {
				inBest.Or(ix.fieldDocs(w, k, best))
			}
		}
		// A doc that matched the word otherwise than untyped in the
		// best field is not a leader.
		lead.AndNot(roaring.AndNot(w.all, roaring.And(w.byTypos[0], inBest)))
		if lead.IsEmpty() {
			break
		}
	}
	return lead, words
}

// rankLeaders ranks the limit best of leaders (see leaders), each of
// which matched words words, untyped, in the best field: the rules from
// exactness on tell them apart, and those need the name and the exact
// terms' docs, not a walk of every term of the doc.
func (st *queryState) rankLeaders(lead *roaring.Bitmap, words, limit int) []Hit {
	ix := st.ix
	best := ix.bestField()
	var exact []*roaring.Bitmap
	for i := range st.words {
		if w := &st.words[i]; w.hasExact {
			exact = append(exact, ix.any[w.exact])
		}
	}
	hits := make([]Hit, 0, limit)
	lead.Iterate(func(doc uint32) bool {
		e := &ix.docs[doc]
		h := Hit{Doc: doc, Words: words, Field: best}
		for _, b := range exact {
			if b.Contains(doc) {
				h.Exact++
			}
		}
		if len(st.words) > 1 {
			h.Proximity = st.proximity(e.name)
		}
		h.Rest = st.rest(e.name)
		if st.score != nil {
			h.Score = st.score(doc)
		}
		if len(hits) < limit {
			hits = append(hits, h)
			worstUp(hits, len(hits)-1)
		} else if compareHits(&h, &hits[0]) < 0 {
			hits[0] = h
			worstDown(hits, 0)
		}
		return true
	})
	slices.SortFunc(hits, func(a, b Hit) int { return compareHits(&a, &b) })
	return hits
}

// limitTo applies Within and Exclude.
func (q *Query) limitTo(b *roaring.Bitmap) {
	if q.Within != nil {
		b.And(q.Within)
	}
	if q.Exclude != nil {
		b.AndNot(q.Exclude)
	}
}

// Words is how many words the query's text has, as the index (or
// q.Analyzer) cuts it, at most maxQueryWords.
func (ix *Index) Words(q Query) int { return len(ix.tokens(&q, q.Text)) }

// matchWord finds the docs of one query word: its terms within the typos
// its length allows (plus extra), its stem exactly, and with prefix the
// terms it begins (the most frequent prefixTerms of them).
func (ix *Index) matchWord(t text.Token, prefix bool, extra int) wordMatch {
	if !prefix || utf8.RuneCountInString(t.Text) > 2 {
		return ix.expandWord(t, prefix, extra)
	}
	key := shortKey{t.Text, extra}
	ix.shortMu.Lock()
	w, ok := ix.shortPrefixes[key]
	ix.shortMu.Unlock()
	if ok {
		return *w
	}
	m := ix.expandWord(t, prefix, extra)
	inField := new([maxRankTypos + 1][numFields]*roaring.Bitmap)
	for k := range m.terms {
		for f := range numFields {
			inField[k][f] = ix.fieldDocs(&m, k, f)
		}
	}
	m.inField = inField
	ix.shortMu.Lock()
	if ix.shortPrefixes == nil || len(ix.shortPrefixes) >= maxShortPrefixes {
		ix.shortPrefixes = make(map[shortKey]*wordMatch)
	}
	ix.shortPrefixes[key] = &m
	ix.shortMu.Unlock()
	return m
}

// maxShortPrefixes bounds the cached short prefixes of an index (two
// letters of an alphabet are a few hundred; scripts with more letters
// start over when full).
const maxShortPrefixes = 2048

// expandWord is matchWord without the cache. The returned bitmaps are
// read-only to the caller (they may be cached).
func (ix *Index) expandWord(t text.Token, prefix bool, extra int) wordMatch {
	var w wordMatch
	type cand struct {
		term  uint32
		typos int
	}
	var cands []cand
	add := func(id uint32, typos int) { cands = append(cands, cand{id, typos}) }
	// A typo on the first letter counts two (Dict.MatchRanked).
	maxTypos := min(text.MaxTypos(utf8.RuneCountInString(t.Text))+extra, 2)
	ix.dict.MatchRanked(t.Text, maxTypos, prefix, func(pos, typos int) { add(ix.dictIDs[pos], typos) })
	ix.recent.MatchRanked(t.Text, maxTypos, prefix, func(pos, typos int) { add(ix.recentIDs[pos], typos) })
	if id, ok := ix.termID[t.Text]; ok {
		w.exact, w.hasExact = id, true
	}
	stem, hasStem := ix.termID[t.Stem]
	if hasStem && t.Stem != "" {
		cands = append(cands, cand{stem, 0})
	}
	if prefix && len(cands) > prefixTerms {
		// Keep the closest, then the most frequent: a one-letter prefix
		// begins thousands of words, and a shopper typing it wants the
		// common ones (Typesense bounds candidates the same way,
		// max_candidates).
		kept := func(c cand) int { // the word as typed and its stem stay
			if (w.hasExact && c.term == w.exact) || (hasStem && c.term == stem) {
				return 0
			}
			return 1
		}
		slices.SortFunc(cands, func(a, b cand) int {
			return cmp.Or(cmp.Compare(kept(a), kept(b)), cmp.Compare(a.typos, b.typos),
				cmp.Compare(ix.any[b.term].GetCardinality(), ix.any[a.term].GetCardinality()), cmp.Compare(a.term, b.term))
		})
		cands = cands[:prefixTerms]
	}
	w.all = roaring.New()
	for _, c := range cands {
		w.terms[c.typos] = append(w.terms[c.typos], c.term)
	}
	for k := range w.byTypos {
		b := roaring.New()
		for _, term := range w.terms[k] {
			b.Or(ix.any[term])
		}
		b.AndNot(w.all) // each doc at its fewest typos
		w.byTypos[k] = b
		w.all.Or(b)
	}
	return w
}

// rankEach ranks the docs one by one with every rule.
func (st *queryState) rankEach(docs *roaring.Bitmap, limit int) []Hit {
	n := int(docs.GetCardinality())
	if limit <= 0 || limit >= n {
		hits := make([]Hit, 0, n)
		docs.Iterate(func(doc uint32) bool {
			hits = append(hits, st.hit(doc))
			return true
		})
		slices.SortFunc(hits, func(a, b Hit) int { return compareHits(&a, &b) })
		return hits
	}
	// The limit best so far, in a heap with the worst of them on top:
	// a doc that does not beat it is dropped at once, and memory is the
	// page's, not the matches' (any word of a long query matches
	// hundreds).
	hits := make([]Hit, 0, limit)
	docs.Iterate(func(doc uint32) bool {
		h := st.hit(doc)
		if len(hits) < limit {
			hits = append(hits, h)
			worstUp(hits, len(hits)-1)
		} else if compareHits(&h, &hits[0]) < 0 {
			hits[0] = h
			worstDown(hits, 0)
		}
		return true
	})
	slices.SortFunc(hits, func(a, b Hit) int { return compareHits(&a, &b) })
	return hits
}

// worstUp and worstDown keep hits a heap with the worst hit at the root.
func worstUp(hits []Hit, i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if compareHits(&hits[parent], &hits[i]) >= 0 {
			return
		}
		hits[parent], hits[i] = hits[i], hits[parent]
		i = parent
	}
}

func worstDown(hits []Hit, i int) {
	for {
		worst, l, r := i, 2*i+1, 2*i+2
		if l < len(hits) && compareHits(&hits[l], &hits[worst]) > 0 {
			worst = l
		}
		if r < len(hits) && compareHits(&hits[r], &hits[worst]) > 0 {
			worst = r
		}
		if worst == i {
			return
		}
		hits[worst], hits[i] = hits[i], hits[worst]
		i = worst
	}
}

// hit applies every rule to one doc.
func (st *queryState) hit(doc uint32) Hit {
	ix := st.ix
	e := &ix.docs[doc]
	n := len(st.words)
	var typos [maxQueryWords]int8
	var field [maxQueryWords]int8
	var exact uint64
	for w := range n {
		typos[w], field[w] = noMatch, int8(numFields)
	}
	best := Field(numFields)
	for _, ref := range e.refs {
		if !st.has(ref >> 3) {
			continue
		}
		v := st.termWords[ref>>3]
		f := Field(ref & 7)
		rank := int8(ix.fieldRank[f])
		exact |= v >> 48
		for w := range n {
			k := int8(v >> (3 * w) & 7)
			if k == noMatch {
				continue
			}
			typos[w] = min(typos[w], k)
			if rank < field[w] {
				field[w] = rank
			}
			if ix.fieldRank[f] < ix.fieldRankOf(best) {
				best = f
			}
		}
	}
	h := Hit{Doc: doc, Field: best}
	for w := range n {
		if typos[w] == noMatch {
			continue
		}
		h.Words++
		h.Typos += int(typos[w])
		h.FieldRanks += int(field[w])
	}
	for w := range n {
		if exact>>w&1 == 1 {
			h.Exact++
		}
	}
	if n > 1 {
		h.Proximity = st.proximity(e.name)
	}
	h.Rest = st.rest(e.name)
	if st.score != nil {
		h.Score = st.score(doc)
	}
	return h
}

// bestField is the field the field rule ranks first.
func (ix *Index) bestField() Field {
	for f := range numFields {
		if ix.fieldRank[f] == 0 {
			return f
		}
	}
	return FieldName
}

func (ix *Index) fieldRankOf(f Field) uint8 {
	if f >= numFields {
		return 255
	}
	return ix.fieldRank[f]
}

// proximity sums, over adjacent query words, how far apart the name has
// them: 1 next to each other in order, one more for the reverse order,
// maxProximity when apart by more or missing.
func (st *queryState) proximity(name []uint32) int {
	n := len(st.words)
	var last [maxQueryWords]int
	var best [maxQueryWords]int
	for w := range n {
		last[w], best[w] = -1, maxProximity
	}
	for i, t := range name {
		if !st.has(t) {
			continue
		}
		v := st.termWords[t]
		for w := range n {
			if v>>(3*w)&7 == noMatch {
				continue
			}
			if w > 0 && last[w-1] >= 0 {
				best[w-1] = min(best[w-1], i-last[w-1])
			}
			if w+1 < n && last[w+1] >= 0 {
				best[w] = min(best[w], i-last[w+1]+1)
			}
			last[w] = i
		}
	}
	sum := 0
	for w := range n - 1 {
		sum += min(best[w], maxProximity)
	}
	return sum
}

// rest counts the name's words that match no query word.
func (st *queryState) rest(name []uint32) int {
	n := 0
	for _, t := range name {
		if !st.has(t) {
			n++
		}
	}
	return n
}

// rankOneWord ranks a large bucket of a one-word query with bitmaps, rule
// by rule (typos, field, exactness), and only the docs of the buckets
// that reach the limit by score: a one-letter prefix or a category's name
// matches thousands of docs, of which the page shows ten. Proximity does
// not apply to one word.
func (st *queryState) rankOneWord(matched *roaring.Bitmap, limit int) []Hit {
	ix := st.ix
	w := &st.words[0]
	hits := make([]Hit, 0, limit)
	var order [numFields]Field
	for f := range numFields {
		order[ix.fieldRank[f]] = f
	}
	for k := range w.byTypos {
		inTypos := roaring.And(matched, w.byTypos[k])
		for _, f := range order {
			if inTypos.IsEmpty() || len(hits) >= limit {
				break
			}
			inField := roaring.And(ix.fieldDocs(w, k, f), inTypos)
			inTypos.AndNot(inField)
			buckets := []*roaring.Bitmap{inField}
			if w.hasExact {
				exact := roaring.And(inField, ix.any[w.exact])
				inField.AndNot(exact)
				buckets = []*roaring.Bitmap{exact, inField}
			}
			for _, b := range buckets {
				if len(hits) >= limit {
					break
				}
				if b.GetCardinality() <= smallBucket {
					hits = append(hits, st.rankEach(b, limit-len(hits))...)
					continue
				}
				hits = append(hits, st.topByScore(b, limit-len(hits))...)
			}
		}
	}
	return hits
}

// topByScore is the k best docs of a bucket the rules before the name's
// rest found equal, by the rest and the score: a heap, not a sort of the
// bucket.
func (st *queryState) topByScore(b *roaring.Bitmap, k int) []Hit {
	h := make([]scored, 0, k)
	// A bucket holds thousands of docs: they come in batches, and the
	// rest is counted inline (this loop is most of a one-letter prefix's
	// time).
	matched, docs := st.matched, st.ix.docs
	var buf [256]uint32
	it := b.ManyIterator()
	for n := it.NextMany(buf[:]); n > 0; n = it.NextMany(buf[:]) {
		for _, d := range buf[:n] {
			x := scored{doc: d}
			if st.score != nil {
				x.score = st.score(d)
			}
			// The name's rest only lowers the value: a doc whose score
			// alone does not beat the worst kept is out without it.
			if len(h) == k && x.score < h[0].value() {
				continue
			}
			for _, t := range docs[d].name {
				if int(t>>6) >= len(matched) || matched[t>>6]&(1<<(t&63)) == 0 {
					x.rest++
				}
			}
			if len(h) < k {
				h = append(h, x)
				scoredUp(h, len(h)-1)
			} else if better(x, h[0]) {
				h[0] = x
				scoredDown(h, 0)
			}
		}
	}
	out := make([]Hit, len(h))
	for i, x := range h {
		out[i] = st.hit(x.doc)
	}
	slices.SortFunc(out, func(a, b Hit) int { return compareHits(&a, &b) })
	return out
}

type scored struct {
	doc   uint32
	rest  int
	score float64
}

func (x scored) value() float64 { return x.score - restPenalty*float64(x.rest) }

// better orders as compareHits does for docs equal up to exactness.
func better(a, b scored) bool {
	if va, vb := a.value(), b.value(); va != vb {
		return va > vb
	}
	if a.rest != b.rest {
		return a.rest < b.rest
	}
	return a.doc < b.doc
}

// scoredUp and scoredDown keep h a heap with the worst doc at the root.
func scoredUp(h []scored, i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !better(h[parent], h[i]) {
			return
		}
		h[parent], h[i] = h[i], h[parent]
		i = parent
	}
}

func scoredDown(h []scored, i int) {
	for {
		worst, l, r := i, 2*i+1, 2*i+2
		if l < len(h) && better(h[worst], h[l]) {
			worst = l
		}
		if r < len(h) && better(h[worst], h[r]) {
			worst = r
		}
		if worst == i {
			return
		}
		h[worst], h[i] = h[i], h[worst]
		i = worst
	}
}
