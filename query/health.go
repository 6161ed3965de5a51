package query

import (
	"bytes"
	"fmt"
	"math"
	"time"

	"github.com/sibylhq/sibyl/engine"
	"github.com/sibylhq/sibyl/web"
)

// Data health (GET /v2/health/data and the page at /dashboard/<store>):
// checks of a store's data, each green, yellow or red with the number
// behind it and what to do. Every number comes from counters the engine
// keeps at apply time (engine/health.go), so a check costs the same on a
// store of a thousand orders as on one of ten million.

// Check states.
const (
	stateGreen  = "green"
	stateYellow = "yellow"
	stateRed    = "red"
)

// HealthCheck is one data health check.
type HealthCheck struct {
	Name    string `json:"name"`
	State   string `json:"state"`
	Value   string `json:"value"`
	Message string `json:"message"`
}

// HealthReader is implemented by a StoreReader that keeps data health
// counters (*engine.Store does). A reader without them reports the
// counters of an empty store.
type HealthReader interface {
	Health(sinceDay int64) engine.Health
}

// SyncHealth is implemented by a Backend that runs data syncs (issue
// 14's /v2/sync): the summary of a store's syncs, false when the store
// has no sync configured. A Backend without it shows "no sync
// configured".
type SyncHealth interface {
	SyncSummary(store string) (SyncSummary, bool)
}

// SyncSummary is what data health reads of a store's syncs.
type SyncSummary struct {
	// Source names the configured source ("feed https://...").
	Source string
	// Runs are the latest runs, newest first (the dashboard shows at
	// most syncRunsShown).
	Runs []SyncRunSummary
	// Products is the catalog size after the last complete sync and
	// PreviousProducts after the one before; PreviousProducts < 0: no
	// earlier complete sync.
	Products, PreviousProducts int
}

// SyncRunSummary is one sync run.
type SyncRunSummary struct {
	ID string
	// State is running, succeeded, failed or refused.
	State             string
	Started, Finished time.Time
	Created, Updated  int
	Deleted, Rejected int
	// Error is the first error or the reason for a refusal.
	Error string
}

// Thresholds of the checks. Shares are fractions of the products,
// orders or lines concerned; a share above a yellow threshold is yellow,
// above a red one red.
const (
	// A product without a name, price or url cannot be shown at all;
	// a few are a feed bug, many a broken mapping.
	coreFieldYellow, coreFieldRed = 0.0, 0.05
	// Without an image or categories a product still shows, but badly
	// and outside category logics: tolerate some, a fifth is broken.
	softFieldYellow, softFieldRed = 0.0, 0.20
	// created_at only feeds "new" logics; many feeds lack it.
	createdYellow, createdRed = 0.0, 0.50
	// Lines naming products not in the catalog are lost to every
	// statistic: a few are deleted products, a tenth is an id mismatch
	// between orders and products.
	unknownLinesYellow, unknownLinesRed = 0.01, 0.10
	// Orders without customer or email teach no personal logic; guest
	// checkouts make some, most is an export that drops the customer.
	noBuyerYellow, noBuyerRed = 0.05, 0.50
	// A shop with traffic sells and clicks every day; a day without is
	// worth a look, a week is broken tracking.
	trackingYellow, trackingRed = 24 * time.Hour, 7 * 24 * time.Hour
	// Below minInfluenceSales tracked sales the share says nothing. A
	// working setup attributes some sales to recommendations or search;
	// under 1% the clicks are most likely not tracked.
	minInfluenceSales             = 20
	influenceYellow, influenceRed = 0.05, 0.01
	// Long tails are normal; nine products in ten unsold is an id
	// mismatch or a missing order history.
	neverSoldYellow, neverSoldRed = 0.50, 0.90
	// A product priced 0 or below is shown as free: any is a mistake.
	badPriceYellow, badPriceRed = 0.0, 0.05
	// Models retrain in the background once data settles (and at least
	// at the retrain policy's MaxAge); days old means training fails.
	modelAgeYellow, modelAgeRed = 2 * 24 * time.Hour, 7 * 24 * time.Hour
	// Orders the model has not learned from: past this, the next
	// training is overdue.
	modelBehindYellow = 10000
	// A scheduled sync runs hourly or daily ("when needed"): two days
	// without one is late, a week broken.
	syncAgeYellow, syncAgeRed = 2 * 24 * time.Hour, 7 * 24 * time.Hour
	// Catalog size change between two complete syncs; red at the sync
	// safety valve's default (a sync deleting 30% is refused).
	catalogChangeYellow, catalogChangeRed = 0.10, 0.30
)

