package quality

import (
	"context"
	"os"
	"testing"

	"github.com/sibylhq/sibyl/compute"
)

func TestExploreRetail(t *testing.T) {
	if os.Getenv("SIBYL_EXPLORE") == "" {
		t.Skip("set SIBYL_EXPLORE=1")
	}
	dir, err := FindDataDir()
	if err != nil {
		t.Skip(err)
	}
	d, err := LoadRetail(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := SplitRetail(d, RetailCutoff)
	vm, vh := RetailValidation(s, RetailCutoff)
	t.Logf("validation users %d nnz %d", len(vh), vm.NNZ())
	base := compute.DefaultALSConfig(vm.NumUsers, vm.NumItems, vm.NNZ())
	best, res, err := compute.SearchALS(context.Background(), vm, vh, base, compute.ALSGrid{
		Factors: []int{64}, Regularization: []float32{8, 16, 32, 64}, Alpha: []float32{1, 2, 4},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		c := r.Config
		t.Logf("k=%d reg=%v alpha=%v it=%d: valid ndcg %.4f hr %.4f", c.Factors, c.Regularization, c.Alpha, c.Iterations, r.NDCG10, r.Hit10)
	}
	f, _, _ := TrainALS(context.Background(), s.Matrix, best)
	m := Evaluate(s.Cases, len(d.ItemIDs), FactorScorer(f, s.Known))
	t.Logf("best %+v test %+v", best, m)
}
