package engine

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/sibylhq/sibyl/compute"
	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/internal/wire"
	"github.com/sibylhq/sibyl/shard/statemachine"
)

// OpEvents carries tracking events (Clerk's log/* calls) of one store,
// stamped by the node that received them (EncodeEvents; see eventcodec.go).
const OpEvents = "events.log"

// Event kinds, named as the API paths that log them.
const (
	EventProduct    = "product"     // a product page view
	EventClick      = "click"       // a click on a recommendation
	EventCategory   = "category"    // a category page view
	EventEmail      = "email"       // links the visitor to an email
	EventSale       = "sale"        // a sale tracked from the shop's checkout
	EventCartAdd    = "cart_add"    // products put in the cart
	EventCartRemove = "cart_remove" // products taken out of the cart
	EventBasketSet  = "basket_set"  // the whole cart, replacing what was known
	EventReturned   = "returned"    // products of a sale came back
)

// Event is one tracking call.
type Event struct {
	Kind     string      `json:"kind"`
	Visitor  string      `json:"visitor,omitempty"`
	Customer ingest.ID   `json:"customer,omitempty"`
	Email    string      `json:"email,omitempty"`
	Products []ingest.ID `json:"products,omitempty"`
	Category ingest.ID   `json:"category,omitempty"`
	Sale     ingest.ID   `json:"sale,omitempty"`
	// API and Position say where a click came from (Clerk's api and n).
	API      string   `json:"api,omitempty"`
	Position int      `json:"n,omitempty"`
	Labels   []string `json:"labels,omitempty"`
	// Query and Hits are a search's normalized text and the number of
	// products it found (EventSearch; see searches.go).
	Query string `json:"query,omitempty"`
	Hits  int    `json:"hits,omitempty"`
	// Time is unix milliseconds, stamped by the receiving node.
	Time int64 `json:"time"`
}

// Session bounds: a visitor's recent items, and visitors per store. Both
// keep memory per store bounded whatever the traffic.
const (
	sessionItemsKept  = 50
	sessionsPerStore  = 200_000
	sessionCoViewSpan = 20 // a new view is paired with this many recent items
	watchedKept       = 500
)

// session is one visitor's recent behaviour.
type session struct {
	Recent []sessionItem `json:"r"`
	// Clicked maps a product clicked in this session to the labels of
	// the recommendation it was clicked from (sale attribution).
	Clicked map[ingest.ID][]string `json:"l,omitempty"`
	Cart    []ingest.ID            `json:"c,omitempty"`
	Email   string                 `json:"e,omitempty"`
	Last    int64                  `json:"t"` // time of the latest event (unix ms)
	// Search is the visitor's latest recorded search (normalized) and
	// SearchTime its time: search clicks are attributed to it.
	Search     string `json:"s,omitempty"`
	SearchTime int64  `json:"st,omitempty"`
	// size is the length of the session's stored encoding.
	size int
}

type sessionItem struct {
	ID   ingest.ID         `json:"i"`
	Kind compute.EventKind `json:"k"`
	Time int64             `json:"t"`
}

// Bounds of one visitor's session, so that its encoded size is bounded by
// construction (see maxSessionBytes) whatever events arrive: a click with
// thousands of products and labels once made a 288 MB session value.
const (
	cartKept        = 200 // products in the cart; the oldest go first
	clickedKept     = 50  // clicked products remembered for attribution
	clickLabelsKept = 10  // labels remembered per clicked product
	// maxSessionBytes bounds a session's encoding: every part above at
	// its limit with ApplyLimits' longest strings (50 recent and 200 cart
	// ids of 1 KiB, 50 clicked ids with 10 labels of 128 bytes, an email)
	// is about 370 KiB. TestSessionWorstCaseSize checks it.
	maxSessionBytes = 512 << 10
)

