package query

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/engine"
)

var healthNow = time.Date(2026, 12, 8, 12, 0, 0, 0, time.UTC)

// cleanHealth is a store with nothing wrong: complete products, orders
// with customers naming them, tracking an hour old, a fresh model.
func cleanHealth() (engine.Health, engine.ModelInfo) {
	hour := healthNow.Add(-time.Hour).UnixMilli()
	return engine.Health{
		Products: 100, Orders: 500, OrderLines: 900, NeverSold: 10,
		LastSale: hour, LastClick: hour, LastEvent: hour,
		TrackedSales: 200, Influenced: 30,
		ModelTrainedAt: healthNow.Add(-3 * time.Hour).Unix(), DataVersion: 40,
	}, engine.ModelInfo{Trained: true, Version: 38, ChangesSince: 12}
}

func checkState(t *testing.T, checks []HealthCheck, name string) HealthCheck {
	t.Helper()
	for _, c := range checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %s in %+v", name, checks)
	return HealthCheck{}
}

// TestDataHealthStates: a clean store is green everywhere; each problem
// turns its own check (and only it) the expected colour.
func TestDataHealthStates(t *testing.T) {
	h, m := cleanHealth()
	clean := dataHealth(h, m, nil, healthNow)
	if len(clean) != 16 {
		t.Fatalf("%d checks, want 16: %+v", len(clean), clean)
	}
	for _, c := range clean {
		if c.State != stateGreen || c.Message == "" || c.Value == "" {
			t.Errorf("clean store: %+v", c)
		}
	}
	f := func(name, state, valueHas string, change func(h *engine.Health, m *engine.ModelInfo, sync **SyncSummary)) {
		t.Helper()
		h, m := cleanHealth()
		var sync *SyncSummary
		change(&h, &m, &sync)
		checks := dataHealth(h, m, sync, healthNow)
		for _, c := range checks {
			if c.Name == name {
				if c.State != state || !strings.Contains(c.Value, valueHas) {
					t.Errorf("%s = %+v, want state %s and a value with %q", name, c, state, valueHas)
				}
				if c.State != stateGreen && !strings.Contains(c.Message, ":") {
					t.Errorf("%s says what is wrong but not what to do: %q", name, c.Message)
				}
			} else if c.State != stateGreen {
				t.Errorf("changing %s also turned %s %s (%s)", name, c.Name, c.State, c.Message)
			}
		}
	}
	f("product_image", stateYellow, "10.0%", func(h *engine.Health, _ *engine.ModelInfo, _ **SyncSummary) {
		h.MissingFields[engine.FieldImage] = 10
	})
	f("product_image", stateRed, "30.0%", func(h *engine.Health, _ *engine.ModelInfo, _ **SyncSummary) {
		h.MissingFields[engine.FieldImage] = 30
	})
	f("product_name", stateRed, "6.0%", func(h *engine.Health, _ *engine.ModelInfo, _ **SyncSummary) {
		h.MissingFields[engine.FieldName] = 6
	})
	f("product_created_at", stateYellow, "40.0%", func(h *engine.Health, _ *engine.ModelInfo, _ **SyncSummary) {
		h.MissingFields[engine.FieldCreatedAt] = 40
	})
	f("unknown_products", stateYellow, "5.0%", func(h *engine.Health, _ *engine.ModelInfo, _ **SyncSummary) { h.UnknownLines = 45 })
	f("unknown_products", stateRed, "50.0%", func(h *engine.Health, _ *engine.ModelInfo, _ **SyncSummary) { h.UnknownLines = 450 })
	f("orders_without_customer", stateYellow, "10.0%", func(h *engine.Health, _ *engine.ModelInfo, _ **SyncSummary) { h.OrdersWithoutBuyer = 50 })
	f("orders_without_customer", stateRed, "60.0%", func(h *engine.Health, _ *engine.ModelInfo, _ **SyncSummary) { h.OrdersWithoutBuyer = 300 })
	f("tracking_sales", stateYellow, "last 2026-12-06", func(h *engine.Health, _ *engine.ModelInfo, _ **SyncSummary) {
		h.LastSale = healthNow.Add(-48 * time.Hour).UnixMilli()
	})
	f("tracking_sales", stateRed, "never", func(h *engine.Health, _ *engine.ModelInfo, _ **SyncSummary) { h.LastSale = 0 })
	f("tracking_clicks", stateRed, "last 2026-11-", func(h *engine.Health, _ *engine.ModelInfo, _ **SyncSummary) {
		h.LastClick = healthNow.Add(-10 * 24 * time.Hour).UnixMilli()
	})
	f("influenced_sales", stateYellow, "3.0%", func(h *engine.Health, _ *engine.ModelInfo, _ **SyncSummary) { h.Influenced = 6 })
	f("influenced_sales", stateRed, "0.0%", func(h *engine.Health, _ *engine.ModelInfo, _ **SyncSummary) { h.Influenced = 0 })
	f("influenced_sales", stateGreen, "0.0%", func(h *engine.Health, _ *engine.ModelInfo, _ **SyncSummary) {
		h.Influenced, h.TrackedSales = 0, minInfluenceSales-1 // too few to judge
	})
	f("products_never_sold", stateYellow, "60.0%", func(h *engine.Health, _ *engine.ModelInfo, _ **SyncSummary) { h.NeverSold = 60 })
	f("products_never_sold", stateRed, "95.0%", func(h *engine.Health, _ *engine.ModelInfo, _ **SyncSummary) { h.NeverSold = 95 })
	f("prices", stateYellow, "1.0%", func(h *engine.Health, _ *engine.ModelInfo, _ **SyncSummary) { h.BadPrices = 1 })
	f("prices", stateRed, "10.0%", func(h *engine.Health, _ *engine.ModelInfo, _ **SyncSummary) { h.BadPrices = 10 })
	f("model", stateYellow, "3h old, 2 writes (20000 orders) behind", func(_ *engine.Health, m *engine.ModelInfo, _ **SyncSummary) { m.ChangesSince = 20000 })
	f("model", stateRed, "8d old", func(h *engine.Health, _ *engine.ModelInfo, _ **SyncSummary) {
		h.ModelTrainedAt = healthNow.Add(-8 * 24 * time.Hour).Unix()
	})
	f("model", stateYellow, "not trained", func(_ *engine.Health, m *engine.ModelInfo, _ **SyncSummary) { m.Trained = false })

	run := func(state string, ago time.Duration) SyncRunSummary {
		return SyncRunSummary{ID: "r1", State: state, Started: healthNow.Add(-ago - time.Minute), Finished: healthNow.Add(-ago), Error: "feed answered 500"}
	}
	f("sync_last", stateGreen, "succeeded 1h ago", func(_ *engine.Health, _ *engine.ModelInfo, s **SyncSummary) {
		*s = &SyncSummary{Runs: []SyncRunSummary{run("succeeded", time.Hour)}, Products: 100, PreviousProducts: 98}
	})
	f("sync_last", stateRed, "failed 1h ago", func(_ *engine.Health, _ *engine.ModelInfo, s **SyncSummary) {
		*s = &SyncSummary{Runs: []SyncRunSummary{run("failed", time.Hour)}, Products: 100, PreviousProducts: 100}
	})
	f("sync_last", stateYellow, "succeeded 3d ago", func(_ *engine.Health, _ *engine.ModelInfo, s **SyncSummary) {
		*s = &SyncSummary{Runs: []SyncRunSummary{run("succeeded", 72*time.Hour)}, PreviousProducts: -1}
	})
	f("sync_catalog_change", stateRed, "-40 (40.0%)", func(_ *engine.Health, _ *engine.ModelInfo, s **SyncSummary) {
		*s = &SyncSummary{Runs: []SyncRunSummary{run("succeeded", time.Hour)}, Products: 60, PreviousProducts: 100}
	})
	f("sync_catalog_change", stateYellow, "+15 (15.0%)", func(_ *engine.Health, _ *engine.ModelInfo, s **SyncSummary) {
		*s = &SyncSummary{Runs: []SyncRunSummary{run("succeeded", time.Hour)}, Products: 115, PreviousProducts: 100}
	})

	if c := checkState(t, clean, "sync_last"); c.Value != "none" || !strings.Contains(c.Message, "no sync configured") {
		t.Errorf("without SyncHealth: %+v", c)
	}
	empty := dataHealth(engine.Health{}, engine.ModelInfo{}, nil, healthNow)
	if c := checkState(t, empty, "product_name"); c.State != stateRed || !strings.Contains(c.Message, "no products") {
		t.Errorf("empty store: %+v", c)
	}
}

