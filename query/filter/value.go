package filter

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// scalar is one normalized attribute value or list element.
type scalar struct {
	isString bool
	isBool   bool
	str      string  // isString: the value
	num      float64 // numeric: the value
	numeric  bool    // a number, or a string in plain decimal syntax
	b        bool
}

// attrValue is a normalized attribute: a scalar or a list of scalars.
type attrValue struct {
	list  bool
	elems []scalar // exactly one when !list
}

// numberText is the text a number equals as a string: plain decimal
// digits for the magnitudes ids and prices have, exponent form otherwise.
func numberText(f float64) string {
	var buf [32]byte
	return string(appendNumberText(buf[:0], f))
}

// appendNumberText appends numberText(f) to dst, so that map lookups can
// use a stack buffer and allocate only for new keys.
func appendNumberText(dst []byte, f float64) []byte {
	if f == 0 {
		return append(dst, '0') // also -0
	}
	if a := math.Abs(f); a >= 1e-9 && a < 1e21 {
		return strconv.AppendFloat(dst, f, 'f', -1, 64)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64)
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
	return scalar{isString: true, str: s, num: f, numeric: ok}
}

func numberScalar(f float64) (scalar, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return scalar{}, false
	}
	return scalar{num: f, numeric: true}, true
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
// Common types are switched on directly; named types (such as an id type
// defined as a string) go through reflection.
func toScalar(v any) (scalar, bool) {
	switch x := v.(type) {
	case string:
		return stringScalar(x), true
	case bool:
		return scalar{isBool: true, b: x}, true
	case float64:
		return numberScalar(x)
	case int:
		return numberScalar(float64(x))
	case int64:
		return numberScalar(float64(x))
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return scalar{}, false
		}
		return numberScalar(f)
	case nil:
		return scalar{}, false
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String:
		return stringScalar(rv.String()), true
	case reflect.Bool:
		return scalar{isBool: true, b: rv.Bool()}, true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return numberScalar(float64(rv.Int()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return numberScalar(float64(rv.Uint()))
	case reflect.Float32, reflect.Float64:
		return numberScalar(rv.Float())
	}
	return scalar{}, false
}

// normalize turns an attribute value as products carry it (decoded JSON or
// typed Go values) into attrValue, appending its scalars to buf so that
// callers can reuse one buffer. ok is false when the value is unsupported,
// which makes the attribute count as absent. Unsupported list elements are
// skipped; the list itself still counts as present.
func normalize(buf []scalar, v any) (attrValue, bool) {
	switch x := v.(type) {
	case nil:
		return attrValue{}, false
	case []string:
		for _, s := range x {
			buf = append(buf, stringScalar(s))
		}
		return attrValue{list: true, elems: buf}, true
	case []float64:
		return attrValue{list: true, elems: appendScalars(buf, x)}, true
	case []int:
		return attrValue{list: true, elems: appendScalars(buf, x)}, true
	case []int64:
		return attrValue{list: true, elems: appendScalars(buf, x)}, true
	case []any:
		return attrValue{list: true, elems: appendScalars(buf, x)}, true
	}
	if s, ok := toScalar(v); ok {
		return attrValue{elems: append(buf, s)}, true
	}
	// Slices of other element types, e.g. a named id type.
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return attrValue{}, false
	}
	for i := range rv.Len() {
		if s, ok := toScalar(rv.Index(i).Interface()); ok {
			buf = append(buf, s)
		}
	}
	return attrValue{list: true, elems: buf}, true
}

func appendScalars[T any](buf []scalar, xs []T) []scalar {
	for _, x := range xs {
		if s, ok := toScalar(any(x)); ok {
			buf = append(buf, s)
		}
	}
	return buf
}

// equals reports whether an attribute scalar equals a filter value: the
// same as comparing their texts (booleans apart), without formatting numbers unless a
// string meets a number.
func (s scalar) equals(v Value) bool {
	switch {
	case v.Kind == ValueBool || s.isBool:
		return v.Kind == ValueBool && s.isBool && s.b == v.Bool
	case v.Kind == ValueString && s.isString:
		return s.str == v.Str
	case v.Kind == ValueNumber && !s.isString:
		return s.num == v.Num
	case v.Kind == ValueString: // a number attribute against a string value
		f, ok := parseDecimal(v.Str)
		return ok && f == s.num && numberText(s.num) == v.Str
	default: // a string attribute against a number value
		return s.numeric && s.num == v.Num && s.str == numberText(v.Num)
	}
}
