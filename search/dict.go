// Package search is Sibyl's product search: a store's vocabulary, the
// postings of its catalog, and the matching and ranking of shoppers'
// queries (typo-tolerant, as-you-type). Text is cut into terms by package
// text, the same way for the catalog and for queries.
package search

import (
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

// Dict is a store's vocabulary: every distinct term once, sorted by bytes
// (for UTF-8, by code point), so the terms that share a prefix stand in one
// run. Match walks it as the trie it implies, without building one: the
// Levenshtein rows of a term's prefix are kept for the next term, which
// shares that prefix, and a prefix already too far from the query skips
// its whole run by binary search. Memory is the terms themselves plus four
// bytes a term.
type Dict struct {
	terms []string
	// shared[i] is how many runes term i shares with term i-1.
	shared []int32
	// initials are the runs of terms by first letter, in term order:
	// a word with a first-letter typo is looked up in each (MatchRanked).
	initials []initialRun
}

// initialRun is terms[lo:hi], the terms that begin with letter.
type initialRun struct {
	letter string
	lo, hi int
}

// NewDict builds the dictionary of terms (any order, repeats allowed; the
// slice is not kept).
func NewDict(terms []string) *Dict {
	t := slices.Clone(terms)
	slices.Sort(t)
	t = slices.Compact(t)
	d := &Dict{terms: t, shared: make([]int32, len(t))}
	for i := 1; i < len(t); i++ {
		d.shared[i] = int32(sharedRunes(t[i-1], t[i]))
	}
	for i := 0; i < len(t); {
		_, n := utf8.DecodeRuneInString(t[i])
		j := d.runEnd(i, t[i][:n])
		d.initials = append(d.initials, initialRun{t[i][:n], i, j})
		i = j
	}
	return d
}

func sharedRunes(a, b string) int {
	n := 0
	for len(a) > 0 && len(b) > 0 {
		ra, sa := utf8.DecodeRuneInString(a)
		rb, sb := utf8.DecodeRuneInString(b)
		if ra != rb {
			break
		}
		a, b = a[sa:], b[sb:]
		n++
	}
	return n
}

// matchState is Match's scratch, pooled: a query does not allocate once
// the pool is warm.
type matchState struct {
	q    []rune
	rows [][]int32
	best []int32
	path []rune
	// off[k] is the byte length of path[:k].
	off []int
}

func grow(b []int32, n int) []int32 {
	if cap(b) < n {
		return make([]int32, n)
	}
	return b[:n]
}

var matchScratch = sync.Pool{New: func() any { return new(matchState) }}

// runEnd is the first term after i that does not start with p (term i
// does). Galloping: most runs cut off by a typo are a few terms long, so
// the search doubles its step from i before it bisects.
func (d *Dict) runEnd(i int, p string) int {
	lo, step := i, 1 // terms[lo] has the prefix
	hi := len(d.terms)
	for lo+step < hi {
		if !strings.HasPrefix(d.terms[lo+step], p) {
			hi = lo + step
			break
		}
		lo += step
		step *= 2
	}
	// terms[lo] has p, terms[hi] (if any) does not.
	return lo + 1 + sort.Search(hi-lo-1, func(k int) bool { return !strings.HasPrefix(d.terms[lo+1+k], p) })
}

// subtreeEnd is runEnd(i, p) for p the first depth runes of term i. Most
// runs a typo cuts off are short, and the next term that shares fewer
// than depth runes with its predecessor ends one, so a few are looked at
// in shared before the search by prefix.
func (d *Dict) subtreeEnd(i, depth int, p string) int {
	for j := i + 1; j < min(i+16, len(d.terms)); j++ {
		if int(d.shared[j]) < depth {
			return j
		}
	}
	return d.runEnd(i, p)
}

// Len is the number of terms.
func (d *Dict) Len() int { return len(d.terms) }

// Term is term i (0 <= i < Len), in sorted order.
func (d *Dict) Term(i int) string { return d.terms[i] }

// Lookup is the index of term, if the dictionary has it.
func (d *Dict) Lookup(term string) (int, bool) {
	return slices.BinarySearch(d.terms, term)
}

// Match calls fn for every term within maxTypos edits of word (insertions,
// deletions, substitutions of one rune, and swaps of two adjacent runes:
// the optimal string alignment distance, since "lmap" for "lamp" is one
// slip of the fingers, not two), with the number of edits, in term order. With prefix, a term matches
// when some prefix of it is within maxTypos of word (the word a shopper is
// still typing), and typos is the smallest such distance.
func (d *Dict) Match(word string, maxTypos int, prefix bool, fn func(term, typos int)) {
	d.MatchIn(word, maxTypos, prefix, 0, len(d.terms), fn)
}

// RunOf is the range of terms that begin with p: terms[lo:hi].
func (d *Dict) RunOf(p string) (lo, hi int) {
	lo = sort.SearchStrings(d.terms, p)
	if lo == len(d.terms) || !strings.HasPrefix(d.terms[lo], p) {
		return lo, lo
	}
	return lo, d.runEnd(lo, p)
}

// MatchIn is Match over terms[lo:hi] only, a run of terms that share a
// prefix (RunOf): a word whose typos may not touch its first letter
// walks the terms that begin with it.
func (d *Dict) MatchIn(word string, maxTypos int, prefix bool, lo, hi int, fn func(term, typos int)) {
	if maxTypos < 0 || lo >= hi {
		return
	}
	sc := matchScratch.Get().(*matchState)
	defer matchScratch.Put(sc)
	q := append(sc.q[:0], []rune(word)...)
	sc.q = q
	n := len(q)
	// rows[k] is the distance row of the current term's first k runes
	// (path[:k]) against q; best[k] the least rows[j][n] for j <= k
	// (prefix mode).
	// The slices keep their arrays between calls (sc); used is how many
	// depths this call has sized.
	rows, best, path, off := sc.rows, sc.best, sc.path, sc.off
	defer func() { sc.rows, sc.best, sc.path, sc.off = rows, best, path, off }()
	used := 0
	use := func(depth int) {
		if depth >= len(rows) {
			rows, best, path, off = append(rows, nil), append(best, 0), append(path, 0), append(off, 0)
		}
		rows[depth] = grow(rows[depth], n+1)
		used = depth + 1
	}
	use(0)
	for j := range rows[0] {
		rows[0][j] = int32(j)
	}
	best[0] = int32(n)
	valid := 0 // rows[0..valid] belong to the current path
	limit := int32(maxTypos)
	for i := lo; i < hi; i++ {
		term := d.terms[i]
		valid = min(valid, int(d.shared[i]))
		if i == lo {
			valid = 0 // rows of the term before the range are not computed
		}
		// Skip the runes whose rows are still valid: the term shares
		// them, bytes and all, with the path.
		rest := term[off[valid]:]
		depth := valid
		pruned := false
		for len(rest) > 0 {
			r, size := utf8.DecodeRuneInString(rest)
			rest = rest[size:]
			depth++
			if depth >= used {
				use(depth)
			}
			path[depth] = r
			off[depth] = len(term) - len(rest)
			prev, row := rows[depth-1], rows[depth]
			row[0] = int32(depth)
			rowMin := row[0]
			// Ukkonen's band: a cell further than limit from the
			// diagonal is over the limit (the distance is at least
			// |depth-j|), so only the 2*limit+1 cells around it are
			// computed, and the ones just outside hold limit+1, which
			// is all the next rows need to know of them.
			jlo, jhi := max(1, depth-maxTypos), min(n, depth+maxTypos)
			if jlo > 1 && jlo-1 <= n {
				row[jlo-1] = limit + 1
			}
			if jhi < n {
				row[jhi+1], row[n] = limit+1, limit+1
			}
			if jlo > jhi && n > 0 {
				row[n] = limit + 1
			}
			for j := jlo; j <= jhi; j++ {
				cost := int32(1)
				if q[j-1] == r {
					cost = 0
				}
				v := min(prev[j-1]+cost, prev[j]+1, row[j-1]+1)
				if j > 1 && depth > 1 && q[j-1] == path[depth-1] && q[j-2] == r {
					// Two adjacent runes swapped. Pruning stays sound:
					// this is never below the previous row's minimum.
					v = min(v, rows[depth-2][j-2]+1)
				}
				row[j] = v
				rowMin = min(rowMin, v)
			}
			best[depth] = min(best[depth-1], row[n])
			valid = depth
			if rowMin > limit && !(prefix && best[depth] <= limit) {
				// No extension of this prefix can come back within the
				// limit: skip every term that starts with it.
				i = min(d.subtreeEnd(i, depth, term[:len(term)-len(rest)]), hi) - 1
				pruned = true
				break
			}
		}
		if pruned {
			continue
		}
		dist := rows[depth][n]
		if prefix {
			dist = best[depth]
		}
		if dist <= limit {
			fn(i, int(dist))
		}
	}
}

// MatchRanked calls fn for the terms within maxTypos of word (as Match)
// when a typo on the first letter counts two, as Meilisearch counts it
// (https://www.meilisearch.com/docs/learn/relevancy/typo_tolerance_settings):
// shoppers rarely miss the first letter, and the rule halves the work.
// With a budget of 0 or 1, only the terms that begin with the word's
// first letter can match, so only their run is walked; with 2, the run
// with 2 typos, and elsewhere the first letter changed with nothing else
// wrong (replaced, dropped, added, or swapped with the second), found by
// lookups in each first letter's run rather than a walk. fn gets the
// ranked typos (2 for a first-letter change).
func (d *Dict) MatchRanked(word string, maxTypos int, prefix bool, fn func(term, typos int)) {
	first, size := utf8.DecodeRuneInString(word)
	if size == 0 || maxTypos < 0 {
		return
	}
	lo, hi := d.RunOf(word[:size])
	d.MatchIn(word, maxTypos, prefix, lo, hi, fn)
	if maxTypos < 2 {
		return
	}
	rest := word[size:]
	second, size2 := utf8.DecodeRuneInString(rest)
	// found reports the terms equal to s (or, while typing, beginning
	// with it) within terms[a:b].
	found := func(skip int, s string, a, b int) {
		// terms[a:b] share their first skip bytes, so they sort as
		// their remainders do: no candidate string is built.
		k := a + sort.Search(b-a, func(k int) bool { return d.terms[a+k][skip:] >= s })
		for ; k < b && (d.terms[k][skip:] == s || prefix && strings.HasPrefix(d.terms[k][skip:], s)); k++ {
			fn(k, 2)
			if !prefix {
				break
			}
		}
	}
	if size2 > 0 && second != first {
		a, b := d.RunOf(rest[:size2])
		found(size2, word[:size]+rest[size2:], a, b) // swapped
	}
	for _, run := range d.initials {
		c, i, j := run.letter, run.lo, run.hi
		if c != word[:size] {
			found(len(c), rest, i, j) // replaced
			found(len(c), word, i, j) // added before it
			if strings.HasPrefix(rest, c) {
				found(len(c), rest[len(c):], i, j) // dropped
			}
		}
	}
}
