package storegen

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"time"

	"github.com/sibylhq/sibyl/bench"
)

// Config sizes a synthetic store.
type Config struct {
	Customers int
	Products  int
	// OrderLines is the number of order lines to generate; generation
	// stops there, so the last customers may have no orders.
	OrderLines int64
	Seed       uint64
	Profile    Profile
	// Order times are spread over [Start, Start+Span).
	Start time.Time
	Span  time.Duration
}

// DefaultConfig is a small store (10k customers, 2k products, 200k lines)
// with the Online Retail profile.
func DefaultConfig() Config {
	return Config{
		Customers:  10_000,
		Products:   2_000,
		OrderLines: 200_000,
		Seed:       1,
		Profile:    OnlineRetail(),
		Start:      time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		Span:       365 * 24 * time.Hour,
	}
}

// ErrInvalidConfig is wrapped by every Validate error.
var ErrInvalidConfig = errors.New("invalid store generator config")

// Validate checks sizes and the profile.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case c.Customers < 1:
		return bad("customers must be >= 1, got %d", c.Customers)
	case c.Products < 1:
		return bad("products must be >= 1, got %d", c.Products)
	case c.Products > 1<<26:
		return bad("products %d above the supported 2^26", c.Products)
	case c.OrderLines < 1:
		return bad("order lines must be >= 1, got %d", c.OrderLines)
	case c.Span <= 0:
		return bad("span must be > 0, got %v", c.Span)
	case !(c.Profile.PopularityExponent > 0):
		return bad("popularity exponent must be > 0, got %v", c.Profile.PopularityExponent)
	case c.Profile.RepeatRate < 0 || c.Profile.RepeatRate > 1:
		return bad("repeat rate must be in [0,1], got %v", c.Profile.RepeatRate)
	case !validPMF(c.Profile.BasketSizes):
		return bad("basket sizes are not a distribution")
	case !validPMF(c.Profile.OrdersPerCustomer):
		return bad("orders per customer are not a distribution")
	case c.Profile.PriceLogStd < 0:
		return bad("price log std must be >= 0")
	}
	return nil
}

func validPMF(p []float64) bool {
	if len(p) == 0 {
		return false
	}
	sum := 0.0
	for _, x := range p {
		if x < 0 || math.IsNaN(x) {
			return false
		}
		sum += x
	}
	return math.Abs(sum-1) < 1e-6
}

// sampler draws an index from cumulative weights.
type sampler []float64

func newSampler(weights []float64) sampler {
	cum := make(sampler, len(weights))
	acc := 0.0
	for i, w := range weights {
		acc += w
		cum[i] = acc
	}
	return cum
}

func (s sampler) draw(rng *rand.Rand) int {
	x := rng.Float64() * s[len(s)-1]
	return min(sort.SearchFloat64s(s, x), len(s)-1)
}

// Generate emits the store's orders, customer by customer (each
// customer's orders in time order; customers are not interleaved, which
// keeps memory constant). The order passed to emit is reused: copy what
// you keep. Customer ids are "c<n>", product ids "p<rank>" with p0 the
// most popular, order ids "o<customer>-<k>".
//
// Orders per customer are the profile's distribution scaled to the
// requested lines per customer, so the skew (few heavy buyers, many
// one-off ones) keeps its shape at any size.
func Generate(cfg Config, emit func(*bench.Order) error) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	p := cfg.Profile
	weights := make([]float64, cfg.Products)
	for r := range weights {
		weights[r] = math.Pow(float64(r+1), -p.PopularityExponent)
	}
	popularity := newSampler(weights)
	baskets := newSampler(p.BasketSizes)
	ordersPer := newSampler(p.OrdersPerCustomer)

	prices := make([]float64, cfg.Products)
	priceRNG := rand.New(rand.NewPCG(cfg.Seed, math.MaxUint64))
	for i := range prices {
		prices[i] = math.Round(math.Exp(p.PriceLogMean+p.PriceLogStd*priceRNG.NormFloat64())*100) / 100
	}
	ids := make([]string, cfg.Products)
	for i := range ids {
		ids[i] = "p" + strconv.Itoa(i)
	}

	meanBasket := math.Min(Mean(p.BasketSizes), float64(cfg.Products))
	// 3% more orders than the lines need, so that random variation
	// rarely runs out of customers before OrderLines; the last few
	// customers then have no orders (registered, never bought).
	scale := 1.03 * float64(cfg.OrderLines) / (float64(cfg.Customers) * Mean(p.OrdersPerCustomer) * meanBasket)
	// Lines in a customer's first order cannot be repeats; raise the
	// per-line repeat chance so the share over all lines matches the
	// profile (with n orders per customer, 1/E[n] of lines are first).
	meanOrders := math.Max(Mean(p.OrdersPerCustomer)*scale, 1)
	repeat := p.RepeatRate
	if meanOrders > 1 {
		repeat = math.Min(1, repeat/(1-1/meanOrders))
	}

	var emitted int64
	var order bench.Order
	var history []int
	inBasket := map[int]bool{}
	var times []int64
	for c := 0; c < cfg.Customers && emitted < cfg.OrderLines; c++ {
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(c)))
		n := stochasticRound(float64(ordersPer.draw(rng)+1)*scale, rng)
		if n < 1 {
			n = 1
		}
		times = times[:0]
		for range n {
			times = append(times, cfg.Start.Unix()+rng.Int64N(int64(cfg.Span/time.Second)))
		}
		sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
		history = history[:0]
		customer := "c" + strconv.Itoa(c)
		for k := range n {
			size := min(baskets.draw(rng)+1, cfg.Products)
			order.ID = "o" + strconv.Itoa(c) + "-" + strconv.Itoa(k)
			order.Time = times[k]
			order.Customer = customer
			order.Products = order.Products[:0]
			clear(inBasket)
			for tries := 0; len(order.Products) < size && tries < 4*size; tries++ {
				var item int
				if len(history) > 0 && rng.Float64() < repeat {
					item = history[rng.IntN(len(history))]
				} else {
					item = popularity.draw(rng)
				}
				if inBasket[item] {
					continue
				}
				inBasket[item] = true
				order.Products = append(order.Products, bench.OrderLine{
					ID: ids[item], Quantity: float64(1 + rng.IntN(12)), Price: prices[item],
				})
			}
			for item := range inBasket {
				history = append(history, item)
			}
			// A customer's own history needs no duplicates for uniform
			// repeat draws over distinct products; dedupe cheaply.
			history = dedupe(history)
			if err := emit(&order); err != nil {
				return fmt.Errorf("cannot emit order %s: %w", order.ID, err)
			}
			emitted += int64(len(order.Products))
			if emitted >= cfg.OrderLines {
				return nil
			}
		}
	}
	return nil
}

func stochasticRound(x float64, rng *rand.Rand) int {
	f := math.Floor(x)
	if rng.Float64() < x-f {
		f++
	}
	return int(f)
}

func dedupe(v []int) []int {
	sort.Ints(v)
	out := v[:0]
	for i, x := range v {
		if i == 0 || x != v[i-1] {
			out = append(out, x)
		}
	}
	return out
}
