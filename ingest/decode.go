package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Batch is a decoded request body.
type Batch[T Record] struct {
	Records []T
	// Other holds the remaining top-level members of an object body;
	// Clerk clients send "key" and "private_key" there.
	Other map[string]json.RawMessage
}

// Decode reads one batch of records of kind KindOf[T] from body, which is
// either a JSON array of records or an object whose member named after the
// kind ("products", ...) holds that array. It does not validate values
// (see Validate) but enforces lim.MaxBodyBytes and lim.MaxRecords.
//
// On failure the error is a *BatchError: malformed JSON stops decoding and
// is reported with the byte offset and the index of the record being read;
// records of the wrong type are all reported (up to lim.MaxErrors) with
// their index, id when readable, and field.
func Decode[T Record](body []byte, lim Limits) (Batch[T], error) {
	kind := KindOf[T]()
	d := batchDecoder{kind: kind, lim: lim, body: body, dec: json.NewDecoder(bytes.NewReader(body))}
	var out Batch[T]
	if int64(len(body)) > lim.MaxBodyBytes {
		d.add(-1, "", "", ErrBodyTooLarge, fmt.Sprintf("%d bytes, at most %d allowed", len(body), lim.MaxBodyBytes))
		return out, d.err()
	}
	tok, err := d.dec.Token()
	if err != nil {
		d.syntax(-1, err)
		return out, d.err()
	}
	switch tok {
	case json.Delim('['):
		out.Records = decodeArray[T](&d)
	case json.Delim('{'):
		found := false
		for !d.stop && d.dec.More() {
			keyTok, err := d.dec.Token()
			if err != nil {
				d.syntax(-1, err)
				break
			}
			key := keyTok.(string)
			if key == string(kind) && !found {
				found = true
				if t, err := d.dec.Token(); err != nil {
					d.syntax(-1, err)
				} else if t != json.Delim('[') {
					d.add(-1, "", key, ErrMalformedJSON, fmt.Sprintf("want a list of %s, got %v", kind, describeToken(t)))
				} else {
					out.Records = decodeArray[T](&d)
				}
				continue
			}
			var raw json.RawMessage
			if err := d.dec.Decode(&raw); err != nil {
				d.syntax(-1, err)
				break
			}
			if out.Other == nil {
				out.Other = map[string]json.RawMessage{}
			}
			out.Other[key] = raw
		}
		if !d.stop {
			if _, err := d.dec.Token(); err != nil {
				d.syntax(-1, err)
			} else if !found {
				d.add(-1, "", "", ErrMalformedJSON, fmt.Sprintf("object has no %q member", kind))
			}
		}
	default:
		d.add(-1, "", "", ErrMalformedJSON, fmt.Sprintf("want a list of %s or an object with a %q member, got %v", kind, kind, describeToken(tok)))
		return out, d.err()
	}
	if !d.stop {
		if _, err := d.dec.Token(); err != io.EOF {
			d.add(-1, "", "", ErrMalformedJSON, fmt.Sprintf("unexpected data after the JSON value at offset %d", d.dec.InputOffset()))
		}
	}
	if err := d.err(); err != nil {
		return Batch[T]{}, err
	}
	if out.Records == nil {
		out.Records = []T{}
	}
	return out, nil
}

// DecodeProducts is Decode for products.
func DecodeProducts(body []byte, lim Limits) (Batch[Product], error) {
	return Decode[Product](body, lim)
}

// DecodeCategories is Decode for categories.
func DecodeCategories(body []byte, lim Limits) (Batch[Category], error) {
	return Decode[Category](body, lim)
}

// DecodeCustomers is Decode for customers.
func DecodeCustomers(body []byte, lim Limits) (Batch[Customer], error) {
	return Decode[Customer](body, lim)
}

// DecodeOrders is Decode for orders.
func DecodeOrders(body []byte, lim Limits) (Batch[Order], error) { return Decode[Order](body, lim) }

// DecodePages is Decode for pages.
func DecodePages(body []byte, lim Limits) (Batch[Page], error) { return Decode[Page](body, lim) }

type batchDecoder struct {
	kind Kind
	lim  Limits
	body []byte
	dec  *json.Decoder
	errs []RecordError
	// stop is set by errors after which the stream cannot be read on.
	stop bool
}

