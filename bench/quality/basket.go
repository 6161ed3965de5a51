package quality

import (
	"github.com/sibylhq/sibyl/compute"
)

// BasketCase is one basket-protocol order: Query is the order's first line
// (in invoice order) whose item is known in train; Others are the order's
// other known items.
type BasketCase struct {
	Query  int32
	Others []int32
}

// BasketCases returns the basket protocol's cases: orders of the test
// period (every test-period order, whether or not its customer is a
// retail-temporal test user) with two or more distinct items known in
// train.
func BasketCases(orders []Order, known []bool) []BasketCase {
	var out []BasketCase
	for _, o := range orders {
		var kn []int32
		for _, it := range o.Items {
			if known[it] {
				kn = append(kn, it)
			}
		}
		if len(kn) >= 2 {
			out = append(out, BasketCase{Query: kn[0], Others: kn[1:]})
		}
	}
	return out
}

// BasketHR returns the share of cases where recommend(query)'s top 10
// holds at least one of the order's other items. recommend must not
// return the query item.
func BasketHR(cases []BasketCase, recommend func(query int32, dst []compute.Scored) []compute.Scored) float64 {
	if len(cases) == 0 {
		return 0
	}
	var hits int
	var buf []compute.Scored
	for _, c := range cases {
		buf = recommend(c.Query, buf[:0])
		for _, s := range buf[:min(10, len(buf))] {
			if s.Index != c.Query && containsInt32(c.Others, s.Index) {
				hits++
				break
			}
		}
	}
	return float64(hits) / float64(len(cases))
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
		return nil, err
	}
	for _, o := range orders {
		cp.AddBasket(o.Items)
	}
	return cp, nil
}
