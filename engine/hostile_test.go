package engine

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/sibylhq/sibyl/ingest"
)

func longID(prefix string, i, n int) ingest.ID {
	s := fmt.Sprintf("%s%d-", prefix, i)
	return ingest.ID(s + strings.Repeat("x", n-len(s)))
}

// TestSessionWorstCaseSize drives one session to every bound with the
// longest strings ApplyLimits allows and checks the encoding stays under
// maxSessionBytes (and so far under the state Writer's value bound): the
// session is bounded by construction, not by luck.
func TestSessionWorstCaseSize(t *testing.T) {
	h := newHarness(t)
	lim := ApplyLimits
	label := func(i, j int) string { return fmt.Sprintf("%d-%d-", i, j) + strings.Repeat("l", lim.MaxLabelBytes-12) }
	email := strings.Repeat("e", lim.MaxEmailBytes-12) + "@example.com"
	var evs []Event
	for i := range 3 {
		var cart []ingest.ID
		for j := range lim.MaxEventProducts {
			cart = append(cart, longID(fmt.Sprintf("cart%d-", i), j, lim.MaxIDBytes))
		}
		evs = append(evs, Event{Kind: EventCartAdd, Visitor: "v", Products: cart[:lim.MaxEventProducts/2], Email: email, Time: 1})
	}
	for i := range 2 * clickedKept {
		var labels []string
		for j := range lim.MaxEventLabels {
			labels = append(labels, label(i, j))
		}
		evs = append(evs, Event{Kind: EventClick, Visitor: "v", Products: []ingest.ID{longID("click", i, lim.MaxIDBytes)}, Labels: labels, Time: 2})
	}
	for i := range evs {
		h.mustApply("s1", OpEvents, evs[i:i+1])
	}
	st := h.e.Store("s1")
	sess := st.sessions.byVisitor["v"]
	if len(sess.Cart) != cartKept || len(sess.Clicked) != clickedKept || len(sess.Recent) != sessionItemsKept {
		t.Fatalf("cart %d (want %d), clicked %d (want %d), recent %d (want %d)",
			len(sess.Cart), cartKept, len(sess.Clicked), clickedKept, len(sess.Recent), sessionItemsKept)
	}
	for p, l := range sess.Clicked {
		if len(l) != clickLabelsKept {
			t.Fatalf("clicked %.20s keeps %d labels, want %d", p, len(l), clickLabelsKept)
		}
	}
	b := sess.encode()
	t.Logf("worst-case session: %d bytes (bound %d)", len(b), maxSessionBytes)
	if len(b) > maxSessionBytes || len(b) < maxSessionBytes/4 {
		t.Fatalf("worst-case session encodes to %d bytes; bound %d is wrong", len(b), maxSessionBytes)
	}
	if st.sessions.bytes != int64(len(b)) {
		t.Fatalf("sessionBytes %d, want %d", st.sessions.bytes, len(b))
	}
}

// TestCartAddIsLinear: a cart_add of the most products an event may hold,
// repeated, keeps the cart bounded and runs without the quadratic scan
// (each add once cost a scan of the whole cart).
func TestCartOpsUseSets(t *testing.T) {
	h := newHarness(t)
	n := ApplyLimits.MaxEventProducts
	var ids []ingest.ID
	for i := range n {
		ids = append(ids, ingest.ID(fmt.Sprint("p", i)))
	}
	h.mustApply("s1", OpEvents, []Event{{Kind: EventCartAdd, Visitor: "v", Products: ids, Time: 1}})
	_, _, cart := h.e.Store("s1").VisitorItems("v")
	if len(cart) != cartKept || cart[0] != ids[n-cartKept] || cart[cartKept-1] != ids[n-1] {
		t.Fatalf("cart of %d: %v..., want the last %d added", len(cart), cart[:3], cartKept)
	}
	h.mustApply("s1", OpEvents, []Event{{Kind: EventCartRemove, Visitor: "v", Products: ids[:n-10], Time: 2}})
	if _, _, cart = h.e.Store("s1").VisitorItems("v"); len(cart) != 10 {
		t.Fatalf("cart after removal: %d items, want 10", len(cart))
	}
	h.mustApply("s1", OpEvents, []Event{{Kind: EventBasketSet, Visitor: "v", Products: append(ids[:3:3], ids[:3]...), Time: 3}})
	if _, _, cart = h.e.Store("s1").VisitorItems("v"); len(cart) != 3 {
		t.Fatalf("basket_set with repeats: cart %v, want 3 distinct", cart)
	}
}

