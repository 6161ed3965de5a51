package engine

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/internal/wire"
)

// Tracking events are the most frequent command of all (one per page
// view), so an events.log body is binary rather than JSON: encoding and
// decoding JSON cost about 8% of a tracking call's CPU. A body is the
// version byte followed by events back to back, which lets the API append
// each event to a batch as it arrives. One event: kind, visitor,
// customer, email, products (count, ids), category, sale, api, position
// (uvarint), labels (count, strings), time (varint); strings are
// uvarint-length-prefixed. Version 2 adds, after the time, the query
// (string) and hits (uvarint) of search events; version 1 bodies and
// bodies written as a JSON array (by nodes before this codec) still
// decode.
const eventCodecVersion = 2

var errCorruptEvents = errors.New("corrupt event batch")

// NewEventBody starts an events.log body; AppendEvent adds to it.
func NewEventBody(b []byte) []byte { return append(b, eventCodecVersion) }

// AppendEvent appends one event to a body started by NewEventBody.
func AppendEvent(b []byte, e *Event) []byte {
	b = wire.AppendString(b, e.Kind)
	b = wire.AppendString(b, e.Visitor)
	b = wire.AppendString(b, string(e.Customer))
	b = wire.AppendString(b, e.Email)
	b = binary.AppendUvarint(b, uint64(len(e.Products)))
	for _, p := range e.Products {
		b = wire.AppendString(b, string(p))
	}
	b = wire.AppendString(b, string(e.Category))
	b = wire.AppendString(b, string(e.Sale))
	b = wire.AppendString(b, e.API)
	b = binary.AppendUvarint(b, uint64(max(e.Position, 0)))
	b = binary.AppendUvarint(b, uint64(len(e.Labels)))
	for _, l := range e.Labels {
		b = wire.AppendString(b, l)
	}
	b = binary.AppendVarint(b, e.Time)
	b = wire.AppendString(b, e.Query)
	return binary.AppendUvarint(b, uint64(max(e.Hits, 0)))
}

// EncodeEvents is a whole body for evs.
func EncodeEvents(evs []Event) []byte {
	b := NewEventBody(make([]byte, 0, 1+48*len(evs)))
	for i := range evs {
		b = AppendEvent(b, &evs[i])
	}
	return b
}

// DecodeEvents decodes an events.log body, binary or (older) JSON.
func DecodeEvents(body []byte) ([]Event, error) {
	if len(body) > 0 && body[0] == '[' {
		var evs []Event
		if err := json.Unmarshal(body, &evs); err != nil {
			return nil, fmt.Errorf("%w: %v", errCorruptEvents, err)
		}
		return evs, nil
	}
	d := wire.NewDecoder(body)
	v := d.Byte()
	if (v != 1 && v != eventCodecVersion) || d.Err() != nil {
		return nil, fmt.Errorf("%w: version %d", errCorruptEvents, v)
	}
	// Every event takes at least 12 bytes, which bounds a corrupt body.
	evs := make([]Event, 0, min(d.Len()/12+1, 4096))
	for d.Len() > 0 && d.Err() == nil {
		var e Event
		e.Kind = d.Str()
		e.Visitor = d.Str()
		e.Customer = ingest.ID(d.Str())
		e.Email = d.Str()
		if n := d.Uvarint(); n > 0 {
			if n > uint64(d.Len()) {
				return nil, errCorruptEvents
			}
			// Refuse before allocating: the list could be as long as the
			// body. ValidateEvent checks the same bound on decoded events.
			if n > uint64(ApplyLimits.MaxEventProducts) {
				return nil, fmt.Errorf("%w: event %d has %d products, at most %d allowed", errCorruptEvents, len(evs), n, ApplyLimits.MaxEventProducts)
			}
			e.Products = make([]ingest.ID, n)
			for i := range e.Products {
				e.Products[i] = ingest.ID(d.Str())
			}
		}
		e.Category = ingest.ID(d.Str())
		e.Sale = ingest.ID(d.Str())
		e.API = d.Str()
		e.Position = int(min(d.Uvarint(), 1<<31))
		if n := d.Uvarint(); n > 0 {
			if n > uint64(d.Len()) {
				return nil, errCorruptEvents
			}
			if n > uint64(ApplyLimits.MaxEventLabels) {
				return nil, fmt.Errorf("%w: event %d has %d labels, at most %d allowed", errCorruptEvents, len(evs), n, ApplyLimits.MaxEventLabels)
			}
			e.Labels = make([]string, n)
			for i := range e.Labels {
				e.Labels[i] = d.Str()
			}
		}
		e.Time = d.Varint()
		if v >= 2 {
			e.Query = d.Str()
			e.Hits = int(min(d.Uvarint(), 1<<31))
		}
		evs = append(evs, e)
	}
	if d.Err() != nil {
		return nil, errCorruptEvents
	}
	return evs, nil
}
