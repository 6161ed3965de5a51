package filter

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestSortByValue(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	special := []float64{0, math.Copysign(0, -1), -1, 1, -1e300, 1e300, 5e-324, -5e-324, math.MaxFloat64, -math.MaxFloat64, 0.1, -0.1, 42}
	for _, n := range []int{0, 1, 255, 256, 5000} {
		nums := make([]numEntry, n)
		for i := range nums {
			v := special[r.IntN(len(special))]
			if r.IntN(2) == 0 {
				v = (r.Float64() - 0.5) * math.Pow(10, float64(r.IntN(40)-20))
			}
			nums[i] = numEntry{v: v, item: uint32(i)}
		}
		sortByValue(nums)
		for i := 1; i < len(nums); i++ {
			a, b := nums[i-1], nums[i]
			if a.v > b.v || (a.v == b.v && a.item > b.item) {
				t.Fatalf("n=%d: entries %d and %d out of order: %v then %v", n, i-1, i, a, b)
			}
		}
	}
}
