package filter

import (
	"errors"
	"strings"
	"testing"
)

func TestParseCanonical(t *testing.T) {
	tests := []struct {
		src, want string
	}{
		// Clerk's documented examples.
		{`brand = 'Imperial Inc.' and price > 100`, `brand = "Imperial Inc." and price > 100`},
		{`on_sale = true or price < 49.95`, `on_sale = true or price < 49.95`},
		{`tags contains "Special Offer"`, `tags contains "Special Offer"`},
		{`categories in [123, 456]`, `categories in [123, 456]`},
		{`on_sale = false or (categories not in [123, 456] and price <= 200)`,
			`on_sale = false or categories not in [123, 456] and price <= 200`},
		// Precedence: and binds tighter than or.
		{`a = 1 or b = 2 and c = 3`, `a = 1 or b = 2 and c = 3`},
		{`(a = 1 or b = 2) and c = 3`, `(a = 1 or b = 2) and c = 3`},
		{`a = 1 and (b = 2 or c = 3) and d = 4`, `a = 1 and (b = 2 or c = 3) and d = 4`},
		// Flattening of nested and/or; redundant parentheses vanish.
		{`((a = 1)) and ((b = 2 and c = 3))`, `a = 1 and b = 2 and c = 3`},
		{`a = 1 or (b = 2 or (c = 3))`, `a = 1 or b = 2 or c = 3`},
		// Keywords in any case, spacing optional around symbols.
		{`price>=10 AND tags Contains 'x' Or id NOT IN[1,2]`, `price >= 10 and tags contains "x" or id not in [1, 2]`},
		{"a\t=\n1\r\n", `a = 1`},
		{`x != true`, `x != true`},
		{`x = FALSE`, `x = false`},
		// Numbers.
		{`p > -1.5`, `p > -1.5`},
		{`p < 1e3`, `p < 1000`},
		{`p <= 2.5E-3`, `p <= 0.0025`},
		{`p >= 12345678901234567890`, `p >= 1.2345678901234567e+19`},
		{`p = 007`, `p = 7`},
		// Strings: both quote styles, escapes, unicode, empty.
		{`s = "it's"`, `s = "it's"`},
		{`s = 'say "hi"'`, `s = "say \"hi\""`},
		{`s = 'it\'s \\ ok'`, `s = "it's \\ ok"`},
		{`s = ''`, `s = ""`},
		{`navn = 'blåbær'`, `navn = "blåbær"`},
		// Lists: empty, mixed kinds.
		{`a in []`, `a in []`},
		{`a not in ['x', 2, true]`, `a not in ["x", 2, true]`},
		// Attribute names.
		{`_private.field_2 = 1`, `_private.field_2 = 1`},
		{`størrelse = 'M'`, `størrelse = "M"`},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			e, err := Parse(tt.src)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.src, err)
			}
			if got := e.String(); got != tt.want {
				t.Fatalf("Parse(%q).String() = %q, want %q", tt.src, got, tt.want)
			}
			again, err := Parse(e.String())
			if err != nil || !again.Equal(e) {
				t.Fatalf("canonical form %q does not re-parse to the same tree (err %v)", e.String(), err)
			}
		})
	}
}

