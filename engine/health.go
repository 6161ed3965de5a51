package engine

import (
	"encoding/binary"
	"slices"
	"sync"

	"github.com/sibylhq/sibyl/compute"
	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/internal/wire"
	"github.com/sibylhq/sibyl/shard/statemachine"
)

// Data health counters (GET /v2/health/data and /dashboard/<store>).
//
// Everything a health check needs is counted at apply time, so that a
// request never scans the orders (a store may have millions): the
// catalog counters change on product upsert and delete, the order
// counters when an order is indexed or removed (both also run on Load,
// so these rebuild themselves from the records), and the tracking
// counters when an event is applied, from the event's own time, never
// the clock. The tracking counters are not derived from records, so
// they are written beside them (metaKind healthEventsKey) like the
// label counts.
//
// storeHealth has its own mutex, a leaf: apply takes it while holding
// the data locks its caller holds (the catalog write lock for records,
// the sessions write lock for events) and reads take it alone.

// HealthDays is how many days of per-day counts are kept for tracking
// events: the dashboard charts the last 30, two spare days absorb
// events stamped just before midnight on another replica's clock.
const HealthDays = 32

// Product fields a recommendation needs, in the order Health reports
// them.
const (
	FieldName = iota
	FieldPrice
	FieldURL
	FieldImage
	FieldCategories
	FieldCreatedAt
	numProductFields
)

// ProductFieldNames names the fields of Health.MissingFields.
var ProductFieldNames = [numProductFields]string{"name", "price", "url", "image", "categories", "created_at"}

// storeHealth is a store's data health counters.
type storeHealth struct {
	mu sync.Mutex

	products int
	// missing counts products lacking each required field.
	missing [numProductFields]int
	// badPrice counts products priced zero or below.
	badPrice int
	// sold[i] counts the order lines naming item i (engine item index;
	// indices are never reused, so the slice only grows with the index).
	sold []int32
	// soldProducts counts catalog products with at least one order line.
	soldProducts int
	// orderLines counts every line of the stored orders, unknownLines
	// those naming a product the catalog does not have now.
	orderLines, unknownLines int64
	orders, ordersNoBuyer    int
	// orderDays counts orders per day (unix days of the order's time).
	// One entry per day with orders: a store with ten years of orders
	// holds 3,650 small entries.
	orderDays map[int64]int32

	events eventHealth
	dirty  bool
}

// eventHealth is the tracking half, persisted (encode).
type eventHealth struct {
	// Days is a ring of per-day counts indexed by day % HealthDays.
	Days [HealthDays]EventDay
	// LastSale and LastClick are the newest event times (unix ms).
	LastSale  int64
	LastClick int64
	LastEvent int64
	// Sales counts log/sale events with a visitor; Influenced those of
	// them with a product the visitor had clicked from a recommendation
	// or a search earlier in the session.
	Sales      int64
	Influenced int64
}

// EventDay is one day's tracking events by kind.
type EventDay struct {
	Day    int64 // unix day (ms / 86,400,000)
	Views  int64
	Clicks int64
	Sales  int64
	Other  int64
}

// Total is every event of the day.
func (d EventDay) Total() int64 { return d.Views + d.Clicks + d.Sales + d.Other }

const msPerDay = 86_400_000

// healthEventsKey names the tracking counters beside the store's records
// (metaKind).
const healthEventsKey = "health_events"

// productAdded counts a product just indexed at item idx. The caller
// holds the catalog write-locked (or owns a store being loaded).
func (h *storeHealth) productAdded(p *ingest.Product, idx int32) { h.product(p, idx, 1) }

// productRemoved uncounts product id, about to leave the catalog c (if
// it is there). The caller holds the catalog write-locked.
func (h *storeHealth) productRemoved(c *catalog, id ingest.ID) {
	p := c.products[id]
	if p == nil {
		return
	}
	idx, ok := c.items.lookup(id)
	if !ok {
		idx = -1 // unreachable: every product has an index
	}
	h.product(p, idx, -1)
}

func (h *storeHealth) product(p *ingest.Product, idx int32, sign int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.products += sign
	for f, missing := range productGaps(p) {
		if missing {
			h.missing[f] += sign
		}
	}
	if p.Price <= 0 {
		h.badPrice += sign
	}
	if n := h.soldOf(idx); n > 0 {
		h.soldProducts += sign
		h.unknownLines -= int64(sign) * int64(n)
	}
}

// productGaps says which required fields p lacks. A price of 0 counts
// as missing: the record cannot tell an absent price from a zero one.
func productGaps(p *ingest.Product) [numProductFields]bool {
	return [numProductFields]bool{
		FieldName:       p.Name == "",
		FieldPrice:      p.Price == 0,
		FieldURL:        p.URL == "",
		FieldImage:      p.Image == "",
		FieldCategories: len(p.Categories) == 0,
		FieldCreatedAt:  p.CreatedAt == 0,
	}
}

