// Explorations behind the defaults (validation numbers only) are slow and
// print tables rather than assert: they compile only with the explore tag,
// go test -tags explore -run TestExploreX ./bench/quality (docs/quality.md).

//go:build explore

package quality

import (
	"context"
	"math"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sibylhq/sibyl/compute"
)

// denseCo is an item x item co-occurrence matrix for offline exploration.
type denseCo struct {
	n int
	v []float32
}

func (d *denseCo) row(i int32) []float32 { return d.v[int(i)*d.n : int(i+1)*d.n] }

func (d *denseCo) addSet(items []int32, w float32) {
	for _, a := range items {
		r := d.row(a)
		for _, b := range items {
			if a != b {
				r[b] += w
			}
		}
	}
}

// basketSignals are the candidate signals of the complementary search,
// trained on one period's orders.
type basketSignals struct {
	order, orderRecent, customer, window *denseCo
	pop                                  []float32
	known                                []bool
	f                                    *compute.Factors
}

func newBasketSignals(t *testing.T, d *Retail, s *RetailSplit) *basketSignals {
	n := len(d.ItemIDs)
	b := &basketSignals{order: &denseCo{n, make([]float32, n*n)}, orderRecent: &denseCo{n, make([]float32, n*n)}, customer: &denseCo{n, make([]float32, n*n)}, window: &denseCo{n, make([]float32, n*n)}, pop: make([]float32, n), known: s.Known}
	var ref int64
	for _, o := range s.Train {
		ref = max(ref, o.Time)
	}
	for _, o := range s.Train {
		items := o.Items
		if len(items) > 100 {
			items = items[:100]
		}
		b.order.addSet(items, 1)
		b.orderRecent.addSet(items, compute.RecencyWeight(ref-o.Time, 60*86400))
	}
	for u := 0; u < s.Matrix.NumUsers; u++ {
		items, _ := s.Matrix.Row(int32(u))
		if len(items) > 300 {
			continue
		}
		b.customer.addSet(items, 1/float32(math.Log2(2+float64(len(items)))))
	}
	// Same-customer window: an order's items paired with the items of
	// the customer's other orders within 14 days (a visit-level signal
	// between the order and the customer's whole history).
	byUser := map[int32][]Order{}
	for _, o := range s.Train {
		if os.Getenv("SIBYL_EXPLORE") != "window" {
			break
		}
		byUser[o.User] = append(byUser[o.User], o)
	}
	for _, orders := range byUser {
		for a, oa := range orders {
			for c, oc := range orders {
				if a == c || oc.Time < oa.Time-14*86400 || oc.Time > oa.Time+14*86400 {
					continue
				}
				for _, x := range oa.Items {
					r := b.window.row(x)
					for _, y := range oc.Items {
						if x != y {
							r[y] += 0.5
						}
					}
				}
			}
		}
	}
	PopularityScorer(s.Matrix)(0, b.pop)
	f, _, err := TrainALS(context.Background(), s.Matrix, alsConfig(s.Matrix, 1))
	if err != nil {
		t.Fatal(err)
	}
	b.f = f
	return b
}

type blendCfg struct {
	recent, customer, factor, pop, window float32
	damp                                  float64
}

func (b *basketSignals) recommender(c blendCfg) func(q int32, dst []compute.Scored) []compute.Scored {
	n := len(b.pop)
	sc := make([]float32, n)
	cos := make([]float32, n)
	var maxPop float32
	for _, p := range b.pop {
		maxPop = max(maxPop, p)
	}
	norm := func(r []float32) float32 {
		var m float32
		for _, x := range r {
			m = max(m, x)
		}
		if m == 0 {
			return 0
		}
		return 1 / m
	}
	return func(q int32, dst []compute.Scored) []compute.Scored {
		ro, rr, rc, rw := b.order.row(q), b.orderRecent.row(q), b.customer.row(q), b.window.row(q)
		no, nr, nc, nw := norm(ro), norm(rr), norm(rc), norm(rw)
		if c.factor != 0 {
			b.f.ItemCosine(q, cos)
		}
		for j := range sc {
			if !b.known[j] {
				sc[j] = float32(math.Inf(-1))
				continue
			}
			v := ro[j]*no + c.recent*rr[j]*nr + c.customer*rc[j]*nc + c.pop*b.pop[j]/maxPop + c.window*rw[j]*nw
			if c.factor != 0 {
				v += c.factor * cos[j]
			}
			if c.damp != 0 && b.pop[j] > 0 {
				v /= float32(math.Pow(float64(b.pop[j]), c.damp))
			}
			sc[j] = v
		}
		sc[q] = float32(math.Inf(-1))
		return compute.TopK(sc, 10, nil, dst)
	}
}

