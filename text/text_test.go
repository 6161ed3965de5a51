package text

import (
	"slices"
	"testing"
)

func TestTokens(t *testing.T) {
	f := func(in string, want ...string) {
		t.Helper()
		if got := Tokens(in); !slices.Equal(got, want) {
			t.Errorf("Tokens(%q) = %q, want %q", in, got, want)
		}
	}
	f("")
	f("a b c")
	f("Red T-Shirt, size XL", "red", "shirt", "size", "xl")
	f("WHITE HANGING HEART T-LIGHT HOLDER", "white", "hanging", "heart", "light", "holder")
	f("set/6 mugs 2x", "set", "mugs", "2x")
	f("Crème Brûlée", "crème", "brûlée")
	f("é", "é") // two bytes in UTF-8
	f("x1 1 42", "x1", "42")
	f("  tabs\tand\nnewlines  ", "tabs", "and", "newlines")
}
