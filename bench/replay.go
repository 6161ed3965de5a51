package bench

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
)

// ReplayMaxLines caps the products of one replayed visit: Online Retail
// invoices are wholesale-sized (about 23 lines), a shop visit is not.
const ReplayMaxLines = 10

// replayStep is one request of a replayed visit, encoded once.
type replayStep struct {
	label string
	path  string
	order []byte // sale body, with the id's closing quote at idEnd
	idEnd int
}

// Replay walks real orders in time order as storefront visits, one
// request per Next, so concurrent workers interleave visits like
// concurrent visitors. A visit is: the home page (popular), then per
// product the product page ("others also bought": most_sold_with) and the
// cart add (complementary over the cart so far), then the sale (POST
// /v2/orders with a fresh id per pass, when the private key is known).
//
// Tracking calls go between them as a shop's front end sends them: a
// /v2/log/product per product page, a /v2/log/cart/add per cart add, and
// a /v2/log/sale with the sale, all for the visitor named after the
// order's customer (or the order, for guests).
type Replay struct {
	steps []replayStep
	next  atomic.Int64
	base  string
}

// NewReplay builds the replay over up to maxOrders orders of d (all when
// maxOrders <= 0).
func NewReplay(d *Dataset, k Keys, maxOrders int) (*Replay, error) {
	orders := append([]Order(nil), d.Orders...)
	sort.SliceStable(orders, func(i, j int) bool { return orders[i].Time < orders[j].Time })
	if maxOrders > 0 && len(orders) > maxOrders {
		orders = orders[:maxOrders]
	}
	if len(orders) == 0 {
		return nil, fmt.Errorf("cannot replay %s: no orders", d.Name)
	}
	pub := "?key=" + url.QueryEscape(k.Public) + "&limit=10"
	r := &Replay{}
	for _, o := range orders {
		visitor := "rv-" + o.Customer
		if o.Customer == "" {
			visitor = "rv-o" + o.ID
		}
		track := "?key=" + url.QueryEscape(k.Public) + "&visitor=" + url.QueryEscape(visitor)
		r.steps = append(r.steps, replayStep{label: "home_popular", path: "/v2/recommendations/popular" + pub})
		var cart []string
		seen := map[string]bool{}
		for _, l := range o.Products {
			if seen[l.ID] || len(cart) == ReplayMaxLines {
				continue
			}
			seen[l.ID] = true
			one, _ := json.Marshal([]string{l.ID})
			r.steps = append(r.steps, replayStep{label: "log_product", path: "/v2/log/product" + track + "&product=" + url.QueryEscape(l.ID)})
			r.steps = append(r.steps, replayStep{label: "product_page_most_sold_with",
				path: "/v2/recommendations/most_sold_with" + pub + "&products=" + url.QueryEscape(string(one))})
			r.steps = append(r.steps, replayStep{label: "log_cart_add", path: "/v2/log/cart/add" + track + "&product=" + url.QueryEscape(l.ID)})
			cart = append(cart, l.ID)
			all, _ := json.Marshal(cart)
			r.steps = append(r.steps, replayStep{label: "cart_complementary",
				path: "/v2/recommendations/complementary" + pub + "&products=" + url.QueryEscape(string(all))})
		}
		if len(cart) > 0 {
			all, _ := json.Marshal(cart)
			r.steps = append(r.steps, replayStep{label: "log_sale",
				path: "/v2/log/sale" + track + "&sale=" + url.QueryEscape(o.ID) + "&products=" + url.QueryEscape(string(all))})
		}
		if k.Private == "" {
			continue
		}
		sale := o
		sale.Products = nil
		for _, l := range o.Products {
			if seen[l.ID] {
				sale.Products = append(sale.Products, l)
			}
		}
		body, err := json.Marshal([]Order{sale})
		if err != nil {
			return nil, fmt.Errorf("cannot encode order %s: %w", o.ID, err)
		}
		id, _ := json.Marshal(o.ID)
		r.steps = append(r.steps, replayStep{label: "sale_order", order: body,
			path:  "/v2/orders?key=" + url.QueryEscape(k.Public) + "&private_key=" + url.QueryEscape(k.Private),
			idEnd: len(`[{"id":`) + len(id) - 1})
	}
	return r, nil
}

// Name implements Target.
func (r *Replay) Name() string { return "retail_replay" }

// Steps is the number of requests in one pass.
func (r *Replay) Steps() int { return len(r.steps) }

// Next implements Target. It ignores rng: the sequence is the data's.
func (r *Replay) Next(_ *rand.Rand, req *Request) {
	i := r.next.Add(1) - 1
	s := r.steps[i%int64(len(r.steps))]
	if s.order == nil {
		*req = Request{Label: s.label, Method: "GET", Path: s.path}
		return
	}
	// Each pass sells again under new ids, so sales add orders.
	pass := "-r" + strconv.FormatInt(i/int64(len(r.steps)), 10)
	var b strings.Builder
	b.Grow(len(s.order) + len(pass))
	b.Write(s.order[:s.idEnd])
	b.WriteString(pass)
	b.Write(s.order[s.idEnd:])
	*req = Request{Label: s.label, Method: "POST", Path: s.path, Body: []byte(b.String()), ContentType: "application/json"}
}
