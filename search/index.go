package search

import (
	"cmp"
	"slices"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/sibylhq/sibyl/text"
)

// Field is a part of a product a word can match in. The order is the
// default weight: a word in the name says more than one in the
// description.
type Field uint8

// Fields, most telling first.
const (
	FieldName Field = iota
	FieldKeywords
	FieldCategories
	FieldBrand
	FieldDescription
	numFields
)

// Doc is one searchable product: its position in the index is its doc
// number, and Fields holds its text per Field.
type Doc struct {
	Fields [numFields]string
}

// Index holds the postings of a store's products: for every term of the
// vocabulary and every field, the docs whose field has the word (as
// written, and by its stem). Build it with NewIndex; it is read-only
// afterwards and safe for concurrent searches.
type Index struct {
	an   *text.Analyzer
	dict *Dict
	// postings[f][t] are the docs with term t in field f (nil: none).
	postings [numFields][]*roaring.Bitmap
	// any[t] is the union over fields.
	any  []*roaring.Bitmap
	docs int
}

// NewIndex indexes docs (doc i is docs[i]) with the analyzer.
func NewIndex(an *text.Analyzer, docs []Doc) *Index {
	type occurrence struct {
		term  string
		field Field
		doc   uint32
	}
	var occ []occurrence
	var toks []text.Token
	for i, d := range docs {
		for f := range numFields {
			toks = an.Tokens(d.Fields[f], toks[:0])
			for _, t := range toks {
				occ = append(occ, occurrence{t.Text, f, uint32(i)})
				if t.Stem != "" {
					occ = append(occ, occurrence{t.Stem, f, uint32(i)})
				}
			}
		}
	}
	terms := make([]string, len(occ))
	for i, o := range occ {
		terms[i] = o.term
	}
	ix := &Index{an: an, dict: NewDict(terms), docs: len(docs)}
	for f := range numFields {
		ix.postings[f] = make([]*roaring.Bitmap, ix.dict.Len())
	}
	ix.any = make([]*roaring.Bitmap, ix.dict.Len())
	for _, o := range occ {
		t, _ := ix.dict.Lookup(o.term)
		if ix.postings[o.field][t] == nil {
			ix.postings[o.field][t] = roaring.New()
		}
		ix.postings[o.field][t].Add(o.doc)
		if ix.any[t] == nil {
			ix.any[t] = roaring.New()
		}
		ix.any[t].Add(o.doc)
	}
	for t := range ix.any {
		ix.any[t].RunOptimize()
	}
	return ix
}

// Hit is one matching doc and why it ranked where it did.
type Hit struct {
	Doc uint32
	// Words is how many query words the doc matched (all of them unless
	// the query fell back to matching any word).
	Words int
	// Typos is the sum over matched words of the fewest typos the doc
	// matched each with.
	Typos int
	// Field is the best field any query word matched in.
	Field Field
	// Score is the caller's tie-breaker (popularity, say).
	Score float64
}

// Query is one search.
type Query struct {
	Text string
	// Prefix: the last word may be unfinished (as-you-type) and matches
	// the words it begins, with typos by its length so far.
	Prefix bool
	// Score, if set, breaks ties among docs the text ranks alike; higher
	// first.
	Score func(doc uint32) float64
}

// wordMatch is one query word's matching docs by typo count.
type wordMatch struct {
	byTypos [3]*roaring.Bitmap // docs matching with 0, 1, 2 typos (nil: none)
	terms   [3][]int           // the terms at each typo count
	all     *roaring.Bitmap
}

// Search ranks the docs that match every word of the query (or, when none
// does, any word), by ordered rules as Meilisearch and Typesense rank:
// more words matched, then fewer typos, then a better field, then the
// caller's score, then doc number.
func (ix *Index) Search(q Query) []Hit {
	toks := ix.an.Tokens(q.Text, nil)
	if len(toks) == 0 {
		return nil
	}
	words := make([]wordMatch, len(toks))
	for i, t := range toks {
		prefix := q.Prefix && i == len(toks)-1 && !strings.HasSuffix(q.Text, " ")
		words[i] = ix.matchWord(t, prefix)
	}
	all := words[0].all.Clone()
	for _, w := range words[1:] {
		all.And(w.all)
	}
	if all.IsEmpty() {
		for _, w := range words[1:] {
			all.Or(w.all)
		}
		all.Or(words[0].all)
	}
	hits := make([]Hit, 0, all.GetCardinality())
	it := all.Iterator()
	for it.HasNext() {
		doc := it.Next()
		h := Hit{Doc: doc, Field: numFields}
		for _, w := range words {
			if !w.all.Contains(doc) {
				continue
			}
			h.Words++
			for typos, b := range w.byTypos {
				if b != nil && b.Contains(doc) {
					h.Typos += typos
					h.Field = min(h.Field, ix.bestField(w.terms[typos], doc))
					break
				}
			}
		}
		if q.Score != nil {
			h.Score = q.Score(doc)
		}
		hits = append(hits, h)
	}
	slices.SortFunc(hits, func(a, b Hit) int {
		return cmp.Or(cmp.Compare(b.Words, a.Words), cmp.Compare(a.Typos, b.Typos),
			cmp.Compare(a.Field, b.Field), cmp.Compare(b.Score, a.Score), cmp.Compare(a.Doc, b.Doc))
	})
	return hits
}

// matchWord finds the docs of one query word: its terms within the typos
// its length allows, and its stem exactly.
func (ix *Index) matchWord(t text.Token, prefix bool) wordMatch {
	var w wordMatch
	add := func(term, typos int) {
		if w.byTypos[typos] == nil {
			w.byTypos[typos] = roaring.New()
		}
		w.byTypos[typos].Or(ix.any[term])
		w.terms[typos] = append(w.terms[typos], term)
	}
	ix.dict.Match(t.Text, text.MaxTypos(len([]rune(t.Text))), prefix, add)
	if t.Stem != "" {
		if term, ok := ix.dict.Lookup(t.Stem); ok {
			add(term, 0)
		}
	}
	w.all = roaring.New()
	for _, b := range w.byTypos {
		if b != nil {
			w.all.Or(b)
		}
	}
	return w
}

// bestField is the most telling field in which doc has one of terms.
func (ix *Index) bestField(terms []int, doc uint32) Field {
	for f := range numFields {
		for _, t := range terms {
			if p := ix.postings[f][t]; p != nil && p.Contains(doc) {
				return f
			}
		}
	}
	return numFields
}

// Docs is the number of indexed docs.
func (ix *Index) Docs() int { return ix.docs }
