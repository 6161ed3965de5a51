package engine

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/sibylhq/sibyl/compute"
	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/shard"
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
}

type sessionItem struct {
	ID   ingest.ID         `json:"i"`
	Kind compute.EventKind `json:"k"`
	Time int64             `json:"t"`
}

func (s *Store) applyEvents(w shard.Writer, body []byte) (Result, error) {
	evs, err := DecodeEvents(body)
	if err != nil {
		return Result{}, fmt.Errorf("%w: malformed events: %v", ErrRejected, err)
	}
	touched := make(map[string]bool)
	for i := range evs {
		if v := evs[i].Visitor; v != "" {
			s.track(&evs[i])
			touched[v] = true
		}
	}
	for v := range touched {
		if sess := s.sessions[v]; sess != nil {
			if err := w.Set(recordKey(s.ID, sessionKind, ingest.ID(v)), sess.encode()); err != nil {
				return Result{}, err
			}
		}
	}
	if err := s.evictSessions(w); err != nil {
		return Result{}, err
	}
	if s.labelsDirty {
		b, _ := json.Marshal(s.labels)
		if err := w.Set(recordKey(s.ID, metaKind, "labels"), b); err != nil {
			return Result{}, err
		}
		s.labelsDirty = false
	}
	return Result{Applied: len(evs)}, nil
}

// track updates the visitor's session and the co-view counts.
func (s *Store) track(e *Event) {
	sess := s.sessions[e.Visitor]
	if sess == nil {
		sess = &session{}
		s.sessions[e.Visitor] = sess
	}
	sess.Last = max(sess.Last, e.Time)
	switch e.Kind {
	case EventEmail:
		sess.Email = e.Email
	case EventProduct, EventClick:
		kind := compute.EventView
		if e.Kind == EventClick {
			kind = compute.EventClick
			s.countClick(sess, e)
		}
		for _, p := range e.Products {
			s.sessionAdd(sess, p, kind, e.Time)
			s.watched = append(s.watched, p)
		}
		if len(s.watched) > 2*watchedKept {
			s.watched = append(s.watched[:0], s.watched[len(s.watched)-watchedKept:]...)
		}
	case EventCartAdd:
		for _, p := range e.Products {
			s.sessionAdd(sess, p, compute.EventCart, e.Time)
			if !slices.Contains(sess.Cart, p) {
				sess.Cart = append(sess.Cart, p)
			}
		}
	case EventCartRemove:
		sess.Cart = slices.DeleteFunc(sess.Cart, func(id ingest.ID) bool { return slices.Contains(e.Products, id) })
	case EventBasketSet:
		sess.Cart = slices.Clone(e.Products)
		for _, p := range e.Products {
			s.sessionAdd(sess, p, compute.EventCart, e.Time)
		}
	case EventSale:
		sess.Cart = nil
		s.countSale(sess, e)
	}
	if e.Email != "" && sess.Email == "" {
		sess.Email = e.Email
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
	idx := s.items.add(p)
	s.countCoViews(idx, sess.Recent[max(0, len(sess.Recent)-sessionCoViewSpan):])
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
		if j, ok := s.items.lookup(o.ID); ok {
			others = append(others, j)
		}
	}
	s.sales.CoViewed.AddPairs(idx, others)
}

// evictSessions drops the least recently seen tenth of the visitors when
// the store holds too many. Eviction order depends only on event times
// and visitor ids, so every replica evicts the same sessions.
func (s *Store) evictSessions(w shard.Writer) error {
	if len(s.sessions) <= sessionsPerStore {
		return nil
	}
	type seen struct {
		v    string
		last int64
	}
	all := make([]seen, 0, len(s.sessions))
	for v, sess := range s.sessions {
		all = append(all, seen{v, sess.Last})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].last != all[j].last {
			return all[i].last < all[j].last
		}
		return all[i].v < all[j].v
	})
	for _, x := range all[:len(all)/10] {
		delete(s.sessions, x.v)
		if err := w.Delete(recordKey(s.ID, sessionKind, ingest.ID(x.v))); err != nil {
			return err
		}
	}
	return nil
}

// sessionKind keys visitor sessions beside the store's records.
const sessionKind ingest.Kind = "_sessions"

func (s *Store) loadSession(visitor ingest.ID, value []byte) error {
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
		return fmt.Errorf("store %s: bad session %q: %w", s.ID, visitor, err)
	}
	s.sessions[string(visitor)] = sess
	return nil
}

// Sessions are rewritten on every event of their visitor, so they are
// stored in a compact binary form rather than JSON (which cost 13% of a
// tracking call's CPU): version, last time, email, cart ids, recent items
// (id, kind, time), clicked products with their labels.
const sessionCodecVersion = 1