// The page's extent.
const (
	syncRunsShown = 10
	chartDays     = 30
	secondsPerDay = 86400
)

// What to do, per check.
const (
	noDataAdvice        = "import your products and orders (POST /v2/products, /v2/orders) or configure a sync (/v2/sync)"
	trackingAdvice      = "check that the shop's pages call Clerk.js or the log endpoints with the public key"
	modelAdvice         = "the model retrains in the background; if it stays old, check the node's logs for training errors"
	fieldsAdvice        = "add the field to the products in the feed or the import"
	unknownAdvice       = "make order lines use the same product ids as the catalog, or import the missing products"
	noBuyerAdvice       = "send a customer id or email with each order (log/sale customer= or email=, or in the order import)"
	neverSoldAdvice     = "import the order history, and check that order lines use the catalog's product ids"
	priceAdvice         = "send the selling price (a number above 0) for each product"
	influenceAdvice     = "send log/click (with the labels of the recommendation) when a visitor clicks a recommended or searched product"
	syncAdvice          = "see /v2/sync/runs for the errors; fix the source or its credentials and start a sync (POST /v2/sync/start)"
	catalogChangeAdvice = "check the source: a large change in catalog size is often a feed that lost or duplicated part of the catalog"
	noSyncMessage       = "no sync configured: data arrives by push only (configure one with POST /v2/sync)"
)

// shareState grades a share: above red is red, above yellow is yellow.
func shareState(share, yellow, red float64) string {
	switch {
	case share > red:
		return stateRed
	case share > yellow:
		return stateYellow
	}
	return stateGreen
}

func share(n, of int64) float64 {
	if of <= 0 {
		return 0
	}
	return float64(n) / float64(of)
}

func pct(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }

