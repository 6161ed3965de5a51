package bench

import (
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func searchDataset() *Dataset {
	return &Dataset{
		Products: []string{"a", "b", "c"},
		Sales:    []float64{5, 0, 1},
		Names:    []string{"Red Ceramic Coffee Mug 350 ml", "Cordless drill 18v", "Kettle"},
		Categories: []DatasetCategory{
			{ID: "1", Name: "Kitchen", Products: 2}, {ID: "2", Name: "Power Tools", Products: 1}, {ID: "3", Name: "", Products: 9},
		},
		OnSale: true,
	}
}

// Each predictive query is what a shopper has typed of a name: one to
// three consecutive words, lower case, the last one a non-empty prefix;
// every product is searched, the best seller most.
func TestPredictiveQueriesAreTypedNames(t *testing.T) {
	d := searchDataset()
	qs := PredictiveQueries(d, 3000, 1)
	if !slices.Equal(qs, PredictiveQueries(d, 3000, 1)) || slices.Equal(qs, PredictiveQueries(d, 3000, 2)) {
		t.Fatal("queries not deterministic by seed")
	}
	from := map[int]int{}
	lengths := map[int]int{}
	cut := 0
	for _, q := range qs {
		ws := strings.Fields(q)
		lengths[len(ws)]++
		found := -1
		for i, n := range d.Names {
			nw := strings.Fields(strings.ToLower(n))
			for s := 0; s+len(ws) <= len(nw) && found < 0; s++ {
				if slices.Equal(nw[s:s+len(ws)-1], ws[:len(ws)-1]) && strings.HasPrefix(nw[s+len(ws)-1], ws[len(ws)-1]) {
					found = i
					if nw[s+len(ws)-1] != ws[len(ws)-1] {
						cut++
					}
				}
			}
		}
		if found < 0 || q != strings.ToLower(q) {
			t.Fatalf("query %q is not typed from any name", q)
		}
		from[found]++
	}
	if lengths[1] == 0 || lengths[2] == 0 || lengths[3] == 0 || lengths[4] > 0 {
		t.Errorf("query lengths in words: %v, want 1 to 3", lengths)
	}
	if cut < len(qs)/2 {
		t.Errorf("only %d of %d queries end inside a word", cut, len(qs))
	}
	if from[1] == 0 || from[0] < 3*from[1] {
		t.Errorf("queries per product %v: want the unsold one searched too, the best seller most", from)
	}
}

func TestFullSearchRequest(t *testing.T) {
	d := searchDataset()
	if q := FullSearchQuery(d); q != "kitchen" {
		t.Errorf("query %q, want the largest named category", q)
	}
	target, err := Scenario("search_full", d, Keys{Public: "pub"})
	if err != nil {
		t.Fatal(err)
	}
	var req Request
	target.Next(rand.New(rand.NewPCG(1, 1)), &req)
	u, err := url.Parse(req.Path)
	if err != nil || u.Path != "/v2/search/search" {
		t.Fatalf("request %q: %v", req.Path, err)
	}
	v := u.Query()
	if v.Get("query") != "kitchen" || v.Get("filter") != "price < 100 and on_sale = true" || v.Get("orderby") != "price" ||
		v.Get("limit") != "20" || v.Get("facets") != `["brand","colour","material","categories"]` || v.Get("key") != "pub" {
		t.Errorf("request %v", v)
	}
	// Without list prices on_sale filters everything: a price band.
	d.OnSale = false
	target, _ = Scenario("search_full", d, Keys{Public: "pub"})
	target.Next(nil, &req)
	if u, _ := url.Parse(req.Path); u.Query().Get("filter") != "price < 100 and price > 1" {
		t.Errorf("filter without list prices: %q", u.Query().Get("filter"))
	}
	// Without categories: the commonest name word of 4+ letters.
	d.Categories = nil
	d.Names = []string{"big red bag", "small red bag", "lunch bag", "lunch box"}
	if q := FullSearchQuery(d); q != "lunch" {
		t.Errorf("fallback query %q, want lunch (bag and red are shorter than 4 letters)", q)
	}
}

func TestPredictiveRequest(t *testing.T) {
	target, err := Scenario("search_predictive", searchDataset(), Keys{Public: "pub"})
	if err != nil {
		t.Fatal(err)
	}
	var req Request
	target.Next(rand.New(rand.NewPCG(1, 1)), &req)
	u, _ := url.Parse(req.Path)
	if u.Path != "/v2/search/predictive" || u.Query().Get("limit") != "6" || u.Query().Get("query") == "" {
		t.Errorf("request %q", req.Path)
	}
}
