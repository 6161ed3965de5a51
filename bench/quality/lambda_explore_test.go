// Explorations behind the defaults (validation numbers only) are slow and
// print tables rather than assert: they compile only with the explore tag,
// go test -tags explore -run TestExploreX ./bench/quality (docs/quality.md).

//go:build explore

package quality

import (
	"context"
	"errors"
	"testing"

	"github.com/sibylhq/sibyl/compute"
	"github.com/sibylhq/sibyl/demo"
)

// TestExploreLambda records the regularisation search behind
// compute.DefaultALSConfig's density rule: validation NDCG@10 per lambda
// on ml100k (20 % of each base held out, five folds) and on the retail
// validation window, never the test data. Run with -tags explore.
func TestExploreLambda(t *testing.T) {
	ctx := context.Background()
	lambdas := []float32{2, 4, 8, 16, 32, 64}
	ml, err := LoadML100K(dataDir(t))
	if errors.Is(err, ErrNoData) {
		demo.SharedMissing(t, "MovieLens 100K", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	mlSum := make([]float64, len(lambdas))
	for f := 0; f < 5; f++ {
		vm, vh := mlValidation(ml, f, 1)
		if f == 0 {
			t.Logf("ml100k validation: %d users x %d items, nnz %d, density %.4f", vm.NumUsers, vm.NumItems, vm.NNZ(), float64(vm.NNZ())/float64(vm.NumUsers*vm.NumItems))
		}
		for i, l := range lambdas {
			cfg := alsConfig(vm, 1)
			cfg.Regularization = l
			fac, err := compute.TrainALS(ctx, vm, cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			mlSum[i] += EvaluateFactors(fac, vm, vh).NDCG10 / 5
		}
	}
	for i, l := range lambdas {
		t.Logf("ml100k validation lambda %g: NDCG@10 %.4f", l, mlSum[i])
	}
	d := loadRetail(t)
	s := SplitRetail(d, RetailCutoff)
	vm, vh := RetailValidation(s, RetailCutoff) // the validation window, built from train only
	t.Logf("retail validation: %d users x %d items, nnz %d, density %.4f", vm.NumUsers, vm.NumItems, vm.NNZ(), float64(vm.NNZ())/float64(vm.NumUsers*vm.NumItems))
	for _, l := range lambdas {
		cfg := alsConfig(vm, 1)
		cfg.Regularization = l
		fac, err := compute.TrainALS(ctx, vm, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("retail validation lambda %g: NDCG@10 %.4f", l, EvaluateFactors(fac, vm, vh).NDCG10)
	}
}
