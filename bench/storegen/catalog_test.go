package storegen

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sibylhq/sibyl/bench"
	"github.com/sibylhq/sibyl/ingest"
)

func TestCatalogDeterministicAndExtensible(t *testing.T) {
	a, err := GenerateCatalog(CatalogConfig{Products: 3000, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := GenerateCatalog(CatalogConfig{Products: 3000, Seed: 4})
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different catalogs")
	}
	small, _ := GenerateCatalog(CatalogConfig{Products: 100, Seed: 4})
	if !reflect.DeepEqual(small.Products, a.Products[:100]) {
		t.Error("product i changed with the catalog's size")
	}
	other, _ := GenerateCatalog(CatalogConfig{Products: 3000, Seed: 5})
	if reflect.DeepEqual(other.Products, a.Products) {
		t.Error("another seed, same products")
	}
	if _, err := GenerateCatalog(CatalogConfig{Products: 0}); err == nil {
		t.Error("an empty catalog was accepted")
	}
}

// The properties search benchmarks rely on: names of 2 to 6 words from
// a skewed vocabulary with units, every product in a department and one
// of its subcategories, one department clearly the largest, facetable
// attributes on every product, a quarter on sale.
func TestCatalogIsRealisticForSearch(t *testing.T) {
	const n = 20_000
	c, err := GenerateCatalog(CatalogConfig{Products: n, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	cats := map[ingest.ID]ingest.Category{}
	for _, cat := range c.Categories {
		cats[cat.ID] = cat
	}
	if len(departments) != 15 || len(cats) != len(c.Categories) {
		t.Fatalf("%d departments, %d categories (%d distinct ids)", len(departments), len(c.Categories), len(cats))
	}
	words := map[string]int{}
	brands := map[string]int{}
	onSale, units := 0, 0
	for _, p := range c.Products {
		ws := strings.Fields(strings.ToLower(p.Name))
		if len(ws) < 2 || len(ws) > 6 {
			t.Fatalf("%s: name %q of %d words", p.ID, p.Name, len(ws))
		}
		for _, w := range ws {
			words[w]++
		}
		if len(p.Categories) != 2 || !containsID(cats[p.Categories[0]].Subcategories, p.Categories[1]) {
			t.Fatalf("%s: categories %v are not a department and one of its subcategories", p.ID, p.Categories)
		}
		if p.Brand == "" || p.Description == "" || !(p.Price > 0) || p.Extra["colour"] == "" || p.Extra["material"] == "" {
			t.Fatalf("%s: missing fields: %+v", p.ID, p)
		}
		brands[p.Brand]++
		if p.ListPrice > p.Price {
			onSale++
		} else if p.ListPrice != 0 {
			t.Fatalf("%s: list price %v at or below price %v", p.ID, p.ListPrice, p.Price)
		}
		if strings.ContainsAny(p.Name, "0123456789") {
			units++
		}
	}
	if share := float64(onSale) / n; share < 0.2 || share > 0.3 {
		t.Errorf("%.2f of products on sale, want about 0.25", share)
	}
	if share := float64(units) / n; share < 0.15 {
		t.Errorf("only %.2f of names carry a size or unit", share)
	}
	// Zipf-like words: the most common word is in many names, and most
	// words are in few.
	top, rare := 0, 0
	for _, k := range words {
		top = max(top, k)
		if k < n/200 {
			rare++
		}
	}
	if top < n/20 || rare < len(words)/2 {
		t.Errorf("word counts not skewed: top word in %d names, %d of %d words in under %d", top, rare, len(words), n/200)
	}
	if len(brands) < 100 {
		t.Errorf("%d brands", len(brands))
	}
	// One department clearly the largest, and the sizes add up.
	second, total := 0, 0
	for k := range departments {
		id := topID(k)
		total += c.Sizes[id]
		if id != c.Largest {
			second = max(second, c.Sizes[id])
		}
	}
	if total != n || c.Sizes[c.Largest] < 3*second/2 || cats[c.Largest].Name != c.LargestName {
		t.Errorf("largest %s %q holds %d, the next %d, total %d", c.Largest, c.LargestName, c.Sizes[c.Largest], second, total)
	}
}

func containsID(ids []ingest.ID, id ingest.ID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// The feed reads back through the importer's reader (bench.LoadClerkFeed
// uses ingest.ReadFeed) with every product, its name and category, and
// orders naming the catalog's products.
func TestWriteFeedReadsBack(t *testing.T) {
	c, err := GenerateCatalog(CatalogConfig{Products: 500, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	orders := DefaultConfig()
	orders.Products, orders.Customers, orders.OrderLines = 500, 200, 3000
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	if err := WriteFeed(gz, c, orders); err != nil {
		t.Fatal(err)
	}
	gz.Close()
	path := filepath.Join(t.TempDir(), "store.json.gz")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := bench.LoadClerkFeed(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Products) != 500 || d.Names[7] != c.Products[7].Name || d.Products[7] != "p7" || !d.OnSale {
		t.Fatalf("products %d, p7 %q named %q, on sale %v", len(d.Products), d.Products[7], d.Names[7], d.OnSale)
	}
	lines := 0
	for _, o := range d.Orders {
		lines += len(o.Products)
	}
	sold := 0.0
	for _, s := range d.Sales {
		sold += s
	}
	if lines < 3000 || sold == 0 || len(d.Customers) == 0 {
		t.Fatalf("%d order lines, %v sales counted, %d customers", lines, sold, len(d.Customers))
	}
	sizes := map[string]int{}
	for _, cat := range d.Categories {
		sizes[cat.Name] = cat.Products
	}
	if sizes[c.LargestName] != c.Sizes[c.Largest] {
		t.Errorf("largest category %q holds %d in the feed, %d generated", c.LargestName, sizes[c.LargestName], c.Sizes[c.Largest])
	}
	if got := bench.FullSearchQuery(d); got != strings.ToLower(c.LargestName) {
		t.Errorf("full search query %q, want the largest category %q", got, c.LargestName)
	}
	// The products as JSON carry colour and material inline (facets).
	var p map[string]any
	b, _ := json.Marshal(&c.Products[0])
	json.Unmarshal(b, &p)
	if p["colour"] == nil || p["material"] == nil {
		t.Errorf("product JSON without facet attributes: %s", b)
	}
	if err := WriteFeed(&buf, c, DefaultConfig()); err == nil {
		t.Error("orders over another product count were accepted")
	}
}
