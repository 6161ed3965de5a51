package filter

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// term is the equality key of a value: strings and numbers share a text
// space (so "1" = 1), booleans have their own.
type term struct {
	boolean bool
	text    string
}

// scalar is one normalized attribute value or list element.
type scalar struct {
	isString bool
	isBool   bool
	str      string  // isString: the value
	num      float64 // numeric: the value
	numeric  bool    // a number, or a string in plain decimal syntax
	b        bool
	key      term // equality key, computed once
}

// attrValue is a normalized attribute: a scalar or a list of scalars.
type attrValue struct {
	list  bool
	elems []scalar // exactly one when !list
}

func (s scalar) term() term { return s.key }

// numberText is the text a number equals as a string: plain decimal
// digits for the magnitudes ids and prices have, exponent form otherwise.
func numberText(f float64) string {
	if f == 0 {
		return "0" // also -0
	}
	if a := math.Abs(f); a >= 1e-9 && a < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func valueTerm(v Value) term {
	switch v.Kind {
	case ValueBool:
		return term{boolean: true, text: strconv.FormatBool(v.Bool)}
	case ValueString:
		return term{text: v.Str}
	default:
		return term{text: numberText(v.Num)}
	}
}

// containsNeedle is the lower-cased text a filter value is searched for
// inside string attributes; booleans are never substrings of strings.
func containsNeedle(v Value) (string, bool) {
	switch v.Kind {
	case ValueString:
		return strings.ToLower(v.Str), true
	case ValueNumber:
		return numberText(v.Num), true
	}
	return "", false
}

func stringScalar(s string) scalar {
	f, ok := parseDecimal(s)
	return scalar{isString: true, str: s, num: f, numeric: ok, key: term{text: s}}
}

func numberScalar(f float64) (scalar, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return scalar{}, false
	}
	return scalar{num: f, numeric: true, key: term{text: numberText(f)}}, true
}

// parseDecimal accepts exactly the number syntax of the filter language
// (-?digits(.digits)?(e[+-]?digits)?), so "0x10", "inf" and " 1" are not
// numbers even though strconv.ParseFloat would take some of them.
func parseDecimal(s string) (float64, bool) {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	j := scanDigits(s, i)
	if j == i {
		return 0, false
	}
	i = j
	if i < len(s) && s[i] == '.' {
		j = scanDigits(s, i+1)
		if j == i+1 {
			return 0, false
		}
		i = j
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j = scanDigits(s, i)
		if j == i {
			return 0, false
		}
		i = j
	}
	if i != len(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && (math.IsInf(f, 0) || math.IsNaN(f)) {
		return 0, false
	}
	return f, true
}

// toScalar normalizes one Go value; ok is false for unsupported types.
func toScalar(v any) (scalar, bool) {
	switch x := v.(type) {
	case string:
		return stringScalar(x), true
	case bool:
		return scalar{isBool: true, b: x, key: term{boolean: true, text: strconv.FormatBool(x)}}, true
	case float64:
		return numberScalar(x)
	case float32:
		return numberScalar(float64(x))
	case int:
		return numberScalar(float64(x))
	case int64:
		return numberScalar(float64(x))
	case int32:
		return numberScalar(float64(x))
	case uint32:
		return numberScalar(float64(x))
	case uint64:
		return numberScalar(float64(x))
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return scalar{}, false
		}
		return numberScalar(f)
	}
	return scalar{}, false
}

// normalize turns an attribute value as products carry it (decoded JSON or
// typed Go values) into attrValue. ok is false when the value is
// unsupported, which makes the attribute count as absent. Unsupported list
// elements are skipped; the list itself still counts as present.
func normalize(v any) (attrValue, bool) {
	switch x := v.(type) {
	case nil:
		return attrValue{}, false
	case []string:
		a := attrValue{list: true, elems: make([]scalar, 0, len(x))}
		for _, s := range x {
			a.elems = append(a.elems, stringScalar(s))
		}
		return a, true
	case []float64:
		return normalizeList(x), true
	case []int:
		return normalizeList(x), true
	case []int64:
		return normalizeList(x), true
	case []any:
		return normalizeList(x), true
	}
	s, ok := toScalar(v)
	if !ok {
		return attrValue{}, false
	}
	return attrValue{elems: []scalar{s}}, true
}

func normalizeList[T any](xs []T) attrValue {
	a := attrValue{list: true, elems: make([]scalar, 0, len(xs))}
	for _, x := range xs {
		if s, ok := toScalar(x); ok {
			a.elems = append(a.elems, s)
		}
	}
	return a
}
