package engine

import (
	"reflect"
	"testing"

	"github.com/sibylhq/sibyl/ingest"
)

// TestHealthCounters builds a store with known problems and checks each
// counter, then that a reload from the records gives the same counters
// and that deletes and replacements uncount what they remove.
func TestHealthCounters(t *testing.T) {
	h := newHarness(t)
	ps := products("a", "b", "c", "d") // named, priced 1..4, created, no url/image/categories
	ps[0].Image, ps[0].URL, ps[0].Categories = "a.jpg", "/a", []ingest.ID{"k"}
	ps[1].Price = 0
	ps[2].Price = -5
	h.mustApply("s1", "products.upsert", ps)
	h.mustApply("s1", "orders.upsert", []ingest.Order{
		order("o1", "u1", 10*day, "a", "ghost"),
		order("o2", "", 10*day+5, "a"),
		order("o3", "u2", 12*day, "b", "ghost", "ghost2"),
	})
	h.mustApply("s1", OpEvents, []Event{
		{Kind: EventClick, Visitor: "v1", Products: []ingest.ID{"a"}, Labels: []string{"home"}, Time: 12*day*1000 + 1},
		{Kind: EventProduct, Visitor: "v1", Products: []ingest.ID{"c"}, Time: 12*day*1000 + 2},
		{Kind: EventSale, Visitor: "v1", Sale: "o9", Products: []ingest.ID{"a"}, Time: 12*day*1000 + 3},
		{Kind: EventSale, Visitor: "v2", Sale: "o8", Products: []ingest.ID{"c"}, Time: 13*day*1000 + 4},
		{Kind: EventCategory, Visitor: "v2", Category: "k", Time: 1}, // day 0: older than the ring keeps
	})
	st := h.e.Store("s1")
	got := st.Health(11)
	want := Health{
		Products:           4,
		MissingFields:      [numProductFields]int{FieldPrice: 1, FieldURL: 3, FieldImage: 3, FieldCategories: 3},
		BadPrices:          2,
		NeverSold:          2, // c, d
		Orders:             3,
		OrdersWithoutBuyer: 1,
		OrderLines:         6,
		UnknownLines:       3,
		OrderDays:          []DayCount{{Day: 12, N: 1}},
		EventDays: []EventDay{
			{Day: 12, Views: 1, Clicks: 1, Sales: 1},
			{Day: 13, Sales: 1},
		},
		LastSale:     13*day*1000 + 4,
		LastClick:    12*day*1000 + 1,
		LastEvent:    13*day*1000 + 4,
		TrackedSales: 2,
		Influenced:   1,
	}
	want.DataVersion = 2 // two data commands; events leave the version alone
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("health\n got %+v\nwant %+v", got, want)
	}

	// The same counters after a reload from the records.
	fresh := New(DefaultConfig())
	if err := fresh.Load(h.kv); err != nil {
		t.Fatal(err)
	}
	if re := fresh.Store("s1").Health(11); !reflect.DeepEqual(re, want) {
		t.Fatalf("after reload\n got %+v\nwant %+v", re, want)
	}

	// A product arriving names the ghost lines; deleting a sold product
	// and an order uncounts them; fixing a price clears it.
	h.mustApply("s1", "products.upsert", []ingest.Product{{ID: "ghost", Name: "g", Price: 3, CreatedAt: 1}, {ID: "b", Name: "b", Price: 9, CreatedAt: 1}})
	h.mustApply("s1", "orders.delete", []ingest.ID{"o2"})
	h.mustApply("s1", "products.delete", []ingest.ID{"a"})
	got = st.Health(0)
	if got.Products != 4 || got.BadPrices != 1 || got.UnknownLines != 2 || got.OrderLines != 5 ||
		got.Orders != 2 || got.OrdersWithoutBuyer != 0 || got.NeverSold != 2 || got.MissingFields[FieldPrice] != 0 {
		t.Fatalf("after changes: %+v", got)
	}
	if want := []DayCount{{Day: 10, N: 1}, {Day: 12, N: 1}}; !reflect.DeepEqual(got.OrderDays, want) {
		t.Fatalf("order days %v, want %v", got.OrderDays, want)
	}
}

