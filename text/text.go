// Package text is Sibyl's text analysis: how product, category and page
// text and a shopper's query are cut into terms. The engine's keyword
// index and compute's tf-idf substitute signal both use it, so a word
// matches the same way everywhere; the search service's analyzer is meant
// to grow here (stemming, synonyms) rather than beside it.
package text

import (
	"strings"
	"unicode"
)

// Tokens splits s into lower-case words: maximal runs of letters and
// digits, of two bytes or more (a lone letter or digit carries no
// meaning for matching). Everything else separates words.
func Tokens(s string) []string {
	f := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	out := f[:0]
	for _, t := range f {
		if len(t) >= 2 {
			out = append(out, t)
		}
	}
	return out
}
