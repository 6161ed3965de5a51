package filter

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// syntheticCatalog makes n products shaped like a shop's: price uniform in
// [0, 100), one to three of 50 categories, one of 200 brands, a sale flag
// and a few tags.
func syntheticCatalog(n int, seed uint64) []Item {
	r := rand.New(rand.NewPCG(seed, 7))
	items := make([]Item, n)
	for i := range items {
		cats := make([]any, 1+r.IntN(3))
		for j := range cats {
			cats[j] = float64(r.IntN(50))
		}
		items[i] = Item{Index: uint32(i), Attrs: map[string]any{
			"id":         fmt.Sprint(100000 + i),
			"price":      float64(r.IntN(10000)) / 100,
			"categories": cats,
			"brand":      fmt.Sprintf("brand-%d", r.IntN(200)),
			"on_sale":    r.IntN(5) == 0,
			"tags":       []string{fmt.Sprintf("tag%d", r.IntN(30)), fmt.Sprintf("tag%d", r.IntN(30))},
			"name":       fmt.Sprintf("Product %d in colour %d", i, r.IntN(20)),
		}}
	}
	return items
}

func BenchmarkParse(b *testing.B) {
	const src = `price > 10 and categories in [1, 2] and (brand = 'Imperial Inc.' or on_sale = true)`
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, err := Parse(src); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEval compares the bitmap index with a scan calling Match on
// every product, on a 100k-product catalog.
func BenchmarkEval(b *testing.B) {
	items := syntheticCatalog(100_000, 1)
	ix := NewIndex(slices.Values(items))
	for _, src := range []string{
		`price > 10 and categories in [1,2]`,
		`price > 10`,
		`categories in [1,2]`,
		`brand != 'brand-7' and on_sale = true`,
		`name contains 'colour 7'`,
	} {
		e, err := Parse(src)
		if err != nil {
			b.Fatal(err)
		}
		want := ix.Eval(e).GetCardinality()
		b.Run("index/"+src, func(b *testing.B) {
			for b.Loop() {
				if ix.Eval(e).GetCardinality() != want {
					b.Fatal("result changed")
				}
			}
			b.ReportMetric(float64(want), "matches")
		})
		b.Run("scan/"+src, func(b *testing.B) {
			for b.Loop() {
				n := uint64(0)
				for _, it := range items {
					if Match(e, it.Attrs) {
						n++
					}
				}
				if n != want {
					b.Fatalf("scan found %d, index %d", n, want)
				}
			}
		})
	}
}

func BenchmarkMatchOne(b *testing.B) {
	items := syntheticCatalog(1, 1)
	e, _ := Parse(`price > 10 and categories in [1,2]`)
	for b.Loop() {
		Match(e, items[0].Attrs)
	}
}

// BenchmarkNewIndex measures NewIndex alone (recording items), NewIndex
// plus Warm (every attribute indexed, the full rebuild) and NewIndex plus
// the first Eval of a typical filter (which indexes the two attributes it
// uses).
func BenchmarkNewIndex(b *testing.B) {
	typical, _ := Parse(`price > 10 and categories in [1,2]`)
	catalogs := []struct {
		name  string
		items []Item
	}{
		{"synthetic-4000", syntheticCatalog(4000, 2)},
		{"synthetic-100000", syntheticCatalog(100_000, 2)},
	}
	items := retailProducts(b)
	catalogs = append(catalogs, struct {
		name  string
		items []Item
	}{fmt.Sprintf("online-retail-%d", len(items)), items})
	for _, c := range catalogs {
		b.Run(c.name+"/record", func(b *testing.B) {
			for b.Loop() {
				NewIndex(slices.Values(c.items))
			}
		})
		b.Run(c.name+"/full", func(b *testing.B) {
			for b.Loop() {
				NewIndex(slices.Values(c.items)).Warm()
			}
		})
		b.Run(c.name+"/first-query", func(b *testing.B) {
			for b.Loop() {
				NewIndex(slices.Values(c.items)).Eval(typical)
			}
		})
	}
}
