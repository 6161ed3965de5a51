package query

import (
	"github.com/sibylhq/sibyl/engine"
	"github.com/sibylhq/sibyl/ingest"
)

// Per-field limits of tracking and recommendation calls. The numbers live
// in ingest.Limits (Config.Limits); these helpers apply them to request
// parameters and answer 400 with a message quoting at most about 100
// bytes of the offending value (quote, errors.go).

// limits returns the server's limits (the defaults for a request built
// without a server, as some tests do).
func (r *request) limits() ingest.Limits {
	if r.s == nil {
		return ingest.DefaultLimits()
	}
	return r.s.cfg.Limits
}

// boundedList reads a list parameter of at most maxItems items, each at
// most maxBytes long.
func (r *request) boundedList(name string, maxItems, maxBytes int) ([]string, error) {
	items, err := r.p.listN(name, maxItems)
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		if len(it) > maxBytes {
			return nil, errBadRequest("parameter %q: an item is %d bytes, at most %d allowed: %s", name, len(it), maxBytes, quote(it))
		}
	}
	return items, nil
}

// seedsParam reads the seed products of a recommendation call.
func (r *request) seedsParam(name string) ([]string, error) {
	lim := r.limits()
	return r.boundedList(name, lim.MaxSeeds, lim.MaxIDBytes)
}

// checkEvent validates a tracking event with the server's limits and then
// with the limits every replica applies (engine.ApplyLimits): an event
// the state machine would refuse must not join a batch, where it would
// fail every other caller's events with it.
func (r *request) checkEvent(e *engine.Event) error {
	if err := engine.ValidateEvent(e, r.limits()); err != nil {
		return errBadRequest("%v", err)
	}
	if err := engine.ValidateEvent(e, engine.ApplyLimits); err != nil {
		return errBadRequest("%v", err)
	}
	return nil
}

// idSet is a set of ids: exclusion and "already shown" tests over lists a
// request can make long (slices.Contains in a loop was quadratic: 100k
// excludes cost seconds of CPU per request).
type idSet map[ingest.ID]struct{}

func newIDSet(lists ...[]ingest.ID) idSet {
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	s := make(idSet, n)
	for _, l := range lists {
		s.add(l...)
	}
	return s
}

func (s idSet) add(ids ...ingest.ID) {
	for _, id := range ids {
		s[id] = struct{}{}
	}
}

func (s idSet) has(id ingest.ID) bool { _, ok := s[id]; return ok }
