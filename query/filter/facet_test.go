package filter

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
)

// TestFacetEqualsScan: Facet's counts and range over a random subset
// equal counting the items one by one.
func TestFacetEqualsScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var items []Item
	for i := range 3000 {
		items = append(items, Item{Index: uint32(i * 2), Attrs: map[string]any{
			"brand":   fmt.Sprint("b", rng.IntN(40)),
			"price":   float64(rng.IntN(500)) / 4,
			"tags":    []string{fmt.Sprint("t", rng.IntN(9)), fmt.Sprint("t", rng.IntN(9))},
			"on_sale": rng.IntN(3) == 0,
		}})
	}
	ix := NewIndex(slices.Values(items))
	within := roaring.New()
	want := map[string]map[string]int{"brand": {}, "price": {}, "tags": {}, "on_sale": {}}
	lo, hi := 1e9, -1e9
	for _, it := range items {
		if rng.IntN(4) != 0 {
			continue
		}
		within.Add(it.Index)
		a := it.Attrs
		want["brand"][a["brand"].(string)]++
		p := a["price"].(float64)
		want["price"][strconv.FormatFloat(p, 'f', -1, 64)]++
		lo, hi = min(lo, p), max(hi, p)
		tags := a["tags"].([]string)
		for i, tg := range tags {
			if i == 0 || tg != tags[0] { // an item holds a value once
				want["tags"][tg]++
			}
		}
		want["on_sale"][strconv.FormatBool(a["on_sale"].(bool))]++
	}
	for name, counts := range want {
		got, gotLo, gotHi, numeric := ix.Facet(name, within)
		if len(got) != len(counts) {
			t.Fatalf("%s: %d values, want %d", name, len(got), len(counts))
		}
		for _, c := range got {
			if counts[c.Value] != c.Count {
				t.Fatalf("%s=%s: %d, a scan counts %d", name, c.Value, c.Count, counts[c.Value])
			}
		}
		if (name == "price") != numeric || numeric && (gotLo != lo || gotHi != hi) {
			t.Fatalf("%s: range %v..%v numeric %v, want %v..%v", name, gotLo, gotHi, numeric, lo, hi)
		}
	}
	if got, _, _, _ := ix.Facet("nothing", within); got != nil {
		t.Fatalf("an absent attribute: %v", got)
	}
}
