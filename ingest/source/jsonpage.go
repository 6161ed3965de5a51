package source

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/sibylhq/sibyl/ingest"
)

// jsonPage is what one JSON page of a feed v2 resource says besides its
// records.
type jsonPage struct {
	// records counts the records of the page.
	records int
	// next is a "next" or "next_page" URL ("" when absent or null).
	next string
	// nextPage is a numeric "next_page", 0 when absent.
	nextPage int
}

// readJSONPage streams one JSON page into b: a list of records, or an
// object with the list under the resource's name (orders also under
// "sales", as in the v1 feed) and maybe a "next"/"next_page" link. Other
// members are skipped token by token. One record may take at most
// maxRecord bytes (loosely: see sizeGuard).
func readJSONPage[T ingest.Record](r io.Reader, b *batcher[T], maxRecord int) (jsonPage, error) {
	var page jsonPage
	guard := &sizeGuard{r: r, max: int64(maxRecord), what: "record"}
	dec := json.NewDecoder(guard)
	tok, err := dec.Token()
	if err != nil {
		return page, syntaxErr(err)
	}
	switch tok {
	case json.Delim('['):
		page.records, err = readRecordList(dec, guard, b)
		if err != nil {
			return page, err
		}
	case json.Delim('{'):
		for dec.More() {
			keyTok, err := dec.Token()
			if err != nil {
				return page, syntaxErr(err)
			}
			key := keyTok.(string)
			switch {
			case key == string(b.kind) || (b.kind == ingest.KindOrders && key == "sales"):
				tok, err := dec.Token()
				if err != nil {
					return page, syntaxErr(err)
				}
				if tok == nil {
					continue
				}
				if tok != json.Delim('[') {
					return page, fmt.Errorf("%w: %q must be a list", ingest.ErrInvalidFeed, key)
				}
				n, err := readRecordList(dec, guard, b)
				page.records += n
				if err != nil {
					return page, err
				}
			case key == "next" || key == "next_page":
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					return page, syntaxErr(err)
				}
				if err := page.readNext(key, raw); err != nil {
					return page, err
				}
			default:
				if err := skipValue(dec); err != nil {
					return page, err
				}
			}
		}
		if _, err := dec.Token(); err != nil {
			return page, syntaxErr(err)
		}
	default:
		return page, fmt.Errorf("%w: want a list of %s or an object holding one", ingest.ErrInvalidFeed, b.kind)
	}
	if _, err := dec.Token(); err != io.EOF {
		return page, fmt.Errorf("%w: unexpected data after the page at byte %d", ingest.ErrInvalidFeed, dec.InputOffset())
	}
	return page, nil
}

// readNext reads a next link: a URL string, a page number, or null.
func (p *jsonPage) readNext(key string, raw json.RawMessage) error {
	switch jsonKind(raw) {
	case "null":
		return nil
	case "a string":
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Errorf("%w: %q: %v", ingest.ErrInvalidFeed, key, err)
		}
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			p.nextPage = n
		} else {
			p.next = s
		}
		return nil
	case "a number":
		n, err := strconv.Atoi(string(raw))
		if err != nil || n <= 0 {
			return fmt.Errorf("%w: %q must be a URL or a positive page number", ingest.ErrInvalidFeed, key)
		}
		p.nextPage = n
		return nil
	case "a bool":
		return nil // "next": false, seen in the wild as "no more"
	}
	return fmt.Errorf("%w: %q must be a URL or a page number, got %s", ingest.ErrInvalidFeed, key, jsonKind(raw))
}

// readRecordList reads the records of a list whose '[' was read, and the
// closing ']'.
func readRecordList[T ingest.Record](dec *json.Decoder, guard *sizeGuard, b *batcher[T]) (int, error) {
	n := 0
	for dec.More() {
		guard.mark()
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return n, syntaxErr(err)
		}
		n++
		if err := b.addJSON(raw); err != nil {
			return n, err
		}
	}
	if _, err := dec.Token(); err != nil {
		return n, syntaxErr(err)
	}
	return n, nil
}

func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return syntaxErr(err)
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

// syntaxErr marks a JSON error as an invalid feed; read errors (a body
// cut, too large) pass through.
func syntaxErr(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	var se *json.SyntaxError
	if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, errRecordTooLong) {
		return fmt.Errorf("%w: %v", ingest.ErrInvalidFeed, err)
	}
	return err
}
