package filter

import (
	"errors"
	"slices"
	"testing"
)

// FuzzParse checks that the parser never panics, that every error is a
// positioned *SyntaxError inside the input, and that whatever parses
// re-parses from its canonical print to the same tree, which prints the
// same again. Accepted filters are also evaluated on a small catalog both
// ways, so odd parses cannot make Index.Eval and Match disagree.
// The seeds run in every `go test`; `go test -fuzz FuzzParse` explores.
func FuzzParse(f *testing.F) {
	seeds := []string{
		`price > 10 and categories in [1,2]`,
		`brand = 'x' or on_sale = true`,
		`tags contains 'y'`,
		`brand = "Imperial Inc." and price > 100`,
		`on_sale = false or (categories not in [123, 456] and price <= 200)`,
		`a = 1 or (b != "q\"uote" and (c >= -1.5e3 or d < 0))`,
		`id in [1, "2", true, 'x\\y']`,
		`a not in []`,
		`(((a = 1)))`,
		`a = 'unterminated`,
		`a == 1`,
		`price > 'x'`,
		`a = 10abc`,
		"a = \xff",
		`in = 1`,
		`a = -0`,
		`a = 1e-400`,
	}
	for _, s := range seeds {
		f.Add(s)
	}
	// Limits large enough that a canonical print (which can be longer than
	// its source through added spaces and escapes) is never rejected for length.
	p, err := NewParser(Config{MaxLength: 1 << 16, MaxDepth: 32, MaxListLength: 1 << 16, MaxComparisons: 1 << 16})
	if err != nil {
		f.Fatal(err)
	}
	items := semanticsCatalog()
	ix := NewIndex(slices.Values(items))
	f.Fuzz(func(t *testing.T, src string) {
		if len(src) > 1<<13 {
			return
		}
		e, err := p.Parse(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) returned %T, want *SyntaxError", src, err)
			}
			if se.Pos < 0 || se.Pos > len(src) || se.Msg == "" {
				t.Fatalf("Parse(%q): error %q has position outside the input", src, err)
			}
			return
		}
		printed := e.String()
		again, err := p.Parse(printed)
		if err != nil {
			t.Fatalf("Parse(%q) printed %q, which does not parse: %v", src, printed, err)
		}
		if !again.Equal(e) {
			t.Fatalf("Parse(%q) printed %q, which parses to a different tree %q", src, printed, again)
		}
		if again.String() != printed {
			t.Fatalf("canonical print is not stable: %q then %q", printed, again.String())
		}
		got := ix.Eval(e)
		for _, it := range items {
			if Match(e, it.Attrs) != got.Contains(it.Index) {
				t.Fatalf("filter %q: Match and Index.Eval disagree on item %d", printed, it.Index)
			}
		}
	})
}
