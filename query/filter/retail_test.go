package filter

import (
	"compress/gzip"
	"encoding/csv"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sibylhq/sibyl/demo"
)

var retail struct {
	once  sync.Once
	items []Item
	err   error
}

// loadRetailProducts turns UCI Online Retail (Chen, Sain and Guo 2012,
// CC BY 4.0) into a catalog: one product per StockCode with its last
// description and unit price, the countries it sold to and the words of
// its description as tags.
func loadRetailProducts() ([]Item, error) {
	retail.once.Do(func() { retail.items, retail.err = readRetail() })
	return retail.items, retail.err
}

// retailProducts is the catalog for a test. The file is part of the
// repository: missing or unreadable, the test fails.
func retailProducts(t testing.TB) []Item {
	t.Helper()
	items, err := loadRetailProducts()
	if err != nil {
		t.Fatalf("cannot read the bundled Online Retail file: %v", err)
	}
	return items
}

// readRetail reads the repository's bundled copy of the data
// (demo/online-retail.csv.gz).
func readRetail() ([]Item, error) {
	root, err := demo.ModuleRoot()
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(root, demo.OnlineRetailFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	r := csv.NewReader(zr)
	r.ReuseRecord = true
	if _, err := r.Read(); err != nil { // header
		return nil, err
	}
	byCode := map[string]*Item{}
	countries := map[string]map[string]bool{}
	var order []string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		code, desc, country := rec[1], rec[2], rec[7]
		price, err := strconv.ParseFloat(rec[5], 64)
		if err != nil {
			return nil, err
		}
		it := byCode[code]
		if it == nil {
			it = &Item{Index: uint32(len(order)), Attrs: map[string]any{"id": code}}
			byCode[code] = it
			countries[code] = map[string]bool{}
			order = append(order, code)
		}
		if desc != "" {
			it.Attrs["name"] = desc
			it.Attrs["tags"] = strings.Fields(strings.ToLower(desc))
		}
		it.Attrs["price"] = price
		countries[code][country] = true
	}
	items := make([]Item, len(order))
	for i, code := range order {
		it := byCode[code]
		var cs []string
		for c := range countries[code] {
			cs = append(cs, c)
		}
		slices.Sort(cs)
		it.Attrs["countries"] = cs
		items[i] = *it
	}
	return items, nil
}

func TestRetailCatalog(t *testing.T) {
	items := retailProducts(t)
	ix := NewIndex(slices.Values(items))
	for _, tt := range []struct {
		filter   string
		atLeast  uint64
		atMost   uint64
		contains string // an id that must match, if set
	}{
		{`id = 71053`, 1, 1, "71053"}, // numeric filter value, string StockCode
		{`id in ["85123A", 22423]`, 2, 2, "85123A"},
		{`name contains 'heart' and price < 5`, 10, 1000, ""},
		{`tags contains 'lantern' or countries contains 'Japan'`, 10, 2000, ""},
		{`countries in ['EIRE', 'France'] and countries not in ['United Kingdom']`, 1, 1000, ""},
		{`price >= 100 or id = 'POST'`, 1, 500, "POST"},
		{`unknown = 1 or price < 0`, 1, 100, ""}, // a few bad-debt adjustments have negative prices
	} {
		e, err := Parse(tt.filter)
		if err != nil {
			t.Fatal(err)
		}
		got := ix.Eval(e)
		n := got.GetCardinality()
		if n < tt.atLeast || n > tt.atMost {
			t.Errorf("%s: %d matches, want %d..%d", tt.filter, n, tt.atLeast, tt.atMost)
		}
		for _, it := range items {
			if Match(e, it.Attrs) != got.Contains(it.Index) {
				t.Fatalf("%s: Match and Index.Eval disagree on %v", tt.filter, it.Attrs["id"])
			}
			if tt.contains != "" && it.Attrs["id"] == tt.contains && !got.Contains(it.Index) {
				t.Errorf("%s: product %s not matched", tt.filter, tt.contains)
			}
		}
	}
}
