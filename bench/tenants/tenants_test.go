package tenants

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/sibylhq/sibyl/bench"
)

// fakeSibyl is an in-memory stand-in for the store and data endpoints.
type fakeSibyl struct {
	mu       sync.Mutex
	token    string
	byPublic map[string]*fakeStore
}

type fakeStore struct {
	private  string
	products map[string]bool
	lines    int
	orders   int
	unknown  int // order lines naming a product not uploaded first
}

func newFake(token string) (*fakeSibyl, *httptest.Server) {
	f := &fakeSibyl{token: token, byPublic: map[string]*fakeStore{}}
	return f, httptest.NewServer(f)
}

func (f *fakeSibyl) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fail := func(code int, msg string) {
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"status":"error","message":%q}`, msg)
	}
	if r.URL.Path == "/v2/stores" {
		if r.Header.Get("Authorization") != "Bearer "+f.token {
			fail(http.StatusUnauthorized, "bad token")
			return
		}
		n := len(f.byPublic)
		pub, priv := fmt.Sprintf("pk%d", n), fmt.Sprintf("sk%d", n)
		f.byPublic[pub] = &fakeStore{private: priv, products: map[string]bool{}}
		fmt.Fprintf(w, `{"status":"ok","id":"st%d","public_key":%q,"private_key":%q}`, n, pub, priv)
		return
	}
	st := f.byPublic[r.URL.Query().Get("key")]
	if st == nil || st.private != r.URL.Query().Get("private_key") {
		fail(http.StatusForbidden, "bad keys")
		return
	}
	switch r.URL.Path {
	case "/v2/products":
		var ps []product
		if err := json.NewDecoder(r.Body).Decode(&ps); err != nil {
			fail(http.StatusBadRequest, err.Error())
			return
		}
		for _, p := range ps {
			if p.ID == "" || p.Name == "" || p.Price <= 0 {
				fail(http.StatusBadRequest, "bad product")
				return
			}
			st.products[p.ID] = true
		}
	case "/v2/orders":
		var os []bench.Order
		if err := json.NewDecoder(r.Body).Decode(&os); err != nil {
			fail(http.StatusBadRequest, err.Error())
			return
		}
		for _, o := range os {
			st.orders++
			for _, l := range o.Products {
				st.lines++
				if !st.products[l.ID] {
					st.unknown++
				}
			}
		}
	default:
		fail(http.StatusNotFound, "no route")
		return
	}
	fmt.Fprint(w, `{"status":"ok"}`)
}

func testConfig(url string) Config {
	cfg := DefaultConfig()
	cfg.URL, cfg.AdminToken = url, "admin"
	cfg.Stores = 30
	cfg.OrdersPerRequest = 40 // several order requests per store
	return cfg
}

func TestSetupCreatesAndFillsEveryStore(t *testing.T) {
	fake, srv := newFake("admin")
	defer srv.Close()
	cfg := testConfig(srv.URL)
	stores, err := Setup(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(stores) != cfg.Stores || len(fake.byPublic) != cfg.Stores {
		t.Fatalf("%d stores returned, %d created, want %d", len(stores), len(fake.byPublic), cfg.Stores)
	}
	seen := map[string]bool{}
	for _, st := range stores {
		fs := fake.byPublic[st.Keys.Public]
		if fs == nil || seen[st.Keys.Public] {
			t.Fatalf("store %+v unknown or duplicated", st)
		}
		seen[st.Keys.Public] = true
		if fs.lines < int(cfg.Store.OrderLines) || fs.lines > int(cfg.Store.OrderLines)+250 {
			t.Errorf("store %s got %d lines, want about %d", st.ID, fs.lines, cfg.Store.OrderLines)
		}
		if fs.unknown != 0 {
			t.Errorf("store %s: %d lines name products never uploaded", st.ID, fs.unknown)
		}
		if len(fs.products) != len(st.Products) {
			t.Errorf("store %s: %d products uploaded, %d kept for queries", st.ID, len(fs.products), len(st.Products))
		}
	}
	// Stores are generated with different seeds.
	a, b := fake.byPublic["pk0"], fake.byPublic["pk1"]
	if a.orders == b.orders && a.lines == b.lines && len(a.products) == len(b.products) {
		t.Error("two stores look identical: seeds not varied")
	}
}

func TestSetupStopsOnError(t *testing.T) {
	_, srv := newFake("admin")
	defer srv.Close()
	cfg := testConfig(srv.URL)
	cfg.AdminToken = "wrong"
	stores, err := Setup(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("err = %v, want the 401", err)
	}
	if len(stores) != 0 {
		t.Errorf("%d stores reported set up", len(stores))
	}
	cfg.Stores = 0
	if _, err := Setup(context.Background(), cfg); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("zero stores: err = %v", err)
	}
}

func TestTargetSpreadsOverStores(t *testing.T) {
	stores := make([]Store, 50)
	for i := range stores {
		stores[i] = Store{ID: fmt.Sprint(i), Keys: bench.Keys{Public: fmt.Sprintf("pk%d", i)},
			Products: []string{fmt.Sprintf("s%d-a", i), fmt.Sprintf("s%d-b", i)}, Sales: []float64{1, 1}}
	}
	target, err := Target(stores, "complementary", true)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	used := map[string]bool{}
	for range 2000 {
		var req bench.Request
		target.Next(rng, &req)
		u, err := url.Parse(req.Path)
		if err != nil {
			t.Fatal(err)
		}
		key := u.Query().Get("key")
		var ids []string
		if err := json.Unmarshal([]byte(u.Query().Get("products")), &ids); err != nil || len(ids) != 1 {
			t.Fatalf("products param %q: %v", u.Query().Get("products"), err)
		}
		if !strings.HasPrefix(ids[0], "s"+strings.TrimPrefix(key, "pk")+"-") {
			t.Fatalf("product %s drawn for store %s", ids[0], key)
		}
		used[key] = true
	}
	if len(used) != len(stores) {
		t.Errorf("%d of %d stores queried", len(used), len(stores))
	}
}
