package search

import (
	"testing"

	"github.com/sibylhq/sibyl/text"
)

// BenchmarkMatchRanked: the lookups search makes for one query word
// (MatchRanked: the first letter's run, and with a budget of 2 the
// first-letter changes), on the retail vocabulary.
func BenchmarkMatchRanked(b *testing.B) {
	d := retailVocabulary(b)
	for _, tc := range []struct {
		name, word string
		prefix     bool
	}{
		{"typo-1", "candel", false},
		{"typo-1-long", "blackc", false},
		{"typo-2", "champagne", false},
		{"typo-2-miss", "christmass", false},
		{"prefix-typo", "chrsitm", true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			hits := 0
			for b.Loop() {
				hits = 0
				d.MatchRanked(tc.word, text.MaxTypos(len([]rune(tc.word))), tc.prefix, func(int, int) { hits++ })
			}
			b.ReportMetric(float64(hits), "terms")
		})
	}
}