// TestExploreBasket records the complementary search on the basket
// protocol: configurations are compared on the validation window (last 30
// days of train) only; it never computes nor prints a test-split number
// (the test split is for the production defaults, `sibyl eval`). Run with
// -tags explore (the weight grid; SIBYL_EXPLORE=window: the 14-day
// window signal).
func TestExploreBasket(t *testing.T) {
	inner, val := validationSplit(t)
	valCases := BasketVariantCases(val.Test, val.Known, val.TrainUser, BasketProtocol)
	vs := newBasketSignals(t, inner, val)
	cfgs := []blendCfg{{}}
	if os.Getenv("SIBYL_EXPLORE") == "window" {
		// Second round: a same-customer 14-day window signal on top of
		// the chosen blend.
		for _, w := range []float32{0, 0.5, 1, 2} {
			cfgs = append(cfgs, blendCfg{recent: 1, customer: 1, factor: 0.1, window: w}, blendCfg{recent: 1, factor: 0.1, window: w})
		}
	} else {
		for _, r := range []float32{0, 1, 2} {
			for _, cu := range []float32{0, 1, 2} {
				for _, f := range []float32{0, 0.1} {
					for _, p := range []float32{0, 0.02} {
						cfgs = append(cfgs, blendCfg{recent: r, customer: cu, factor: f, pop: p})
					}
				}
			}
		}
		cfgs = append(cfgs, blendCfg{damp: -0.25}, blendCfg{damp: 0.25})
	}
	valHR := make([]float64, len(cfgs))
	forEachParallel(len(cfgs), func(i int) {
		valHR[i] = BasketHR(valCases, vs.recommender(cfgs[i]))
	})
	best := 0
	for i, c := range cfgs {
		if valHR[i] > valHR[best] {
			best = i
		}
		t.Logf("%+v validation HR@10 %.4f", c, valHR[i])
	}
	t.Logf("BEST on validation %+v: %.4f (raw counts: %.4f)", cfgs[best], valHR[best], valHR[0])
}

// validationSplit is the validation window of the retail protocols: the
// training period (orders before RetailCutoff) split again ValidationDays
// before its end. Exploration works on it only.
func validationSplit(t *testing.T) (*Retail, *RetailSplit) {
	t.Helper()
	d := loadRetail(t)
	inner := *d
	inner.Orders = SplitRetail(d, RetailCutoff).Train
	return &inner, SplitRetail(&inner, RetailCutoff-ValidationDays*86400)
}

// forEachParallel runs fn(0..n-1) on GOMAXPROCS goroutines.
func forEachParallel(n int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// TestExploreBasketReadings reports the production complementary on the
// basket validation window under every reading of BasketVariants (the
// protocol's per-query HR@10, per order, train customers, first line), as
// `sibyl eval --protocol basket` does on test.
func TestExploreBasketReadings(t *testing.T) {
	inner, val := validationSplit(t)
	model, st, err := BuildRetailModel(context.Background(), inner, val.Train, compute.DefaultModelConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	scratch := make([]float32, len(inner.ItemIDs))
	for _, v := range BasketVariants {
		cases := BasketVariantCases(val.Test, val.Known, val.TrainUser, v)
		hr := BasketHR(cases, func(q int32, dst []compute.Scored) []compute.Scored {
			return model.Complementary(st, q, 10, nil, scratch, dst)
		})
		t.Logf("validation, production complementary, %s: HR@10 %.4f (%d queries)", v.Name, hr, len(cases))
	}
}