func (d *batchDecoder) add(index int, id ID, field string, kind error, reason string) {
	if len(d.errs) < max(1, d.lim.MaxErrors) { // a failure is never silent
		d.errs = append(d.errs, RecordError{Index: index, ID: id, Field: field, Kind: kind, Reason: reason})
	}
	if kind != ErrWrongType {
		d.stop = true
	}
}

func (d *batchDecoder) syntax(index int, err error) {
	var se *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		d.add(index, "", "", ErrMalformedJSON, fmt.Sprintf("unexpected end of input at %s", position(d.body, len(d.body))))
	case errors.As(err, &se):
		// json.Decoder's offsets point at the start of the value being
		// read; a full scan pins down the offending byte itself.
		var full *json.SyntaxError
		if errors.As(json.Unmarshal(d.body, new(json.RawMessage)), &full) {
			se = full
		}
		d.add(index, "", "", ErrMalformedJSON, fmt.Sprintf("at %s: %v", position(d.body, int(se.Offset)-1), se))
	default:
		d.add(index, "", "", ErrMalformedJSON, fmt.Sprintf("at byte %d: %v", d.dec.InputOffset(), err))
	}
}

// position describes a 0-based byte offset of body as "byte N (line L,
// column C)", both 1-based, for people looking at the body in an editor.
func position(body []byte, off int) string {
	off = max(0, min(off, len(body)))
	line := 1 + bytes.Count(body[:off], []byte("\n"))
	col := off - bytes.LastIndexByte(body[:off], '\n')
	return fmt.Sprintf("byte %d (line %d, column %d)", off, line, col)
}

func (d *batchDecoder) err() error {
	if len(d.errs) == 0 {
		return nil
	}
	return &BatchError{Kind: d.kind, Errors: d.errs}
}

// decodeArray reads records up to and including the closing bracket.
func decodeArray[T Record](d *batchDecoder) []T {
	var recs []T
	for i := 0; d.dec.More(); i++ {
		if i >= d.lim.MaxRecords {
			d.add(-1, "", "", ErrTooManyRecords, fmt.Sprintf("more than %d records", d.lim.MaxRecords))
			return nil
		}
		var raw json.RawMessage
		if err := d.dec.Decode(&raw); err != nil {
			d.syntax(i, err)
			return nil
		}
		var rec T
		if err := decodeRecord(raw, &rec); err != nil {
			id := peekID(raw)
			var fe *FieldError
			if errors.As(err, &fe) {
				d.add(i, id, fe.Field, ErrWrongType, fe.Reason)
			} else {
				d.add(i, id, "", ErrWrongType, err.Error())
			}
			continue
		}
		recs = append(recs, rec)
	}
	if _, err := d.dec.Token(); err != nil {
		d.syntax(-1, err)
	}
	return recs
}

// decodeRecord decodes one record, insisting on a JSON object so that the
// error names the record rather than a Go type.
func decodeRecord(raw []byte, rec any) error {
	if k := jsonKind(raw); k != "object" {
		return fmt.Errorf("record must be a JSON object, got %s", k)
	}
	// raw is valid JSON (json.Decoder checked it), so a record type with
	// its own decoder skips encoding/json's second validation pass.
	if u, ok := rec.(json.Unmarshaler); ok {
		return u.UnmarshalJSON(raw)
	}
	if err := json.Unmarshal(raw, rec); err != nil {
		return typeErr(err)
	}
	return nil
}

// peekID reads the id of a record that failed to decode, for the report.
func peekID(raw []byte) ID {
	var probe struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(raw, &probe) != nil || probe.ID == nil {
		return ""
	}
	var id ID
	if id.UnmarshalJSON(probe.ID) != nil {
		return ""
	}
	return id
}

func describeToken(t json.Token) string {
	switch v := t.(type) {
	case json.Delim:
		if v == '{' {
			return "an object"
		}
		return "a list"
	case string:
		return "a string"
	case nil:
		return "null"
	case bool:
		return "a bool"
	default:
		return "a number"
	}
}

// DecodeAndValidate is Decode followed by Validate: the HTTP write path in
// one call. Any problem rejects the whole batch with a *BatchError; use
// StatusCode for the HTTP status.
func DecodeAndValidate[T Record](body []byte, lim Limits) (Batch[T], error) {
	b, err := Decode[T](body, lim)
	if err != nil {
		return b, err
	}
	if errs := Validate(b.Records, lim); len(errs) > 0 {
		return Batch[T]{}, &BatchError{Kind: KindOf[T](), Errors: errs}
	}
	return b, nil
}
