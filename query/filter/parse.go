package filter

import (
	"errors"
	"fmt"
	"strconv"
)

// The parser is a hand-written lexer plus recursive descent rather than a
// generated one (goyacc, participle ...): the grammar is a dozen rules, the
// hand-written version has no build step or runtime dependency, and above
// all it lets every error say exactly what was expected at which byte,
// which generated LALR parsers report poorly.
//
// Grammar (keywords case-insensitive):
//
//	filter     = or EOF
//	or         = and { "or" and }
//	and        = primary { "and" primary }
//	primary    = "(" or ")" | comparison
//	comparison = IDENT ( ("=" | "!=" | "contains") scalar
//	                   | (">" | ">=" | "<" | "<=") NUMBER
//	                   | ("in" | "not" "in") list )
//	list       = "[" [ scalar { "," scalar } ] "]"
//	scalar     = STRING | NUMBER | "true" | "false"

// ErrSyntax is matched (errors.Is) by every *SyntaxError, for callers that
// only need to know the filter was bad input.
var ErrSyntax = errors.New("filter syntax error")

// SyntaxError reports where a filter is malformed and what was expected.
type SyntaxError struct {
	Pos int    // byte offset into the filter, 0-based
	Msg string // e.g. `expected a value after "in", got ")"`
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("at %d: %s", e.Pos, e.Msg) }

// Is makes errors.Is(err, ErrSyntax) true.
func (e *SyntaxError) Is(target error) bool { return target == ErrSyntax }

func errAt(pos int, msg string) *SyntaxError { return &SyntaxError{Pos: pos, Msg: msg} }

// Config bounds what the parser accepts, so a hostile filter cannot cost
// unbounded memory or stack.
type Config struct {
	MaxLength      int // bytes of source
	MaxDepth       int // nesting of parentheses
	MaxListLength  int // values in one [...] list
	MaxComparisons int // simple expressions; each may scan distinct values (contains)
}

// DefaultConfig allows filters far longer than Clerk clients send (a POST
// body may list a few thousand ids) while keeping parse cost bounded.
func DefaultConfig() Config {
	return Config{MaxLength: 64 << 10, MaxDepth: 32, MaxListLength: 10000, MaxComparisons: 256}
}

// Validate checks that every limit is positive.
func (c Config) Validate() error {
	switch {
	case c.MaxLength <= 0:
		return fmt.Errorf("filter: MaxLength must be positive, got %d", c.MaxLength)
	case c.MaxDepth <= 0:
		return fmt.Errorf("filter: MaxDepth must be positive, got %d", c.MaxDepth)
	case c.MaxListLength <= 0:
		return fmt.Errorf("filter: MaxListLength must be positive, got %d", c.MaxListLength)
	case c.MaxComparisons <= 0:
		return fmt.Errorf("filter: MaxComparisons must be positive, got %d", c.MaxComparisons)
	}
	return nil
}

// Parser parses filters under a Config. It is safe for concurrent use.
type Parser struct{ cfg Config }

// NewParser returns a parser with the given limits.
func NewParser(cfg Config) (*Parser, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Parser{cfg: cfg}, nil
}

var defaultParser = &Parser{cfg: DefaultConfig()}

// Parse parses src with DefaultConfig. Errors are *SyntaxError.
func Parse(src string) (*Expr, error) { return defaultParser.Parse(src) }

// Parse parses src into an Expr. Errors are *SyntaxError. An empty or blank
// filter is an error; callers treat an absent filter parameter as no filter.
func (p *Parser) Parse(src string) (*Expr, error) {
	if len(src) > p.cfg.MaxLength {
		return nil, errAt(p.cfg.MaxLength, fmt.Sprintf("filter is %d bytes long, the limit is %d", len(src), p.cfg.MaxLength))
	}
	ps := &parseState{cfg: p.cfg, lex: lexer{src: src}}
	if err := ps.advance(); err != nil {
		return nil, err
	}
	e, err := ps.parseOr()
	if err != nil {
		return nil, err
	}
	if ps.tok.kind != tokEOF {
		return nil, ps.unexpected(`"and", "or" or end of input`)
	}
	return e, nil
}

type parseState struct {
	cfg         Config
	lex         lexer
	tok         token // current token
	depth       int
	comparisons int
}

func (ps *parseState) advance() error {
	t, err := ps.lex.next()
	if err != nil {
		return err
	}
	ps.tok = t
	return nil
}

func (ps *parseState) unexpected(what string) error {
	return errAt(ps.tok.pos, "expected "+what+", got "+ps.tok.describe())
}

func (ps *parseState) parseOr() (*Expr, error) {
	return ps.parseChain(KindOr, tokOr, ps.parseAnd)
}

func (ps *parseState) parseAnd() (*Expr, error) {
	return ps.parseChain(KindAnd, tokAnd, ps.parsePrimary)
}

// parseChain parses operand { sep operand } into one flattened n-ary node.
func (ps *parseState) parseChain(kind Kind, sep tokenKind, operand func() (*Expr, error)) (*Expr, error) {
	first, err := operand()
	if err != nil {
		return nil, err
	}
	if ps.tok.kind != sep {
		return first, nil
	}
	n := &Expr{Kind: kind, Pos: first.Pos}
	n.Args = appendFlat(n.Args, kind, first)
	for ps.tok.kind == sep {
		if err := ps.advance(); err != nil {
			return nil, err
		}
		next, err := operand()
		if err != nil {
			return nil, err
		}
		n.Args = appendFlat(n.Args, kind, next)
	}
	return n, nil
}

