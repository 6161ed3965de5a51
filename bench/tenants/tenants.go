// Package tenants sets up the many-tenant benchmark: N stores (1,000 by
// default) on one deployment, each filled with its own small generated
// store, and a target that spreads queries over all of them, so that
// per-store overheads (models, sessions, caches, Raft groups) show.
package tenants

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sibylhq/sibyl/bench"
	"github.com/sibylhq/sibyl/bench/storegen"
)

// Config describes the tenants to create.
type Config struct {
	// URL is the base URL of any node; AdminToken creates stores.
	URL        string
	AdminToken string
	// Stores is the number of stores; NamePrefix+index names them.
	Stores     int
	NamePrefix string
	// Store sizes each store; store i uses seed Store.Seed+i, so stores
	// differ but the whole set is reproducible.
	Store storegen.Config
	// Concurrency bounds the stores being set up at once.
	Concurrency int
	// Timeout bounds one HTTP request.
	Timeout time.Duration
	// OrdersPerRequest batches order uploads.
	OrdersPerRequest int
}

// DefaultConfig is 1,000 stores of 100 products, 300 customers and 2,000
// order lines each, in the Online Retail shape.
func DefaultConfig() Config {
	s := storegen.DefaultConfig()
	s.Customers, s.Products, s.OrderLines = 300, 100, 2000
	return Config{
		Stores:           1000,
		NamePrefix:       "bench-tenant-",
		Store:            s,
		Concurrency:      8,
		Timeout:          30 * time.Second,
		OrdersPerRequest: 500,
	}
}

// ErrInvalidConfig is wrapped by every Validate error.
var ErrInvalidConfig = errors.New("invalid tenants config")

// Validate checks the fields.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return bad("url %q: want http(s)://host:port", c.URL)
	}
	if c.AdminToken == "" {
		return bad("no admin token")
	}
	if c.Stores < 1 || c.Concurrency < 1 || c.OrdersPerRequest < 1 || c.Timeout <= 0 {
		return bad("stores, concurrency, orders per request and timeout must be positive")
	}
	if err := c.Store.Validate(); err != nil {
		return fmt.Errorf("%w: store: %w", ErrInvalidConfig, err)
	}
	return nil
}

// Store is one created tenant and the ids queries may use.
type Store struct {
	ID       string     `json:"id"`
	Keys     bench.Keys `json:"-"`
	Products []string   `json:"-"`
	Sales    []float64  `json:"-"` // order lines per product
}

// Setup creates the stores and uploads their data. On error it returns
// the stores completed so far.
func Setup(ctx context.Context, cfg Config) ([]Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &client{base: strings.TrimRight(cfg.URL, "/"), http: &http.Client{Timeout: cfg.Timeout}}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stores := make([]Store, cfg.Stores)
	done := make([]bool, cfg.Stores)
	jobs := make(chan int)
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				st, err := setupOne(ctx, c, cfg, i)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
					cancel()
				}
				if err == nil {
					stores[i], done[i] = st, true
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for i := range cfg.Stores {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	var out []Store
	for i, ok := range done {
		if ok {
			out = append(out, stores[i])
		}
	}
	if firstErr != nil {
		return out, firstErr
	}
	if err := ctx.Err(); err != nil {
		return out, err
	}
	return out, nil
}

type product struct {
	ID    string  `json:"id"`
	Name  string  `json:"name"`
	Price float64 `json:"price"`
}

func setupOne(ctx context.Context, c *client, cfg Config, i int) (Store, error) {
	var created struct {
		ID         string `json:"id"`
		PublicKey  string `json:"public_key"`
		PrivateKey string `json:"private_key"`
	}
	body, _ := json.Marshal(map[string]string{"name": cfg.NamePrefix + strconv.Itoa(i)})
	if err := c.do(ctx, "/v2/stores", "Bearer "+cfg.AdminToken, body, &created); err != nil {
		return Store{}, fmt.Errorf("cannot create store %d: %w", i, err)
	}
	st := Store{ID: created.ID, Keys: bench.Keys{Public: created.PublicKey, Private: created.PrivateKey}}
	gen := cfg.Store
	gen.Seed += uint64(i)
	var orders []bench.Order
	sales := map[string]float64{}
	prices := map[string]float64{}
	err := storegen.Generate(gen, func(o *bench.Order) error {
		c := *o
		c.Products = append([]bench.OrderLine(nil), o.Products...)
		orders = append(orders, c)
		for _, l := range c.Products {
			sales[l.ID]++
			prices[l.ID] = l.Price
		}
		return nil
	})
	if err != nil {
		return Store{}, fmt.Errorf("cannot generate store %d: %w", i, err)
	}
	products := make([]product, 0, len(sales))
	for rank := range gen.Products {
		id := "p" + strconv.Itoa(rank)
		if n, ok := sales[id]; ok {
			products = append(products, product{ID: id, Name: "Product " + strconv.Itoa(rank), Price: prices[id]})
			st.Products = append(st.Products, id)
			st.Sales = append(st.Sales, n)
		}
	}
	q := "?key=" + url.QueryEscape(st.Keys.Public) + "&private_key=" + url.QueryEscape(st.Keys.Private)
	body, _ = json.Marshal(products)
	if err := c.do(ctx, "/v2/products"+q, "", body, nil); err != nil {
		return Store{}, fmt.Errorf("cannot upload the products of store %d: %w", i, err)
	}
	for from := 0; from < len(orders); from += cfg.OrdersPerRequest {
		body, _ = json.Marshal(orders[from:min(from+cfg.OrdersPerRequest, len(orders))])
		if err := c.do(ctx, "/v2/orders"+q, "", body, nil); err != nil {
			return Store{}, fmt.Errorf("cannot upload the orders of store %d: %w", i, err)
		}
	}
	return st, nil
}

type client struct {
	base string
	http *http.Client
}

// do POSTs body and decodes a 200 answer into out (if not nil).
func (c *client) do(ctx context.Context, path, auth string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: HTTP %d: %.300s", strings.SplitN(path, "?", 2)[0], resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("POST %s: cannot decode %.300s: %w", strings.SplitN(path, "?", 2)[0], b, err)
		}
	}
	return nil
}

// Target queries logic ("popular", "complementary", ...) on a store drawn
// uniformly per request, with a product of that store drawn by sales when
// withProduct is set.
func Target(stores []Store, logic string, withProduct bool) (bench.Target, error) {
	if len(stores) == 0 {
		return nil, fmt.Errorf("cannot make a many-tenant target: no stores")
	}
	type prepared struct {
		prefix   string
		products *bench.Choice
	}
	ps := make([]prepared, len(stores))
	for i, st := range stores {
		ps[i].prefix = "/v2/recommendations/" + logic + "?key=" + url.QueryEscape(st.Keys.Public) + "&limit=10"
		if withProduct {
			c, err := bench.NewChoice(st.Products, st.Sales)
			if err != nil {
				return nil, fmt.Errorf("store %s: %w", st.ID, err)
			}
			ps[i].products = c
		}
	}
	label := "tenants_" + logic
	return bench.FuncTarget{Label: label, Fn: func(rng *rand.Rand, req *bench.Request) {
		p := ps[rng.IntN(len(ps))]
		path := p.prefix
		if p.products != nil {
			path += "&products=" + url.QueryEscape(`["`+p.products.Pick(rng)+`"]`)
		}
		*req = bench.Request{Label: label, Method: "GET", Path: path}
	}}, nil
}
