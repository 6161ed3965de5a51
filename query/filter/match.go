package filter

import "strings"

// Match reports whether a product with the given attributes satisfies the
// filter. It scans nothing and builds no index, for checking a handful of
// candidates; for a whole catalog use Index.Eval. A nil filter matches.
func Match(e *Expr, attrs map[string]any) bool {
	if e == nil {
		return true
	}
	switch e.Kind {
	case KindAnd:
		for _, a := range e.Args {
			if !Match(a, attrs) {
				return false
			}
		}
		return true
	case KindOr:
		for _, a := range e.Args {
			if Match(a, attrs) {
				return true
			}
		}
		return false
	case KindCompare:
		var buf [8]scalar
		v, ok := normalize(buf[:0], attrs[e.Attr])
		return ok && matchCompare(e, v)
	}
	return false
}

func matchCompare(e *Expr, a attrValue) bool {
	switch e.Op {
	case OpEq:
		return a.anyEqual(e.Value)
	case OpNe:
		return !a.anyEqual(e.Value)
	case OpIn, OpNotIn:
		in := false
		for _, v := range e.Value.List {
			if a.anyEqual(v) {
				in = true
				break
			}
		}
		return in == (e.Op == OpIn)
	case OpGt, OpGe, OpLt, OpLe:
		for _, s := range a.elems {
			if s.numeric && compareNumber(e.Op, s.num, e.Value.Num) {
				return true
			}
		}
		return false
	case OpContains:
		if a.list {
			return a.anyEqual(e.Value)
		}
		s := a.elems[0]
		if s.isString {
			needle, ok := containsNeedle(e.Value)
			return ok && strings.Contains(strings.ToLower(s.str), needle)
		}
		return s.equals(e.Value)
	}
	return false
}

func (a attrValue) anyEqual(v Value) bool {
	for _, s := range a.elems {
		if s.equals(v) {
			return true
		}
	}
	return false
}

func compareNumber(op Op, x, bound float64) bool {
	switch op {
	case OpGt:
		return x > bound
	case OpGe:
		return x >= bound
	case OpLt:
		return x < bound
	case OpLe:
		return x <= bound
	}
	return false
}