func TestParseTree(t *testing.T) {
	e, err := Parse(`a = 1 or b = 'x' and c in [2]`)
	if err != nil {
		t.Fatal(err)
	}
	want := &Expr{Kind: KindOr, Args: []*Expr{
		{Kind: KindCompare, Attr: "a", Op: OpEq, Value: Value{Kind: ValueNumber, Num: 1}},
		{Kind: KindAnd, Args: []*Expr{
			{Kind: KindCompare, Attr: "b", Op: OpEq, Value: Value{Kind: ValueString, Str: "x"}},
			{Kind: KindCompare, Attr: "c", Op: OpIn, Value: Value{Kind: ValueList, List: []Value{{Kind: ValueNumber, Num: 2}}}},
		}},
	}}
	if !e.Equal(want) {
		t.Fatalf("got %s, want %s", e, want)
	}
	if e.Args[1].Pos != 9 || e.Args[1].Args[1].Pos != 21 {
		t.Fatalf("positions: and at %d (want 9), c at %d (want 21)", e.Args[1].Pos, e.Args[1].Args[1].Pos)
	}
	if got := strings.Join(e.Attributes(), ","); got != "a,b,c" {
		t.Fatalf("Attributes() = %s", got)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		src  string
		want string // exact SyntaxError.Error()
	}{
		{``, `at 0: expected an attribute name or "(", got end of input`},
		{`   `, `at 3: expected an attribute name or "(", got end of input`},
		{`price > 10 and categories in )`, `at 29: expected a list [...] after "in", got ")"`},
		{`categories in [1, )`, `at 18: expected a value in the list, got ")"`},
		{`categories in [1 2]`, `at 17: expected "," or "]" closing the "[" at 14, got number 2`},
		{`categories in [1,`, `at 17: expected a value in the list, got end of input`},
		{`categories in [[1]]`, `at 15: expected a value in the list, got "["`},
		{`categories in 5`, `at 14: expected a list [...] after "in", got number 5`},
		{`a not 5`, `at 6: expected "in" after "not", got number 5`},
		{`brand = Nike`, `at 8: expected a value after "=", got identifier "Nike" (strings must be quoted)`},
		{`brand =`, `at 7: expected a value after "=", got end of input`},
		{`price > 'ten'`, `at 8: expected a number after ">", got string "ten"`},
		{`price > true`, `at 8: expected a number after ">", got "true"`},
		{`tags contains [1]`, `at 14: expected a value after "contains", got "["`},
		{`price 10`, `at 6: expected an operator (=, !=, >, >=, <, <=, in, not in, contains) after "price", got number 10`},
		{`price`, `at 5: expected an operator (=, !=, >, >=, <, <=, in, not in, contains) after "price", got end of input`},
		{`a = 1 b = 2`, `at 6: expected "and", "or" or end of input, got identifier "b"`},
		{`a = 1 and`, `at 9: expected an attribute name or "(", got end of input`},
		{`a = 1 or or b = 2`, `at 9: expected an attribute name or "(", got keyword "or" (keywords cannot be attribute names)`},
		{`in = 1`, `at 0: expected an attribute name or "(", got keyword "in" (keywords cannot be attribute names)`},
		{`(a = 1`, `at 6: expected "and", "or" or ")" closing the "(" at 0, got end of input`},
		{`a = 1)`, `at 5: expected "and", "or" or end of input, got ")"`},
		{`()`, `at 1: expected an attribute name or "(", got ")"`},
		{`a == 1`, `at 2: unexpected "==", equality is a single "="`},
		{`a ! 1`, `at 2: expected "=" after "!"`},
		{`a = 'open`, `at 4: unterminated string`},
		{`a = 'ends in \`, `at 4: unterminated string`},
		{`a = 'x\n'`, `at 6: unknown escape "\\n" in string (only \\, \' and \" are escapes)`},
		{`a = -x`, `at 4: expected a digit after "-"`},
		{`a = 1.`, `at 5: expected a digit after "." in number`},
		{`a = 1e`, `at 5: expected digits in the exponent of number`},
		{`a = 10abc`, `at 4: malformed number "10a"`},
		{`a = 1e999`, `at 4: number 1e999 is out of range`},
		{`a = 1 & b = 2`, `at 6: unexpected character '&'`},
		{"a = \xff", `at 4: invalid UTF-8 byte`},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			e, err := Parse(tt.src)
			if err == nil {
				t.Fatalf("Parse(%q) = %s, want error %q", tt.src, e, tt.want)
			}
			var se *SyntaxError
			if !errors.As(err, &se) || !errors.Is(err, ErrSyntax) {
				t.Fatalf("error %v (%T) is not a *SyntaxError matching ErrSyntax", err, err)
			}
			if err.Error() != tt.want {
				t.Fatalf("Parse(%q) error\n got: %s\nwant: %s", tt.src, err, tt.want)
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	p, err := NewParser(Config{MaxLength: 40, MaxDepth: 2, MaxListLength: 3, MaxComparisons: 3})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ src, want string }{
		{strings.Repeat(" ", 41), `at 40: filter is 41 bytes long, the limit is 40`},
		{`((a = 1))`, ``},
		{`(((a = 1)))`, `at 2: parentheses nested deeper than 2`},
		{`a in [1, 2, 3]`, ``},
		{`a in [1, 2, 3, 4]`, `at 15: list has more than 3 values`},
		{`a = 1 or b = 2 and c = 3`, ``},
		{`a = 1 or b = 2 and c = 3 or d = 4`, `at 28: filter has more than 3 comparisons`},
	}
	for _, tt := range tests {
		_, err := p.Parse(tt.src)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("Parse(%q) error = %q, want %q", tt.src, got, tt.want)
		}
	}
	// Depth is bounded by default too, so deep nesting cannot exhaust the stack.
	deep := strings.Repeat("(", 20000) + "a = 1" + strings.Repeat(")", 20000)
	if _, err := Parse(deep); err == nil || !strings.Contains(err.Error(), "nested deeper than 32") {
		t.Fatalf("deeply nested filter: got %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig invalid: %v", err)
	}
	for _, c := range []Config{
		{MaxLength: 0, MaxDepth: 1, MaxListLength: 1, MaxComparisons: 1},
		{MaxLength: 1, MaxDepth: -1, MaxListLength: 1, MaxComparisons: 1},
		{MaxLength: 1, MaxDepth: 1, MaxListLength: 0, MaxComparisons: 1},
		{MaxLength: 1, MaxDepth: 1, MaxListLength: 1, MaxComparisons: 0},
	} {
		if _, err := NewParser(c); err == nil {
			t.Errorf("NewParser(%+v) accepted an invalid config", c)
		}
	}
}