// TestHealthEventRingKeepsRecentDays: a newer day takes an older day's
// slot; an event older than its slot's day is not counted per day.
func TestHealthEventRingKeepsRecentDays(t *testing.T) {
	h := newHarness(t)
	ev := func(d int64) Event {
		return Event{Kind: EventProduct, Visitor: "v", Products: []ingest.ID{"p"}, Time: d * msPerDay}
	}
	h.mustApply("s1", OpEvents, []Event{ev(5), ev(5 + HealthDays), ev(5)})
	got := h.e.Store("s1").Health(0).EventDays
	if want := []EventDay{{Day: 5 + HealthDays, Views: 1}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("event days %v, want %v", got, want)
	}
}

func TestEventHealthCodecRoundTrip(t *testing.T) {
	var ev eventHealth
	ev.LastSale, ev.LastClick, ev.LastEvent, ev.Sales, ev.Influenced = 5, -6, 7, 8, 9
	ev.Days[3] = EventDay{Day: 3, Views: 1, Other: 1 << 40}
	ev.Days[floorMod(-1, HealthDays)] = EventDay{Day: -1, Clicks: 2, Sales: 3}
	got, ok := decodeEventHealth(ev.encode())
	if !ok || got != ev {
		t.Fatalf("decoded %+v (%v), want %+v", got, ok, ev)
	}
	for _, bad := range [][]byte{nil, {0}, {healthCodecVersion}, append(ev.encode(), 0), ev.encode()[:10]} {
		if _, ok := decodeEventHealth(bad); ok {
			t.Errorf("decoded corrupt value %v", bad)
		}
	}
}

// FuzzDecodeEventHealth: a stored value never panics the loader, and
// what decodes encodes back to an equal value.
func FuzzDecodeEventHealth(f *testing.F) {
	var ev eventHealth
	ev.Days[1] = EventDay{Day: 1, Views: 3}
	f.Add(ev.encode())
	f.Add([]byte{healthCodecVersion, 0, 0, 0, 0, 0, 200})
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, ok := decodeEventHealth(b)
		if !ok {
			return
		}
		if again, ok := decodeEventHealth(ev.encode()); !ok || again != ev {
			t.Fatalf("re-encoding changed %+v into %+v", ev, again)
		}
	})
}

// TestHealthInfluencedSales: a sale counts as influenced when one of its
// products was clicked earlier in the visit, with labels or without; a
// view alone, or a click in another visit, does not count.
func TestHealthInfluencedSales(t *testing.T) {
	h := newHarness(t)
	h.mustApply("s1", "products.upsert", products("a", "b"))
	ids := func(s ...ingest.ID) []ingest.ID { return s }
	h.mustApply("s1", OpEvents, []Event{
		{Kind: EventClick, Visitor: "v1", Products: ids("a"), Time: 1},            // unlabelled click
		{Kind: EventSale, Visitor: "v1", Sale: "s1", Products: ids("a"), Time: 2}, // influenced
		{Kind: EventSale, Visitor: "v1", Sale: "s2", Products: ids("b"), Time: 3}, // b never clicked
		{Kind: EventProduct, Visitor: "v2", Products: ids("a"), Time: 4},          // a view only
		{Kind: EventSale, Visitor: "v2", Sale: "s3", Products: ids("a"), Time: 5}, // not influenced
		{Kind: EventClick, Visitor: "v3", Products: ids("b"), Labels: []string{"x"}, Time: 6},
		{Kind: EventSale, Visitor: "v3", Sale: "s4", Products: ids("a", "b"), Time: 7}, // influenced
		{Kind: EventSale, Sale: "s5", Products: ids("b"), Time: 8},                     // no visitor: not a tracked sale
	})
	got := h.e.Store("s1").Health(0)
	if got.TrackedSales != 4 || got.Influenced != 2 || got.LastSale != 8 || got.LastClick != 6 {
		t.Fatalf("tracked %d, influenced %d, last sale %d, last click %d; want 4, 2, 8, 6", got.TrackedSales, got.Influenced, got.LastSale, got.LastClick)
	}
}
