// Explorations behind the defaults (validation numbers only) are slow and
// print tables rather than assert: they compile only with the explore tag,
// go test -tags explore -run TestExploreX ./bench/quality (docs/quality.md).

//go:build explore

package quality

import (
	"context"
	"testing"

	"github.com/sibylhq/sibyl/compute"
)

// TestExploreRecency records the choice of ModelConfig.RecencyHalfLife and
// RecencyAlpha (docs/quality.md, "Recency"): the production model
// (BuildModel) trained on the validation window's training orders, with
// each order weighted 2^(-age/half-life) at the snapshot time, ranked for
// the window's customers. Validation only: no test-split number is
// computed or printed. Run with -tags explore.
func TestExploreRecency(t *testing.T) {
	inner, val := validationSplit(t)
	type cfg struct {
		halfLifeDays int64
		alpha        float32
	}
	// Half-life 0 is no decay with the size-based default alpha.
	cfgs := []cfg{{0, 0}, {15, 4}, {15, 8}, {15, 16}, {30, 8}, {60, 8}, {120, 8}}
	for _, c := range cfgs {
		mc := compute.DefaultModelConfig()
		mc.RecencyHalfLife, mc.RecencyAlpha = c.halfLifeDays*86400, c.alpha
		model, _, err := BuildRetailModel(context.Background(), inner, val.Train, mc, 1)
		if err != nil {
			t.Fatal(err)
		}
		m := Evaluate(val.Cases, len(inner.ItemIDs), ModelScorer(model, val.Known))
		t.Logf("half-life %3dd alpha %2g: validation NDCG@10 %.4f HR@10 %.4f (%d users)", c.halfLifeDays, c.alpha, m.NDCG10, m.Hit10, len(val.Cases))
	}
}
