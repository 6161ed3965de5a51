package storegen

import (
	"encoding/json"
	"flag"
	"math"
	"os"
	"testing"

	"github.com/sibylhq/sibyl/bench"
	"github.com/sibylhq/sibyl/demo"
)

var update = flag.Bool("update", false, "rewrite online_retail_profile.json from the real data")

func loadRetail(t *testing.T) *bench.Dataset {
	t.Helper()
	path := demo.OnlineRetail(t)
	d, err := bench.LoadOnlineRetail(path)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestOnlineRetailProfile(t *testing.T) {
	d := loadRetail(t)
	p, err := Fit(d)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		b, _ := json.MarshalIndent(p, "", " ")
		if err := os.WriteFile("online_retail_profile.json", append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := OnlineRetail()
	if math.Abs(p.PopularityExponent-want.PopularityExponent) > 1e-9 ||
		math.Abs(p.RepeatRate-want.RepeatRate) > 1e-9 ||
		len(p.BasketSizes) != len(want.BasketSizes) ||
		math.Abs(Mean(p.BasketSizes)-Mean(want.BasketSizes)) > 1e-9 ||
		math.Abs(Mean(p.OrdersPerCustomer)-Mean(want.OrdersPerCustomer)) > 1e-9 {
		t.Errorf("the embedded profile is stale: run with -update\nfit:      exp %v repeat %v basket %v orders %v",
			p.PopularityExponent, p.RepeatRate, Mean(p.BasketSizes), Mean(p.OrdersPerCustomer))
	}
	// The README's figures: 4,372 customers; 25,900 invoices of which
	// 22,190 are sales (not cancellations).
	if m := Mean(p.OrdersPerCustomer); m < 4 || m > 5.5 {
		t.Errorf("orders per customer = %v, want about 18.5k/4.3k ≈ 4.3", m)
	}
	if p.RepeatRate <= 0.05 || p.RepeatRate >= 0.9 {
		t.Errorf("repeat rate = %v, implausible", p.RepeatRate)
	}
}

// A known shape, generated and fitted again, comes back.
func TestGenerateRoundTrip(t *testing.T) {
	profile := Profile{
		PopularityExponent: 0.9,
		BasketSizes:        normalise([]float64{30, 20, 15, 10, 8, 6, 5, 3, 2, 1}),
		OrdersPerCustomer:  normalise([]float64{40, 20, 12, 8, 6, 5, 4, 3, 1, 1}),
		RepeatRate:         0.3,
		PriceLogMean:       1.2,
		PriceLogStd:        0.8,
	}
	cfg := DefaultConfig()
	cfg.Customers, cfg.Products = 4000, 2000
	cfg.Profile = profile
	// Lines for exactly the profile's orders per customer: scale 1.
	cfg.OrderLines = int64(float64(cfg.Customers) * Mean(profile.OrdersPerCustomer) * Mean(profile.BasketSizes))
	got := generate(t, cfg)
	fit, err := Fit(got)
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol {
			t.Errorf("%s = %.3f, want %.3f ± %.3f", name, got, want, tol)
		}
	}
	check("popularity exponent", fit.PopularityExponent, profile.PopularityExponent, 0.1)
	check("mean basket", Mean(fit.BasketSizes), Mean(profile.BasketSizes), 0.1)
	check("mean orders per customer", Mean(fit.OrdersPerCustomer), Mean(profile.OrdersPerCustomer), 0.25)
	check("one-order customers", fit.OrdersPerCustomer[0], profile.OrdersPerCustomer[0], 0.05)
	check("repeat rate", fit.RepeatRate, profile.RepeatRate, 0.05)
	check("price log mean", fit.PriceLogMean, profile.PriceLogMean, 0.1)
	check("price log std", fit.PriceLogStd, profile.PriceLogStd, 0.1)
	var lines int64
	for _, o := range got.Orders {
		lines += int64(len(o.Products))
	}
	if lines < cfg.OrderLines || lines > cfg.OrderLines+int64(len(profile.BasketSizes)) {
		t.Errorf("lines = %d, want %d (stop at the first order reaching it)", lines, cfg.OrderLines)
	}
}

// Online Retail's shape survives generation at another size.
func TestGenerateFromOnlineRetail(t *testing.T) {
	profile := OnlineRetail()
	cfg := DefaultConfig()
	cfg.Customers, cfg.Products, cfg.OrderLines = 3000, 3000, 300_000
	got := generate(t, cfg)
	fit, err := Fit(got)
	if err != nil {
		t.Fatal(err)
	}
	if d := math.Abs(fit.PopularityExponent - profile.PopularityExponent); d > 0.1 {
		t.Errorf("exponent %v, want %v", fit.PopularityExponent, profile.PopularityExponent)
	}
	if d := math.Abs(Mean(fit.BasketSizes) - Mean(profile.BasketSizes)); d > 1.5 {
		t.Errorf("mean basket %v, want %v", Mean(fit.BasketSizes), Mean(profile.BasketSizes))
	}
	if d := math.Abs(fit.RepeatRate - profile.RepeatRate); d > 0.07 {
		t.Errorf("repeat rate %v, want %v", fit.RepeatRate, profile.RepeatRate)
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Customers, cfg.Products, cfg.OrderLines = 300, 200, 5000
	a, b := generate(t, cfg), generate(t, cfg)
	ja, _ := json.Marshal(a.Orders)
	jb, _ := json.Marshal(b.Orders)
	if string(ja) != string(jb) {
		t.Fatal("same seed, different stores")
	}
	cfg.Seed++
	c := generate(t, cfg)
	jc, _ := json.Marshal(c.Orders)
	if string(jc) == string(ja) {
		t.Fatal("different seeds, same store")
	}
}

func TestValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	for name, mutate := range map[string]func(*Config){
		"no customers": func(c *Config) { c.Customers = 0 },
		"no products":  func(c *Config) { c.Products = 0 },
		"no lines":     func(c *Config) { c.OrderLines = 0 },
		"no span":      func(c *Config) { c.Span = 0 },
		"bad exponent": func(c *Config) { c.Profile.PopularityExponent = 0 },
		"bad repeat":   func(c *Config) { c.Profile.RepeatRate = 1.5 },
		"bad baskets":  func(c *Config) { c.Profile.BasketSizes = []float64{0.5} },
	} {
		c := DefaultConfig()
		mutate(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func generate(t testing.TB, cfg Config) *bench.Dataset {
	t.Helper()
	d := &bench.Dataset{Name: "generated"}
	products := map[string]bool{}
	err := Generate(cfg, func(o *bench.Order) error {
		c := *o
		c.Products = append([]bench.OrderLine(nil), o.Products...)
		d.Orders = append(d.Orders, c)
		for _, l := range c.Products {
			if !products[l.ID] {
				products[l.ID] = true
				d.Products = append(d.Products, l.ID)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// BenchmarkGenerate reports order lines per second: 20M lines take
// 20M / (lines/s).
func BenchmarkGenerate(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Customers, cfg.Products, cfg.OrderLines = 50_000, 100_000, 1_000_000
	for b.Loop() {
		var lines int64
		if err := Generate(cfg, func(o *bench.Order) error { lines += int64(len(o.Products)); return nil }); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(lines), "lines/op")
	}
}
