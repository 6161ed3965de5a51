package ingest

// JSON encoding of records. Clerk's data model is open: a product or
// customer is any JSON object with a few required keys, and further
// attributes of type bool, int, float, string or a list of those
// (docs.clerk.io/reference, "Product"). Sibyl keeps such attributes in
// Extra, typed, and writes them back inline.
//
// Tolerated variations, all documented or seen in Clerk feeds:
//   - ids as JSON numbers or strings (see ID);
//   - categories as a list of numbers or strings, or a single id;
//   - created_at and order time as a unix timestamp number (fractions are
//     truncated), a string of digits, or an RFC 3339 / "YYYY-MM-DD HH:MM:SS"
//     / "YYYY-MM-DD" date string (UTC when no zone is given);
//   - price, list_price and stock as numbers or numeric strings;
//   - index as a bool, "true"/"false" or 0/1;
//   - null for any attribute means "absent" (Clerk asks feeds to omit
//     such attributes instead);
//   - attribute names outside [A-Za-z0-9_] are ignored, as Clerk's importer
//     ignores them (help.clerk.io, "Data Feeds": attribute names).

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// FieldError is a problem with one attribute of one record.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return fmt.Sprintf("field %q: %s", e.Field, e.Reason) }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

var productFields = map[string]bool{
	"id": true, "name": true, "description": true, "price": true, "list_price": true,
	"image": true, "url": true, "categories": true, "brand": true, "sku": true,
	"stock": true, "created_at": true, "index": true,
}

var customerFields = map[string]bool{"id": true, "email": true, "name": true}

// UnmarshalJSON decodes a Clerk product object; unknown attributes go to
// Extra.
func (p *Product) UnmarshalJSON(b []byte) error {
	return decodeObject(b, p, func(key string, raw []byte) error {
		var err error
		switch key {
		case "id":
			err = decodeID(key, raw, &p.ID)
		case "name":
			p.Name, err = decodeString(key, raw)
		case "description":
			p.Description, err = decodeString(key, raw)
		case "image":
			p.Image, err = decodeString(key, raw)
		case "url":
			p.URL, err = decodeString(key, raw)
		case "brand":
			p.Brand, err = decodeString(key, raw)
		case "sku":
			p.SKU, err = decodeString(key, raw)
		case "price":
			p.Price, _, err = decodeNumber(key, raw)
		case "list_price":
			p.ListPrice, _, err = decodeNumber(key, raw)
		case "stock":
			var v float64
			var ok bool
			if v, ok, err = decodeNumber(key, raw); ok {
				p.Stock = &v
			}
		case "categories":
			p.Categories, err = decodeIDList(key, raw)
		case "created_at":
			p.CreatedAt, err = decodeTime(key, raw)
		case "index":
			p.Index, err = decodeBoolPtr(key, raw)
		default:
			p.Extra, err = addExtra(p.Extra, key, raw)
		}
		return err
	})
}

// MarshalJSON writes the product with its Extra attributes inline.
func (p Product) MarshalJSON() ([]byte, error) {
	type plain Product // without the method, so Marshal does not recurse
	return marshalWithExtra(plain(p), p.Extra, productFields)
}

// UnmarshalJSON decodes a Clerk customer object; unknown attributes go to
// Extra.
func (c *Customer) UnmarshalJSON(b []byte) error {
	return decodeObject(b, c, func(key string, raw []byte) error {
		var err error
		switch key {
		case "id":
			err = decodeID(key, raw, &c.ID)
		case "email":
			c.Email, err = decodeString(key, raw)
		case "name":
			c.Name, err = decodeString(key, raw)
		default:
			c.Extra, err = addExtra(c.Extra, key, raw)
		}
		return err
	})
}

// MarshalJSON writes the customer with its Extra attributes inline.
func (c Customer) MarshalJSON() ([]byte, error) {
	type plain Customer // without the method, so Marshal does not recurse
	return marshalWithExtra(plain(c), c.Extra, customerFields)
}