// sessionBytesPerStore bounds the encoded sessions of one store; the least
// recently seen go first (as for sessionsPerStore). Typical sessions are
// 1-2 KiB, so this binds only under a flood of large ones. A variable only
// so that a test can lower it; every replica must use the same value.
var sessionBytesPerStore int64 = 256 << 20

// sessions is the part of a store that holds tracking: each visitor's
// recent behaviour, the latest views of all visitors (currently_watched)
// and the attribution of recommendation labels.
//
// mu guards every field but impressions, which impMu guards: impressions
// are counted by reads (node-local, not replicated) and must not wait
// for apply. Co-views are counted in the sales part's statistics.
type sessions struct {
	mu sync.RWMutex
	// byVisitor holds each visitor's session.
	byVisitor map[string]*session
	// watched holds the latest product views of all visitors, oldest
	// first (currently_watched).
	watched []ingest.ID
	// bytes is the encoded size of every session (bounded by
	// sessionBytesPerStore).
	bytes int64
	// labels holds click and sale attribution per recommendation label
	// (replicated through events); impressions are node-local. Both keep
	// at most labelsKept labels.
	labels      labelTable
	labelsDirty bool

	impMu       sync.Mutex
	impressions labelTable

	// searches counts searches and search clicks per query (replicated
	// through events; searches.go).
	searches searchTable
}

func newSessions() sessions {
	return sessions{byVisitor: make(map[string]*session), labels: newLabelTable(), impressions: newLabelTable(), searches: newSearchTable()}
}

// applyEvents applies a tracking command. The caller (Engine.Apply) holds
// the catalog and sales parts read-locked (the item index; the co-view
// counts lock themselves) and the sessions part write-locked.
func (s *Store) applyEvents(w statemachine.Writer, body []byte) (Result, error) {
	evs, err := DecodeEvents(body)
	if err != nil {
		return Result{}, fmt.Errorf("%w: malformed events: %v", ErrRejected, err)
	}
	// Check every event before any touches memory: a rejected command
	// changes nothing, on every replica alike.
	for i := range evs {
		if err := ValidateEvent(&evs[i], ApplyLimits); err != nil {
			return Result{}, fmt.Errorf("%w: event %d: %v", ErrRejected, i, err)
		}
	}
	touched := make(map[string]bool)
	for i := range evs {
		s.sessions.countSearch(&evs[i])
		s.health.event(&evs[i], saleInfluenced(s.sessions.byVisitor[evs[i].Visitor], &evs[i]))
		if v := evs[i].Visitor; v != "" {
			s.track(&evs[i])
			touched[v] = true
		}
	}
	for v := range touched {
		if sess := s.sessions.byVisitor[v]; sess != nil {
			b := sess.encode()
			if len(b) > maxSessionBytes {
				// Unreachable with the bounds above; if a future change
				// breaks them, shed the attribution state rather than
				// write a value the state machine refuses.
				sess.Clicked, sess.Cart = nil, nil
				b = sess.encode()
			}
			s.sessions.bytes += int64(len(b) - sess.size)
			sess.size = len(b)
			if err := w.Set(recordKey(s.ID, sessionKind, ingest.ID(v)), b); err != nil {
				return Result{}, err
			}
		}
	}
	if err := s.sessions.evict(w, s.ID); err != nil {
		return Result{}, err
	}
	if err := s.sessions.writeLabels(w, s.ID); err != nil {
		return Result{}, err
	}
	if err := s.sessions.writeSearches(w, s.ID); err != nil {
		return Result{}, err
	}
	if err := s.health.writeEvents(w, s.ID); err != nil {
		return Result{}, err
	}
	return Result{Applied: len(evs)}, nil
}