// dataHealth computes the checks of a store at wall-clock now, in the
// order the answer gives them (fixed: clients may index them).
func dataHealth(h engine.Health, m engine.ModelInfo, sync *SyncSummary, now time.Time) []HealthCheck {
	var out []HealthCheck
	add := func(name, state, value, msg string) {
		out = append(out, HealthCheck{Name: name, State: state, Value: value, Message: msg})
	}
	products := int64(h.Products)

	// Required product fields, one check each.
	for f, name := range engine.ProductFieldNames {
		yellow, red := coreFieldYellow, coreFieldRed
		switch f {
		case engine.FieldImage, engine.FieldCategories:
			yellow, red = softFieldYellow, softFieldRed
		case engine.FieldCreatedAt:
			yellow, red = createdYellow, createdRed
		}
		n := int64(h.MissingFields[f])
		sh := share(n, products)
		state, msg := shareState(sh, yellow, red), fmt.Sprintf("every product has %s", name)
		if n > 0 {
			msg = fmt.Sprintf("%d of %d products have no %s: %s", n, products, name, fieldsAdvice)
		}
		if products == 0 {
			state, msg = stateRed, "no products: "+noDataAdvice
		}
		add("product_"+name, state, pct(sh), msg)
	}

	// Orders naming unknown products (order lines).
	sh := share(h.UnknownLines, h.OrderLines)
	msg := "every order line names a product of the catalog"
	if h.UnknownLines > 0 {
		msg = fmt.Sprintf("%d of %d order lines name products not in the catalog: %s", h.UnknownLines, h.OrderLines, unknownAdvice)
	}
	add("unknown_products", shareState(sh, unknownLinesYellow, unknownLinesRed), pct(sh), msg)

	// Orders without a customer.
	sh = share(int64(h.OrdersWithoutBuyer), int64(h.Orders))
	msg = "every order names its customer"
	if h.OrdersWithoutBuyer > 0 {
		msg = fmt.Sprintf("%d of %d orders have neither a customer id nor an email: %s", h.OrdersWithoutBuyer, h.Orders, noBuyerAdvice)
	}
	add("orders_without_customer", shareState(sh, noBuyerYellow, noBuyerRed), pct(sh), msg)

	// Tracking seen lately.
	tracking := func(name, call string, last int64) {
		if last == 0 {
			add(name, stateRed, "never", "no "+call+" seen yet: "+trackingAdvice)
			return
		}
		age := now.Sub(time.UnixMilli(last))
		value := "last " + time.UnixMilli(last).UTC().Format(time.RFC3339)
		switch {
		case age > trackingRed:
			add(name, stateRed, value, fmt.Sprintf("no %s for %s: %s", call, roundAge(age), trackingAdvice))
		case age > trackingYellow:
			add(name, stateYellow, value, fmt.Sprintf("no %s in the last 24 hours (last %s ago): %s", call, roundAge(age), trackingAdvice))
		default:
			add(name, stateGreen, value, call+" seen in the last 24 hours")
		}
	}
	tracking("tracking_sales", "log/sale", h.LastSale)
	tracking("tracking_clicks", "log/click", h.LastClick)

	// Share of tracked sales influenced by Sibyl.
	sh = share(h.Influenced, h.TrackedSales)
	switch {
	case h.TrackedSales < minInfluenceSales:
		add("influenced_sales", stateGreen, pct(sh), fmt.Sprintf("%d tracked sales so far: too few to judge (%d needed)", h.TrackedSales, minInfluenceSales))
	default:
		state := stateGreen
		switch {
		case sh < influenceRed:
			state = stateRed
		case sh < influenceYellow:
			state = stateYellow
		}
		msg := fmt.Sprintf("%d of %d tracked sales had a product clicked from a recommendation or search earlier in the visit", h.Influenced, h.TrackedSales)
		if state != stateGreen {
			msg += ": " + influenceAdvice
		}
		add("influenced_sales", state, pct(sh), msg)
	}

	// Products never sold.
	sh = share(int64(h.NeverSold), products)
	switch {
	case products == 0:
		add("products_never_sold", stateGreen, pct(0), "no products yet")
	case h.Orders == 0:
		add("products_never_sold", stateRed, pct(1), "no orders: "+neverSoldAdvice)
	default:
		add("products_never_sold", shareState(sh, neverSoldYellow, neverSoldRed), pct(sh),
			fmt.Sprintf("%d of %d products appear in no order: if most do, %s", h.NeverSold, products, neverSoldAdvice))
	}

	// Prices of zero or below.
	sh = share(int64(h.BadPrices), products)
	msg = "every product has a price above 0"
	if h.BadPrices > 0 {
		msg = fmt.Sprintf("%d of %d products are priced 0 or below: %s", h.BadPrices, products, priceAdvice)
	}
	add("prices", shareState(sh, badPriceYellow, badPriceRed), pct(sh), msg)

	// The model's age and the orders it has not learned.
	switch {
	case h.Orders == 0:
		add("model", stateGreen, "none", "no orders to learn from yet")
	case !m.Trained || h.ModelTrainedAt == 0:
		add("model", stateYellow, "not trained", fmt.Sprintf("no model trained on this node yet (%d orders waiting): %s", m.ChangesSince, modelAdvice))
	default:
		age := now.Sub(time.Unix(h.ModelTrainedAt, 0))
		behind := uint64(0)
		if h.DataVersion > m.Version {
			behind = h.DataVersion - m.Version
		}
		value := fmt.Sprintf("%s old, %d writes (%d orders) behind", roundAge(age), behind, m.ChangesSince)
		state := stateGreen
		switch {
		case age > modelAgeRed:
			state = stateRed
		case age > modelAgeYellow || m.ChangesSince > modelBehindYellow:
			state = stateYellow
		}
		msg := "the model is recent"
		if state != stateGreen {
			msg = "the model is " + value + ": " + modelAdvice
		}
		add("model", state, value, msg)
	}

	syncChecks(sync, now, add)
	return out
}

// syncChecks adds the two sync checks: the last run's age and outcome,
// and the catalog size change between the last two complete syncs.
func syncChecks(sync *SyncSummary, now time.Time, add func(name, state, value, msg string)) {
	if sync == nil {
		add("sync_last", stateGreen, "none", noSyncMessage)
		add("sync_catalog_change", stateGreen, "none", noSyncMessage)
		return
	}
	if len(sync.Runs) == 0 {
		add("sync_last", stateYellow, "never", "a sync is configured but has not run yet; start one with POST /v2/sync/start")
	} else {
		r := sync.Runs[0]
		at := r.Finished
		if at.IsZero() {
			at = r.Started
		}
		age := now.Sub(at)
		value := fmt.Sprintf("%s %s ago", r.State, roundAge(age))
		switch {
		case r.State == "failed" || r.State == "refused":
			msg := "the last sync " + r.State
			if r.Error != "" {
				msg += ": " + r.Error
			}
			add("sync_last", stateRed, value, msg+"; "+syncAdvice)
		case age > syncAgeRed:
			add("sync_last", stateRed, value, "no sync for over a week: check the schedule (GET /v2/sync) and the node's logs")
		case age > syncAgeYellow && r.State != "running":
			add("sync_last", stateYellow, value, "no sync for over two days: check the schedule (GET /v2/sync)")
		default:
			add("sync_last", stateGreen, value, "the last sync "+r.State)
		}
	}
	if sync.PreviousProducts < 0 {
		add("sync_catalog_change", stateGreen, "n/a", "one complete sync so far: nothing to compare")
		return
	}
	delta := sync.Products - sync.PreviousProducts
	ch := math.Abs(float64(delta)) / math.Max(1, float64(sync.PreviousProducts))
	value := fmt.Sprintf("%+d (%s)", delta, pct(ch))
	state := shareState(ch, catalogChangeYellow, catalogChangeRed)
	msg := fmt.Sprintf("the catalog went from %d to %d products in the last sync", sync.PreviousProducts, sync.Products)
	if state != stateGreen {
		msg += ": " + catalogChangeAdvice
	}
	add("sync_catalog_change", state, value, msg)
}

