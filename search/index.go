package search

import (
	"runtime"
	"slices"
	"sync"

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

// NumFields is the number of Fields.
const NumFields = int(numFields)

var fieldNames = [numFields]string{"name", "keywords", "categories", "brand", "description"}

func (f Field) String() string {
	if f < numFields {
		return fieldNames[f]
	}
	return "none"
}

// FieldByName is the Field called name ("name", "keywords", ...).
func FieldByName(name string) (Field, bool) {
	i := slices.Index(fieldNames[:], name)
	return Field(i), i >= 0
}

// Doc is one searchable product: Fields holds its text per Field.
type Doc struct {
	Fields [numFields]string
}

// Index holds the postings of a store's products: for every term of the
// vocabulary and every field, the docs whose field has the word (as
// written, and by its stem). Doc numbers are the caller's (a store's
// stable product numbers); Put and Delete change the index in place, so a
// write costs the product's own words, not a rebuild. Searches run
// concurrently with each other; a change waits for them.
type Index struct {
	an *text.Analyzer

	mu sync.RWMutex
	// The vocabulary: termID maps a term to its id, terms the reverse.
	termID map[string]uint32
	terms  []string
	// dict is the sorted vocabulary as of its build; dictIDs maps its
	// positions to term ids. Terms added since (pending) are matched by
	// brute force until the next rebuild (see rebuildDictAt).
	dict    *Dict
	dictIDs []uint32
	pending []uint32
	// recent is the Dict of the pending terms, recentIDs its ids.
	recent    *Dict
	recentIDs []uint32
	// postings[f][t] are the docs with term t in field f (nil: none);
	// any[t] is their union over fields.
	postings [numFields][]*roaring.Bitmap
	any      []*roaring.Bitmap
	// docs[d] is what doc d holds (for Delete and per-doc ranking);
	// live is the set of indexed docs.
	docs []docEntry
	live *roaring.Bitmap
	// fieldRank[f] is field f's place in the field rule (0 best).
	fieldRank [numFields]uint8

	// shortPrefixes caches the matches of one- and two-letter prefixes
	// (rank.go), which expand to many words and repeat in every
	// as-you-type session; Apply empties it.
	shortMu       sync.Mutex
	shortPrefixes map[shortKey]*wordMatch
}

type shortKey struct {
	word  string
	extra int
}

// docEntry is what the index keeps of one doc: its distinct (term, field)
// pairs, packed term<<3 | field, and its name's terms in order (for
// proximity and exactness). About 4 bytes a word.
type docEntry struct {
	refs []uint32
	name []uint32
}

// rebuildDictAt is how many terms may wait outside the sorted dictionary:
// each costs a brute-force distance per query word, a rebuild a sort of
// the vocabulary (tens of ms for 100,000 terms).
const rebuildDictAt = 256

// NewIndex indexes docs, doc i being docs[i].
func NewIndex(an *text.Analyzer, docs []Doc) *Index {
	ix := NewEmptyIndex(an)
	changes := make([]Change, len(docs))
	for i := range docs {
		changes[i] = Change{Doc: uint32(i), Fields: &docs[i]}
	}
	ix.Apply(changes)
	return ix
}

// NewEmptyIndex is an index with no docs, ready for Apply.
func NewEmptyIndex(an *text.Analyzer) *Index {
	ix := &Index{an: an, termID: make(map[string]uint32), live: roaring.New(), dict: NewDict(nil), recent: NewDict(nil)}
	for f := range numFields {
		ix.fieldRank[f] = uint8(f)
	}
	return ix
}

// Analyzer is the analyzer the index cuts text with.
func (ix *Index) Analyzer() *text.Analyzer { return ix.an }

// SetFieldOrder ranks the fields for the field rule, best first (fields
// not named rank after, in their default order). A store's setting.
func (ix *Index) SetFieldOrder(order []Field) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	seen := [numFields]bool{}
	r := uint8(0)
	for _, f := range order {
		if f < numFields && !seen[f] {
			seen[f] = true
			ix.fieldRank[f] = r
			r++
		}
	}
	for f := range numFields {
		if !seen[f] {
			ix.fieldRank[f] = r
			r++
		}
	}
}

// Change is one doc's new text (Fields) or its deletion (Fields nil).
type Change struct {
	Doc    uint32
	Fields *Doc
}

type termField struct {
	term  string
	field Field
}

// analyzedDoc is a doc cut into terms, before the index lock is taken.
type analyzedDoc struct {
	doc   uint32
	del   bool
	terms []string // distinct (term, field) pairs: terms[i] in fields[i]
	field []Field
	name  []string // the name's words in order
}

