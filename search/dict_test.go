package search

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// levenshtein is the textbook optimal string alignment distance in runes
// (Levenshtein plus adjacent swaps), the reference Match is checked
// against.
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev, prev2 := make([]int, len(rb)+1), []int(nil)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur := make([]int, len(rb)+1)
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j-1]+cost, prev[j]+1, cur[j-1]+1)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev = prev, cur
	}
	return prev[len(rb)]
}

// prefixDistance is the least distance of word to any prefix of term.
func prefixDistance(word, term string) int {
	best := levenshtein(word, "")
	for i := range term {
		best = min(best, levenshtein(word, term[:i]))
	}
	return min(best, levenshtein(word, term))
}

type hit struct{ term, typos int }

func matchAll(d *Dict, word string, maxTypos int, prefix bool) []hit {
	var out []hit
	d.Match(word, maxTypos, prefix, func(term, typos int) { out = append(out, hit{term, typos}) })
	return out
}

func TestMatchAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []rune("abcdeløæ")
	word := func(maxLen int) string {
		r := make([]rune, 1+rng.IntN(maxLen))
		for i := range r {
			r[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(r)
	}
	var terms []string
	for range 800 {
		terms = append(terms, word(9))
	}
	d := NewDict(terms)
	for q := range 100 {
		w := word(10)
		if q%3 == 0 { // a near miss of a real term
			w = d.Term(rng.IntN(d.Len()))
			if r := []rune(w); len(r) > 2 {
				r[rng.IntN(len(r))] = alphabet[rng.IntN(len(alphabet))]
				w = string(r)
			}
		}
		for maxTypos := range 3 {
			for _, prefix := range []bool{false, true} {
				var want []hit
				for i := range d.Len() {
					dist := levenshtein(w, d.Term(i))
					if prefix {
						dist = prefixDistance(w, d.Term(i))
					}
					if dist <= maxTypos {
						want = append(want, hit{i, dist})
					}
				}
				if got := matchAll(d, w, maxTypos, prefix); !slices.Equal(got, want) {
					t.Fatalf("Match(%q, %d, prefix %v): %d hits %v\nwant %d hits %v", w, maxTypos, prefix, len(got), got, len(want), want)
				}
			}
		}
	}
}

func TestMatchTypoAndPrefix(t *testing.T) {
	d := NewDict([]string{"lamp", "lamps", "lampshade", "lantern", "clamp", "ramp", "candle", "lamp"})
	name := func(h []hit) []string {
		var out []string
		for _, x := range h {
			out = append(out, fmt.Sprintf("%s/%d", d.Term(x.term), x.typos))
		}
		return out
	}
	for _, tc := range []struct {
		word     string
		maxTypos int
		prefix   bool
		want     []string
	}{
		{"lamp", 0, false, []string{"lamp/0"}},
		{"lmap", 1, false, []string{"lamp/1"}}, // a swap is one typo
		{"lanp", 1, false, []string{"lamp/1"}},
		{"lam", 0, true, []string{"lamp/0", "lamps/0", "lampshade/0"}},
		{"lamsh", 1, true, []string{"lampshade/1"}}, // "lampsh" less its p; "lamp" is two away
		{"cand", 0, true, []string{"candle/0"}},
	} {
		if got := name(matchAll(d, tc.word, tc.maxTypos, tc.prefix)); !slices.Equal(got, tc.want) {
			t.Errorf("Match(%q, %d, prefix %v) = %v, want %v", tc.word, tc.maxTypos, tc.prefix, got, tc.want)
		}
	}
	if i, ok := d.Lookup("lantern"); !ok || d.Term(i) != "lantern" {
		t.Fatal("Lookup lantern")
	}
	if d.Len() != 7 {
		t.Fatalf("%d terms, want 7 (one repeat)", d.Len())
	}
}
