package bench

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sibylhq/sibyl/demo"
)

func TestLoadOnlineRetail(t *testing.T) {
	path := demo.OnlineRetail(t)
	d, err := LoadOnlineRetail(path)
	if err != nil {
		t.Fatal(err)
	}
	// The README's verified figures: 25,900 invoices of which some are
	// cancellations; 4,372 customers; about 4,070 stock codes.
	if n := len(d.Orders); n < 18000 || n > 25900 {
		t.Errorf("orders = %d, want the non-cancelled part of 25,900 invoices", n)
	}
	if n := len(d.Customers); n < 4300 || n > 4372 {
		t.Errorf("customers = %d, want about 4,372", n)
	}
	if n := len(d.Products); n < 3600 || n > 4070 {
		t.Errorf("products = %d, want about 4,000", n)
	}
	for _, o := range d.Orders {
		if strings.HasPrefix(o.ID, "C") || len(o.Products) == 0 {
			t.Fatalf("order %+v: cancellation or empty", o)
		}
	}
	if _, err := LoadOnlineRetail(filepath.Join(t.TempDir(), "absent.csv.gz")); !errors.Is(err, ErrNoData) {
		t.Errorf("absent file: err = %v, want ErrNoData", err)
	}
}

func TestScenariosBuildValidRequests(t *testing.T) {
	d := SyntheticDataset(50, 20, 300, 1)
	keys := Keys{Public: "pub", Private: "priv"}
	rng := rand.New(rand.NewPCG(3, 3))
	for _, name := range ScenarioNames() {
		target, err := Scenario(name, d, keys)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var req Request
		target.Next(rng, &req)
		if name == "shop_mix" || name == "retail_replay" {
			if target.Name() != name || req.Label == name || req.Label == "" {
				t.Errorf("mix: name %q, request label %q, want the part's label", target.Name(), req.Label)
			}
			continue
		}
		if req.Label != name || !strings.HasPrefix(req.Path, "/v2/") || !strings.Contains(req.Path, "key=pub") {
			t.Errorf("%s: request %+v", name, req)
		}
	}
	if _, err := Scenario("customer_history", d, Keys{Public: "pub"}); err == nil {
		t.Error("a private scenario built without the private key")
	}
	if _, err := Scenario("nope", d, keys); !errors.Is(err, ErrUnknownScenario) {
		t.Errorf("unknown scenario: err = %v", err)
	}
}

func TestIngestOrdersBodyIsFreshValidJSON(t *testing.T) {
	d := SyntheticDataset(50, 20, 300, 1)
	d.Orders[0].ID = `we"ird` // ids that need escaping keep working
	target, err := Scenario("ingest_orders", d, Keys{Public: "pub", Private: "priv"})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	seen := map[string]bool{}
	for range 5 {
		var req Request
		target.Next(rng, &req)
		var orders []Order
		if err := json.Unmarshal(req.Body, &orders); err != nil {
			t.Fatalf("body is not a JSON list of orders: %v\n%.300s", err, req.Body)
		}
		if len(orders) != IngestBatch {
			t.Fatalf("batch of %d orders, want %d", len(orders), IngestBatch)
		}
		for _, o := range orders {
			if seen[o.ID] {
				t.Fatalf("order id %q sent twice: ingest would rewrite, not add", o.ID)
			}
			seen[o.ID] = true
			if len(o.Products) == 0 {
				t.Fatalf("order %q lost its lines", o.ID)
			}
		}
		if req.Method != "POST" || req.ContentType != "application/json" {
			t.Errorf("request %s %s", req.Method, req.ContentType)
		}
	}
}

func TestSyntheticDatasetIsDeterministicAndSkewed(t *testing.T) {
	a, b := SyntheticDataset(1000, 100, 2000, 9), SyntheticDataset(1000, 100, 2000, 9)
	ja, _ := json.Marshal(a.Orders)
	jb, _ := json.Marshal(b.Orders)
	if string(ja) != string(jb) {
		t.Fatal("same seed, different orders")
	}
	counts := map[string]int{}
	for _, o := range a.Orders {
		for _, l := range o.Products {
			counts[l.ID]++
		}
	}
	// Zipf: the top product sells far more than one in the tail.
	if counts["p0"] < 10*max(counts["p900"], 1) {
		t.Errorf("p0 sold %d, p900 sold %d: not a power law", counts["p0"], counts["p900"])
	}
}
