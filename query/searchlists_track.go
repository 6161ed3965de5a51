package query

import (
	"crypto/subtle"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sibylhq/sibyl/engine"
	"github.com/valyala/fasthttp"
)

// Search tracking (issue 13, item 6): a search/search or search/predictive
// answer that carries `labels` is recorded as an engine.EventSearch, as a
// recommendation answer with labels counts an impression. The event goes
// through the same replicated batches as log/* calls (eventBatcher), so
// every replica counts it and the counts survive restarts.
//
// Searches are reads, served by any replica of the store's shard, while
// events are proposed by the shard's leader: a node that is not the
// leader passes the search on to it as a /v2/log/search call with a proof
// keyed by the cluster's forward key, which only cluster nodes can make.
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
	key := requestKey(r)
	select {
	case searchRecordSlots <- struct{}{}:
	default:
		return
	}
	store := r.store
	go func() {
		defer func() { <-searchRecordSlots }()
		addr, err := s.backend.Route(store, true)
		if err != nil {
			return
		}
		if addr == "" {
			_, _ = s.events.add(store, &e)
			return
		}
		s.passSearchOn(addr, key, store, &e)
	}()
}

// requestKey is a key the request authenticated with, to pass on.
func requestKey(r *request) string {
	for _, name := range []string{"key", "private_key"} {
		if k, _ := r.p.str(name); k != "" {
			return k
		}
	}
	h := string(r.ctx.Request.Header.Peek("Authorization"))
	return strings.TrimSpace(strings.TrimPrefix(h, "Bearer "))
}

// passSearchOn sends a search event to the node at addr (the shard's
// leader) as a /v2/log/search call carrying searchLogMAC's proof.
func (s *Server) passSearchOn(addr, key, store string, e *engine.Event) {
	if len(s.cfg.Forward.Keys) == 0 {
		return // a node without cluster keys forwards nothing
	}
	ts := time.Now().UnixMilli()
	v := url.Values{}
	v.Set("query", e.Query)
	v.Set("api", e.API)
	v.Set("hits", strconv.Itoa(e.Hits))
	v.Set("visitor", e.Visitor)
	v.Set("ts", strconv.FormatInt(ts, 10))
	v.Set("sig", base64.RawURLEncoding.EncodeToString(searchLogMAC(s.cfg.Forward.Keys[0], store, e, ts)))
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod("POST")
	req.SetRequestURI("http://" + addr + searchLogPath + "?" + v.Encode())
	req.Header.Set("Authorization", "Bearer "+key)
	_ = s.forwardClient().DoTimeout(req, resp, s.cfg.WriteTimeout+5*time.Second)
}

// searchLogMAC proves that a cluster node made a /v2/log/search call: an
// HMAC (forwardMAC, keyed by the cluster's forward key) over the store
// and the event's fields with hop count 0, which no forwarded request's
// proof has. A forwarded request's proof would not do: any client may
// have a node forward its call.
func searchLogMAC(key []byte, store string, e *engine.Event, ts int64) []byte {
	fields := strings.Join([]string{store, e.Query, e.API, strconv.Itoa(e.Hits), e.Visitor}, "\x00")
	return forwardMAC(key, []byte("POST"), []byte(searchLogPath), []byte(fields), 0, ts)
}

const searchLogPath = "/v2/log/search"

// handleSearchLog serves /v2/log/search: a search recorded by another
// node of the cluster (see recordSearch). Only a call carrying a node's
// proof (searchLogMAC, recent within the forward window) is taken: the
// hits it carries are not a client's to claim.
func (s *Server) handleSearchLog(r *request) error {
	e := engine.Event{Kind: engine.EventSearch, Time: time.Now().UnixMilli()}
	var err error
	if e.Query, err = r.p.str("query"); err != nil {
		return err
	}
	if e.API, err = r.p.str("api"); err != nil {
		return err
	}
	if e.Hits, err = r.p.intParam("hits", 0, 0, 1<<30); err != nil {
		return err
	}
	if e.Visitor, err = r.p.str("visitor"); err != nil {
		return err
	}
	if !s.searchLogProven(r, &e) {
		return errForbidden("%s takes searches from cluster nodes only: searches answered with labels are recorded by search/search and search/predictive", searchLogPath)
	}
	if e.Query == "" || e.Query != engine.NormalizeSearchQuery(e.Query) {
		return errBadRequest("parameter \"query\" must be a normalized, non-empty query")
	}
	if !engine.IsSearchAPI(e.API) {
		return errBadRequest("parameter \"api\" must be search/search or search/predictive, got %s", quote(e.API))
	}
	if err := s.proposeEvent(r, &e); err != nil {
		return err
	}
	return writeJSON(r.ctx, map[string]any{"status": "ok"})
}

// searchLogProven checks a /v2/log/search call's ts and sig.
func (s *Server) searchLogProven(r *request, e *engine.Event) bool {
	keys := s.cfg.Forward.Keys
	tsText, _ := r.p.str("ts")
	sigText, _ := r.p.str("sig")
	if len(keys) == 0 || len(tsText) > 19 || len(sigText) > 64 {
		return false
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return false
	}
	window := s.cfg.Forward.Window
	if window <= 0 {
		window = DefaultForwardWindow
	}
	if age := time.Since(time.UnixMilli(ts)); age > window || age < -window {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(sigText)
	if err != nil {
		return false
	}
	for _, k := range keys {
		if subtle.ConstantTimeCompare(sig, searchLogMAC(k, r.store, e, ts)) == 1 {
			return true
		}
	}
	return false
}