// UnmarshalJSON decodes a Clerk order, accepting the time variations listed
// in the package notes. Unknown attributes are ignored.
func (o *Order) UnmarshalJSON(b []byte) error {
	type plain Order
	aux := struct {
		*plain
		Time     json.RawMessage   `json:"time"`
		Products []json.RawMessage `json:"products"`
	}{plain: (*plain)(o)}
	*o = Order{}
	if err := json.Unmarshal(b, &aux); err != nil {
		return typeErr(err)
	}
	if aux.Time != nil {
		t, err := decodeTime("time", aux.Time)
		if err != nil {
			return err
		}
		o.Time = t
	}
	if aux.Products != nil {
		o.Products = make([]OrderLine, len(aux.Products))
		for i, raw := range aux.Products {
			if k := jsonKind(raw); k != "object" {
				return fieldErr(fmt.Sprintf("products[%d]", i), "want an object, got %s", k)
			}
			if err := o.Products[i].UnmarshalJSON(raw); err != nil {
				var fe *FieldError
				if errors.As(err, &fe) {
					return fieldErr(fmt.Sprintf("products[%d].%s", i, fe.Field), "%s", fe.Reason)
				}
				return fieldErr(fmt.Sprintf("products[%d]", i), "%v", err)
			}
		}
	}
	return nil
}

// UnmarshalJSON decodes an order line, accepting numeric strings for
// quantity and price.
func (l *OrderLine) UnmarshalJSON(b []byte) error {
	return decodeObject(b, l, func(key string, raw []byte) error {
		var err error
		switch key {
		case "id":
			err = decodeID(key, raw, &l.ID)
		case "quantity":
			l.Quantity, _, err = decodeNumber(key, raw)
		case "price":
			l.Price, _, err = decodeNumber(key, raw)
		}
		return err
	})
}

// typeErr turns encoding/json's type errors into FieldErrors.
func typeErr(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return fmt.Errorf("record must be a JSON object, got %s", te.Value)
		}
		return fieldErr(te.Field, "want %s, got %s", te.Type, te.Value)
	}
	return err
}

// eachMember calls fn for every member of the JSON object b, in document
// order. It splits members with a small scanner instead of encoding/json
// (a map or token walk costs two to three times as much per record);
// values are checked by the decoder of their field, so b need not have
// been validated before.
func eachMember(b []byte, fn func(key string, raw []byte) error) error {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return fmt.Errorf("record must be a JSON object, got %s", jsonKind(b))
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return expectEnd(b, i+1)
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return errSyntax(b, i, "object key")
		}
		end := endOfString(b, i)
		if end < 0 {
			return errSyntax(b, i, "closing quote")
		}
		key, err := unquote(b[i:end])
		if err != nil {
			return errSyntax(b, i, "object key")
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return errSyntax(b, i, "':'")
		}
		i = skipSpace(b, i+1)
		vend := endOfValue(b, i)
		if vend < 0 {
			return errSyntax(b, i, "value")
		}
		if err := fn(key, b[i:vend]); err != nil {
			return err
		}
		i = skipSpace(b, vend)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
			continue
		}
		if i < len(b) && b[i] == '}' {
			return expectEnd(b, i+1)
		}
		return errSyntax(b, i, "',' or '}'")
	}
}

func errSyntax(b []byte, i int, want string) error {
	if i >= len(b) {
		return fmt.Errorf("invalid JSON: unexpected end of record, want %s", want)
	}
	return fmt.Errorf("invalid JSON at byte %d of the record: want %s", i, want)
}