// track updates the visitor's session and the co-view counts. The event
// has passed ValidateEvent, so its lists are bounded. Locks as for
// applyEvents.
func (s *Store) track(e *Event) {
	t := &s.sessions
	sess := t.byVisitor[e.Visitor]
	if sess == nil {
		sess = &session{}
		t.byVisitor[e.Visitor] = sess
	}
	sess.Last = max(sess.Last, e.Time)
	switch e.Kind {
	case EventEmail:
		sess.Email = e.Email
	case EventProduct, EventClick:
		kind := compute.EventView
		if e.Kind == EventClick {
			kind = compute.EventClick
			t.countClick(sess, e)
			t.countSearchClick(sess, e)
		}
		for _, p := range e.Products {
			s.sessionAdd(sess, p, kind, e.Time)
			t.watched = append(t.watched, p)
		}
		if len(t.watched) > 2*watchedKept {
			t.watched = append(t.watched[:0], t.watched[len(t.watched)-watchedKept:]...)
		}
	case EventCartAdd:
		in := idSet(sess.Cart)
		for _, p := range e.Products {
			s.sessionAdd(sess, p, compute.EventCart, e.Time)
			if _, ok := in[p]; !ok {
				in[p] = struct{}{}
				sess.Cart = append(sess.Cart, p)
			}
		}
		sess.Cart = keepLast(sess.Cart, cartKept)
	case EventCartRemove:
		out := idSet(e.Products)
		sess.Cart = slices.DeleteFunc(sess.Cart, func(id ingest.ID) bool { _, ok := out[id]; return ok })
	case EventBasketSet:
		sess.Cart = keepLast(uniqueIDs(e.Products), cartKept)
		for _, p := range e.Products {
			s.sessionAdd(sess, p, compute.EventCart, e.Time)
		}
	case EventSale:
		sess.Cart = nil
		t.countSale(sess, e)
	case EventSearch:
		if e.Query != "" && e.Time >= sess.SearchTime {
			sess.Search, sess.SearchTime = e.Query, e.Time
		}
	}
	if e.Email != "" && sess.Email == "" {
		sess.Email = e.Email
	}
}

// rememberClick keeps a click's labels for the sale attribution of its
// products: at most clickLabelsKept labels each, at most clickedKept
// products per session (the first clicked keep their place until a sale
// closes the window; a choice by arrival, so replicas agree).
func rememberClick(sess *session, e *Event) {
	if sess.Clicked == nil {
		sess.Clicked = make(map[ingest.ID][]string)
	}
	labels := slices.Clone(e.Labels[:min(len(e.Labels), clickLabelsKept)])
	for _, p := range e.Products {
		if _, ok := sess.Clicked[p]; !ok && len(sess.Clicked) >= clickedKept {
			continue
		}
		sess.Clicked[p] = labels
	}
}

// sessionAdd records one item of a session, newest last, each item once,
// and counts the new co-views: a view pairs with the session's recent
// other items, which is what makes "viewed together, not bought together"
// a substitute signal.
func (s *Store) sessionAdd(sess *session, p ingest.ID, kind compute.EventKind, t int64) {
	i := slices.IndexFunc(sess.Recent, func(it sessionItem) bool { return it.ID == p })
	if i >= 0 {
		it := sess.Recent[i]
		sess.Recent = append(sess.Recent[:i], sess.Recent[i+1:]...)
		it.Kind = max(it.Kind, kind)
		it.Time = t
		sess.Recent = append(sess.Recent, it)
		return
	}
	// Only products the store knows (catalog or orders) get an index and
	// co-view counts: ids sent by the public key alone must not grow the
	// item index and the statistics without bound.
	if idx, ok := s.catalog.items.lookup(p); ok {
		s.countCoViews(idx, sess.Recent[max(0, len(sess.Recent)-sessionCoViewSpan):])
	}
	sess.Recent = append(sess.Recent, sessionItem{p, kind, t})
	if len(sess.Recent) > sessionItemsKept {
		sess.Recent = append(sess.Recent[:0], sess.Recent[len(sess.Recent)-sessionItemsKept:]...)
	}
}

