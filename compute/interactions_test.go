package compute

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestInteractionsBuilderSumsInAddOrder checks Build against a map of
// running sums: rows sorted by item, one entry per pair, repeated pairs
// summed in the order added (bit-identical floats), transform applied to
// the sum, bad indices refused.
func TestInteractionsBuilderSumsInAddOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	const users, items = 50, 30
	b := NewInteractionsBuilder(users, items)
	want := make([]map[int32]float32, users)
	for range 3000 {
		u, it := int32(rng.IntN(users-1)), int32(rng.IntN(items)) // the last user stays empty
		w := float32(rng.Float64()*3) + 1e-3
		if err := b.Add(u, it, w); err != nil {
			t.Fatal(err)
		}
		if want[u] == nil {
			want[u] = map[int32]float32{}
		}
		want[u][it] += w
	}
	if b.Add(users, 0, 1) == nil || b.Add(0, -1, 1) == nil {
		t.Fatal("out-of-range pair accepted")
	}
	m := b.Build(func(x float32) float32 { return 2 * x })
	nnz := 0
	for u := int32(0); u < users; u++ {
		row, ws := m.Row(u)
		if !slices.IsSorted(row) || len(slices.Compact(slices.Clone(row))) != len(row) {
			t.Fatalf("row %d not sorted and distinct: %v", u, row)
		}
		if len(row) != len(want[u]) {
			t.Fatalf("row %d has %d items, want %d", u, len(row), len(want[u]))
		}
		for j, it := range row {
			if ws[j] != 2*want[u][it] {
				t.Fatalf("cell (%d, %d) = %v, want %v", u, it, ws[j], 2*want[u][it])
			}
		}
		nnz += len(row)
	}
	if m.NNZ() != nnz || m.Indptr[users] != int64(nnz) {
		t.Fatalf("nnz %d, indptr end %d, rows hold %d", m.NNZ(), m.Indptr[users], nnz)
	}
}
