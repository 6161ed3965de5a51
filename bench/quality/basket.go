package quality

import (
	"fmt"

	"github.com/sibylhq/sibyl/compute"
)

// BasketQuery says which item(s) of an order ask `complementary`.
type BasketQuery uint8

const (
	// QueryEveryItem asks with every known item of the order in turn; the
	// other known items are its hits. The protocol text says "complementary
	// of one item", for each order, without naming the item: every item is
	// the reading that does not invent a choice.
	QueryEveryItem BasketQuery = iota
	// QueryFirstLine asks once per order, with its first known line
	// (invoice order).
	QueryFirstLine
)

// BasketVariant is one reading of the basket check's text: "for each test
// order with two or more known items, does complementary of one item hit
// another item of the same order in its top 10?".
type BasketVariant struct {
	Name  string
	Query BasketQuery
	// PerOrder averages each order's queries first, so every order weighs
	// the same; otherwise every query weighs the same (large orders count
	// more).
	PerOrder bool
	// TrainCustomersOnly keeps only orders whose customer also bought in
	// the training period (the retail-temporal test users' population).
	TrainCustomersOnly bool
}

// BasketProtocol is THE basket protocol (docs/quality.md): every known
// item of every test order is a query, each query weighs the same, every
// customer's orders count.
var BasketProtocol = BasketVariant{Name: "every item, per query", Query: QueryEveryItem}

// BasketVariants are the readings evaluated side by side; the first is
// BasketProtocol, "first line, per order" is this repository's earlier
// (stricter) definition.
var BasketVariants = []BasketVariant{
	BasketProtocol,
	{Name: "every item, per order", Query: QueryEveryItem, PerOrder: true},
	{Name: "every item, per query, train customers", Query: QueryEveryItem, TrainCustomersOnly: true},
	{Name: "first line, per order (previous)", Query: QueryFirstLine},
}

// BasketCase is one query of the basket check: does complementary(Query)
// hold any of Others in its top 10? Weight (0 means 1) is the case's share
// of its order when the variant averages per order.
type BasketCase struct {
	Query  int32
	Others []int32
	Weight float64
}

// BasketCases returns the previous definition's cases (first known line
// of every test-period order with two or more distinct known items).
func BasketCases(orders []Order, known []bool) []BasketCase {
	return BasketVariantCases(orders, known, nil, BasketVariant{Query: QueryFirstLine})
}

// BasketVariantCases returns v's cases over orders (of the test period).
// Known items were sold in train; unknown items are ignored entirely, as
// no model can return them. trainUser (may be nil unless
// v.TrainCustomersOnly) reports whether a customer bought in train.
// Orders hold distinct items already (duplicate lines are merged on load).
func BasketVariantCases(orders []Order, known []bool, trainUser func(u int32) bool, v BasketVariant) []BasketCase {
	var out []BasketCase
	for _, o := range orders {
		if v.TrainCustomersOnly && !trainUser(o.User) {
			continue
		}
		var kn []int32
		for _, it := range o.Items {
			if known[it] {
				kn = append(kn, it)
			}
		}
		if len(kn) < 2 {
			continue
		}
		if v.Query == QueryFirstLine {
			out = append(out, BasketCase{Query: kn[0], Others: kn[1:], Weight: 1})
			continue
		}
		w := 1.0
		if v.PerOrder {
			w = 1 / float64(len(kn))
		}
		for q := range kn {
			others := make([]int32, 0, len(kn)-1)
			others = append(others, kn[:q]...)
			others = append(others, kn[q+1:]...)
			out = append(out, BasketCase{Query: kn[q], Others: others, Weight: w})
		}
	}
	return out
}

// BasketHR returns the weighted share of cases where recommend(query)'s
// top 10 holds at least one of the order's other items. recommend must
// not return the query item.
func BasketHR(cases []BasketCase, recommend func(query int32, dst []compute.Scored) []compute.Scored) float64 {
	var hits, total float64
	var buf []compute.Scored
	for _, c := range cases {
		w := c.Weight
		if w == 0 {
			w = 1
		}
		total += w
		buf = recommend(c.Query, buf[:0])
		for _, s := range buf[:min(10, len(buf))] {
			if s.Index != c.Query && containsInt32(c.Others, s.Index) {
				hits += w
				break
			}
		}
	}
	if total == 0 {
		return 0
	}
	return hits / total
}

// popularTop appends the 10 best of top11 (the 11 most popular items,
// best first) other than q: the popularity baseline of the basket check.
func popularTop(top11 []compute.Scored, q int32, dst []compute.Scored) []compute.Scored {
	for _, s := range top11 {
		if s.Index != q && len(dst) < 10 {
			dst = append(dst, s)
		}
	}
	return dst
}

func containsInt32(s []int32, v int32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TrainCoPurchase builds co-purchase counts from orders.
func TrainCoPurchase(orders []Order, numItems int, cfg compute.CoPurchaseConfig) (*compute.CoPurchase, error) {
	cp, err := compute.NewCoPurchase(numItems, cfg)
	if err != nil {
		return nil, fmt.Errorf("cannot count co-purchases: %w", err)
	}
	for _, o := range orders {
		cp.AddBasket(o.Items)
	}
	return cp, nil
}
