package compute

import (
	"errors"
	"fmt"
	"slices"
)

// ErrEmpty is returned when there is nothing to learn from.
var ErrEmpty = errors.New("no interactions")

// ErrIndex is returned when an index is outside the declared range.
var ErrIndex = errors.New("index out of range")

// Interactions is an implicit-feedback matrix in compressed sparse row form:
// row u holds the items user u interacted with and a positive strength per
// item (e.g. number of purchases). Rows are sorted by item and hold each item
// at most once. Build it with an InteractionsBuilder.
type Interactions struct {
	NumUsers, NumItems int
	// Indptr has NumUsers+1 entries; row u is Items[Indptr[u]:Indptr[u+1]].
	Indptr  []int64
	Items   []int32
	Weights []float32
}

// Row returns user u's items and weights (shared, do not modify).
func (m *Interactions) Row(u int32) ([]int32, []float32) {
	lo, hi := m.Indptr[u], m.Indptr[u+1]
	return m.Items[lo:hi], m.Weights[lo:hi]
}

// NNZ is the number of stored (user, item) pairs.
func (m *Interactions) NNZ() int { return len(m.Items) }

// Transpose returns the item-major copy of m (rows are items, columns users).
func (m *Interactions) Transpose() *Interactions {
	t := &Interactions{NumUsers: m.NumItems, NumItems: m.NumUsers}
	t.Indptr = make([]int64, m.NumItems+1)
	for _, it := range m.Items {
		t.Indptr[it+1]++
	}
	for i := 0; i < m.NumItems; i++ {
		t.Indptr[i+1] += t.Indptr[i]
	}
	t.Items = make([]int32, len(m.Items))
	t.Weights = make([]float32, len(m.Items))
	next := slices.Clone(t.Indptr[:m.NumItems])
	for u := 0; u < m.NumUsers; u++ {
		for p := m.Indptr[u]; p < m.Indptr[u+1]; p++ {
			it := m.Items[p]
			q := next[it]
			next[it]++
			t.Items[q] = int32(u)
			t.Weights[q] = m.Weights[p]
		}
	}
	return t
}

// InteractionsBuilder accumulates (user, item, weight) triples; repeated
// pairs add up, in the order they were added. The zero value is not
// usable; call NewInteractionsBuilder.
type InteractionsBuilder struct {
	numUsers, numItems int
	// The triples as added (12 bytes each); Build groups them by user
	// with a counting sort, then sorts each row, instead of keeping a map
	// per user.
	users, items []int32
	weights      []float32
}

// NewInteractionsBuilder returns a builder for a numUsers x numItems matrix.
func NewInteractionsBuilder(numUsers, numItems int) *InteractionsBuilder {
	return &InteractionsBuilder{numUsers: numUsers, numItems: numItems}
}

// grow makes room for n more Add calls.
func (b *InteractionsBuilder) grow(n int) {
	b.users = slices.Grow(b.users, n)
	b.items = slices.Grow(b.items, n)
	b.weights = slices.Grow(b.weights, n)
}

// Add adds w to the (user, item) cell.
func (b *InteractionsBuilder) Add(user, item int32, w float32) error {
	if user < 0 || int(user) >= b.numUsers || item < 0 || int(item) >= b.numItems {
		return fmt.Errorf("cannot add interaction (%d, %d) to a %dx%d matrix: %w", user, item, b.numUsers, b.numItems, ErrIndex)
	}
	b.users = append(b.users, user)
	b.items = append(b.items, item)
	b.weights = append(b.weights, w)
	return nil
}

// Build returns the CSR matrix. transform, when not nil, maps each summed
// cell value to the stored weight (e.g. log1p of a purchase count).
func (b *InteractionsBuilder) Build(transform func(float32) float32) *Interactions {
	m := &Interactions{NumUsers: b.numUsers, NumItems: b.numItems, Indptr: make([]int64, b.numUsers+1)}
	// Counting sort of the triples by user, stable: each row keeps the
	// order of its Add calls.
	start := make([]int, b.numUsers+1)
	for _, u := range b.users {
		start[u+1]++
	}
	for u := 0; u < b.numUsers; u++ {
		start[u+1] += start[u]
	}
	type cell struct {
		item int32
		w    float32
	}
	cells := make([]cell, len(b.users))
	next := slices.Clone(start[:b.numUsers])
	for t, u := range b.users {
		cells[next[u]] = cell{b.items[t], b.weights[t]}
		next[u]++
	}
	m.Items = make([]int32, 0, len(cells))
	m.Weights = make([]float32, 0, len(cells))
	for u := 0; u < b.numUsers; u++ {
		row := cells[start[u]:start[u+1]]
		// Stable, so repeated pairs are summed in Add order.
		slices.SortStableFunc(row, func(x, y cell) int { return int(x.item) - int(y.item) })
		for j := 0; j < len(row); {
			it, sum := row[j].item, float32(0)
			for ; j < len(row) && row[j].item == it; j++ {
				sum += row[j].w
			}
			if transform != nil {
				sum = transform(sum)
			}
			m.Items = append(m.Items, it)
			m.Weights = append(m.Weights, sum)
		}
		m.Indptr[u+1] = int64(len(m.Items))
	}
	return m
}