func (sess *session) encode() []byte {
	b := make([]byte, 0, 64+24*len(sess.Recent))
	b = append(b, sessionCodecVersion)
	b = binary.AppendVarint(b, sess.Last)
	b = appendString(b, sess.Email)
	b = binary.AppendUvarint(b, uint64(len(sess.Cart)))
	for _, id := range sess.Cart {
		b = appendString(b, string(id))
	}
	b = binary.AppendUvarint(b, uint64(len(sess.Recent)))
	for _, it := range sess.Recent {
		b = appendString(b, string(it.ID))
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
		b = appendString(b, string(id))
		labels := sess.Clicked[id]
		b = binary.AppendUvarint(b, uint64(len(labels)))
		for _, l := range labels {
			b = appendString(b, l)
		}
	}
	return b
}

var errCorruptSession = errors.New("corrupt session")

func decodeSession(b []byte) (*session, error) {
	d := decoder{b: b}
	if v := d.byte(); v != sessionCodecVersion {
		return nil, fmt.Errorf("%w: version %d", errCorruptSession, v)
	}
	sess := &session{Last: d.varint(), Email: d.string()}
	n := d.uvarint()
	for i := uint64(0); i < n && !d.err; i++ {
		sess.Cart = append(sess.Cart, ingest.ID(d.string()))
	}
	n = d.uvarint()
	for i := uint64(0); i < n && !d.err; i++ {
		it := sessionItem{ID: ingest.ID(d.string())}
		it.Kind = compute.EventKind(d.byte())
		it.Time = d.varint()
		sess.Recent = append(sess.Recent, it)
	}
	n = d.uvarint()
	for i := uint64(0); i < n && !d.err; i++ {
		if sess.Clicked == nil {
			sess.Clicked = make(map[ingest.ID][]string)
		}
		id := ingest.ID(d.string())
		m := d.uvarint()
		var labels []string
		for j := uint64(0); j < m && !d.err; j++ {
			labels = append(labels, d.string())
		}
		sess.Clicked[id] = labels
	}
	if d.err || len(d.b) != 0 {
		return nil, errCorruptSession
	}
	return sess, nil
}

// replayCoViews recounts the co-views of every loaded session, pairing
// items as sessionAdd did when they arrived.
func (s *Store) replayCoViews() {
	visitors := make([]string, 0, len(s.sessions))
	for v := range s.sessions {
		visitors = append(visitors, v)
	}
	sort.Strings(visitors)
	for _, v := range visitors {
		rec := s.sessions[v].Recent
		for k, it := range rec {
			s.countCoViews(s.items.add(it.ID), rec[max(0, k-sessionCoViewSpan):k])
		}
	}
}

// VisitorItems returns a visitor's recent products, newest first, with
// the strongest behaviour seen for each (view < click < cart), and the
// visitor's cart.
func (s *Store) VisitorItems(visitor string) (items []ingest.ID, kinds []compute.EventKind, cart []ingest.ID) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sess := s.sessions[visitor]
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
	s.mu.RLock()
	defer s.mu.RUnlock()
	if sess := s.sessions[visitor]; sess != nil {
		return sess.Email
	}
	return ""
}

// LabelStats is the attribution of one recommendation label: how often it
// was shown, clicked, and how many sold products were clicked from it
// earlier in the same session.
type LabelStats struct {
	Impressions int64 `json:"impressions"`
	Clicks      int64 `json:"clicks"`
	Sales       int64 `json:"sales"`
}

func (s *Store) label(l string) *LabelStats {
	st := s.labels[l]
	if st == nil {
		st = &LabelStats{}
		s.labels[l] = st
	}
	return st
}

func (s *Store) countClick(sess *session, e *Event) {
	if len(e.Labels) == 0 {
		return
	}
	if sess.Clicked == nil {
		sess.Clicked = make(map[ingest.ID][]string)
	}
	for _, p := range e.Products {
		sess.Clicked[p] = e.Labels
	}
	for _, l := range e.Labels {
		s.label(l).Clicks++
	}
	s.labelsDirty = true
}

func (s *Store) countSale(sess *session, e *Event) {
	for _, p := range e.Products {
		for _, l := range sess.Clicked[p] {
			s.label(l).Sales++
			s.labelsDirty = true
		}
	}
	sess.Clicked = nil // a sale closes the attribution window
}

// CountImpressions records that an answer carrying these labels was
// served. Impressions are counted where the read is served, not
// replicated: they are reads, and a lost count on a crash is acceptable.
func (s *Store) CountImpressions(labels []string) {
	s.impMu.Lock()
	for _, l := range labels {
		s.impressions[l]++
	}
	s.impMu.Unlock()
}

// Labels reports every label's attribution.
func (s *Store) Labels() map[string]LabelStats {
	s.mu.RLock()
	out := make(map[string]LabelStats, len(s.labels))
	for l, st := range s.labels {
		out[l] = *st
	}
	s.mu.RUnlock()
	s.impMu.Lock()
	for l, n := range s.impressions {
		st := out[l]
		st.Impressions = n
		out[l] = st
	}
	s.impMu.Unlock()
	return out
}
