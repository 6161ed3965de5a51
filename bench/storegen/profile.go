// Package storegen generates large synthetic stores whose shape is fitted
// to a real one (UCI Online Retail): power-law product popularity, basket
// sizes, orders per customer and repeat purchases. It is deterministic by
// seed and streams orders, so 1M customers, 100k products and 20M order
// lines never sit in memory at once. The compute and memory scale
// benchmarks consume it. GenerateCatalog adds the products themselves
// (names, categories, brands, prices) for the search benchmarks, and
// WriteFeed writes a whole store as a Clerk JSON feed; Generate's orders
// are the same with or without them.
package storegen

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/sibylhq/sibyl/bench"
)

// Profile is the shape of a store.
type Profile struct {
	// PopularityExponent is s in frequency ∝ rank^-s, fitted on the
	// product rank-frequency curve of order lines.
	PopularityExponent float64 `json:"popularity_exponent"`
	// BasketSizes[k] is the share of orders with k+1 lines.
	BasketSizes []float64 `json:"basket_sizes"`
	// OrdersPerCustomer[k] is the share of customers with k+1 orders.
	OrdersPerCustomer []float64 `json:"orders_per_customer"`
	// RepeatRate is the share of a customer's order lines naming a
	// product that customer bought in an earlier order.
	RepeatRate float64 `json:"repeat_rate"`
	// PriceLogMean and PriceLogStd describe product prices as log-normal.
	PriceLogMean float64 `json:"price_log_mean"`
	PriceLogStd  float64 `json:"price_log_std"`
}

// maxTail caps the basket and orders-per-customer distributions; rarer
// larger values are folded into the last bucket.
const maxTail = 200

// ErrTooLittleData is returned when a dataset cannot support a fit.
var ErrTooLittleData = errors.New("too little data to fit a profile")

// Fit measures d's shape. Orders without a customer count for popularity,
// basket sizes and prices only.
func Fit(d *bench.Dataset) (Profile, error) {
	if len(d.Orders) < 10 || len(d.Products) < 10 {
		return Profile{}, fmt.Errorf("cannot fit %s: %w (%d orders, %d products)", d.Name, ErrTooLittleData, len(d.Orders), len(d.Products))
	}
	var p Profile
	lines := map[string]float64{}
	prices := map[string]float64{}
	baskets := make([]float64, maxTail)
	type hist struct {
		orders int
		seen   map[string]bool
	}
	customers := map[string]*hist{}
	var repeatLines, customerLines float64
	// Orders are taken in time order so that "earlier" is meaningful.
	orders := append([]bench.Order(nil), d.Orders...)
	sort.SliceStable(orders, func(i, j int) bool { return orders[i].Time < orders[j].Time })
	for _, o := range orders {
		distinct := map[string]bool{}
		for _, l := range o.Products {
			distinct[l.ID] = true
			if l.Price > 0 {
				prices[l.ID] = l.Price
			}
		}
		for id := range distinct {
			lines[id]++
		}
		baskets[min(len(distinct), maxTail)-1]++
		if o.Customer == "" {
			continue
		}
		h := customers[o.Customer]
		if h == nil {
			h = &hist{seen: map[string]bool{}}
			customers[o.Customer] = h
		}
		for id := range distinct {
			customerLines++
			if h.seen[id] {
				repeatLines++
			}
		}
		for id := range distinct {
			h.seen[id] = true
		}
		h.orders++
	}
	p.BasketSizes = normalise(trimZeros(baskets))
	perCustomer := make([]float64, maxTail)
	for _, h := range customers {
		perCustomer[min(h.orders, maxTail)-1]++
	}
	if len(customers) > 0 {
		p.OrdersPerCustomer = normalise(trimZeros(perCustomer))
		p.RepeatRate = repeatLines / customerLines
	} else {
		p.OrdersPerCustomer = []float64{1}
	}
	counts := make([]float64, 0, len(lines))
	for _, c := range lines {
		counts = append(counts, c)
	}
	p.PopularityExponent = fitPowerLaw(counts)
	var sum, sum2, n float64
	for _, pr := range prices {
		l := math.Log(pr)
		sum += l
		sum2 += l * l
		n++
	}
	if n > 1 {
		p.PriceLogMean = sum / n
		p.PriceLogStd = math.Sqrt(math.Max(sum2/n-p.PriceLogMean*p.PriceLogMean, 0))
	}
	return p, nil
}

// fitPowerLaw fits s in count ∝ rank^-s by least squares on log-log over
// the ranks holding the top 90% of lines (the extreme tail of items sold
// once or twice is flat and would drag the slope).
func fitPowerLaw(counts []float64) float64 {
	sort.Sort(sort.Reverse(sort.Float64Slice(counts)))
	total := 0.0
	for _, c := range counts {
		total += c
	}
	var sx, sy, sxx, sxy, n, acc float64
	for i, c := range counts {
		if acc > 0.9*total || c <= 0 {
			break
		}
		acc += c
		x, y := math.Log(float64(i+1)), math.Log(c)
		sx += x
		sy += y
		sxx += x * x
		sxy += x * y
		n++
	}
	den := n*sxx - sx*sx
	if n < 2 || den == 0 {
		return 1
	}
	return -(n*sxy - sx*sy) / den
}

func trimZeros(v []float64) []float64 {
	end := len(v)
	for end > 1 && v[end-1] == 0 {
		end--
	}
	return v[:end]
}

func normalise(v []float64) []float64 {
	sum := 0.0
	for _, x := range v {
		sum += x
	}
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = x / sum
	}
	return out
}

// Mean is the mean of a distribution over 1, 2, 3, ...
func Mean(pmf []float64) float64 {
	m := 0.0
	for i, p := range pmf {
		m += float64(i+1) * p
	}
	return m
}
