package quality

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/search/query"
	bleveindex "github.com/blevesearch/bleve_index_api"

	"github.com/sibylhq/sibyl/text"
)

// Bleve is the reference engine of search-known-item: Bleve v2
// (github.com/blevesearch/bleve, the Go full-text library) over the same
// catalog, in memory, scored by BM25, asked the query each kind calls
// for (docs/quality.md describes them). It lives in bench only: the
// serving path never links it (node's TestServingPathDeps bans bench).
type Bleve struct {
	ix bleve.Index
	en analysis.Analyzer
}

// Bleve field names: "name" is analysed with Bleve's English analyzer
// (unicode words, possessives, lower case, English stop words, Porter
// stems); "name_plain" is the same text only lower-cased, for prefixes
// (a stemmed term is not a prefix of what the shopper types: "hangi" is
// not a prefix of the stem "hang").
const (
	bleveName          = "name"
	blevePlain         = "name_plain"
	blevePlainAnalyzer = "plain"
)

type bleveDoc struct {
	Name string `json:"name"`
}

// NewBleve indexes names (doc id = the item index, see bleveID) in a
// memory-only Scorch index with BM25 scoring. bleve.NewMemOnly builds an
// upsidedown index, which keeps no field lengths, and there a "bm25"
// mapping silently scores by TF-IDF (its explanations say "as per tf-idf
// model"; BM25 reads FieldCardinality from a BM25Reader, which only
// Scorch implements). Scorch with an empty path keeps everything in
// memory.
func NewBleve(names []string) (*Bleve, error) {
	m := bleve.NewIndexMapping()
	m.ScoringModel = bleveindex.BM25Scoring
	if err := m.AddCustomAnalyzer(blevePlainAnalyzer, map[string]any{
		"type": custom.Name, "tokenizer": unicode.Name, "token_filters": []string{lowercase.Name},
	}); err != nil {
		return nil, err
	}
	stemmed := bleve.NewTextFieldMapping()
	stemmed.Analyzer = en.AnalyzerName
	plain := bleve.NewTextFieldMapping()
	plain.Analyzer = blevePlainAnalyzer
	plain.Name = blevePlain
	doc := bleve.NewDocumentStaticMapping()
	doc.AddFieldMappingsAt(bleveName, stemmed, plain)
	m.DefaultMapping = doc
	ix, err := bleve.NewUsing("", m, scorch.Name, scorch.Name, nil)
	if err != nil {
		return nil, fmt.Errorf("cannot create the bleve index: %w", err)
	}
	b := ix.NewBatch()
	for i, n := range names {
		if err := b.Index(bleveID(i), bleveDoc{Name: n}); err != nil {
			return nil, err
		}
	}
	if err := ix.Batch(b); err != nil {
		return nil, fmt.Errorf("cannot index into bleve: %w", err)
	}
	an := m.AnalyzerNamed(en.AnalyzerName)
	if an == nil {
		return nil, fmt.Errorf("bleve has no analyzer %q", en.AnalyzerName)
	}
	return &Bleve{ix: ix, en: an}, nil
}

// Close releases the index.
func (b *Bleve) Close() error { return b.ix.Close() }

