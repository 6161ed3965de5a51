package bench

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Keys are a store's API keys.
type Keys struct {
	Public  string
	Private string
}

// IngestBatch is the number of orders per ingest request.
const IngestBatch = 100

// endpointScenario is one Clerk endpoint measured alone.
type endpointScenario struct {
	name    string
	build   func(d *Dataset, k Keys) (Target, error)
	private bool // needs the private key
}

func recs(logic string, withProduct bool) func(*Dataset, Keys) (Target, error) {
	return func(d *Dataset, k Keys) (Target, error) {
		path := "/v2/recommendations/" + logic + "?key=" + url.QueryEscape(k.Public) + "&limit=10"
		vars := map[string]*Choice{}
		if withProduct {
			// Product pages are visited about as often as products sell.
			c, err := NewChoice(d.Products, d.Sales)
			if err != nil {
				return nil, err
			}
			vars["product"] = c
			path += "&products=%5B%22{product}%22%5D" // products=["id"]
		}
		return NewTemplate(logic, "GET", path, vars)
	}
}

var endpointScenarios = []endpointScenario{
	{name: "popular", build: recs("popular", false)},
	{name: "trending", build: recs("trending", false)},
	{name: "new", build: recs("new", false)},
	{name: "recently_bought", build: recs("recently_bought", false)},
	{name: "most_sold_with", build: recs("most_sold_with", true)},
	{name: "complementary", build: modelRecs("complementary")},
	{name: "substituting", build: modelRecs("substituting")},
	{name: "visitor_complementary", build: func(d *Dataset, k Keys) (Target, error) {
		c, err := NewChoice(d.Products, d.Sales)
		if err != nil {
			return nil, err
		}
		return &visitorTarget{label: "visitor_complementary", logic: "visitor/complementary", keys: k, products: c}, nil
	}},
	{name: "popular_filtered", build: func(d *Dataset, k Keys) (Target, error) {
		// A filter the index answers: a price band and an attribute.
		return NewTemplate("popular_filtered", "GET", "/v2/recommendations/popular?key="+url.QueryEscape(k.Public)+
			"&limit=10&filter="+url.QueryEscape("price >= 1.5 and price < 5 and name contains 'bag'"), nil)
	}},
	{name: "log_product", build: func(d *Dataset, k Keys) (Target, error) {
		c, err := NewChoice(d.Products, d.Sales)
		if err != nil {
			return nil, err
		}
		v, err := NewChoice(d.Customers, nil)
		if err != nil {
			return nil, err
		}
		return NewTemplate("log_product", "GET", "/v2/log/product?key="+url.QueryEscape(k.Public)+"&visitor=v{customer}&product={product}",
			map[string]*Choice{"product": c, "customer": v})
	}},
	{name: "customer_history", private: true, build: func(d *Dataset, k Keys) (Target, error) {
		c, err := NewChoice(d.Customers, nil)
		if err != nil {
			return nil, err
		}
		return NewTemplate("customer_history", "GET", "/v2/recommendations/customer/history?key="+
			url.QueryEscape(k.Public)+"&private_key="+url.QueryEscape(k.Private)+"&limit=10&customer={customer}",
			map[string]*Choice{"customer": c})
	}},
	{name: "ingest_orders", private: true, build: ingestOrders},
	{name: "shop_mix", build: shopMix},
	{name: "retail_replay", build: func(d *Dataset, k Keys) (Target, error) {
		// The sales need the private key; without it the replay is the
		// visits' queries only.
		return NewReplay(d, k, 5000)
	}},
}

