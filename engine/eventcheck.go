package engine

import (
	"fmt"

	"github.com/sibylhq/sibyl/ingest"
)

// ApplyLimits are the limits every replica checks commands against at
// apply time. They are the defaults, never a node's configuration: a
// command must be decided alike on every replica and on every replay of
// the log, whatever flags each node was started with.
var ApplyLimits = ingest.DefaultLimits()

// eventKinds are the kinds Apply understands.
var eventKinds = map[string]bool{
	EventProduct: true, EventClick: true, EventCategory: true, EventEmail: true, EventSale: true,
	EventCartAdd: true, EventCartRemove: true, EventBasketSet: true, EventReturned: true,
	EventSearch: true,
}

// ValidateEvent checks one tracking event against lim: every string and
// list bounded, the encoded size bounded. The API calls it before an
// event joins a batch (400), and Apply calls it again with ApplyLimits
// before any event of a command touches memory, so a command the API
// would have refused (proposed by an older node, a bug, or straight into
// Raft) is rejected alike everywhere instead of growing a session without
// bound. Messages quote at most about 100 bytes of the input.
func ValidateEvent(e *Event, lim ingest.Limits) error {
	if !eventKinds[e.Kind] {
		return fmt.Errorf("unknown event kind %s", ingest.Quote(e.Kind))
	}
	check := func(field, s string, limit int) error {
		if len(s) > limit {
			return fmt.Errorf("parameter %q is %d bytes, at most %d allowed: %s", field, len(s), limit, ingest.Quote(s))
		}
		return nil
	}
	for _, f := range []struct {
		name, v string
		limit   int
	}{
		{"visitor", e.Visitor, lim.MaxVisitorBytes},
		{"customer", string(e.Customer), lim.MaxIDBytes},
		{"email", e.Email, lim.MaxEmailBytes},
		{"category", string(e.Category), lim.MaxIDBytes},
		{"sale", string(e.Sale), lim.MaxIDBytes},
		{"api", e.API, lim.MaxShortBytes},
		{"query", e.Query, MaxSearchQueryBytes},
	} {
		if err := check(f.name, f.v, f.limit); err != nil {
			return err
		}
	}
	if len(e.Products) > lim.MaxEventProducts {
		return fmt.Errorf("parameter \"products\" has %d products, at most %d allowed", len(e.Products), lim.MaxEventProducts)
	}
	if e.Hits < 0 {
		return fmt.Errorf("a search's hits must be >= 0, got %d", e.Hits)
	}
	size := len(e.Kind) + len(e.Visitor) + len(e.Customer) + len(e.Email) + len(e.Category) + len(e.Sale) + len(e.API) + len(e.Query)
	for i, p := range e.Products {
		if p == "" {
			return fmt.Errorf("parameter \"products\": product %d has an empty id", i)
		}
		if err := check("products", string(p), lim.MaxIDBytes); err != nil {
			return err
		}
		size += len(p)
	}
	if len(e.Labels) > lim.MaxEventLabels {
		return fmt.Errorf("parameter \"labels\" has %d labels, at most %d allowed", len(e.Labels), lim.MaxEventLabels)
	}
	for _, l := range e.Labels {
		if err := check("labels", l, lim.MaxLabelBytes); err != nil {
			return err
		}
		size += len(l)
	}
	if size > lim.MaxEventBytes {
		return fmt.Errorf("the event holds %d bytes, at most %d allowed", size, lim.MaxEventBytes)
	}
	return nil
}
