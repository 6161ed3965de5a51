package quality

import "slices"

// SalesReport is search-sales's result: the same queries ranked with the
// store's signals (train-period popularity as the Score, as served) and
// by text relevance alone (no Score: ties by doc number).
type SalesReport struct {
	WithSales, TextOnly SearchMetrics
	Purchases           int
}

// RunSales runs search-sales on retail-temporal: a seeded sample of n
// test-period order lines (purchases), one words query per purchase from
// the bought product's name, ranked by a store that knows the train
// orders only.
func RunSales(d *Retail, n int, seed uint64) (*SalesReport, error) {
	return runSales(d, RetailCutoff, n, seed)
}

// RunSalesValidation is search-sales on the validation split: the train
// orders only, the last ValidationDays of them asking (as
// RetailValidation splits retail-temporal). Ranking choices are made on
// it, never on RunSales.
func RunSalesValidation(d *Retail, n int, seed uint64) (*SalesReport, error) {
	inner := *d
	inner.Orders = SplitRetail(d, RetailCutoff).Train
	return runSales(&inner, RetailCutoff-ValidationDays*24*3600, n, seed)
}

func runSales(d *Retail, cutoff int64, n int, seed uint64) (*SalesReport, error) {
	s := SplitRetail(d, cutoff)
	sib, err := NewSibylSearch(d, s.Train)
	if err != nil {
		return nil, err
	}
	var lines []int32 // the product of every test-period order line
	for _, o := range s.Test {
		lines = append(lines, o.Items...)
	}
	rep := &SalesReport{Purchases: len(lines)}
	pick := sampleItems(len(lines), n, seed)
	slices.Sort(pick) // sample, then in order: a case's query does not depend on the draw order
	targets := make([]int32, len(pick))
	for i, p := range pick {
		targets[i] = lines[p]
	}
	same := newSameName(d.Names)
	var r []int32
	for _, q := range MakeKnownQueries(KindWords, d.Names, targets, seed) {
		r = sib.Search(q.Text, false, true, searchDepth, r[:0])
		rep.WithSales.add(same.rankOf(r, q.Target))
		r = sib.Search(q.Text, false, false, searchDepth, r[:0])
		rep.TextOnly.add(same.rankOf(r, q.Target))
	}
	rep.WithSales.finish()
	rep.TextOnly.finish()
	return rep, nil
}