func expectEnd(b []byte, i int) error {
	if i = skipSpace(b, i); i != len(b) {
		return errSyntax(b, i, "end of record")
	}
	return nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// endOfString returns the index after the string starting with the quote
// at b[i], or -1.
func endOfString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// endOfValue returns the index after the JSON value starting at b[i], or
// -1. Literals must be spelled out; numbers are checked by their parser,
// nested values by encoding/json when they are decoded.
func endOfValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; c {
	case '"':
		return endOfString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end := endOfString(b, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	case 't', 'f', 'n':
		for _, lit := range []string{"true", "false", "null"} {
			if bytes.HasPrefix(b[i:], []byte(lit)) {
				return i + len(lit)
			}
		}
		return -1
	default:
		j := i
		for j < len(b) && (b[j] == '-' || b[j] == '+' || b[j] == '.' || b[j] == 'e' || b[j] == 'E' || b[j] >= '0' && b[j] <= '9') {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}

// jsonKind names the JSON type of a value for error messages.
func jsonKind(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

// decodeObject decodes the JSON object b into *dst member by member, from
// the zero value; null leaves *dst alone (encoding/json's convention).
func decodeObject[T any](b []byte, dst *T, member func(key string, raw []byte) error) error {
	if isNull(b) {
		return nil
	}
	var zero T
	*dst = zero
	return eachMember(b, member)
}

func isNull(raw []byte) bool { return string(bytes.TrimSpace(raw)) == "null" }

func decodeID(field string, raw []byte, id *ID) error {
	if err := id.UnmarshalJSON(raw); err != nil {
		return fieldErr(field, "%v", err)
	}
	return nil
}

func decodeString(field string, raw []byte) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	s, err := unquote(raw)
	if err != nil {
		return "", fieldErr(field, "want string, got %s", jsonKind(raw))
	}
	return s, nil
}

// unquote decodes a JSON string. Most strings need no unescaping, and
// skipping encoding/json for them halves the cost of decoding a record.
func unquote(raw []byte) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		body := raw[1 : len(raw)-1]
		plain := true
		for _, c := range body {
			if c == '\\' || c == '"' || c < 0x20 || c >= utf8.RuneSelf {
				plain = false
				break
			}
		}
		if plain {
			return string(body), nil
		}
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

// decodeNumber accepts a number or a numeric string; ok is false for null.
func decodeNumber(field string, raw []byte) (v float64, ok bool, err error) {
	if isNull(raw) {
		return 0, false, nil
	}
	switch jsonKind(raw) {
	case "number":
		v, err = strconv.ParseFloat(string(bytes.TrimSpace(raw)), 64)
	case "string":
		var s string
		if err = json.Unmarshal(raw, &s); err == nil {
			v, err = strconv.ParseFloat(strings.TrimSpace(s), 64)
		}
	default:
		return 0, false, fieldErr(field, "want number, got %s", jsonKind(raw))
	}
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false, fieldErr(field, "want a finite number, got %s", truncate(string(raw), 40))
	}
	return v, true, nil
}

var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"}

// decodeTime reads a unix timestamp in the forms listed in the package notes.
func decodeTime(field string, raw []byte) (int64, error) {
	if isNull(raw) {
		return 0, nil
	}
	if jsonKind(raw) == "string" {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, fieldErr(field, "%v", err)
		}
		s = strings.TrimSpace(s)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, nil
		}
		for _, layout := range timeLayouts {
			if t, err := time.Parse(layout, s); err == nil {
				return t.Unix(), nil
			}
		}
		return 0, fieldErr(field, "want a unix timestamp or a date, got %q", truncate(s, 40))
	}
	v, _, err := decodeNumber(field, raw)
	if err != nil {
		return 0, err
	}
	if v > math.MaxInt64 || v < math.MinInt64 {
		return 0, fieldErr(field, "timestamp %g out of range", v)
	}
	return int64(v), nil
}

func decodeIDList(field string, raw []byte) ([]ID, error) {
	switch jsonKind(raw) {
	case "null":
		return nil, nil
	case "string", "number":
		var id ID
		if err := decodeID(field, raw, &id); err != nil {
			return nil, err
		}
		return []ID{id}, nil
	case "array":
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, fieldErr(field, "%v", err)
		}
		ids := make([]ID, 0, len(items))
		for i, item := range items {
			if k := jsonKind(item); k != "string" && k != "number" {
				return nil, fieldErr(field, "item %d: want id (string or integer), got %s", i, k)
			}
			var id ID
			if err := id.UnmarshalJSON(item); err != nil {
				return nil, fieldErr(field, "item %d: %v", i, err)
			}
			ids = append(ids, id)
		}
		return ids, nil
	default:
		return nil, fieldErr(field, "want a list of ids, got %s", jsonKind(raw))
	}
}

func decodeBoolPtr(field string, raw []byte) (*bool, error) {
	var v bool
	switch s := string(bytes.TrimSpace(raw)); s {
	case "null":
		return nil, nil
	case "true", `"true"`, "1":
		v = true
	case "false", `"false"`, "0":
		v = false
	default:
		return nil, fieldErr(field, "want bool, got %s", truncate(s, 40))
	}
	return &v, nil
}

