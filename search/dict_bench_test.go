package search

import (
	"testing"

	"github.com/sibylhq/sibyl/demo"
	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/text"
)

// retailVocabulary is the folded words of the bundled Online Retail
// product names (about 2,000 distinct words).
func retailVocabulary(b *testing.B) *Dict {
	var names collectNames
	if _, err := ingest.ReadOnlineRetailFile(demo.OnlineRetail(b), &names); err != nil {
		b.Fatal(err)
	}
	an, _ := text.NewAnalyzer("english")
	var words []string
	var toks []text.Token
	for _, n := range names.names {
		toks = an.Tokens(n, toks[:0])
		for _, t := range toks {
			words = append(words, t.Text)
		}
	}
	return NewDict(words)
}

type collectNames struct{ names []string }

func (c *collectNames) Product(p *ingest.Product) error {
	c.names = append(c.names, p.Name)
	return nil
}
func (c *collectNames) Customer(*ingest.Customer) error { return nil }
func (c *collectNames) Order(*ingest.Order) error       { return nil }

// BenchmarkMatch: one query word against the retail vocabulary, as search
// and as-you-type look words up (typos by word length).
func BenchmarkMatch(b *testing.B) {
	d := retailVocabulary(b)
	b.Logf("%d terms", d.Len())
	for _, tc := range []struct {
		name, word string
		prefix     bool
	}{
		{"exact-short", "mug", false},
		{"typo-1", "candel", false},
		{"typo-2", "christmass", false},
		{"prefix-2", "ch", true},
		{"prefix-typo", "chrsitm", true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			hits := 0
			for b.Loop() {
				hits = 0
				d.Match(tc.word, text.MaxTypos(len([]rune(tc.word))), tc.prefix, func(int, int) { hits++ })
			}
			b.ReportMetric(float64(hits), "terms")
		})
	}
}

// BenchmarkRetailIndex builds the index of the bundled Online Retail
// product names and runs full and as-you-type queries against it.
func BenchmarkRetailIndex(b *testing.B) {
	var names collectNames
	if _, err := ingest.ReadOnlineRetailFile(demo.OnlineRetail(b), &names); err != nil {
		b.Fatal(err)
	}
	an, _ := text.NewAnalyzer("english")
	docs := make([]Doc, len(names.names))
	for i, n := range names.names {
		docs[i].Fields[FieldName] = n
	}
	b.Run("build", func(b *testing.B) {
		for b.Loop() {
			NewIndex(an, docs)
		}
		b.ReportMetric(float64(len(docs))*float64(b.N)/b.Elapsed().Seconds(), "products/s")
	})
	ix := NewIndex(an, docs)
	for _, q := range []Query{
		{Text: "heart"}, {Text: "red retrospot bag"}, {Text: "christmass decoraton"},
		{Text: "vintage ch", Prefix: true}, {Text: "t", Prefix: true},
		// the slowest kind of search-known-item: a typo in the last
		// letter, read also as two words ("starsf" as "stars f")
		{Text: "starsf card holder", Limit: 10},
	} {
		b.Run(q.Text, func(b *testing.B) {
			n := 0
			for b.Loop() {
				n = len(ix.Search(q))
			}
			b.ReportMetric(float64(n), "hits")
		})
	}
}