// syncBackend is an engineBackend whose stores have a sync summary.
type syncBackend struct {
	*engineBackend
	sum map[string]SyncSummary
}

func (b *syncBackend) SyncSummary(store string) (SyncSummary, bool) {
	s, ok := b.sum[store]
	return s, ok
}

func getPage(t *testing.T, url string, header ...string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// TestDataHealthEndpoint runs the checks over the real engine: a store
// with known problems, the same store once fixed, the keys, and the
// dashboard page.
func TestDataHealthEndpoint(t *testing.T) {
	b := &syncBackend{engineBackend: newEngineBackend(), sum: map[string]SyncSummary{}}
	s := startAPIServer(t, b)
	c := newAPIClient(t, s.addr)
	st := createStore(c, "shop")
	other := createStore(c, "other")
	now := time.Now().Unix()
	expect(t, c.Do("POST", "/v2/products"+q(st, true), `[
		{"id":"a","name":"A","price":10,"url":"/a","image":"a.jpg","categories":["k"],"created_at":1},
		{"id":"b","name":"B","price":0,"url":"/b","categories":["k"],"created_at":1},
		{"id":"c","name":"C","price":5,"url":"/c","categories":["k"],"created_at":1}]`), 200, "")
	expect(t, c.Do("POST", "/v2/orders"+q(st, true), fmt.Sprintf(`[
		{"id":"o1","time":%d,"customer":"u1","products":[{"id":"a","quantity":1,"price":10},{"id":"ghost","quantity":1,"price":1}]},
		{"id":"o2","time":%d,"customer":"u2","products":[{"id":"b","quantity":1,"price":1},{"id":"c","quantity":1,"price":5}]}]`, now, now)), 200, "")

	health := func(st testStore, private bool) map[string]HealthCheck {
		t.Helper()
		a := c.Do("GET", "/v2/health/data"+q(st, private), nil)
		expect(t, a, 200, "")
		out := map[string]HealthCheck{}
		for _, v := range a.Body["checks"].([]any) {
			m := v.(map[string]any)
			out[m["name"].(string)] = HealthCheck{Name: m["name"].(string), State: m["state"].(string), Value: m["value"].(string), Message: m["message"].(string)}
		}
		if len(out) != 16 {
			t.Fatalf("%d checks: %s", len(out), a.Raw)
		}
		return out
	}
	got := health(st, true)
	for name, want := range map[string]string{
		"product_image": stateRed, "prices": stateRed, "unknown_products": stateRed, "product_name": stateGreen,
		"orders_without_customer": stateGreen, "tracking_sales": stateRed, "tracking_clicks": stateRed,
		"model": stateYellow, "products_never_sold": stateGreen, "sync_last": stateGreen,
	} {
		if got[name].State != want {
			t.Errorf("%s = %+v, want %s", name, got[name], want)
		}
	}
	if g := got["product_image"]; g.Value != "66.7%" || !strings.Contains(g.Message, "2 of 3 products have no image") {
		t.Errorf("product_image = %+v", g)
	}
	if g := got["unknown_products"]; !strings.Contains(g.Message, "1 of 4 order lines") {
		t.Errorf("unknown_products = %+v", g)
	}
	if g := got["sync_last"]; g.Value != "none" {
		t.Errorf("sync_last without a sync = %+v", g)
	}

	// Fixed: images, prices, the ghost product; tracking with a click
	// before the sale; the model trained.
	expect(t, c.Do("POST", "/v2/products"+q(st, true), `[
		{"id":"b","name":"B","price":3,"url":"/b","image":"b.jpg","categories":["k"],"created_at":1},
		{"id":"c","name":"C","price":5,"url":"/c","image":"c.jpg","categories":["k"],"created_at":1},
		{"id":"ghost","name":"G","price":1,"url":"/g","image":"g.jpg","categories":["k"],"created_at":1}]`), 200, "")
	expect(t, c.Do("POST", "/v2/log/click", map[string]any{"key": st.Public, "visitor": "v1", "product": "a", "labels": []string{"home"}}), 200, "")
	expect(t, c.Do("POST", "/v2/log/sale", map[string]any{"key": st.Public, "visitor": "v1", "sale": "s1", "products": []string{"a"}}), 200, "")
	b.retrain(t)
	b.sum[st.ID] = SyncSummary{Source: "feed", Products: 4, PreviousProducts: 4,
		Runs: []SyncRunSummary{{ID: "run-2", State: "succeeded", Started: time.Now().Add(-time.Minute), Finished: time.Now(), Created: 4}}}
	for name, g := range health(st, true) {
		if g.State != stateGreen {
			t.Errorf("fixed store: %s = %+v", name, g)
		}
	}

	// Keys: none, wrong, public only, another store's.
	expect(t, c.Do("GET", "/v2/health/data", nil), 401, "missing_key")
	expect(t, c.Do("GET", "/v2/health/data?key=pk_nope&private_key=sk_nope", nil), 401, "invalid_key")
	expect(t, c.Do("GET", "/v2/health/data"+q(st, false), nil), 403, "forbidden")
	expect(t, c.Do("POST", "/v2/health/data", map[string]string{"key": st.Public, "private_key": st.Private}), 200, "")
	if g := health(other, true); g["product_name"].State != stateRed {
		t.Errorf("the other store sees data: %+v", g["product_name"])
	}

	// The page: by query key and by Authorization header; never for a
	// public key or for another store's key.
	base := "http://" + s.addr + "/dashboard/" + st.ID
	code, page, hdr := getPage(t, base+"?private_key="+st.Private)
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") || !strings.Contains(hdr.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("dashboard: %d %v\n%s", code, hdr, page)
	}
	if !strings.Contains(page, `data-name="prices" data-state="green"`) || !strings.Contains(page, "4 created, 0 updated") {
		t.Errorf("dashboard lacks the checks or the sync runs:\n%s", page)
	}
	if n := strings.Count(page, `<rect class="bar"`); n != 3*chartDays {
		t.Errorf("%d bars, want %d", n, 3*chartDays)
	}
	if code, _, _ := getPage(t, base, "Authorization", "Bearer "+st.Private); code != 200 {
		t.Errorf("dashboard with a bearer key: %d", code)
	}
	if code, _, _ := getPage(t, base+"?key="+st.Public); code != 403 {
		t.Errorf("dashboard with a public key: %d", code)
	}
	if code, _, _ := getPage(t, base+"?private_key="+other.Private); code != 403 {
		t.Errorf("dashboard with another store's key: %d", code)
	}
	if code, _, _ := getPage(t, base); code != 401 {
		t.Errorf("dashboard without a key: %d", code)
	}
}
