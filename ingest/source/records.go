package source

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/sibylhq/sibyl/ingest"
)

// tally adds up a Fetch's record outcomes in its Result.
type tally struct {
	res *Result
	cfg ingest.FeedConfig
}

// reject counts an invalid record; in strict mode it stops the read.
func (t *tally) reject(kind ingest.Kind, e ingest.RecordError) error {
	t.res.Rejected[kind]++
	fe := ingest.FeedError{Kind: kind, RecordError: e}
	if t.cfg.Strict {
		return fmt.Errorf("%w: %v", ingest.ErrInvalidFeed, fe)
	}
	if len(t.res.Errors) < t.cfg.MaxReportedErrors {
		t.res.Errors = append(t.res.Errors, fe)
	}
	return nil
}

// ErrTooManyRecords is wrapped by the error of a read that found more
// records of one kind than its source allows.
var ErrTooManyRecords = errors.New("too many records")

// batcher collects one kind's records, validates each batch as the HTTP
// write path does, reports the invalid ones and delivers the rest: what
// ingest.ReadFeed does for one list, for sources that are not one JSON
// document.
type batcher[T ingest.Record] struct {
	t       *tally
	kind    ingest.Kind
	deliver func([]T) error
	// max bounds the records (good or bad) of the kind; 0 is no bound.
	max   int
	batch []T
	pos   []int
	// seen counts records so far, numbering them for reports.
	seen int
}

func newBatcher[T ingest.Record](t *tally, deliver func([]T) error, max int) *batcher[T] {
	return &batcher[T]{t: t, kind: ingest.KindOf[T](), deliver: deliver, max: max}
}

// next numbers the next record, refusing one beyond the bound.
func (b *batcher[T]) next() (int, error) {
	if b.max > 0 && b.seen >= b.max {
		return 0, fmt.Errorf("%w: more than %d %s", ErrTooManyRecords, b.max, b.kind)
	}
	b.seen++
	return b.seen - 1, nil
}

// addJSON decodes one record from raw JSON and adds it.
func (b *batcher[T]) addJSON(raw []byte) error {
	pos, err := b.next()
	if err != nil {
		return err
	}
	var rec T
	if err := decodeRecord(raw, &rec); err != nil {
		e := ingest.RecordError{Index: pos, ID: peekID(raw), Kind: ingest.ErrWrongType, Reason: err.Error()}
		var fe *ingest.FieldError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &fe):
			e.Field, e.Reason = fe.Field, fe.Reason
		case errors.As(err, &te):
			e.Field, e.Reason = te.Field, "want "+te.Type.String()+", got "+te.Value
		}
		return b.t.reject(b.kind, e)
	}
	return b.push(rec, pos)
}

// add adds a record built by the source.
func (b *batcher[T]) add(rec T) error {
	pos, err := b.next()
	if err != nil {
		return err
	}
	return b.push(rec, pos)
}

// bad counts a record the source could not build.
func (b *batcher[T]) bad(e ingest.RecordError) error {
	pos, err := b.next()
	if err != nil {
		return err
	}
	e.Index = pos
	return b.t.reject(b.kind, e)
}

func (b *batcher[T]) push(rec T, pos int) error {
	b.batch = append(b.batch, rec)
	b.pos = append(b.pos, pos)
	if len(b.batch) >= b.t.cfg.BatchSize {
		return b.flush()
	}
	return nil
}

// flush validates and delivers the pending batch.
func (b *batcher[T]) flush() error {
	if len(b.batch) == 0 {
		return nil
	}
	lim := b.t.cfg.Limits
	lim.MaxErrors = math.MaxInt // every bad record must be found to be dropped
	errs := ingest.Validate(b.batch, lim)
	good := b.batch
	if len(errs) > 0 {
		bad := make(map[int]bool, len(errs))
		for _, e := range errs {
			if e.Index < 0 || bad[e.Index] { // one report per record
				continue
			}
			bad[e.Index] = true
			e.Index = b.pos[e.Index]
			if err := b.t.reject(b.kind, e); err != nil {
				return err
			}
		}
		good = make([]T, 0, len(b.batch)-len(bad))
		for i, rec := range b.batch {
			if !bad[i] {
				good = append(good, rec)
			}
		}
	}
	b.batch, b.pos = nil, b.pos[:0]
	if len(good) == 0 {
		return nil
	}
	b.t.res.Records[b.kind] += len(good)
	if err := b.deliver(good); err != nil {
		return fmt.Errorf("cannot deliver %d %s: %w", len(good), b.kind, err)
	}
	return nil
}

// decodeRecord decodes one JSON object into rec.
func decodeRecord(raw []byte, rec any) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return fmt.Errorf("record must be a JSON object, got %s", jsonKind(raw))
	}
	return json.Unmarshal(raw, rec)
}

// peekID reads the id of a record that failed to decode, for the report.
func peekID(raw []byte) ingest.ID {
	var probe struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(raw, &probe) != nil || probe.ID == nil {
		return ""
	}
	var id ingest.ID
	if id.UnmarshalJSON(probe.ID) != nil {
		return ""
	}
	return ingest.ID(clip(string(id), 256))
}

func jsonKind(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a bool"
	case 'n':
		return "null"
	}
	return "a number"
}
