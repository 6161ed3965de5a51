package compute

import (
	"math/rand/v2"
	"testing"
)

// refCounts is the obvious model of CoPurchase's pair counts.
type refCounts map[[2]int32]float32

func (r refCounts) addBasket(items []int32, maxBasket int) {
	var uniq []int32
	for _, it := range items {
		if it < 0 {
			continue
		}
		dup := false
		for _, u := range uniq {
			dup = dup || u == it
		}
		if !dup {
			uniq = append(uniq, it)
			if len(uniq) == maxBasket {
				break
			}
		}
	}
	for _, a := range uniq {
		for _, b := range uniq {
			if a != b {
				r[[2]int32{a, b}]++
			}
		}
	}
}

// checkAgainst compares every pair, every row's iteration (ascending,
// complete, no extra entries) and the row maxima with the reference.
func checkAgainst(t *testing.T, c *CoPurchase, ref refCounts, items int32) {
	t.Helper()
	for a := range items {
		var rowMax float32
		last := int32(-1)
		seen := 0
		c.mu.RLock()
		c.eachLocked(a, func(j int32, n float32) {
			if j <= last {
				t.Fatalf("row %d not ascending: %d after %d", a, j, last)
			}
			last = j
			seen++
			if want := ref[[2]int32{a, j}]; n != want {
				t.Fatalf("row %d: (%d,%d) iterates as %v, want %v", a, a, j, n, want)
			}
			rowMax = max(rowMax, n)
		})
		if c.rowMax[a] != rowMax {
			t.Fatalf("row %d: rowMax %v, want %v", a, c.rowMax[a], rowMax)
		}
		c.mu.RUnlock()
		for b := range items {
			if got, w := c.Count(a, b), ref[[2]int32{a, b}]; got != w {
				t.Fatalf("Count(%d,%d) = %v, want %v", a, b, got, w)
			}
		}
		// seekLocked over ascending candidates (every other index).
		c.mu.RLock()
		if r := c.rowLocked(a); r != nil {
			at := 0
			for b := int32(0); b < items; b += 2 {
				var n float32
				n, at = c.seekLocked(a, r, b, at)
				if w := ref[[2]int32{a, b}]; n != w {
					t.Fatalf("seek (%d,%d) = %v, want %v", a, b, n, w)
				}
			}
		}
		c.mu.RUnlock()
		want := 0
		for k := range ref {
			if k[0] == a {
				want++
			}
		}
		if seen != want {
			t.Fatalf("row %d iterates %d neighbours, want %d", a, seen, want)
		}
	}
}

// The compact rows must count exactly what a map of pairs counts, through
// random baskets (one merge per row per basket) and pairs (single
// inserts) in any order.
func TestCoRowsMatchReference(t *testing.T) {
	cfg := DefaultCoPurchaseConfig()
	cfg.MaxBasket = 12
	c, _ := NewCoPurchase(0, cfg)
	ref := refCounts{}
	rng := rand.New(rand.NewPCG(7, 8))
	const items = 90
	for range 3000 {
		if rng.IntN(3) == 0 {
			a := int32(rng.IntN(items))
			others := make([]int32, 1+rng.IntN(6))
			for k := range others {
				others[k] = int32(rng.IntN(items))
				if others[k] != a {
					ref[[2]int32{a, others[k]}]++
					ref[[2]int32{others[k], a}]++
				}
			}
			c.AddPairs(a, others)
			continue
		}
		basket := make([]int32, 1+rng.IntN(20))
		for k := range basket {
			basket[k] = int32(rng.IntN(items+2)) - 2
		}
		ref.addBasket(basket, cfg.MaxBasket)
		c.AddBasket(basket)
	}
	checkAgainst(t, c, ref, items)
}

// A count past a byte moves to the spill map and stays exact.
func TestCoRowsSpillPastByte(t *testing.T) {
	c, _ := NewCoPurchase(0, DefaultCoPurchaseConfig())
	const n = coSpill + 2000
	for range n {
		c.AddBasket([]int32{3, 1, 2})
	}
	c.AddPairs(1, []int32{3})
	if got := c.Count(1, 3); got != n+1 {
		t.Fatalf("Count(1,3) = %v, want %d", got, n+1)
	}
	if got := c.Count(2, 1); got != n {
		t.Fatalf("Count(2,1) = %v, want %d", got, n)
	}
	if got := c.MostSoldWith(1, 2, nil, nil); len(got) != 2 || got[0] != (Scored{3, n + 1}) || got[1] != (Scored{2, n}) {
		t.Fatalf("MostSoldWith(1) = %v", got)
	}
	if c.rowMax[1] != n+1 {
		t.Fatalf("rowMax[1] = %v, want %d", c.rowMax[1], n+1)
	}
}

// An index past 16 bits widens every row, keeping what was counted.
func TestCoRowsWiden(t *testing.T) {
	c, _ := NewCoPurchase(0, DefaultCoPurchaseConfig())
	ref := refCounts{}
	rng := rand.New(rand.NewPCG(3, 4))
	add := func(b []int32) { ref.addBasket(b, 100); c.AddBasket(b) }
	for range 500 {
		add([]int32{int32(rng.IntN(40)), int32(rng.IntN(40)), int32(rng.IntN(40))})
	}
	if c.wide {
		t.Fatal("wide before any large index")
	}
	big := int32(narrowLimit + 5)
	add([]int32{1, big, 2})
	if !c.wide {
		t.Fatal("not wide after index", big)
	}
	for range 500 {
		add([]int32{int32(rng.IntN(40)), int32(rng.IntN(40)), big})
	}
	checkAgainst(t, c, ref, 40)
	if got, want := c.Count(big, 1), ref[[2]int32{big, 1}]; got != want || got == 0 {
		t.Fatalf("Count(big,1) = %v, want %v", got, want)
	}
}
