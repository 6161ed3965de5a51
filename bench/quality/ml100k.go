package quality

import (
	"slices"

	"github.com/sibylhq/sibyl/compute"
)

// MLFold is one ml100k fold: every base rating is a positive; test users
// rank all items not in their base.
type MLFold struct {
	Matrix *compute.Interactions
	Cases  []Case
	Known  []bool
}

// Fold builds fold f (0-based) of the ml100k-5fold protocol.
func (d *ML100K) Fold(f int) *MLFold {
	b := compute.NewInteractionsBuilder(d.NumUsers, d.NumItems)
	known := make([]bool, d.NumItems)
	for _, r := range d.Base[f] {
		_ = b.Add(r.User, r.Item, 1)
		known[r.Item] = true
	}
	m := b.Build(nil)
	target := map[int32][]int32{}
	for _, r := range d.Test[f] {
		items, _ := m.Row(r.User)
		if _, in := slices.BinarySearch(items, r.Item); !in {
			target[r.User] = append(target[r.User], r.Item)
		}
	}
	var cases []Case
	for u, t := range target {
		slices.Sort(t)
		t = slices.Compact(t)
		items, _ := m.Row(u)
		cases = append(cases, Case{User: u, Exclude: items, Target: t})
	}
	slices.SortFunc(cases, func(a, b Case) int { return int(a.User - b.User) })
	return &MLFold{Matrix: m, Cases: cases, Known: known}
}
