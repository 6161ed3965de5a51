package text

import (
	"reflect"
	"slices"
	"testing"
)

func TestFold(t *testing.T) {
	for in, want := range map[string]string{
		"Desk LAMP":         "desk lamp",
		"Crème Brûlée":      "creme brulee",
		"STRASSE straße":    "strasse strasse",
		"Ａｂｃ ﬁne":           "abc fine",
		"Blåbær smørrebrød": "blabær smørrebrød", // å has a ring mark; æ and ø are letters
		"Ñandú":             "nandu",
		"already folded":    "already folded",
		"bad \xff utf8":     "bad \ufffd utf8", // a replacement character: not a letter, so it separates words
	} {
		if got := Fold(in); got != want {
			t.Errorf("Fold(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAnalyzerTokens(t *testing.T) {
	en, err := NewAnalyzer("en")
	if err != nil {
		t.Fatal(err)
	}
	got := en.Tokens("Set of 3 Cake-Tins, 12V lamps & Hearts", nil)
	want := []Token{
		{Text: "set", Pos: 0}, {Text: "of", Pos: 1}, {Text: "3", Pos: 2},
		{Text: "cake", Pos: 3}, {Text: "tins", Stem: "tin", Pos: 4},
		{Text: "12v", Pos: 5}, {Text: "lamps", Stem: "lamp", Pos: 6}, {Text: "hearts", Stem: "heart", Pos: 7},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("tokens\n got %+v\nwant %+v", got, want)
	}
	// The same word in another language stems by that language's rules.
	da, err := NewAnalyzer("danish")
	if err != nil {
		t.Fatal(err)
	}
	if tok := da.Tokens("lampen", nil); len(tok) != 1 || tok[0].Stem != "lamp" {
		t.Fatalf("danish lampen: %+v, want stem lamp", tok)
	}
	plain, _ := NewAnalyzer("")
	if tok := plain.Tokens("Lamps", nil); len(tok) != 1 || tok[0] != (Token{Text: "lamps"}) {
		t.Fatalf("no language: %+v, want lamps unstemmed", tok)
	}
	if _, err := NewAnalyzer("klingon"); err == nil {
		t.Fatal("an unknown language was accepted")
	}
}

func TestMaxTypos(t *testing.T) {
	for n, want := range map[int]int{1: 0, 4: 0, 5: 1, 8: 1, 9: 2, 20: 2} {
		if got := MaxTypos(n); got != want {
			t.Errorf("MaxTypos(%d) = %d, want %d", n, got, want)
		}
	}
}

// Tokens with a memo of stems cut exactly as without one, the second time
// (stems from the memo) too.
func TestTokensMemoAsTokens(t *testing.T) {
	for _, lang := range []string{"english", "danish", ""} {
		an, err := NewAnalyzer(lang)
		if err != nil {
			t.Fatal(err)
		}
		memo := Stems{}
		for _, s := range []string{"Running shoes for runners", "Løbesko til løbere, 12v", "running SHOES", "café crème 3 tier", ""} {
			want := an.Tokens(s, nil)
			for pass := range 2 {
				if got := an.TokensMemo(s, nil, memo); !slices.Equal(got, want) {
					t.Errorf("%s %q pass %d: %+v, want %+v", lang, s, pass, got, want)
				}
			}
		}
		if len(memo) == 0 && lang != "" {
			t.Errorf("%s: the memo kept nothing", lang)
		}
	}
}
