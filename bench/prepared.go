package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Preparer is a Target that needs the server in some state before it is
// measured (visitors with a history, a trained model). The CLI calls
// Prepare with the base URLs before the run.
type Preparer interface {
	Prepare(ctx context.Context, baseURLs []string) error
}

// visitorsPrepared is how many visitors the visitor scenarios give a
// history, and viewsPerVisitor how many product views each logs first.
const (
	visitorsPrepared = 500
	viewsPerVisitor  = 5
)

// visitorTarget asks a visitor logic for one of the prepared visitors.
type visitorTarget struct {
	label, logic string
	keys         Keys
	products     *Choice
}

func (v *visitorTarget) Name() string { return v.label }

func (v *visitorTarget) Next(rng *rand.Rand, req *Request) {
	*req = Request{Label: v.label, Method: "GET", Path: "/v2/recommendations/" + v.logic + "?key=" + url.QueryEscape(v.keys.Public) +
		"&limit=10&visitor=bench-v" + strconv.Itoa(rng.IntN(visitorsPrepared))}
}

// Prepare logs viewsPerVisitor product views for each prepared visitor
// (drawn by sales, as product pages are visited), then waits until the
// store's model is trained so that the run measures the session fold-in,
// not the fallback.
func (v *visitorTarget) Prepare(ctx context.Context, bases []string) error {
	rng := rand.New(rand.NewPCG(7, 7))
	c := &http.Client{Timeout: 10 * time.Second}
	for i := range visitorsPrepared {
		for range viewsPerVisitor {
			u := bases[0] + "/v2/log/product?key=" + url.QueryEscape(v.keys.Public) + "&visitor=bench-v" + strconv.Itoa(i) +
				"&product=" + url.QueryEscape(v.products.Pick(rng))
			resp, err := c.Get(u)
			if err != nil {
				return fmt.Errorf("cannot log views for the visitor scenario: %w", err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("logging a view answered HTTP %d", resp.StatusCode)
			}
		}
	}
	return waitForModel(ctx, bases[0], v.keys.Public)
}

// modelTarget is a seeded logic that waits for the trained model.
type modelTarget struct {
	Target
	keys Keys
}

func (m modelTarget) Prepare(ctx context.Context, bases []string) error {
	return waitForModel(ctx, bases[0], m.keys.Public)
}

// waitForModel polls the debug output of a model logic until the store's
// factor model is trained (at most a minute).
func waitForModel(ctx context.Context, base, key string) error {
	return waitForModelWithin(ctx, base, key, time.Minute)
}

// waitForModelWithin is waitForModel with its own limit.
func waitForModelWithin(ctx context.Context, base, key string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		resp, err := http.Get(base + "/v2/recommendations/popular?limit=1&debug=true&key=" + url.QueryEscape(key))
		if err == nil {
			var a struct {
				Debug struct {
					ModelTrained bool `json:"model_trained"`
				} `json:"debug"`
			}
			json.NewDecoder(resp.Body).Decode(&a)
			resp.Body.Close()
			if a.Debug.ModelTrained {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the store's model was not trained within %v", limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
