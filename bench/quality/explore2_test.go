package quality

import (
	"os"
	"testing"

	"github.com/sibylhq/sibyl/compute"
)

func TestExploreBasket(t *testing.T) {
	if os.Getenv("SIBYL_EXPLORE") == "" {
		t.Skip("set SIBYL_EXPLORE=1")
	}
	dir, _ := FindDataDir()
	d, err := LoadRetail(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := SplitRetail(d, RetailCutoff)
	inner := *d
	inner.Orders = s.Train
	v := SplitRetail(&inner, RetailCutoff-ValidationDays*86400)
	for _, sp := range []*RetailSplit{v, s} {
		cases := BasketCases(sp.Test, sp.Known)
		end := sp.Train[len(sp.Train)-1].Time
		for _, days := range []int64{30, 60, 120, 400} {
			for _, maxB := range []int{20, 50, 100, 1000} {
				var recent []Order
				for _, o := range sp.Train {
					if o.Time >= end-days*86400 {
						recent = append(recent, o)
					}
				}
				cc := compute.DefaultCoPurchaseConfig()
				cc.Damping = 0
				cc.MaxBasket = maxB
				cp, _ := TrainCoPurchase(recent, len(d.ItemIDs), cc)
				hr := BasketHR(cases, func(q int32, dst []compute.Scored) []compute.Scored {
					return cp.Complementary(q, 10, []int32{q}, dst)
				})
				t.Logf("days %d maxb %d: %.4f", days, maxB, hr)
			}
		}
	}
}