func (h *storeHealth) soldOf(idx int32) int32 {
	if idx < 0 || int(idx) >= len(h.sold) {
		return 0
	}
	return h.sold[idx]
}

// order counts (sign 1) or uncounts (-1) an order being indexed or
// removed. known says whether item i is a catalog product; the caller
// holds the catalog and the sales part locked.
func (h *storeHealth) order(o *heldOrder, sign int, known func(int32) bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.orders += sign
	if buyerKey(o) == "" {
		h.ordersNoBuyer += sign
	}
	if h.orderDays == nil {
		h.orderDays = make(map[int64]int32)
	}
	day := floorDiv(o.Time, 86400)
	if h.orderDays[day] += int32(sign); h.orderDays[day] <= 0 {
		delete(h.orderDays, day)
	}
	for _, i := range o.items() {
		if i < 0 {
			continue
		}
		if int(i) >= len(h.sold) {
			h.sold = slices.Grow(h.sold, int(i)+1-len(h.sold))[:int(i)+1]
		}
		h.orderLines += int64(sign)
		h.sold[i] += int32(sign)
		switch {
		case !known(i):
			h.unknownLines += int64(sign)
		case sign > 0 && h.sold[i] == 1, sign < 0 && h.sold[i] == 0:
			h.soldProducts += sign
		}
	}
}

