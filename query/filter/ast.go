package filter

import (
	"math"
	"strconv"
	"strings"
)

// Kind says what an Expr node is.
type Kind uint8

const (
	// KindCompare is a simple expression `Attr Op Value`.
	KindCompare Kind = iota + 1
	// KindAnd holds when every Args holds.
	KindAnd
	// KindOr holds when any Args holds.
	KindOr
)

// Op is a comparison operator.
type Op uint8

// The comparison operators.
const (
	OpEq Op = iota + 1
	OpNe
	OpGt
	OpGe
	OpLt
	OpLe
	OpIn
	OpNotIn
	OpContains
)

var opText = [...]string{
	OpEq: "=", OpNe: "!=", OpGt: ">", OpGe: ">=", OpLt: "<", OpLe: "<=",
	OpIn: "in", OpNotIn: "not in", OpContains: "contains",
}

// String returns the operator as written in a filter.
func (o Op) String() string {
	if int(o) < len(opText) && opText[o] != "" {
		return opText[o]
	}
	return "Op(" + strconv.Itoa(int(o)) + ")"
}

// ValueKind says what a Value holds.
type ValueKind uint8

// The value kinds.
const (
	ValueString ValueKind = iota + 1
	ValueNumber
	ValueBool
	ValueList // elements are never lists
)

// Value is a literal on the right of an operator.
type Value struct {
	Kind ValueKind
	Str  string
	Num  float64
	Bool bool
	List []Value
}

// Expr is a node of a parsed filter. And and Or nodes are n-ary and never
// directly contain a node of their own kind (the parser flattens them, which
// is sound because both are associative).
type Expr struct {
	Kind  Kind
	Args  []*Expr // KindAnd, KindOr: two or more
	Attr  string  // KindCompare
	Op    Op      // KindCompare
	Value Value   // KindCompare
	Pos   int     // byte offset in the source where the node starts
}

// String prints the filter canonically: lower-case keywords, one space
// around operators, double-quoted strings, shortest numbers and parentheses
// only where precedence needs them. Parsing the result gives an equal Expr.
func (e *Expr) String() string {
	if e == nil {
		return ""
	}
	var b strings.Builder
	e.write(&b)
	return b.String()
}

func (e *Expr) write(b *strings.Builder) {
	switch e.Kind {
	case KindAnd, KindOr:
		sep := " and "
		if e.Kind == KindOr {
			sep = " or "
		}
		for i, a := range e.Args {
			if i > 0 {
				b.WriteString(sep)
			}
			paren := e.Kind == KindAnd && a.Kind == KindOr
			if paren {
				b.WriteByte('(')
			}
			a.write(b)
			if paren {
				b.WriteByte(')')
			}
		}
	case KindCompare:
		b.WriteString(e.Attr)
		b.WriteByte(' ')
		b.WriteString(e.Op.String())
		b.WriteByte(' ')
		e.Value.write(b)
	default:
		b.WriteString("<invalid>")
	}
}

// String prints the value as it would be written in a filter.
func (v Value) String() string {
	var b strings.Builder
	v.write(&b)
	return b.String()
}

func (v Value) write(b *strings.Builder) {
	switch v.Kind {
	case ValueString:
		b.WriteByte('"')
		for i := 0; i < len(v.Str); i++ {
			c := v.Str[i]
			if c == '"' || c == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		}
		b.WriteByte('"')
	case ValueNumber:
		b.WriteString(formatNumber(v.Num))
	case ValueBool:
		b.WriteString(strconv.FormatBool(v.Bool))
	case ValueList:
		b.WriteByte('[')
		for i, el := range v.List {
			if i > 0 {
				b.WriteString(", ")
			}
			el.write(b)
		}
		b.WriteByte(']')
	default:
		b.WriteString("<invalid>")
	}
}

// formatNumber prints integers below 2^53 in plain digits (ids read best
// that way) and everything else in the shortest form that round-trips.
func formatNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// Equal reports whether two expressions are the same tree, ignoring Pos.
func (e *Expr) Equal(o *Expr) bool {
	if e == nil || o == nil {
		return e == o
	}
	if e.Kind != o.Kind || len(e.Args) != len(o.Args) {
		return false
	}
	for i := range e.Args {
		if !e.Args[i].Equal(o.Args[i]) {
			return false
		}
	}
	return e.Attr == o.Attr && e.Op == o.Op && e.Value.Equal(o.Value)
}

// Equal reports whether two values are the same literal.
func (v Value) Equal(o Value) bool {
	if v.Kind != o.Kind || v.Str != o.Str || v.Num != o.Num || v.Bool != o.Bool || len(v.List) != len(o.List) {
		return false
	}
	for i := range v.List {
		if !v.List[i].Equal(o.List[i]) {
			return false
		}
	}
	return true
}

// Attributes returns the distinct attribute names the filter mentions, in
// order of first appearance; callers use it to check or load what a filter
// needs.
func (e *Expr) Attributes() []string {
	var names []string
	seen := map[string]bool{}
	var walk func(*Expr)
	walk = func(x *Expr) {
		if x.Kind == KindCompare {
			if !seen[x.Attr] {
				seen[x.Attr] = true
				names = append(names, x.Attr)
			}
			return
		}
		for _, a := range x.Args {
			walk(a)
		}
	}
	walk(e)
	return names
}