// queries returns the query for kind q and its fallback when the
// first matches nothing (nil: none). Every word must match (AND), as
// Sibyl asks first; when nothing matches, any word may (OR), as Sibyl
// falls back.
//   - words, reorder: a match query on name.
//   - typo: one match query per word, each with the fuzziness issue 13
//     gives its length (text.MaxTypos, Sibyl's rule); Bleve does not know
//     which word has the typo, nor does Sibyl.
//   - prefix: a match query on name for the words before the last, and a
//     prefix query for the last (lower-cased) on name_plain.
//
// With fuzzyAll (the engine is not told the kind, as a shop's search box
// is not), every word is asked as typo's are, the last one of prefix as a
// prefix.
//
// Words Bleve's English analyzer drops (stop words) are left out of the
// per-word queries: a match query with no term matches nothing.
func (b *Bleve) queries(kind QueryKind, q string, fuzzyAll bool) (query.Query, query.Query) {
	if kind == KindPrefix {
		words := strings.Fields(strings.ToLower(q))
		last := bleve.NewPrefixQuery(words[len(words)-1])
		last.SetField(blevePlain)
		before := strings.Join(words[:len(words)-1], " ")
		if len(words) == 1 || len(b.en.Analyze([]byte(before))) == 0 {
			return last, nil
		}
		var all, anyWord query.Query
		if fuzzyAll {
			all, anyWord = b.fuzzyWords(before)
		} else {
			and := bleve.NewMatchQuery(before)
			and.SetField(bleveName)
			and.SetOperator(query.MatchQueryOperatorAnd)
			or := bleve.NewMatchQuery(before)
			or.SetField(bleveName)
			all, anyWord = and, or
		}
		return bleve.NewConjunctionQuery(all, last), bleve.NewDisjunctionQuery(anyWord, last)
	}
	if kind == KindTypo || fuzzyAll {
		return b.fuzzyWords(q)
	}
	all := bleve.NewMatchQuery(q)
	all.SetField(bleveName)
	all.SetOperator(query.MatchQueryOperatorAnd)
	anyWord := bleve.NewMatchQuery(q)
	anyWord.SetField(bleveName)
	return all, anyWord
}

// fuzzyWords asks for every word of q (then any) on name, each with the
// fuzziness of its length.
func (b *Bleve) fuzzyWords(q string) (query.Query, query.Query) {
	var parts []query.Query
	for _, w := range strings.Fields(q) {
		if len(b.en.Analyze([]byte(w))) == 0 {
			continue
		}
		mq := bleve.NewMatchQuery(w)
		mq.SetField(bleveName)
		mq.SetFuzziness(text.MaxTypos(utf8.RuneCountInString(w)))
		parts = append(parts, mq)
	}
	if len(parts) == 0 {
		return bleve.NewMatchNoneQuery(), nil
	}
	return bleve.NewConjunctionQuery(parts...), bleve.NewDisjunctionQuery(parts...)
}

// bleveID is doc i's id, zero-padded so that id order is item order.
func bleveID(i int) string { return fmt.Sprintf("%07d", i) }

// request asks for the top k of q by BM25, ties by id: a Bleve batch is
// a map, so internal doc numbers (Bleve's own tie-break) change from run
// to run.
func request(q query.Query, k int) *bleve.SearchRequest {
	r := bleve.NewSearchRequestOptions(q, k, 0, false)
	r.SortBy([]string{"-_score", "_id"})
	return r
}

// Search returns the item indices of the top k hits for a query of kind,
// appended to dst.
func (b *Bleve) Search(kind QueryKind, q string, k int, dst []int32) ([]int32, error) {
	return b.search(kind, q, false, k, dst)
}

// SearchFuzzy is Search with the typo query for every kind but prefix
// (and typo tolerance for prefix's other words): Bleve set up as a shop
// search box would be, not told what the shopper did.
func (b *Bleve) SearchFuzzy(kind QueryKind, q string, k int, dst []int32) ([]int32, error) {
	return b.search(kind, q, true, k, dst)
}

func (b *Bleve) search(kind QueryKind, q string, fuzzyAll bool, k int, dst []int32) ([]int32, error) {
	first, fallback := b.queries(kind, q, fuzzyAll)
	res, err := b.ix.Search(request(first, k))
	if err != nil {
		return dst, err
	}
	if len(res.Hits) == 0 && fallback != nil {
		if res, err = b.ix.Search(request(fallback, k)); err != nil {
			return dst, err
		}
	}
	for _, h := range res.Hits {
		it, err := strconv.Atoi(h.ID)
		if err != nil {
			return dst, fmt.Errorf("bleve doc id %q: %w", h.ID, err)
		}
		dst = append(dst, int32(it))
	}
	return dst, nil
}
