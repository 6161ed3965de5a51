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
// pairs add up. The zero value is not usable; call NewInteractionsBuilder.
type InteractionsBuilder struct {
	numUsers, numItems int
	rows               []map[int32]float32
}

// NewInteractionsBuilder returns a builder for a numUsers x numItems matrix.
func NewInteractionsBuilder(numUsers, numItems int) *InteractionsBuilder {
	return &InteractionsBuilder{numUsers: numUsers, numItems: numItems, rows: make([]map[int32]float32, numUsers)}
}

// Add adds w to the (user, item) cell.
func (b *InteractionsBuilder) Add(user, item int32, w float32) error {
	if user < 0 || int(user) >= b.numUsers || item < 0 || int(item) >= b.numItems {
		return fmt.Errorf("cannot add interaction (%d, %d) to a %dx%d matrix: %w", user, item, b.numUsers, b.numItems, ErrIndex)
	}
	r := b.rows[user]
	if r == nil {
		r = make(map[int32]float32)
		b.rows[user] = r
	}
	r[item] += w
	return nil
}

// Build returns the CSR matrix. transform, when not nil, maps each summed
// cell value to the stored weight (e.g. log1p of a purchase count).
func (b *InteractionsBuilder) Build(transform func(float32) float32) *Interactions {
	m := &Interactions{NumUsers: b.numUsers, NumItems: b.numItems, Indptr: make([]int64, b.numUsers+1)}
	nnz := 0
	for _, r := range b.rows {
		nnz += len(r)
	}
	m.Items = make([]int32, 0, nnz)
	m.Weights = make([]float32, 0, nnz)
	for u, r := range b.rows {
		start := len(m.Items)
		for it := range r {
			m.Items = append(m.Items, it)
		}
		slices.Sort(m.Items[start:])
		for _, it := range m.Items[start:] {
			w := r[it]
			if transform != nil {
				w = transform(w)
			}
			m.Weights = append(m.Weights, w)
		}
		m.Indptr[u+1] = int64(len(m.Items))
	}
	return m
}