// shopMix is a storefront's query traffic without tracking: mostly product
// pages (complementary) and carts (most_sold_with), then home and category
// pages. The weights are an assumption, not measured; the replay of real
// sessions (views, cart adds, sales through /v2/log/...) replaces it once
// the server routes tracking.
func shopMix(d *Dataset, k Keys) (Target, error) {
	weights := []struct {
		logic   string
		product bool
		weight  float64
	}{
		{"complementary", true, 40},
		{"most_sold_with", true, 20},
		{"popular", false, 20},
		{"trending", false, 10},
		{"recently_bought", false, 5},
		{"new", false, 5},
	}
	var parts []WeightedTarget
	for _, w := range weights {
		t, err := recs(w.logic, w.product)(d, k)
		if err != nil {
			return nil, err
		}
		parts = append(parts, WeightedTarget{Weight: w.weight, Target: t})
	}
	return NewMix("shop_mix", parts...)
}

// ScenarioNames lists the single-endpoint scenarios, sorted.
func ScenarioNames() []string {
	names := make([]string, 0, len(endpointScenarios))
	for _, s := range endpointScenarios {
		names = append(names, s.name)
	}
	sort.Strings(names)
	return names
}

// ErrUnknownScenario is returned for a name ScenarioNames does not list.
var ErrUnknownScenario = fmt.Errorf("unknown scenario")

// Scenario builds the named single-endpoint target over d with keys k.
// Scenarios that write or read customer data need k.Private.
func Scenario(name string, d *Dataset, k Keys) (Target, error) {
	for _, s := range endpointScenarios {
		if s.name != name {
			continue
		}
		if s.private && k.Private == "" {
			return nil, fmt.Errorf("scenario %q needs the store's private key", name)
		}
		t, err := s.build(d, k)
		if err != nil {
			return nil, fmt.Errorf("cannot build scenario %q: %w", name, err)
		}
		return t, nil
	}
	return nil, fmt.Errorf("%w %q (have %s)", ErrUnknownScenario, name, strings.Join(ScenarioNames(), ", "))
}

// ingestOrders posts IngestBatch consecutive orders of d per request. Each
// request gets fresh order ids (a random suffix) so that every request
// writes new orders rather than rewriting the same ones.
func ingestOrders(d *Dataset, k Keys) (Target, error) {
	if len(d.Orders) == 0 {
		return nil, fmt.Errorf("dataset %s has no orders", d.Name)
	}
	// Pre-encode each order once with a placeholder id, so a request is
	// only a copy and the suffix insertion.
	encoded := make([][]byte, len(d.Orders))
	idEnds := make([]int, len(d.Orders)) // offset of the id's closing quote
	for i, o := range d.Orders {
		b, err := json.Marshal(o)
		if err != nil {
			return nil, fmt.Errorf("cannot encode order %s: %w", o.ID, err)
		}
		id, _ := json.Marshal(o.ID) // a string always encodes
		encoded[i] = b
		idEnds[i] = len(`{"id":`) + len(id) - 1
	}
	path := "/v2/orders?key=" + url.QueryEscape(k.Public) + "&private_key=" + url.QueryEscape(k.Private)
	return FuncTarget{Label: "ingest_orders", Fn: func(rng *rand.Rand, req *Request) {
		first := rng.IntN(len(encoded))
		suffix := `-b` + strconv.FormatUint(rng.Uint64(), 36) + `"`
		body := make([]byte, 0, IngestBatch*300)
		body = append(body, '[')
		for j := range min(IngestBatch, len(encoded)) {
			if j > 0 {
				body = append(body, ',')
			}
			k := (first + j) % len(encoded)
			o, idEnd := encoded[k], idEnds[k]
			body = append(body, o[:idEnd]...)
			body = append(body, suffix...)
			body = append(body, o[idEnd+1:]...)
		}
		body = append(body, ']')
		*req = Request{Label: "ingest_orders", Method: "POST", Path: path, Body: body, ContentType: "application/json"}
	}}, nil
}

// modelRecs is a seeded logic that uses the trained model: it waits for
// the model before it is measured.
func modelRecs(logic string) func(*Dataset, Keys) (Target, error) {
	return func(d *Dataset, k Keys) (Target, error) {
		t, err := recs(logic, true)(d, k)
		if err != nil {
			return nil, err
		}
		return modelTarget{Target: t, keys: k}, nil
	}
}
