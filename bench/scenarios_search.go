package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// The search scenarios (issue 13): search/predictive as shoppers type,
// and a full search/search of the category with the most matches, with
// filters, facets and a sort. Both draw from the dataset's product names
// and categories: make bench-search runs them on a generated 50,000
// product store (bench/storegen), `sibyl bench --data store.json.gz`.
func init() {
	endpointScenarios = append(endpointScenarios,
		endpointScenario{name: "search_predictive", build: searchPredictive},
		endpointScenario{name: "search_full", build: searchFull},
	)
}

// predictiveQueries is how many distinct as-you-type queries the
// predictive scenario cycles through: enough that no few queries
// dominate, few enough to build at once.
const predictiveQueries = 20_000

// predictiveLimit is the products a predictive box shows.
const predictiveLimit = 6

// searchPredictive asks search/predictive for queries as shoppers type
// them (PredictiveQueries), limit 6.
func searchPredictive(d *Dataset, k Keys) (Target, error) {
	qs := PredictiveQueries(d, predictiveQueries, 13)
	c, err := NewChoice(qs, nil)
	if err != nil {
		return nil, err
	}
	t, err := NewTemplate("search_predictive", "GET", "/v2/search/predictive?key="+url.QueryEscape(k.Public)+
		fmt.Sprintf("&limit=%d&query={q}", predictiveLimit), map[string]*Choice{"q": c})
	if err != nil {
		return nil, err
	}
	return searchTarget{Target: t, keys: k}, nil
}

// searchTarget waits, before it is measured, for the store's model (its
// training after an import takes the CPUs for a while) and for one
// answer, which builds the search index: the run measures searches, not
// the first build.
type searchTarget struct {
	Target
	keys Keys
}

func (s searchTarget) Prepare(ctx context.Context, bases []string) error {
	// A 50,000-product model takes minutes on 2 busy cores.
	if err := waitForModelWithin(ctx, bases[0], s.keys.Public, 10*time.Minute); err != nil {
		return err
	}
	var req Request
	s.Next(rand.New(rand.NewPCG(1, 1)), &req)
	hc := &http.Client{Timeout: time.Minute}
	resp, err := hc.Get(bases[0] + req.Path)
	if err != nil {
		return fmt.Errorf("first search: %w", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("first search answered HTTP %d", resp.StatusCode)
	}
	return nil
}

// PredictiveQueries makes n queries as a shopper types them into a
// search box, deterministic by seed: a product drawn by sales (plus one,
// so unsold products are searched too), one to three consecutive words
// of its name, lower case, the last word cut after 1 to all of its
// letters (each keystroke is a request, so every prefix length is as
// likely). Without names, product ids stand in.
func PredictiveQueries(d *Dataset, n int, seed uint64) []string {
	names := d.Names
	if len(names) != len(d.Products) {
		names = d.Products
	}
	if len(names) == 0 {
		return nil
	}
	weights := make([]float64, len(d.Products))
	for i := range weights {
		if i < len(d.Sales) {
			weights[i] = d.Sales[i]
		}
		weights[i]++
	}
	pick, _ := NewChoice(names, weights) // names is not empty, weights >= 1
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b9))
	out := make([]string, 0, n)
	for tries := 0; len(out) < n && tries < 4*n; tries++ {
		words := strings.Fields(strings.ToLower(pick.Pick(rng)))
		if len(words) == 0 {
			continue
		}
		k := 1 + rng.IntN(min(3, len(words)))
		start := rng.IntN(len(words) - k + 1)
		q := words[start : start+k]
		last := q[k-1]
		cut := 1 + rng.IntN(utf8.RuneCountInString(last))
		out = append(out, strings.Join(q[:k-1], " ")+sep(k)+firstRunes(last, cut))
	}
	return out
}

func sep(k int) string {
	if k > 1 {
		return " "
	}
	return ""
}

func firstRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// SearchFacets are the full search's facets, counted over every match.
var SearchFacets = []string{"brand", "colour", "material", "categories"}

// FullSearchQuery is the full scenario's query: the name of the
// category holding the most products (lower case), the query with the
// most matches; without categories, the most frequent name word of at
// least 4 letters.
func FullSearchQuery(d *Dataset) string {
	best := -1
	for i, c := range d.Categories {
		if c.Name != "" && (best < 0 || c.Products > d.Categories[best].Products) {
			best = i
		}
	}
	if best >= 0 {
		return strings.ToLower(d.Categories[best].Name)
	}
	count := map[string]int{}
	top := ""
	for _, n := range d.Names {
		for _, w := range strings.Fields(strings.ToLower(n)) {
			if utf8.RuneCountInString(w) < 4 {
				continue
			}
			count[w]++
			if c := count[w]; c > count[top] || (c == count[top] && w < top) {
				top = w
			}
		}
	}
	if top == "" && len(d.Products) > 0 {
		top = d.Products[0]
	}
	return top
}

// searchFull asks search/search for FullSearchQuery with two filters
// (price below 100 and on sale; a price band when no product has a list
// price), four facets with counts, ordered by price, limit 20: a
// category page's search with its sidebar.
func searchFull(d *Dataset, k Keys) (Target, error) {
	filter := "price < 100 and on_sale = true"
	if !d.OnSale {
		filter = "price < 100 and price > 1"
	}
	return searchTarget{Target: Fixed{Label: "search_full", Method: "GET", Path: SearchFullPath(d, k, filter)}, keys: k}, nil
}

// SearchFullPath is the full scenario's request for filter.
func SearchFullPath(d *Dataset, k Keys, filter string) string {
	v := url.Values{}
	v.Set("key", k.Public)
	v.Set("query", FullSearchQuery(d))
	v.Set("limit", "20")
	v.Set("filter", filter)
	v.Set("facets", `["`+strings.Join(SearchFacets, `","`)+`"]`)
	v.Set("orderby", "price")
	v.Set("order", "asc")
	return "/v2/search/search?" + v.Encode()
}