// TestInvalidEventRejectsCommandBeforeMemory: one bad event rejects the
// whole command and nothing of it reaches memory or the Writer.
func TestInvalidEventRejectsCommandBeforeMemory(t *testing.T) {
	h := newHarness(t)
	res := h.apply("s1", OpEvents, []Event{
		{Kind: EventProduct, Visitor: "v", Products: []ingest.ID{"a"}, Time: 1},
		{Kind: EventEmail, Visitor: "v", Email: strings.Repeat("e", 1<<20), Time: 1},
	})
	err, _ := res.(error)
	if !errors.Is(err, ErrRejected) || len(err.Error()) > 300 {
		t.Fatalf("result %v, want a short ErrRejected", res)
	}
	if st := h.e.Store("s1"); st != nil {
		t.Fatal("the rejected command left its new store in memory")
	}
	if len(h.kv) != 0 {
		t.Fatalf("the rejected command wrote %d keys", len(h.kv))
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestHostileLabelFloodBoundedMemory replays the label flood (every
// request with new labels: 30 popular calls of 100k labels each once took
// a node from 0.6 to 2.1 GB) at the engine, as impressions and as
// replicated clicks, and checks memory and the label answer stay bounded
// and no count is lost (the displaced go to Other).
func TestHostileLabelFloodBoundedMemory(t *testing.T) {
	h := newHarness(t)
	h.mustApply("s1", "products.upsert", products("a"))
	st := h.e.Store("s1")
	before := heapInUse()
	const requests, perRequest = 10_000, 20 // 200k distinct labels
	labels := make([]string, perRequest)
	for r := range requests {
		for i := range labels {
			labels[i] = fmt.Sprintf("flood-%d-%d-%s", r, i, strings.Repeat("z", 90))
		}
		st.CountImpressions(labels)
	}
	for r := range 500 { // 10k distinct clicked labels, replicated
		evs := []Event{{Kind: EventClick, Visitor: fmt.Sprint("v", r), Products: []ingest.ID{"a"}, Labels: slicesClone(labels), Time: int64(r)}}
		for i := range evs[0].Labels {
			evs[0].Labels[i] = fmt.Sprintf("click-%d-%d", r, i)
		}
		h.mustApply("s1", OpEvents, evs)
	}
	grown := int64(heapInUse()) - int64(before)
	rows, total, other := st.LabelsPage(0, 1<<20)
	var imps, clicks int64
	for _, r := range rows {
		imps += r.Impressions
		clicks += r.Clicks
	}
	t.Logf("heap grew %d KiB for 210k distinct labels; %d labels kept", grown>>10, total)
	// Two tables of at most 1,000 labels of ~110 bytes, and 500 sessions.
	const bound = 8 << 20
	if grown > bound {
		t.Fatalf("label flood grew the heap by %d bytes, bound %d", grown, bound)
	}
	if total > 2*labelsKept || len(rows) != total {
		t.Fatalf("%d labels kept, at most %d", total, 2*labelsKept)
	}
	if imps+other.Impressions != requests*perRequest || clicks+other.Clicks != 500*perRequest {
		t.Fatalf("counts lost: impressions %d+%d, clicks %d+%d", imps, other.Impressions, clicks, other.Clicks)
	}
	// A label counted often survives the flood.
	st.CountImpressions([]string{"home-top"})
	for range 100 {
		st.CountImpressions([]string{"home-top"})
	}
	for r := range 5000 {
		st.CountImpressions([]string{fmt.Sprint("late-", r)})
	}
	rows, _, _ = st.LabelsPage(0, 1)
	if len(rows) != 1 || rows[0].Label != "home-top" || rows[0].Impressions != 101 {
		t.Fatalf("busiest label after a flood: %+v, want home-top with 101", rows)
	}
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

// TestHostileSeedFloodBoundedMemory: requests with many long, never
// repeated seed ids once grew the seed-list cache by 0.6 GB (it was
// bounded by entries only). The cache is now bounded in bytes.
func TestHostileSeedFloodBoundedMemory(t *testing.T) {
	h := newHarness(t)
	seed(h)
	st := h.e.Store("s1")
	st.Complementary([]ingest.ID{"a"})
	before := heapInUse()
	for r := range 3000 {
		seeds := []ingest.ID{"a"}
		for i := range ApplyLimits.MaxSeeds - 1 {
			seeds = append(seeds, longID(fmt.Sprintf("s%d-", r), i, ApplyLimits.MaxIDBytes))
		}
		if got := st.Complementary(seeds); len(got) == 0 {
			t.Fatal("complementary of a known seed answered nothing")
		}
	}
	grown := int64(heapInUse()) - int64(before)
	t.Logf("heap grew %d MiB after 3000 requests of 100 x 1 KiB seeds (~300 MB of keys)", grown>>20)
	// The cache's byte bound, plus slack for the allocator.
	if bound := int64(seededCacheBytes) + 16<<20; grown > bound {
		t.Fatalf("seed flood grew the heap by %d bytes, bound %d", grown, bound)
	}
	st.sales.seeded.mu.Lock()
	b := st.sales.seeded.bytes
	st.sales.seeded.mu.Unlock()
	if b > seededCacheBytes {
		t.Fatalf("seed cache holds %d bytes, bound %d", b, seededCacheBytes)
	}
}

// TestHostileUnknownProductFloodDoesNotGrowIndex: views of product ids the
// store does not know (any string the public key sends) stay in the
// visitor's bounded session but never enter the item index or the
// co-view statistics, which only the catalog and orders grow.
func TestHostileUnknownProductFloodDoesNotGrowIndex(t *testing.T) {
	h := newHarness(t)
	seed(h)
	st := h.e.Store("s1")
	known := len(st.items.ids)
	for r := range 100 {
		var ids []ingest.ID
		for i := range ApplyLimits.MaxEventProducts {
			ids = append(ids, ingest.ID(fmt.Sprintf("unknown-%d-%d", r, i)))
		}
		h.mustApply("s1", OpEvents, []Event{{Kind: EventProduct, Visitor: fmt.Sprint("v", r%3), Products: ids, Time: int64(r)}})
	}
	// Known products viewed together still count.
	h.mustApply("s1", OpEvents, []Event{{Kind: EventProduct, Visitor: "w", Products: []ingest.ID{"a", "c"}, Time: 200}})
	if got := len(st.items.ids); got != known {
		t.Fatalf("item index grew from %d to %d with unknown ids", known, got)
	}
	if items, _, _ := st.VisitorItems("v0"); len(items) != sessionItemsKept {
		t.Fatalf("session keeps %d items, want %d", len(items), sessionItemsKept)
	}
}

// TestHostileSessionFloodBoundedBytes: visitors with the largest sessions
// allowed are evicted (least recently seen first) to keep a store's
// encoded sessions under sessionBytesPerStore, and the stored state agrees
// with memory after the evictions.
func TestHostileSessionFloodBoundedBytes(t *testing.T) {
	defer func(b int64) { sessionBytesPerStore = b }(sessionBytesPerStore)
	sessionBytesPerStore = 2 << 20
	h := newHarness(t)
	var cart []ingest.ID
	for i := range cartKept {
		cart = append(cart, longID("c", i, ApplyLimits.MaxIDBytes))
	}
	for v := range 60 { // 60 sessions of ~200 KiB: 12 MiB without the bound
		h.mustApply("s1", OpEvents, []Event{{Kind: EventBasketSet, Visitor: fmt.Sprint("v", v), Products: cart, Time: int64(v)}})
	}
	st := h.e.Store("s1")
	var sum int64
	for _, sess := range st.sessions.byVisitor {
		sum += int64(len(sess.encode()))
	}
	if st.sessions.bytes != sum || sum > sessionBytesPerStore {
		t.Fatalf("sessions hold %d bytes (tracked %d), bound %d", sum, st.sessions.bytes, sessionBytesPerStore)
	}
	if st.sessions.byVisitor["v59"] == nil || st.sessions.byVisitor["v0"] != nil {
		t.Fatal("eviction did not drop the least recently seen first")
	}
	fresh := New(DefaultConfig())
	if err := fresh.Load(h.kv); err != nil {
		t.Fatal(err)
	}
	if got := len(fresh.Store("s1").sessions.byVisitor); got != len(st.sessions.byVisitor) {
		t.Fatalf("reloaded %d sessions, memory has %d", got, len(st.sessions.byVisitor))
	}
}
