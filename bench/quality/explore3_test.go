package quality

import (
	"context"
	"os"
	"testing"

	"github.com/sibylhq/sibyl/compute"
)

func TestExploreML(t *testing.T) {
	if os.Getenv("SIBYL_EXPLORE") == "" {
		t.Skip("set SIBYL_EXPLORE=1")
	}
	dir, _ := FindDataDir()
	d, err := LoadML100K(dir)
	if err != nil {
		t.Fatal(err)
	}
	fold := d.Fold(0)
	t.Logf("pop %+v", Evaluate(fold.Cases, d.NumItems, PopularityScorer(fold.Matrix)))
	for _, k := range []int{32, 64} {
		for _, reg := range []float32{2, 8, 32, 64} {
			for _, a := range []float32{0.5, 1, 2, 4} {
				cfg := compute.DefaultALSConfig(fold.Matrix.NumUsers, fold.Matrix.NumItems, fold.Matrix.NNZ())
				cfg.Factors, cfg.Regularization, cfg.Alpha = k, reg, a
				f, _, _ := TrainALS(context.Background(), fold.Matrix, cfg)
				m := Evaluate(fold.Cases, d.NumItems, FactorScorer(f, nil))
				t.Logf("k %d reg %v a %v: ndcg %.4f p %.4f", k, reg, a, m.NDCG10, m.Precision10)
			}
		}
	}
}