// validAttributeName reports whether Clerk accepts the attribute name:
// letters, digits and underscores only.
func validAttributeName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// addExtra decodes one unknown attribute into extra, allocating it on first
// use. Null values and names Clerk ignores are skipped.
func addExtra(extra map[string]any, key string, raw []byte) (map[string]any, error) {
	if !validAttributeName(key) || isNull(raw) {
		return extra, nil
	}
	v, err := decodeExtraValue(key, raw)
	if err != nil {
		return extra, err
	}
	if extra == nil {
		extra = map[string]any{}
	}
	extra[key] = v
	return extra, nil
}

// decodeExtraValue returns string, float64, bool, []string or []float64.
func decodeExtraValue(field string, raw []byte) (any, error) {
	switch k := jsonKind(raw); k {
	case "string":
		return decodeString(field, raw)
	case "number":
		v, _, err := decodeNumber(field, raw)
		return v, err
	case "bool":
		return string(bytes.TrimSpace(raw)) == "true", nil
	case "object":
		return nil, fieldErr(field, "nested objects are not supported; use a string, number, bool or a list of strings or numbers")
	case "array":
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, fieldErr(field, "%v", err)
		}
		if len(items) == 0 {
			return []string{}, nil
		}
		first := jsonKind(items[0])
		for i, item := range items {
			if k := jsonKind(item); k != first {
				return nil, fieldErr(field, "mixed list: item 0 is %s, item %d is %s; lists must hold only strings or only numbers", first, i, k)
			}
		}
		switch first {
		case "string":
			out := make([]string, len(items))
			for i, item := range items {
				var err error
				if out[i], err = unquote(item); err != nil {
					return nil, fieldErr(field, "item %d: %v", i, err)
				}
			}
			return out, nil
		case "number":
			out := make([]float64, len(items))
			for i, item := range items {
				v, _, err := decodeNumber(field, item)
				if err != nil {
					return nil, err
				}
				out[i] = v
			}
			return out, nil
		default:
			return nil, fieldErr(field, "lists of %s are not supported; lists must hold only strings or only numbers", first)
		}
	default:
		return nil, fieldErr(field, "unsupported value %s", truncate(string(raw), 40))
	}
}

// ErrBadExtra is returned when marshalling an Extra value of an unsupported
// type or a key that names a built-in field.
var ErrBadExtra = errors.New("bad extra attribute")

// checkExtraValue reports whether v is one of the supported Extra types.
func checkExtraValue(v any) bool {
	switch x := v.(type) {
	case string, bool, []string:
		return true
	case float64:
		return !math.IsNaN(x) && !math.IsInf(x, 0)
	case []float64:
		for _, f := range x {
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return false
			}
		}
		return true
	}
	return false
}

// marshalWithExtra encodes a record's built-in fields (plain: the record
// converted to a type without MarshalJSON) followed by its Extra
// attributes.
func marshalWithExtra(plain any, extra map[string]any, builtin map[string]bool) ([]byte, error) {
	b, err := json.Marshal(plain)
	if err != nil {
		return nil, err
	}
	return appendExtra(b, extra, builtin)
}

// appendExtra splices extra's members, in key order, into the JSON object b.
func appendExtra(b []byte, extra map[string]any, builtin map[string]bool) ([]byte, error) {
	if len(extra) == 0 {
		return b, nil
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := bytes.NewBuffer(make([]byte, 0, len(b)+32*len(keys)))
	out.Write(b[:len(b)-1]) // drop the closing brace
	for _, k := range keys {
		v := extra[k]
		if builtin[k] {
			return nil, fmt.Errorf("%w: %s names a built-in field", ErrBadExtra, Quote(k))
		}
		if !checkExtraValue(v) {
			return nil, fmt.Errorf("%w: %s has unsupported type %T", ErrBadExtra, Quote(k), v)
		}
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrBadExtra, Quote(k), err)
		}
		out.WriteByte(',')
		out.Write(kb)
		out.WriteByte(':')
		out.Write(vb)
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}