// event counts one applied tracking event at its own time. influenced
// says whether a sale's visitor had clicked one of its products from a
// recommendation or a search earlier in the session. The caller holds
// the sessions write-locked.
func (h *storeHealth) event(e *Event, influenced bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dirty = true
	ev := &h.events
	ev.LastEvent = max(ev.LastEvent, e.Time)
	switch e.Kind {
	case EventSale:
		ev.LastSale = max(ev.LastSale, e.Time)
		if e.Visitor != "" {
			ev.Sales++
			if influenced {
				ev.Influenced++
			}
		}
	case EventClick:
		ev.LastClick = max(ev.LastClick, e.Time)
	}
	day := floorDiv(e.Time, msPerDay)
	d := &ev.Days[floorMod(day, HealthDays)]
	switch {
	case d.Day > day:
		return // older than the ring keeps
	case d.Day < day:
		*d = EventDay{Day: day}
	}
	switch e.Kind {
	case EventProduct:
		d.Views++
	case EventClick:
		d.Clicks++
	case EventSale:
		d.Sales++
	default:
		d.Other++
	}
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

// saleInfluenced reports whether a sale event's products include one the
// visitor clicked from a recommendation (remembered with its labels) or
// whose strongest recent behaviour is a click (log/click is sent for
// recommendation and search results alike). A click followed by an
// add-to-cart shows as a cart in the session, so unlabelled clicks that
// were carted before the sale are not seen: the share is a lower bound.
// Called before the sale closes the session's attribution window.
func saleInfluenced(sess *session, e *Event) bool {
	if e.Kind != EventSale || sess == nil {
		return false
	}
	for _, p := range e.Products {
		if _, ok := sess.Clicked[p]; ok {
			return true
		}
		for _, it := range sess.Recent {
			if it.ID == p && it.Kind == compute.EventClick {
				return true
			}
		}
	}
	return false
}

// writeEvents persists the tracking counters when they changed. Every
// tracking command writes them, so they are encoded compactly (JSON of
// the ring cost 4 µs a command, twice the rest of applying a view).
func (h *storeHealth) writeEvents(w statemachine.Writer, store string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.dirty {
		return nil
	}
	if err := w.Set(recordKey(store, metaKind, healthEventsKey), h.events.encode()); err != nil {
		return err
	}
	h.dirty = false
	return nil
}

// healthCodecVersion leads the encoding of eventHealth: the version,
// the last sale, click and event times, the tracked and influenced
// sales, then the days with events, each as day, views, clicks, sales
// and other (all varints).
const healthCodecVersion = 1

func (ev *eventHealth) encode() []byte {
	b := make([]byte, 0, 48+24*4)
	b = append(b, healthCodecVersion)
	for _, v := range []int64{ev.LastSale, ev.LastClick, ev.LastEvent, ev.Sales, ev.Influenced} {
		b = binary.AppendVarint(b, v)
	}
	n := 0
	for _, d := range ev.Days {
		if d.Total() > 0 {
			n++
		}
	}
	b = binary.AppendUvarint(b, uint64(n))
	for _, d := range ev.Days {
		if d.Total() > 0 {
			for _, v := range []int64{d.Day, d.Views, d.Clicks, d.Sales, d.Other} {
				b = binary.AppendVarint(b, v)
			}
		}
	}
	return b
}

func decodeEventHealth(b []byte) (eventHealth, bool) {
	var ev eventHealth
	d := wire.NewDecoder(b)
	if d.Byte() != healthCodecVersion {
		return ev, false
	}
	ev.LastSale, ev.LastClick, ev.LastEvent, ev.Sales, ev.Influenced = d.Varint(), d.Varint(), d.Varint(), d.Varint(), d.Varint()
	n := d.Uvarint()
	if n > HealthDays {
		return ev, false
	}
	for i := uint64(0); i < n && d.Err() == nil; i++ {
		day := EventDay{Day: d.Varint(), Views: d.Varint(), Clicks: d.Varint(), Sales: d.Varint(), Other: d.Varint()}
		slot := &ev.Days[floorMod(day.Day, HealthDays)]
		// encode writes only days with events, each in its own slot,
		// and counts only grow from 0: anything else is corrupt.
		if day.Views < 0 || day.Clicks < 0 || day.Sales < 0 || day.Other < 0 || day.Total() <= 0 || slot.Total() > 0 {
			return ev, false
		}
		*slot = day
	}
	return ev, d.Err() == nil && d.Len() == 0
}

// loadEvents reads the counters writeEvents wrote. A value that does not
// decode is dropped (the counters start over): health counts are advice,
// and must not stop a shard from loading.
func (h *storeHealth) loadEvents(value []byte) {
	ev, ok := decodeEventHealth(value)
	if !ok {
		return
	}
	h.mu.Lock()
	h.events = ev
	h.mu.Unlock()
}

// Health is a copy of a store's data health counters.
type Health struct {
	Products int
	// MissingFields counts products lacking each of ProductFieldNames.
	MissingFields [numProductFields]int
	// BadPrices counts products priced zero or below.
	BadPrices int
	// NeverSold counts catalog products no stored order names.
	NeverSold int
	Orders    int
	// OrdersWithoutBuyer counts orders with neither a customer id nor
	// an email.
	OrdersWithoutBuyer int
	// OrderLines counts stored order lines; UnknownLines those naming a
	// product the catalog does not have.
	OrderLines, UnknownLines int64
	// OrderDays counts orders per unix day, for the days from the since
	// argument of Health on, oldest first.
	OrderDays []DayCount
	// EventDays are the kept days of tracking counts from since on,
	// oldest first.
	EventDays []EventDay
	// LastSale, LastClick and LastEvent are the newest tracking event
	// times (unix ms; 0: none seen).
	LastSale, LastClick, LastEvent int64
	// TrackedSales counts log/sale events with a visitor, Influenced
	// those attributed to a recommendation or search click.
	TrackedSales, Influenced int64
	// ModelTrainedAt is the wall clock (unix s) of the last training on
	// this node; 0: never.
	ModelTrainedAt int64
	// DataVersion is the store's data version (Version): a model built
	// at ModelInfo.Version is DataVersion - Version writes behind.
	DataVersion uint64
}

// Health returns the store's data health counters, with the per-day
// counts of the days from sinceDay (unix days) on. Its cost is bounded
// by the days with orders, never by the orders.
func (s *Store) Health(sinceDay int64) Health {
	h := &s.health
	h.mu.Lock()
	out := Health{
		Products:           h.products,
		MissingFields:      h.missing,
		BadPrices:          h.badPrice,
		NeverSold:          h.products - h.soldProducts,
		Orders:             h.orders,
		OrdersWithoutBuyer: h.ordersNoBuyer,
		OrderLines:         h.orderLines,
		UnknownLines:       h.unknownLines,
		LastSale:           h.events.LastSale,
		LastClick:          h.events.LastClick,
		LastEvent:          h.events.LastEvent,
		TrackedSales:       h.events.Sales,
		Influenced:         h.events.Influenced,
	}
	for day, n := range h.orderDays {
		if day >= sinceDay {
			out.OrderDays = append(out.OrderDays, DayCount{Day: day, N: int64(n)})
		}
	}
	for _, d := range h.events.Days {
		if d.Day >= sinceDay && d.Total() > 0 {
			out.EventDays = append(out.EventDays, d)
		}
	}
	h.mu.Unlock()
	slices.SortFunc(out.OrderDays, func(a, b DayCount) int { return int(a.Day - b.Day) })
	slices.SortFunc(out.EventDays, func(a, b EventDay) int { return int(a.Day - b.Day) })
	out.ModelTrainedAt = s.models.trainedAt.Load()
	out.DataVersion = s.Version()
	return out
}

// isProduct reports whether item i is in the catalog. The caller holds
// the catalog locked.
func (c *catalog) isProduct(i int32) bool {
	if i < 0 || int(i) >= len(c.items.ids) {
		return false
	}
	_, ok := c.products[c.items.ids[i]]
	return ok
}
