package query

import (
	"time"

	"github.com/sibylhq/sibyl/engine"
)

// Search tracking (issue 13, item 6): a search/search or search/predictive
// answer that carries `labels` is recorded as an engine.EventSearch, as a
// recommendation answer with labels counts an impression. The event goes
// through the same replicated batches as log/* calls (eventBatcher), so
// every replica counts it and the counts survive restarts.
//
// The answer does not wait for the commit: recording runs beside it, at
// most searchRecordsInFlight at once in this process; past that a search
// is not recorded (statistics may lose a search under overload; the
// shopper's answer never waits for an fsync).

// searchRecordsInFlight bounds the goroutines recording searches.
const searchRecordsInFlight = 256

var searchRecordSlots = make(chan struct{}, searchRecordsInFlight)

// recordSearch records the search of r (the logic api found hits
// products). minted is the visitor id minted for visitor=auto, if any.
func (s *Server) recordSearch(r *request, api string, hits int, minted string) {
	q, err := r.p.str("query")
	if err != nil {
		return
	}
	e := engine.Event{Kind: engine.EventSearch, API: api, Query: engine.NormalizeSearchQuery(q), Hits: hits, Time: time.Now().UnixMilli()}
	if e.Query == "" {
		return
	}
	e.Visitor = minted
	if e.Visitor == "" {
		if e.Visitor, _, err = visitorParam(r); err != nil {
			return
		}
	}
	if r.checkEvent(&e) != nil {
		return
	}
	select {
	case searchRecordSlots <- struct{}{}:
	default:
		return
	}
	store := r.store
	go func() {
		defer func() { <-searchRecordSlots }()
		_, _ = s.events.add(store, &e)
	}()
}
