package engine

import (
	"math"

	"github.com/sibylhq/sibyl/ingest"
)

// heldOrder is what a store keeps of an order in memory. Orders are most
// of a store's records (an Online-Retail-sized store: 386,326 lines), and
// as ingest.Order each line cost 32 bytes plus its product id string, 15
// of the demo store's 47 MB. Here a line is 12 bytes: the product's dense
// index and its quantity and price as packedDecimal, in one []int32
// (items, then quantities, then prices), so that the items are a slice
// the statistics and snapshots use as is. An order whose quantities or
// prices do not pack keeps its lines as given in unpacked (rare).
type heldOrder struct {
	ID       ingest.ID
	Time     int64
	Customer ingest.ID
	Email    string
	// cols holds n item indices, then n packed quantities, then n
	// packed prices (n lines); only the items when unpacked is set.
	cols     []int32
	n        int32
	unpacked []ingest.OrderLine
}

// items are the order's lines' product indices, in line order. The slice
// is never written after holdOrder: snapshots share it.
func (o *heldOrder) items() []int32 { return o.cols[:o.n:o.n] }

// hold converts a decoded order, giving unseen product ids an index
// (the catalog's write lock held).
func (x *itemIndex) hold(r *ingest.Order) *heldOrder {
	n := len(r.Products)
	h := &heldOrder{ID: r.ID, Time: r.Time, Customer: r.Customer, Email: r.Email, n: int32(n), cols: make([]int32, 3*n)}
	for k, l := range r.Products {
		h.cols[k] = x.add(l.ID)
	}
	for k, l := range r.Products {
		q, okQ := packDecimal(l.Quantity)
		p, okP := packDecimal(l.Price)
		if !okQ || !okP {
			h.cols = h.cols[:n:n]
			h.unpacked = make([]ingest.OrderLine, n)
			for i, l := range r.Products {
				// The index's copy of the id: one string per product.
				h.unpacked[i] = ingest.OrderLine{ID: x.ids[h.cols[i]], Quantity: l.Quantity, Price: l.Price}
			}
			return h
		}
		h.cols[n+k], h.cols[2*n+k] = int32(q), int32(p)
	}
	return h
}

// order is the record as it was given.
func (x *itemIndex) order(h *heldOrder) *ingest.Order {
	o := &ingest.Order{ID: h.ID, Time: h.Time, Customer: h.Customer, Email: h.Email}
	if h.unpacked != nil {
		o.Products = append([]ingest.OrderLine(nil), h.unpacked...)
		return o
	}
	n := int(h.n)
	o.Products = make([]ingest.OrderLine, n)
	for k := range o.Products {
		o.Products[k] = ingest.OrderLine{
			ID:       x.ids[h.cols[k]],
			Quantity: packedDecimal(h.cols[n+k]).value(),
			Price:    packedDecimal(h.cols[2*n+k]).value(),
		}
	}
	return o
}

// sameItems reports whether replacing h by r changes no statistic: same
// time, buyer and products line by line (quantities and prices are not
// counted).
func (x *itemIndex) sameItems(h *heldOrder, r *ingest.Order) bool {
	if h.Time != r.Time || int(h.n) != len(r.Products) || h.Customer != r.Customer || h.Email != r.Email {
		return false
	}
	for k, l := range r.Products {
		if i, ok := x.lookup(l.ID); !ok || i != h.cols[k] {
			return false
		}
	}
	return true
}

// packedDecimal is a float64 that is a short decimal (a price of 2.55, a
// quantity of 12), held exactly in 32 bits as m<<3 | e for the value
// m / 10^e, e in [0, 7], |m| < 2^28. Decoding divides, and IEEE division
// is correctly rounded, so packDecimal accepts x only when that division
// gives x back bit for bit: nothing is ever approximated.
type packedDecimal int32

var pow10 = [8]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7}

// packDecimal packs x, or reports false when x is no such decimal
// (-0, NaN, infinities, too many digits, too large).
func packDecimal(x float64) (packedDecimal, bool) {
	if x == 0 {
		return 0, !math.Signbit(x)
	}
	for e := range pow10 {
		m := math.Round(x * pow10[e])
		if math.Abs(m) >= 1<<28 {
			return 0, false
		}
		if m/pow10[e] == x {
			return packedDecimal(int32(m)<<3 | int32(e)), true
		}
	}
	return 0, false
}

func (p packedDecimal) value() float64 { return float64(int32(p)>>3) / pow10[p&7] }
