package source

import (
	"slices"
	"strconv"
	"testing"

	"github.com/sibylhq/sibyl/ingest"
)

// recordingSink keeps every record delivered, in order, and checks that
// each delivered batch validates on its own (the sink contract).
type recordingSink struct {
	t          *testing.T
	products   []ingest.Product
	categories []ingest.Category
	customers  []ingest.Customer
	orders     []ingest.Order
	pages      []ingest.Page
	// calls logs "kind:n" per delivery.
	calls []string
}

func newSink(t *testing.T) *recordingSink { return &recordingSink{t: t} }

func check[T ingest.Record](s *recordingSink, recs []T) {
	if s.t == nil {
		return
	}
	s.t.Helper()
	if errs := ingest.Validate(recs, ingest.DefaultLimits()); len(errs) > 0 {
		s.t.Errorf("delivered an invalid %s batch: %v", ingest.KindOf[T](), errs)
	}
	s.calls = append(s.calls, string(ingest.KindOf[T]())+":"+itoa(len(recs)))
}

func itoa(n int) string { return strconv.Itoa(n) }

func (s *recordingSink) Products(r []ingest.Product) error {
	check(s, r)
	s.products = append(s.products, r...)
	return nil
}
func (s *recordingSink) Categories(r []ingest.Category) error {
	check(s, r)
	s.categories = append(s.categories, r...)
	return nil
}
func (s *recordingSink) Customers(r []ingest.Customer) error {
	check(s, r)
	s.customers = append(s.customers, r...)
	return nil
}
func (s *recordingSink) Orders(r []ingest.Order) error {
	check(s, r)
	s.orders = append(s.orders, r...)
	return nil
}
func (s *recordingSink) Pages(r []ingest.Page) error {
	check(s, r)
	s.pages = append(s.pages, r...)
	return nil
}

func productIDs(ps []ingest.Product) []string {
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = string(p.ID)
	}
	return ids
}

func sameIDs(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}
