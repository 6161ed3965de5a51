package search

import (
	"strings"
)

// Synonyms resolve a query to alternative queries, the way Typesense
// does (https://typesense.org/docs/latest/api/synonyms.html): a
// multi-way synonym makes every phrase of a group stand for the others,
// a one-way synonym makes the root phrase also search its synonyms, and
// the search runs for the query and for each alternative made by
// putting a synonym in place of a matched phrase, merging the hits.
// Phrases are compared as folded words (Normalize), so "T-Shirt" matches
// "t shirt".
type Synonyms struct {
	// byPhrase maps a normalized phrase to the rules it takes part in.
	byPhrase map[string][]synRef
	// groups[i] are rule i's two-way phrases (its query first), and
	// directed[i] its one-way targets, all normalized.
	groups, directed [][]string
	// maxWords is the longest phrase's word count: longer spans of a
	// query cannot match.
	maxWords int
}

type synRef struct {
	rule int32
	// self is the phrase's place in its group (two-way); -1 for the root
	// of one-way synonyms.
	self int32
}

// MaxAlternatives bounds the alternatives of one query: each costs the
// coordinator one more index search.
const MaxAlternatives = 8

// NewSynonyms compiles rules (validated ones; anything else is read as
// well as it can be, never panicking).
func NewSynonyms(rules []Synonym) *Synonyms {
	s := &Synonyms{byPhrase: make(map[string][]synRef)}
	for i, r := range rules {
		var group, directed []string
		for _, p := range append([]string{r.Query}, r.Synonyms...) {
			if n := Normalize(p); n != "" {
				group = append(group, n)
			}
		}
		for _, p := range r.DirectedSynonyms {
			if n := Normalize(p); n != "" {
				directed = append(directed, n)
			}
		}
		s.groups = append(s.groups, group)
		s.directed = append(s.directed, directed)
		if len(group) > 1 {
			for j, p := range group {
				s.add(p, synRef{int32(i), int32(j)})
			}
		}
		if len(directed) > 0 && len(group) > 0 {
			s.add(group[0], synRef{int32(i), -1})
		}
	}
	return s
}

func (s *Synonyms) add(phrase string, ref synRef) {
	s.byPhrase[phrase] = append(s.byPhrase[phrase], ref)
	s.maxWords = max(s.maxWords, strings.Count(phrase, " ")+1)
}

// Alternatives returns up to MaxAlternatives other texts for query, each
// the query (normalized) with one matched phrase replaced by one of its
// synonyms; longer phrases first at each position, positions left to
// right. Nil when no rule matches.
func (s *Synonyms) Alternatives(query string) []string {
	if s == nil || len(s.byPhrase) == 0 {
		return nil
	}
	words := Words(query)
	orig := strings.Join(words, " ")
	var out []string
	seen := map[string]bool{orig: true}
	for i := range words {
		for n := min(s.maxWords, len(words)-i); n >= 1; n-- {
			for _, ref := range s.byPhrase[strings.Join(words[i:i+n], " ")] {
				for j, rep := range s.replacements(ref) {
					if ref.self >= 0 && j == int(ref.self) {
						continue
					}
					alt := joinWords(words[:i], rep, words[i+n:])
					if seen[alt] {
						continue
					}
					seen[alt] = true
					out = append(out, alt)
					if len(out) == MaxAlternatives {
						return out
					}
				}
			}
		}
	}
	return out
}

func (s *Synonyms) replacements(ref synRef) []string {
	if ref.self < 0 {
		return s.directed[ref.rule]
	}
	return s.groups[ref.rule]
}

func joinWords(before []string, mid string, after []string) string {
	var b strings.Builder
	for _, w := range before {
		b.WriteString(w)
		b.WriteByte(' ')
	}
	b.WriteString(mid)
	for _, w := range after {
		b.WriteByte(' ')
		b.WriteString(w)
	}
	return b.String()
}
