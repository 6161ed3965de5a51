package query

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"
)

// params gives one view of a request's parameters whatever the method:
// GET query arguments, or the fields of a POST/PUT/PATCH/DELETE JSON
// object body (query arguments fill in names the body lacks, so a key can
// travel in the URL of a POST).
type params struct {
	args *fasthttp.Args
	body map[string]json.RawMessage
}

func parseParams(ctx *fasthttp.RequestCtx) (*params, *APIError) {
	p := &params{args: ctx.QueryArgs()}
	if ctx.IsGet() || ctx.IsHead() {
		return p, nil
	}
	body := bytes.TrimSpace(ctx.PostBody())
	if len(body) == 0 {
		return p, nil
	}
	if body[0] != '{' {
		// A bare array is a data write's records; handlers read it raw.
		return p, nil
	}
	if err := json.Unmarshal(body, &p.body); err != nil {
		return nil, errBadRequest("malformed JSON body: %s", clip(jsonErr(err, body)))
	}
	return p, nil
}

// jsonErr makes encoding/json's error say where: offsets become line and
// column, which is what a person fixing a feed needs.
func jsonErr(err error, body []byte) string {
	var off int64 = -1
	switch e := err.(type) {
	case *json.SyntaxError:
		off = e.Offset
	case *json.UnmarshalTypeError:
		off = e.Offset
	}
	if off < 0 || off > int64(len(body)) {
		return err.Error()
	}
	line := 1 + bytes.Count(body[:off], []byte("\n"))
	col := off - int64(bytes.LastIndexByte(body[:off], '\n'))
	return err.Error() + " (line " + strconv.Itoa(line) + ", column " + strconv.FormatInt(col, 10) + ")"
}

// raw returns a body field as JSON, or a query argument as a JSON-ish
// string, and whether it was present.
func (p *params) has(name string) bool {
	if _, ok := p.body[name]; ok {
		return true
	}
	return p.args.Has(name)
}

// The accessors return error, not *APIError: a nil *APIError stored in an
// error variable would not be nil.

// str returns a string parameter. JSON numbers are accepted as their text
// (ids are often numbers).
func (p *params) str(name string) (string, error) {
	if raw, ok := p.body[name]; ok {
		return rawString(name, raw)
	}
	return string(p.args.Peek(name)), nil
}

func rawString(name string, raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", errBadRequest("parameter %s: %s", quote(name), clip(err.Error()))
		}
		return s, nil
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return string(raw), nil
	case 't', 'f':
		return string(raw), nil
	}
	return "", errBadRequest("parameter %s must be a string, got %s", quote(name), quote(string(raw)))
}

// intParam returns an integer parameter within [lo, hi], or def when absent.
func (p *params) intParam(name string, def, lo, hi int) (int, error) {
	s, err := p.str(name)
	if err != nil {
		return 0, err
	}
	if s == "" {
		return def, nil
	}
	n, perr := strconv.Atoi(s)
	if perr != nil {
		return 0, errBadRequest("parameter %s must be an integer, got %s", quote(name), quote(s))
	}
	if n < lo || n > hi {
		return 0, errBadRequest("parameter %s must be between %d and %d, got %d", quote(name), lo, hi, n)
	}
	return n, nil
}

// boolParam returns a boolean parameter (true/false/1/0), or def.
func (p *params) boolParam(name string, def bool) (bool, error) {
	s, err := p.str(name)
	if err != nil {
		return false, err
	}
	switch strings.ToLower(s) {
	case "":
		return def, nil
	case "true", "1", "yes":
		return true, nil
	case "false", "0", "no":
		return false, nil
	}
	return false, errBadRequest("parameter %s must be true or false, got %s", quote(name), quote(s))
}

// list returns a list parameter. In a query string it is a JSON array
// (`exclude=[1,"a"]`, Clerk's form) or comma-separated values; in a body,
// a JSON array or a single value.
func (p *params) list(name string) ([]string, error) { return p.listN(name, defaultListMax) }

// defaultListMax bounds any list parameter without a tighter limit of its
// own (ingest.Limits: MaxSeeds, MaxExcludes, ...); it is the most records a
// batch may hold.
const defaultListMax = 10_000

// listN is list with at most maxItems items (any number when negative):
// a longer list is refused after reading maxItems+1 of its items, so a
// list of a million ids costs no more than the limit to refuse.
func (p *params) listN(name string, maxItems int) ([]string, error) {
	if raw, ok := p.body[name]; ok {
		return rawList(name, bytes.TrimSpace(raw), maxItems)
	}
	v := bytes.TrimSpace(p.args.Peek(name))
	if len(v) == 0 {
		return nil, nil
	}
	if v[0] == '[' {
		return rawList(name, v, maxItems)
	}
	if maxItems >= 0 {
		if n := bytes.Count(v, []byte(",")) + 1; n > maxItems {
			return nil, errList(name, maxItems)
		}
	}
	parts := strings.Split(string(v), ",")
	out := parts[:0]
	for _, s := range parts {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

func errList(name string, maxItems int) error {
	return errBadRequest("parameter %q has more than %d items", name, maxItems)
}

func rawList(name string, raw []byte, maxItems int) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] != '[' {
		s, err := rawString(name, raw)
		if err != nil {
			return nil, err
		}
		return []string{s}, nil
	}
	items, err := rawItems(name, raw, maxItems)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		s, err := rawString(name, it)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// rawItems splits a JSON array into its items, refusing more than
// maxItems (when >= 0) without decoding the rest.
func rawItems(name string, raw []byte, maxItems int) ([]json.RawMessage, error) {
	if maxItems < 0 || len(raw) <= 2*maxItems+1 {
		// Too short to hold more than maxItems items (each takes a byte
		// and a comma, plus the brackets), or unbounded: one Unmarshal,
		// a fifth of the streaming decoder's cost on the usual
		// one-product list (the decoder was 6% of a most_sold_with call).
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, errBadRequest("parameter %s must be a list: %s", quote(name), clip(err.Error()))
		}
		return items, nil
	}
	return streamItems(name, raw, maxItems)
}

// streamItems is rawItems for lists long enough to hold more than
// maxItems: it stops at the first item over the limit.
func streamItems(name string, raw []byte, maxItems int) ([]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('[') {
		return nil, errBadRequest("parameter %s must be a list", quote(name))
	}
	var items []json.RawMessage
	for dec.More() {
		if maxItems >= 0 && len(items) == maxItems {
			return nil, errList(name, maxItems)
		}
		var it json.RawMessage
		if err := dec.Decode(&it); err != nil {
			return nil, errBadRequest("parameter %s must be a list: %s", quote(name), clip(err.Error()))
		}
		items = append(items, it)
	}
	if t, err := dec.Token(); err != nil || t != json.Delim(']') || len(bytes.TrimSpace(raw[dec.InputOffset():])) > 0 {
		return nil, errBadRequest("parameter %s must be a list", quote(name))
	}
	return items, nil
}
