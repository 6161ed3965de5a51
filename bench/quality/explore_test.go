package quality

import (
	"context"
	"math"
	"os"
	"testing"

	"github.com/sibylhq/sibyl/compute"
)

func TestExploreRecency(t *testing.T) {
	if os.Getenv("SIBYL_EXPLORE") == "" {
		t.Skip("set SIBYL_EXPLORE=1")
	}
	d := loadRetail(t)
	s := SplitRetail(d, RetailCutoff)
	inner := *d
	inner.Orders = s.Train
	v := SplitRetail(&inner, RetailCutoff-ValidationDays*86400)
	for si, sp := range []*RetailSplit{v, s} {
		end := RetailCutoff
		if si == 0 {
			end = RetailCutoff - ValidationDays*86400
		}
		for _, hl := range []float64{15, 30} {
			b := compute.NewInteractionsBuilder(len(d.UserIDs), len(d.ItemIDs))
			for _, o := range sp.Train {
				w := float32(1)
				if hl > 0 {
					w = float32(math.Exp2(-float64(end-o.Time) / (hl * 86400)))
				}
				for _, it := range o.Items {
					_ = b.Add(o.User, it, w)
				}
			}
			m := b.Build(nil)
			for _, alpha := range []float32{4, 8, 16} {
				cfg := alsConfig(m, 1)
				cfg.Alpha = alpha
				f, _ := compute.TrainALS(context.Background(), m, cfg, nil)
				r := Evaluate(sp.Cases, len(d.ItemIDs), FactorScorer(f, sp.Known))
				t.Logf("split %d hl %v alpha %v: ndcg %.4f hr %.4f", si, hl, alpha, r.NDCG10, r.Hit10)
			}
		}
	}
}