// countCoViews pairs item idx with each of recent (one two-item basket
// per pair, in order).
func (s *Store) countCoViews(idx int32, recent []sessionItem) {
	var buf [sessionCoViewSpan]int32
	others := buf[:0]
	for _, o := range recent {
		if j, ok := s.catalog.items.lookup(o.ID); ok {
			others = append(others, j)
		}
	}
	s.sales.stats.CoViewed.AddPairs(idx, others)
}

// evictSessions drops the least recently seen visitors when the store
// holds too many sessions (a tenth of them) or too many bytes of them
// (down to 90% of the budget). Eviction order depends only on event
// times and visitor ids, so every replica evicts the same sessions. The
// sort is O(n log n) but runs once per tenth of the sessions created.
func (t *sessions) evict(w statemachine.Writer, store string) error {
	if len(t.byVisitor) <= sessionsPerStore && t.bytes <= sessionBytesPerStore {
		return nil
	}
	type seen struct {
		v    string
		last int64
	}
	all := make([]seen, 0, len(t.byVisitor))
	for v, sess := range t.byVisitor {
		all = append(all, seen{v, sess.Last})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].last != all[j].last {
			return all[i].last < all[j].last
		}
		return all[i].v < all[j].v
	})
	n := 0
	if len(t.byVisitor) > sessionsPerStore {
		n = len(all) / 10
	}
	for k, x := range all {
		if k >= n && t.bytes <= sessionBytesPerStore*9/10 {
			break
		}
		t.bytes -= int64(t.byVisitor[x.v].size)
		delete(t.byVisitor, x.v)
		if err := w.Delete(recordKey(store, sessionKind, ingest.ID(x.v))); err != nil {
			return err
		}
	}
	return nil
}

// sessionKind keys visitor sessions beside the store's records.
const sessionKind ingest.Kind = "_sessions"

func (t *sessions) load(store string, visitor ingest.ID, value []byte) error {
	var sess *session
	var err error
	if len(value) > 0 && value[0] == '{' {
		// Written by a node before sessions went binary.
		sess = &session{}
		err = json.Unmarshal(value, sess)
	} else {
		sess, err = decodeSession(value)
	}
	if err != nil {
		return fmt.Errorf("store %s: bad session %s: %w", store, ingest.Quote(string(visitor)), err)
	}
	sess.size = len(value)
	t.bytes += int64(len(value))
	t.byVisitor[string(visitor)] = sess
	return nil
}

// Sessions are rewritten on every event of their visitor, so they are
// stored in a compact binary form rather than JSON (which cost 13% of a
// tracking call's CPU): version, last time, email, cart ids, recent items
// (id, kind, time), clicked products with their labels; from version 2,
// the latest search and its time. Version 1 values still decode.
const sessionCodecVersion = 2

func (sess *session) encode() []byte {
	b := make([]byte, 0, 64+24*len(sess.Recent))
	b = append(b, sessionCodecVersion)
	b = binary.AppendVarint(b, sess.Last)
	b = wire.AppendString(b, sess.Email)
	b = binary.AppendUvarint(b, uint64(len(sess.Cart)))
	for _, id := range sess.Cart {
		b = wire.AppendString(b, string(id))
	}
	b = binary.AppendUvarint(b, uint64(len(sess.Recent)))
	for _, it := range sess.Recent {
		b = wire.AppendString(b, string(it.ID))
		b = append(b, byte(it.Kind))
		b = binary.AppendVarint(b, it.Time)
	}
	clicked := make([]ingest.ID, 0, len(sess.Clicked))
	for id := range sess.Clicked {
		clicked = append(clicked, id)
	}
	sort.Slice(clicked, func(i, j int) bool { return clicked[i] < clicked[j] })
	b = binary.AppendUvarint(b, uint64(len(clicked)))
	for _, id := range clicked {
		b = wire.AppendString(b, string(id))
		labels := sess.Clicked[id]
		b = binary.AppendUvarint(b, uint64(len(labels)))
		for _, l := range labels {
			b = wire.AppendString(b, l)
		}
	}
	b = wire.AppendString(b, sess.Search)
	return binary.AppendVarint(b, sess.SearchTime)
}

