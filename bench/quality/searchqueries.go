package quality

import (
	"math/rand/v2"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// QueryKind is how a known-item query is made from a product's name, one
// way shoppers type (docs/quality.md, search-known-item).
type QueryKind string

// Query kinds, in table order.
const (
	// KindWords: one to three of the name's words, in the name's order.
	KindWords QueryKind = "words"
	// KindPrefix: one to three words, the last cut to a prefix (typing).
	KindPrefix QueryKind = "prefix"
	// KindTypo: one to three words, one of 5+ letters with one typo.
	KindTypo QueryKind = "typo"
	// KindReorder: two or three words in another order than the name's.
	KindReorder QueryKind = "reorder"
)

// QueryKinds lists every kind in table order.
var QueryKinds = []QueryKind{KindWords, KindPrefix, KindTypo, KindReorder}

// KnownQuery is one known-item query: Text was made from the name of
// product Target (a dense item index) by Kind.
type KnownQuery struct {
	Kind   QueryKind
	Text   string
	Target int32
}

// queryStopwords are words no shopper types alone and the query maker
// never picks ("set of 4" gives "set", never "of").
var queryStopwords = map[string]bool{"a": true, "an": true, "and": true, "the": true, "of": true, "for": true,
	"with": true, "in": true, "on": true, "to": true, "by": true, "or": true}

// nameWords returns the words of a product name a shopper might type:
// lower-cased, split on spaces, trimmed of surrounding punctuation, at
// least two runes with a letter or digit, not a stopword.
func nameWords(name string) []string {
	var out []string
	for _, f := range strings.Fields(strings.ToLower(name)) {
		w := strings.TrimFunc(f, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
		if utf8.RuneCountInString(w) < 2 || queryStopwords[w] || !strings.ContainsFunc(w, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) {
			continue
		}
		out = append(out, w)
	}
	return out
}

// lettersOnly reports whether w is made of letters only.
func lettersOnly(w string) bool {
	return !strings.ContainsFunc(w, func(r rune) bool { return !unicode.IsLetter(r) })
}

// pickOthers picks 0 to maxOthers positions of n other than skip,
// uniformly, and returns them with skip in increasing order.
func pickOthers(rng *rand.Rand, n, skip, maxOthers int) []int {
	others := make([]int, 0, n)
	for i := range n {
		if i != skip {
			others = append(others, i)
		}
	}
	k := rng.IntN(min(maxOthers, len(others)) + 1)
	rng.Shuffle(len(others), func(i, j int) { others[i], others[j] = others[j], others[i] })
	pos := append(others[:k:k], skip)
	slices.Sort(pos)
	return pos
}

func join(words []string, pos []int) string {
	parts := make([]string, len(pos))
	for i, p := range pos {
		parts[i] = words[p]
	}
	return strings.Join(parts, " ")
}

// MakeQuery makes one query of kind from a product name with rng, or
// reports false when the name has no words for that kind (no word of 5+
// letters for typo, fewer than two words for reorder, no word of 3+ runes
// for prefix).
func MakeQuery(kind QueryKind, name string, rng *rand.Rand) (string, bool) {
	words := nameWords(name)
	if len(words) == 0 {
		return "", false
	}
	switch kind {
	case KindWords:
		pos := pickOthers(rng, len(words), rng.IntN(len(words)), 2)
		return join(words, pos), true
	case KindPrefix:
		// The cut word is the last one typed: the others come from
		// before it in the name, as a shopper types left to right.
		var cands []int
		for i, w := range words {
			if utf8.RuneCountInString(w) >= 3 {
				cands = append(cands, i)
			}
		}
		if len(cands) == 0 {
			return "", false
		}
		j := cands[rng.IntN(len(cands))]
		pos := pickOthers(rng, j+1, j, 2)
		r := []rune(words[j])
		cut := string(r[:2+rng.IntN(len(r)-2)]) // 2 .. len-1 runes
		q := join(words, pos[:len(pos)-1])
		if q != "" {
			q += " "
		}
		return q + cut, true
	case KindTypo:
		var cands []int
		for i, w := range words {
			if utf8.RuneCountInString(w) >= 5 && lettersOnly(w) {
				cands = append(cands, i)
			}
		}
		if len(cands) == 0 {
			return "", false
		}
		j := cands[rng.IntN(len(cands))]
		pos := pickOthers(rng, len(words), j, 2)
		typoed := slices.Clone(words)
		typoed[j] = typo(words[j], rng)
		return join(typoed, pos), true
	case KindReorder:
		// Two or three of the name's words whose query text does not read
		// in the name's order ("sweet home" from "HOME SWEET HOME" does,
		// so it is never a reorder of it).
		if len(words) < 2 {
			return "", false
		}
		n := 2 + rng.IntN(min(3, len(words))-1)
		pos := rng.Perm(len(words))[:n]
		for range 8 {
			rng.Shuffle(len(pos), func(i, j int) { pos[i], pos[j] = pos[j], pos[i] })
			if q := join(words, pos); !subsequence(strings.Fields(q), words) {
				return q, true
			}
		}
		return "", false
	}
	return "", false
}

// subsequence reports whether ws appear in words in that order.
func subsequence(ws, words []string) bool {
	i := 0
	for _, w := range words {
		if i < len(ws) && ws[i] == w {
			i++
		}
	}
	return i == len(ws)
}

// typo applies one edit to w (5+ letters), never to its first letter:
// substitution, deletion, insertion or swap of two neighbours, chosen
// uniformly (Damerau's four kinds of single error).
func typo(w string, rng *rand.Rand) string {
	r := []rune(w)
	letter := func(not rune) rune {
		for {
			c := rune('a' + rng.IntN(26))
			if c != not {
				return c
			}
		}
	}
	switch rng.IntN(4) {
	case 0: // substitution
		p := 1 + rng.IntN(len(r)-1)
		r[p] = letter(r[p])
	case 1: // deletion
		p := 1 + rng.IntN(len(r)-1)
		r = slices.Delete(r, p, p+1)
	case 2: // insertion, before position p (p == len appends)
		p := 1 + rng.IntN(len(r))
		r = slices.Insert(r, p, letter(0))
	default: // swap of r[p] and r[p+1]; when they are equal, a substitution
		p := 1 + rng.IntN(len(r)-2)
		if r[p] == r[p+1] {
			r[p] = letter(r[p])
		} else {
			r[p], r[p+1] = r[p+1], r[p]
		}
	}
	return string(r)
}

// kindSeed numbers the kinds for seeding.
func kindSeed(k QueryKind) uint64 {
	return uint64(slices.Index(QueryKinds, k) + 1)
}

// MakeKnownQueries makes one query of kind per target (dense item
// indices into names), each from its own generator seeded by (seed, its
// position, its target, kind): a query does not depend on the queries made
// before it, and one product drawn twice gets two queries.
// Targets whose name has no words for the kind are left out.
func MakeKnownQueries(kind QueryKind, names []string, targets []int32, seed uint64) []KnownQuery {
	out := make([]KnownQuery, 0, len(targets))
	for i, t := range targets {
		rng := rand.New(rand.NewPCG(seed, uint64(i)<<32|uint64(t)<<4|kindSeed(kind)))
		if q, ok := MakeQuery(kind, names[t], rng); ok {
			out = append(out, KnownQuery{Kind: kind, Text: q, Target: t})
		}
	}
	return out
}