func appendFlat(args []*Expr, kind Kind, e *Expr) []*Expr {
	if e.Kind == kind {
		return append(args, e.Args...)
	}
	return append(args, e)
}

func (ps *parseState) parsePrimary() (*Expr, error) {
	if ps.tok.kind == tokLParen {
		open := ps.tok.pos
		if ps.depth >= ps.cfg.MaxDepth {
			return nil, errAt(open, fmt.Sprintf("parentheses nested deeper than %d", ps.cfg.MaxDepth))
		}
		ps.depth++
		if err := ps.advance(); err != nil {
			return nil, err
		}
		e, err := ps.parseOr()
		if err != nil {
			return nil, err
		}
		if ps.tok.kind != tokRParen {
			return nil, ps.unexpected(fmt.Sprintf(`"and", "or" or ")" closing the "(" at %d`, open))
		}
		ps.depth--
		if err := ps.advance(); err != nil {
			return nil, err
		}
		return e, nil
	}
	return ps.parseComparison()
}

func (ps *parseState) parseComparison() (*Expr, error) {
	if ps.tok.kind != tokIdent {
		if ps.tok.kind >= tokAnd {
			return nil, errAt(ps.tok.pos, "expected an attribute name or \"(\", got keyword "+strconv.Quote(ps.tok.text)+" (keywords cannot be attribute names)")
		}
		return nil, ps.unexpected(`an attribute name or "("`)
	}
	if ps.comparisons == ps.cfg.MaxComparisons {
		return nil, errAt(ps.tok.pos, fmt.Sprintf("filter has more than %d comparisons", ps.cfg.MaxComparisons))
	}
	ps.comparisons++
	e := &Expr{Kind: KindCompare, Attr: ps.tok.text, Pos: ps.tok.pos}
	if err := ps.advance(); err != nil {
		return nil, err
	}
	switch ps.tok.kind {
	case tokEq:
		e.Op = OpEq
	case tokNe:
		e.Op = OpNe
	case tokGt:
		e.Op = OpGt
	case tokGe:
		e.Op = OpGe
	case tokLt:
		e.Op = OpLt
	case tokLe:
		e.Op = OpLe
	case tokIn:
		e.Op = OpIn
	case tokContains:
		e.Op = OpContains
	case tokNot:
		if err := ps.advance(); err != nil {
			return nil, err
		}
		if ps.tok.kind != tokIn {
			return nil, ps.unexpected(`"in" after "not"`)
		}
		e.Op = OpNotIn
	default:
		return nil, ps.unexpected("an operator (=, !=, >, >=, <, <=, in, not in, contains) after " + strconv.Quote(e.Attr))
	}
	opText := strconv.Quote(e.Op.String())
	if err := ps.advance(); err != nil {
		return nil, err
	}
	var err error
	switch e.Op {
	case OpGt, OpGe, OpLt, OpLe:
		if ps.tok.kind != tokNumber {
			return nil, ps.unexpected("a number after " + opText)
		}
		e.Value = Value{Kind: ValueNumber, Num: ps.tok.num}
		err = ps.advance()
	case OpIn, OpNotIn:
		e.Value, err = ps.parseList(opText)
	default:
		e.Value, err = ps.parseScalar("a value after " + opText)
	}
	if err != nil {
		return nil, err
	}
	return e, nil
}

func (ps *parseState) parseList(opText string) (Value, error) {
	if ps.tok.kind != tokLBrack {
		return Value{}, ps.unexpected("a list [...] after " + opText)
	}
	open := ps.tok.pos
	if err := ps.advance(); err != nil {
		return Value{}, err
	}
	list := Value{Kind: ValueList, List: []Value{}}
	if ps.tok.kind == tokRBrack {
		return list, ps.advance()
	}
	for {
		if len(list.List) == ps.cfg.MaxListLength {
			return Value{}, errAt(ps.tok.pos, fmt.Sprintf("list has more than %d values", ps.cfg.MaxListLength))
		}
		v, err := ps.parseScalar("a value in the list")
		if err != nil {
			return Value{}, err
		}
		list.List = append(list.List, v)
		switch ps.tok.kind {
		case tokComma:
			if err := ps.advance(); err != nil {
				return Value{}, err
			}
		case tokRBrack:
			return list, ps.advance()
		default:
			return Value{}, ps.unexpected(fmt.Sprintf(`"," or "]" closing the "[" at %d`, open))
		}
	}
}

func (ps *parseState) parseScalar(what string) (Value, error) {
	var v Value
	switch ps.tok.kind {
	case tokString:
		v = Value{Kind: ValueString, Str: ps.tok.str}
	case tokNumber:
		v = Value{Kind: ValueNumber, Num: ps.tok.num}
	case tokTrue, tokFalse:
		v = Value{Kind: ValueBool, Bool: ps.tok.kind == tokTrue}
	case tokIdent:
		return Value{}, errAt(ps.tok.pos, "expected "+what+", got "+ps.tok.describe()+" (strings must be quoted)")
	default:
		return Value{}, ps.unexpected(what)
	}
	return v, ps.advance()
}