// Apply makes the changes, in order (a doc changed twice ends as the
// last says). Analysis runs before the index is locked; the lock is held
// for the posting updates only.
func (ix *Index) Apply(changes []Change) {
	prepared := make([]analyzedDoc, len(changes))
	// Cutting the text into terms is most of a build and needs no lock:
	// a large batch (the first build of a store, an import) is cut on
	// every CPU, in chunks, before the index is locked.
	if len(changes) < parallelAnalyzeAt {
		// The usual change: a few products written, cut here.
		ix.analyze(changes, prepared)
	} else {
		workers := min(runtime.GOMAXPROCS(0), len(changes)/(parallelAnalyzeAt/2))
		per := (len(changes) + workers - 1) / workers
		var wg sync.WaitGroup
		for w := range workers {
			lo, hi := w*per, min((w+1)*per, len(changes))
			if lo >= hi {
				break
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				ix.analyze(changes[lo:hi], prepared[lo:hi])
			}()
		}
		wg.Wait()
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for i := range prepared {
		ix.applyLocked(&prepared[i])
	}
	ix.shortMu.Lock()
	ix.shortPrefixes = nil
	ix.shortMu.Unlock()
	switch {
	case len(ix.pending) > rebuildDictAt || (len(ix.pending) > 0 && len(changes) > rebuildDictAt):
		ix.rebuildDictLocked()
	case len(ix.pending) > 0:
		ix.recent, ix.recentIDs = ix.dictOf(ix.pending)
	}
}

// parallelAnalyzeAt is the batch size from which Apply cuts text on
// several CPUs (smaller batches are not worth the goroutines).
const parallelAnalyzeAt = 2048

// analyze cuts each change's fields into its distinct terms per field
// and its name's words, into out.
func (ix *Index) analyze(changes []Change, out []analyzedDoc) {
	var toks []text.Token
	seen := make(map[termField]struct{}, 64)
	stems := make(text.Stems)
	for i, c := range changes {
		a := analyzedDoc{doc: c.Doc, del: c.Fields == nil}
		if c.Fields != nil {
			clear(seen)
			add := func(term string, f Field) {
				if _, ok := seen[termField{term, f}]; ok || term == "" {
					return
				}
				seen[termField{term, f}] = struct{}{}
				a.terms = append(a.terms, term)
				a.field = append(a.field, f)
			}
			for f := range numFields {
				toks = ix.an.TokensMemo(c.Fields.Fields[f], toks[:0], stems)
				for _, t := range toks {
					add(t.Text, f)
					add(t.Stem, f)
					if f == FieldName {
						a.name = append(a.name, t.Text)
					}
				}
			}
		}
		out[i] = a
	}
}

// dictOf is the Dict of the terms ids, with its positions' ids.
func (ix *Index) dictOf(ids []uint32) (*Dict, []uint32) {
	terms := make([]string, 0, len(ids))
	for _, t := range ids {
		if !ix.any[t].IsEmpty() {
			terms = append(terms, ix.terms[t])
		}
	}
	d := NewDict(terms)
	pos := make([]uint32, d.Len())
	for i := range pos {
		pos[i] = ix.termID[d.Term(i)]
	}
	return d, pos
}

func (ix *Index) applyLocked(a *analyzedDoc) {
	d := a.doc
	if int(d) < len(ix.docs) && ix.live.Contains(d) {
		for _, ref := range ix.docs[d].refs {
			t, f := ref>>3, Field(ref&7)
			ix.postings[f][t].Remove(d)
			ix.any[t].Remove(d)
		}
		ix.docs[d] = docEntry{}
		ix.live.Remove(d)
	}
	if a.del {
		return
	}
	if int(d) >= len(ix.docs) {
		ix.docs = slices.Grow(ix.docs, int(d)+1-len(ix.docs))[:int(d)+1]
	}
	e := docEntry{refs: make([]uint32, len(a.terms)), name: make([]uint32, len(a.name))}
	for i, term := range a.terms {
		t := ix.termLocked(term)
		f := a.field[i]
		if ix.postings[f][t] == nil {
			ix.postings[f][t] = roaring.New()
		}
		ix.postings[f][t].Add(d)
		ix.any[t].Add(d)
		e.refs[i] = t<<3 | uint32(f)
	}
	for i, w := range a.name {
		e.name[i] = ix.termID[w]
	}
	ix.docs[d] = e
	ix.live.Add(d)
}

// termLocked is term's id, adding it to the vocabulary if new.
func (ix *Index) termLocked(term string) uint32 {
	if t, ok := ix.termID[term]; ok {
		return t
	}
	t := uint32(len(ix.terms))
	ix.termID[term] = t
	ix.terms = append(ix.terms, term)
	for f := range numFields {
		ix.postings[f] = append(ix.postings[f], nil)
	}
	ix.any = append(ix.any, roaring.New())
	ix.pending = append(ix.pending, t)
	return t
}

// rebuildDictLocked sorts the whole vocabulary into a new Dict. Terms
// whose docs are all gone are dropped from matching (their ids stay).
func (ix *Index) rebuildDictLocked() {
	all := make([]uint32, len(ix.terms))
	for t := range all {
		all[t] = uint32(t)
	}
	ix.dict, ix.dictIDs = ix.dictOf(all)
	ix.pending = ix.pending[:0]
	ix.recent, ix.recentIDs = NewDict(nil), nil
}

// Docs is the number of indexed docs.
func (ix *Index) Docs() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return int(ix.live.GetCardinality())
}

// Terms is the size of the vocabulary.
func (ix *Index) Terms() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.terms)
}
