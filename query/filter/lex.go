package filter

import (
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokenKind uint8

const (
	tokEOF tokenKind = iota
	tokIdent
	tokString
	tokNumber
	tokLParen
	tokRParen
	tokLBrack
	tokRBrack
	tokComma
	tokEq
	tokNe
	tokGt
	tokGe
	tokLt
	tokLe
	tokAnd
	tokOr
	tokIn
	tokNot
	tokContains
	tokTrue
	tokFalse
)

var keywords = map[string]tokenKind{
	"and": tokAnd, "or": tokOr, "in": tokIn, "not": tokNot,
	"contains": tokContains, "true": tokTrue, "false": tokFalse,
}

type token struct {
	kind tokenKind
	pos  int    // byte offset of the first byte
	text string // the source text of the token
	str  string // tokString: the decoded value
	num  float64
}

// describe names the token for "got ..." in error messages.
func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of input"
	case tokIdent:
		return "identifier " + strconv.Quote(t.text)
	case tokString:
		return "string " + strconv.Quote(t.str)
	case tokNumber:
		return "number " + t.text
	default:
		return strconv.Quote(t.text)
	}
}

// lexer turns source text into tokens on demand, so that a lexical error
// is reported where the parser reaches it, with what the parser expected.
type lexer struct {
	src string
	pos int
}

func isIdentStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }
func isIdentPart(r rune) bool {
	return r == '_' || r == '.' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

func (l *lexer) next() (token, error) {
	for l.pos < len(l.src) && isSpace(l.src[l.pos]) {
		l.pos++
	}
	start := l.pos
	if start >= len(l.src) {
		return token{kind: tokEOF, pos: start}, nil
	}
	c := l.src[start]
	single := func(k tokenKind, n int) (token, error) {
		l.pos += n
		return token{kind: k, pos: start, text: l.src[start:l.pos]}, nil
	}
	switch {
	case c == '(':
		return single(tokLParen, 1)
	case c == ')':
		return single(tokRParen, 1)
	case c == '[':
		return single(tokLBrack, 1)
	case c == ']':
		return single(tokRBrack, 1)
	case c == ',':
		return single(tokComma, 1)
	case c == '=':
		if l.peekByte(1) == '=' {
			return token{}, errAt(start, `unexpected "==", equality is a single "="`)
		}
		return single(tokEq, 1)
	case c == '!':
		if l.peekByte(1) == '=' {
			return single(tokNe, 2)
		}
		return token{}, errAt(start, `expected "=" after "!"`)
	case c == '>':
		if l.peekByte(1) == '=' {
			return single(tokGe, 2)
		}
		return single(tokGt, 1)
	case c == '<':
		if l.peekByte(1) == '=' {
			return single(tokLe, 2)
		}
		return single(tokLt, 1)
	case c == '\'' || c == '"':
		return l.lexString()
	case c == '-' || isDigit(c):
		return l.lexNumber()
	}
	r, size := utf8.DecodeRuneInString(l.src[start:])
	if r == utf8.RuneError && size <= 1 {
		return token{}, errAt(start, "invalid UTF-8 byte")
	}
	if !isIdentStart(r) {
		return token{}, errAt(start, "unexpected character "+strconv.QuoteRune(r))
	}
	l.pos += size
	for l.pos < len(l.src) {
		r, size := utf8.DecodeRuneInString(l.src[l.pos:])
		if !isIdentPart(r) || (r == utf8.RuneError && size <= 1) {
			break
		}
		l.pos += size
	}
	text := l.src[start:l.pos]
	if k, ok := keywords[lowerASCII(text)]; ok {
		return token{kind: k, pos: start, text: text}, nil
	}
	return token{kind: tokIdent, pos: start, text: text}, nil
}

func (l *lexer) peekByte(off int) byte {
	if l.pos+off < len(l.src) {
		return l.src[l.pos+off]
	}
	return 0
}

func (l *lexer) lexString() (token, error) {
	start := l.pos
	quote := l.src[start]
	var b strings.Builder
	i := start + 1
	for i < len(l.src) {
		c := l.src[i]
		switch {
		case c == quote:
			l.pos = i + 1
			return token{kind: tokString, pos: start, text: l.src[start:l.pos], str: b.String()}, nil
		case c == '\\':
			if i+1 >= len(l.src) {
				return token{}, errAt(start, "unterminated string")
			}
			e := l.src[i+1]
			if e != '\\' && e != '\'' && e != '"' {
				return token{}, errAt(i, "unknown escape "+strconv.Quote(l.src[i:i+2])+` in string (only \\, \' and \" are escapes)`)
			}
			b.WriteByte(e)
			i += 2
		default:
			b.WriteByte(c)
			i++
		}
	}
	return token{}, errAt(start, "unterminated string")
}

// lexNumber scans -?digits(.digits)?([eE][+-]?digits)? and rejects a number
// glued to letters ("10abc"), which is a typo rather than two tokens.
func (l *lexer) lexNumber() (token, error) {
	start := l.pos
	i := start
	if l.src[i] == '-' {
		i++
	}
	if end := scanDigits(l.src, i); end == i {
		return token{}, errAt(start, `expected a digit after "-"`)
	} else {
		i = end
	}
	if i < len(l.src) && l.src[i] == '.' {
		end := scanDigits(l.src, i+1)
		if end == i+1 {
			return token{}, errAt(i, `expected a digit after "." in number`)
		}
		i = end
	}
	if i < len(l.src) && (l.src[i] == 'e' || l.src[i] == 'E') {
		j := i + 1
		if j < len(l.src) && (l.src[j] == '+' || l.src[j] == '-') {
			j++
		}
		end := scanDigits(l.src, j)
		if end == j {
			return token{}, errAt(i, "expected digits in the exponent of number")
		}
		i = end
	}
	if i < len(l.src) {
		if r, size := utf8.DecodeRuneInString(l.src[i:]); isIdentPart(r) {
			return token{}, errAt(start, "malformed number "+strconv.Quote(l.src[start:i+size]))
		}
	}
	text := l.src[start:i]
	f, err := strconv.ParseFloat(text, 64)
	if err != nil && (math.IsInf(f, 0) || math.IsNaN(f)) {
		return token{}, errAt(start, "number "+text+" is out of range")
	}
	l.pos = i
	return token{kind: tokNumber, pos: start, text: text, num: f}, nil
}

func scanDigits(s string, i int) int {
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// lowerASCII folds only ASCII letters, so that keyword recognition does not
// depend on Unicode case rules ("İN" is an identifier, not "in").
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