var errCorruptSession = errors.New("corrupt session")

func decodeSession(b []byte) (*session, error) {
	d := wire.NewDecoder(b)
	v := d.Byte()
	if v != 1 && v != sessionCodecVersion {
		return nil, fmt.Errorf("%w: version %d", errCorruptSession, v)
	}
	sess := &session{Last: d.Varint(), Email: d.Str()}
	n := d.Uvarint()
	for i := uint64(0); i < n && d.Err() == nil; i++ {
		sess.Cart = append(sess.Cart, ingest.ID(d.Str()))
	}
	n = d.Uvarint()
	for i := uint64(0); i < n && d.Err() == nil; i++ {
		it := sessionItem{ID: ingest.ID(d.Str())}
		it.Kind = compute.EventKind(d.Byte())
		it.Time = d.Varint()
		sess.Recent = append(sess.Recent, it)
	}
	n = d.Uvarint()
	for i := uint64(0); i < n && d.Err() == nil; i++ {
		if sess.Clicked == nil {
			sess.Clicked = make(map[ingest.ID][]string)
		}
		id := ingest.ID(d.Str())
		m := d.Uvarint()
		var labels []string
		for j := uint64(0); j < m && d.Err() == nil; j++ {
			labels = append(labels, d.Str())
		}
		sess.Clicked[id] = labels
	}
	if v >= 2 {
		sess.Search, sess.SearchTime = d.Str(), d.Varint()
	}
	if d.Err() != nil || d.Len() != 0 {
		return nil, errCorruptSession
	}
	return sess, nil
}

// replayCoViewsLocked recounts the co-views of every session, pairing
// items as sessionAdd did when they arrived (known products only). Locks
// as for rebuildStatsLocked.
func (s *Store) replayCoViewsLocked() {
	visitors := make([]string, 0, len(s.sessions.byVisitor))
	for v := range s.sessions.byVisitor {
		visitors = append(visitors, v)
	}
	sort.Strings(visitors)
	for _, v := range visitors {
		rec := s.sessions.byVisitor[v].Recent
		for k, it := range rec {
			if idx, ok := s.catalog.items.lookup(it.ID); ok {
				s.countCoViews(idx, rec[max(0, k-sessionCoViewSpan):k])
			}
		}
	}
}

// VisitorItems returns a visitor's recent products, newest first, with
// the strongest behaviour seen for each (view < click < cart), and the
// visitor's cart.
func (s *Store) VisitorItems(visitor string) (items []ingest.ID, kinds []compute.EventKind, cart []ingest.ID) {
	t := &s.sessions
	t.mu.RLock()
	defer t.mu.RUnlock()
	sess := t.byVisitor[visitor]
	if sess == nil {
		return nil, nil, nil
	}
	for k := len(sess.Recent) - 1; k >= 0; k-- {
		items = append(items, sess.Recent[k].ID)
		kinds = append(kinds, sess.Recent[k].Kind)
	}
	return items, kinds, slices.Clone(sess.Cart)
}

// VisitorEmail is the email a visitor was linked to by log/email or a
// sale, if any.
func (s *Store) VisitorEmail(visitor string) string {
	t := &s.sessions
	t.mu.RLock()
	defer t.mu.RUnlock()
	if sess := t.byVisitor[visitor]; sess != nil {
		return sess.Email
	}
	return ""
}

// CurrentlyWatched lists the products visitors viewed most recently,
// newest first, each once.
func (s *Store) CurrentlyWatched() []ingest.ID {
	t := &s.sessions
	t.mu.RLock()
	defer t.mu.RUnlock()
	seen := make(map[ingest.ID]bool)
	var out []ingest.ID
	for k := len(t.watched) - 1; k >= 0; k-- {
		id := t.watched[k]
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
