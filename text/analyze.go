package text

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	snowball "github.com/blevesearch/snowballstem"
	"github.com/blevesearch/snowballstem/danish"
	"github.com/blevesearch/snowballstem/dutch"
	"github.com/blevesearch/snowballstem/english"
	"github.com/blevesearch/snowballstem/finnish"
	"github.com/blevesearch/snowballstem/french"
	"github.com/blevesearch/snowballstem/german"
	"github.com/blevesearch/snowballstem/italian"
	"github.com/blevesearch/snowballstem/norwegian"
	"github.com/blevesearch/snowballstem/portuguese"
	"github.com/blevesearch/snowballstem/spanish"
	"github.com/blevesearch/snowballstem/swedish"
	"golang.org/x/text/cases"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// Fold maps s to the form search compares: compatibility-decomposed
// (NFKD: "ﬁ" is "fi", a full-width "Ａ" is "A"), combining marks removed
// ("crème brûlée" is "creme brulee", "Å" is "A"), then case-folded
// ("STRASSE" and "straße" are both "strasse"). Letters that are not a
// base letter plus a mark stay themselves: "ø" and "æ" are not "o" and
// "ae", as Nordic shoppers type them.
func Fold(s string) string {
	if ascii(s) {
		return asciiLower(s)
	}
	f := folders.Get().(*folder)
	defer folders.Put(f)
	f.t.Reset()
	out, _, err := transform.String(f.t, s)
	if err != nil {
		// Only invalid UTF-8 gets here; fold what is valid.
		out = strings.ToLower(strings.ToValidUTF8(s, ""))
	}
	return out
}

// folder holds one transform chain: chains keep state, so each goroutine
// takes its own from the pool.
type folder struct{ t transform.Transformer }

var folders = sync.Pool{New: func() any {
	return &folder{t: transform.Chain(norm.NFKD, runes.Remove(runes.In(unicode.Mn)), cases.Fold(), norm.NFC)}
}}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// Token is one word of analysed text.
type Token struct {
	// Text is the folded word: a maximal run of letters and digits, so
	// units stay with their number ("12v", "500ml") and sizes and single
	// letters are kept ("3", "s").
	Text string
	// Stem is the word's stem in the analyzer's language ("lamps" ->
	// "lamp"), "" when the word is its own stem or is not stemmed (it
	// holds a digit, or is shorter than three letters).
	Stem string
	// Pos is the word's position in the text (0, 1, ...), for proximity.
	Pos int
}

// Analyzer cuts text into tokens for one language. It is safe for
// concurrent use.
type Analyzer struct {
	language string
	stem     func(*snowball.Env) bool
}

// stemmers are the Snowball stemmers (snowballstem.org, through
// github.com/blevesearch/snowballstem) of the languages a store may
// choose, by English name as Clerk's `language` takes them.
var stemmers = map[string]func(*snowball.Env) bool{
	"danish": danish.Stem, "dutch": dutch.Stem, "english": english.Stem, "finnish": finnish.Stem,
	"french": french.Stem, "german": german.Stem, "italian": italian.Stem, "norwegian": norwegian.Stem,
	"portuguese": portuguese.Stem, "spanish": spanish.Stem, "swedish": swedish.Stem,
}

// languageCodes maps ISO 639-1 codes to the names above.
var languageCodes = map[string]string{
	"da": "danish", "nl": "dutch", "en": "english", "fi": "finnish", "fr": "french", "de": "german",
	"it": "italian", "no": "norwegian", "nb": "norwegian", "nn": "norwegian", "pt": "portuguese",
	"es": "spanish", "sv": "swedish",
}

// Languages lists the names NewAnalyzer accepts (ISO 639-1 codes too).
func Languages() []string {
	out := make([]string, 0, len(stemmers))
	for l := range stemmers {
		out = append(out, l)
	}
	return out
}

// NewAnalyzer returns the analyzer of a language, by name ("english") or
// ISO 639-1 code ("en"); "" is an analyzer that folds but does not stem.
func NewAnalyzer(language string) (*Analyzer, error) {
	l := strings.ToLower(strings.TrimSpace(language))
	if name, ok := languageCodes[l]; ok {
		l = name
	}
	if l == "" {
		return &Analyzer{}, nil
	}
	stem, ok := stemmers[l]
	if !ok {
		return nil, fmt.Errorf("no analyzer for language %q (want one of %s, or an ISO 639-1 code)", language, strings.Join(sortedLanguages(), ", "))
	}
	return &Analyzer{language: l, stem: stem}, nil
}

func sortedLanguages() []string {
	l := Languages()
	slices.Sort(l)
	return l
}

// Language is the analyzer's language name, "" when it does not stem.
func (a *Analyzer) Language() string { return a.language }

// Tokens appends the tokens of s to dst and returns it.
func (a *Analyzer) Tokens(s string, dst []Token) []Token { return a.TokensMemo(s, dst, nil) }

// Stems remembers words' stems between TokensMemo calls: a catalog says
// the same few thousand words over and over, and stemming is most of
// cutting it. Not safe for concurrent use; one per goroutine.
type Stems map[string]string

// maxStems bounds a Stems: past it, it starts over.
const maxStems = 1 << 16

// TokensMemo is Tokens, with the stems looked up in memo first and
// remembered there (nil: none).
func (a *Analyzer) TokensMemo(s string, dst []Token, memo Stems) []Token {
	folded := Fold(s)
	pos := 0
	start := -1
	for i, r := range folded {
		word := unicode.IsLetter(r) || unicode.IsDigit(r)
		switch {
		case word && start < 0:
			start = i
		case !word && start >= 0:
			dst = append(dst, a.tokenMemo(folded[start:i], pos, memo))
			pos++
			start = -1
		}
	}
	if start >= 0 {
		dst = append(dst, a.tokenMemo(folded[start:], pos, memo))
	}
	return dst
}

func (a *Analyzer) tokenMemo(word string, pos int, memo Stems) Token {
	if memo == nil {
		return a.token(word, pos)
	}
	if stem, ok := memo[word]; ok {
		return Token{Text: word, Pos: pos, Stem: stem}
	}
	t := a.token(word, pos)
	if len(memo) >= maxStems {
		clear(memo)
	}
	memo[word] = t.Stem
	return t
}

func (a *Analyzer) token(word string, pos int) Token {
	t := Token{Text: word, Pos: pos}
	if a.stem == nil || utf8.RuneCountInString(word) < 3 || strings.IndexFunc(word, unicode.IsDigit) >= 0 {
		return t
	}
	env := snowball.NewEnv(word)
	a.stem(env)
	if s := env.Current(); s != word {
		t.Stem = s
	}
	return t
}

// MaxTypos is how many typos a query word of n letters may carry and
// still match, as the search engines Sibyl learns from tolerate them
// (Typesense, Meilisearch): none up to 4 letters (a short word with a typo
// is usually another word), one from 5, two from 9.
func MaxTypos(n int) int {
	switch {
	case n >= 9:
		return 2
	case n >= 5:
		return 1
	}
	return 0
}
