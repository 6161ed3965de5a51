package compute

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"
)

func indices(s []Scored) []int32 {
	out := make([]int32, len(s))
	for i, x := range s {
		out[i] = x.Index
	}
	return out
}

func TestCoPurchaseCountsAndNormalisation(t *testing.T) {
	cfg := DefaultCoPurchaseConfig()
	cfg.Damping = 0.5
	cp, err := NewCoPurchase(2, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Item 0 is bought with best-seller 1 three times and with niche
	// item 2 twice; item 2 is only ever bought with 0.
	for i := 0; i < 3; i++ {
		cp.AddBasket([]int32{0, 1, 1})
	}
	cp.AddBasket([]int32{0, 2})
	cp.AddBasket([]int32{0, 2, 3})
	for i := 0; i < 30; i++ {
		cp.AddBasket([]int32{1, 4})
	}
	if got := cp.Count(0, 1); got != 3 {
		t.Fatalf("count(0,1) = %v, want 3 (duplicates inside a basket count once)", got)
	}
	if got := indices(cp.MostSoldWith(0, 3, nil, nil)); !slices.Equal(got, []int32{1, 2, 3}) {
		t.Fatalf("MostSoldWith(0) = %v, want [1 2 3]", got)
	}
	// Normalised: 2/sqrt(2) = 1.41 for item 2 beats 3/sqrt(33) = 0.52.
	if got := indices(cp.Complementary(0, 2, nil, nil)); got[0] != 2 {
		t.Fatalf("Complementary(0) = %v, want the specific complement 2 first", got)
	}
	if got := indices(cp.MostSoldWith(0, 3, []int32{1}, nil)); slices.Contains(got, 1) {
		t.Fatalf("excluded item returned: %v", got)
	}
	if cp.ItemCount(1) != 33 || cp.Baskets() != 35 {
		t.Fatalf("item count %v baskets %d", cp.ItemCount(1), cp.Baskets())
	}
}

func TestCoPurchaseConcurrent(t *testing.T) {
	cp, _ := NewCoPurchase(10, DefaultCoPurchaseConfig())
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				cp.AddBasket([]int32{int32(i % 10), int32((i + 1) % 10), 20})
			}
		}()
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				_ = cp.MostSoldWith(int32(i%10), 5, nil, nil)
			}
		}()
	}
	wg.Wait()
	if got := cp.Count(3, 20); got != 400 {
		t.Fatalf("count(3,20) = %v, want 400 (3 is in 2 of every 10 baskets)", got)
	}
}

func TestPopularityDecay(t *testing.T) {
	cfg := DefaultPopularityConfig()
	p, err := NewPopularity(3, cfg)
	if err != nil {
		t.Fatal(err)
	}
	const day = 86400
	t0 := int64(1_300_000_000)
	p.AddSale(0, 10, t0)       // old big seller
	p.AddSale(1, 4, t0+60*day) // recent smaller seller
	if got := p.Score(0, t0+30*day); got < 4.99 || got > 5.01 {
		t.Fatalf("one half-life later score = %v, want 5", got)
	}
	// At t0+60d item 0 is worth 2.5 and item 1 worth 4.
	if got := indices(p.Popular(2, nil, nil)); !slices.Equal(got, []int32{1, 0}) {
		t.Fatalf("Popular = %v, want [1 0]", got)
	}
}

func TestTrendingMovesWithSales(t *testing.T) {
	p, _ := NewPopularity(3, DefaultPopularityConfig())
	const day = 86400
	t0 := int64(1_300_000_000)
	// Two items sell 5/day steadily for 60 days.
	for d := int64(0); d < 60; d++ {
		p.AddSale(0, 5, t0+d*day)
		p.AddSale(1, 5, t0+d*day)
	}
	now := t0 + 60*day
	before := p.TrendScore(1, now)
	if before < 0.8 || before > 1.25 {
		t.Fatalf("steady seller trend = %v, want about 1", before)
	}
	// Item 1's sales triple for the last 4 days.
	for d := int64(60); d < 64; d++ {
		p.AddSale(0, 5, t0+d*day)
		p.AddSale(1, 15, t0+d*day)
	}
	now = t0 + 64*day
	if got := indices(p.Trending(now, 1, nil, nil)); got[0] != 1 {
		t.Fatalf("Trending = %v, want item 1 whose sales grew", got)
	}
	if after := p.TrendScore(1, now); after < 1.5*before {
		t.Fatalf("trend after growth %v, before %v: did not move", after, before)
	}
	// Then it stops selling: the trend falls below 1.
	if got := p.TrendScore(1, now+20*day); got >= 1 {
		t.Fatalf("trend after sales stopped = %v, want < 1", got)
	}
}

func TestTrendingCacheFollowsSales(t *testing.T) {
	p, _ := NewPopularity(300, DefaultPopularityConfig())
	const day = 86400
	t0 := int64(1_300_000_000)
	for i := int32(0); i < 300; i++ {
		p.AddSale(i, float64(1+i%7), t0)
	}
	now := t0 + day
	first := p.Trending(now, 5, nil, nil)
	if again := p.Trending(now, 5, nil, nil); !slices.Equal(first, again) {
		t.Fatalf("same query gave %v then %v", first, again)
	}
	// Excluding the whole cached head still returns k items.
	var excl []int32
	for _, s := range p.Trending(now, 120, nil, nil) {
		excl = append(excl, s.Index)
	}
	if got := p.Trending(now, 5, excl, nil); len(got) != 5 || slices.ContainsFunc(got, func(s Scored) bool { return slices.Contains(excl, s.Index) }) {
		t.Fatalf("trending with 120 exclusions = %v", got)
	}
	// A burst of sales of item 299 must show at once (cache invalidated).
	p.AddSale(299, 500, now)
	if got := p.Trending(now, 1, nil, nil); got[0].Index != 299 {
		t.Fatalf("after a burst of item 299, trending = %v", got)
	}
}

// AddPairs must count exactly what one AddBasket per pair counts: the
// co-view counts of a restarted node are rebuilt pair by pair.
func TestCoPurchaseAddPairsMatchesAddBasket(t *testing.T) {
	one, _ := NewCoPurchase(0, DefaultCoPurchaseConfig())
	pairs, _ := NewCoPurchase(0, DefaultCoPurchaseConfig())
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		a := int32(rng.IntN(60))
		others := make([]int32, rng.IntN(21))
		for k := range others {
			others[k] = int32(rng.IntN(70)) - 2 // some negative, some equal to a
		}
		for _, o := range others {
			one.AddBasket([]int32{o, a})
		}
		pairs.AddPairs(a, others)
	}
	if one.Baskets() != pairs.Baskets() {
		t.Fatalf("baskets %d != %d", one.Baskets(), pairs.Baskets())
	}
	for a := int32(-1); a < 72; a++ {
		if one.ItemCount(a) != pairs.ItemCount(a) {
			t.Fatalf("item %d count %v != %v", a, one.ItemCount(a), pairs.ItemCount(a))
		}
		for b := int32(-1); b < 72; b++ {
			if one.Count(a, b) != pairs.Count(a, b) {
				t.Fatalf("pair %d,%d count %v != %v", a, b, one.Count(a, b), pairs.Count(a, b))
			}
		}
		if got, want := pairs.MostSoldWith(max(a, 0), 5, nil, nil), one.MostSoldWith(max(a, 0), 5, nil, nil); !reflect.DeepEqual(got, want) {
			t.Fatalf("item %d: most sold with %v != %v", a, got, want)
		}
	}
}
