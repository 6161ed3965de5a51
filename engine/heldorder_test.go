package engine

import (
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"

	"github.com/sibylhq/sibyl/ingest"
)

// packDecimal must give back every value bit for bit, and pack the
// decimals shops use.
func TestPackDecimalExact(t *testing.T) {
	tenth, fifth := 0.1, 0.2 // variables: constants would add exactly
	packs := []float64{0, 1, 2.55, 0.1, 12, -3.75, 1e-7, 99999.99, 0.0001, 26.8435455, -1}
	for _, x := range packs {
		p, ok := packDecimal(x)
		if !ok {
			t.Errorf("%v does not pack", x)
			continue
		}
		if got := p.value(); math.Float64bits(got) != math.Float64bits(x) {
			t.Errorf("%v packs to %v", x, got)
		}
	}
	for _, x := range []float64{math.Copysign(0, -1), math.NaN(), math.Inf(1), math.Inf(-1), tenth + fifth, 1e-8, 1 << 28, 123456789.5, math.Pi, 5e-324} {
		if p, ok := packDecimal(x); ok && math.Float64bits(p.value()) != math.Float64bits(x) {
			t.Errorf("%v packs, lossily, to %v", x, p.value())
		} else if ok {
			t.Errorf("%v packs; it should not", x)
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	packed := 0
	for range 200000 {
		var x float64
		switch rng.IntN(3) {
		case 0: // short decimals, as typed
			x, _ = strconv.ParseFloat(strconv.FormatFloat(rng.Float64()*1000, 'f', rng.IntN(8), 64), 64)
		case 1: // arbitrary doubles
			x = math.Float64frombits(rng.Uint64())
		default:
			x = rng.NormFloat64() * 100
		}
		p, ok := packDecimal(x)
		if !ok {
			continue
		}
		packed++
		if got := p.value(); math.Float64bits(got) != math.Float64bits(x) {
			t.Fatalf("%v (%x) packs to %v", x, math.Float64bits(x), got)
		}
	}
	// A third are decimals below 1000 with 0-7 places: those with up to
	// 5 places fit 28 bits, 3/4 of them.
	if packed < 45000 {
		t.Fatalf("only %d of 200000 values packed: short decimals should", packed)
	}
}

// An order comes back from the store exactly as it was stored, whether
// its lines pack or not, and its statistics come from its products.
func TestHeldOrderRoundTrip(t *testing.T) {
	h := newHarness(t)
	h.mustApply("s", "products.upsert", products("a", "b", "c"))
	tenth, fifth := 0.1, 0.2
	orders := []ingest.Order{
		{ID: "o1", Time: 10, Customer: "c1", Products: []ingest.OrderLine{{ID: "a", Quantity: 2, Price: 2.55}, {ID: "b", Quantity: 0.25, Price: 1250}}},
		{ID: "o2", Time: 11, Email: "X@Y.example", Products: []ingest.OrderLine{{ID: "c", Quantity: 1, Price: tenth + fifth}, {ID: "new", Quantity: 3, Price: 4}}},
		{ID: "o3", Time: 12, Customer: "c1", Products: []ingest.OrderLine{{ID: "b", Quantity: 1e9, Price: math.Pi}}},
	}
	h.mustApply("s", "orders.upsert", orders)
	st := h.e.Store("s")
	var ids []ingest.ID
	for _, o := range orders {
		ids = append(ids, o.ID)
	}
	got := st.Get(ingest.KindOrders, ids)
	for i, r := range got {
		if !reflect.DeepEqual(*r.(*ingest.Order), orders[i]) {
			t.Fatalf("order %s came back as %+v, want %+v", orders[i].ID, *r.(*ingest.Order), orders[i])
		}
	}
	if st.sales.orders["o1"].unpacked != nil || st.sales.orders["o2"].unpacked == nil {
		t.Fatalf("o1 should be packed, o2 (price 0.1+0.2) not")
	}
	if n := st.sales.stats.CoBought.Count(st.items.idx["a"], st.items.idx["b"]); n != 1 {
		t.Fatalf("a and b co-bought %v times, want 1", n)
	}
	if n := st.sales.stats.CoBought.Count(st.items.idx["c"], st.items.idx["new"]); n != 1 {
		t.Fatalf("c and new co-bought %v times, want 1", n)
	}
	hist, err := st.CustomerHistory("c1", "")
	if err != nil || !reflect.DeepEqual(hist, []ingest.ID{"b", "a"}) {
		t.Fatalf("history of c1 = %v, %v; want [b a]", hist, err)
	}
}