// roundAge prints a duration as a person would: 45m, 5h, 3d.
func roundAge(d time.Duration) string {
	switch {
	case d < 0:
		return "0m"
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}

// storeHealth reads what the checks need of store: its counters from
// sinceDay on (zero without data), its model and its syncs.
func (s *Server) storeHealth(store string, sinceDay int64) (engine.Health, engine.ModelInfo, *SyncSummary, error) {
	var h engine.Health
	var m engine.ModelInfo
	st, err := s.backend.StoreData(store)
	if err != nil {
		return h, m, nil, s.backendErr(err)
	}
	if st != nil {
		if hr, ok := st.(HealthReader); ok {
			h = hr.Health(sinceDay)
		}
		m = st.ModelInfo()
	}
	var sync *SyncSummary
	if sh, ok := s.backend.(SyncHealth); ok {
		if sum, ok := sh.SyncSummary(store); ok {
			sync = &sum
		}
	}
	return h, m, sync, nil
}

func (s *Server) handleDataHealth(r *request) error {
	now := time.Now()
	h, m, sync, err := s.storeHealth(r.store, now.Unix()/secondsPerDay)
	if err != nil {
		return err
	}
	return writeJSON(r.ctx, map[string]any{"status": "ok", "checks": dataHealth(h, m, sync, now)})
}

// handleDashboard serves the data health page of the store the path
// names, which must be the store of the key given.
func (s *Server) handleDashboard(r *request) error {
	if id, _ := r.ctx.UserValue(pathParamKey("store")).(string); id != r.store {
		return errForbidden("the key given is not the key of store %s", quote(id))
	}
	now := time.Now()
	today := now.Unix() / secondsPerDay
	first := today - chartDays + 1
	h, m, sync, err := s.storeHealth(r.store, first)
	if err != nil {
		return err
	}
	d := web.Dashboard{Store: r.store, Generated: now}
	for _, c := range dataHealth(h, m, sync, now) {
		d.Checks = append(d.Checks, web.Check(c))
	}
	labels := make([]string, chartDays)
	orders := make([]int64, chartDays)
	events := make([]int64, chartDays)
	sales := make([]int64, chartDays)
	for i := range labels {
		labels[i] = time.Unix((first+int64(i))*secondsPerDay, 0).UTC().Format("Jan 2")
	}
	for _, c := range h.OrderDays {
		if i := c.Day - first; i >= 0 && i < chartDays {
			orders[i] = c.N
		}
	}
	for _, c := range h.EventDays {
		if i := c.Day - first; i >= 0 && i < chartDays {
			events[i] = c.Total()
			sales[i] = c.Sales
		}
	}
	d.Charts = []web.Chart{
		web.NewChart("Orders per day", labels, orders),
		web.NewChart("Tracking events per day", labels, events),
		web.NewChart("Tracked sales (log/sale) per day", labels, sales),
	}
	if sync == nil {
		d.SyncNote = noSyncMessage
	} else {
		for _, run := range sync.Runs[:min(len(sync.Runs), syncRunsShown)] {
			d.Syncs = append(d.Syncs, web.SyncRun{ID: run.ID, State: run.State, Started: fmtTime(run.Started), Finished: fmtTime(run.Finished),
				Counts: fmt.Sprintf("%d created, %d updated, %d deleted, %d rejected", run.Created, run.Updated, run.Deleted, run.Rejected),
				Error:  run.Error})
		}
		if len(d.Syncs) == 0 {
			d.SyncNote = "a sync is configured (" + sync.Source + ") but has not run yet"
		}
	}
	var b bytes.Buffer
	if err := web.Render(&b, d); err != nil {
		return err
	}
	r.ctx.SetContentType("text/html; charset=utf-8")
	// The page loads nothing and runs no script: say so, so that even an
	// escaping bug could not run one.
	r.ctx.Response.Header.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'")
	r.ctx.Response.Header.Set("Cache-Control", "no-store")
	r.ctx.SetBody(b.Bytes())
	return nil
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}
