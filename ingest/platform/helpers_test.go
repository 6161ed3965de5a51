package platform

import (
	"strings"
	"sync"
	"testing"

	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/ingest/source"
)

// recordingSink keeps every record delivered, in order, and the order of
// kinds as calls arrived.
type recordingSink struct {
	mu         sync.Mutex
	calls      []ingest.Kind
	categories []ingest.Category
	products   []ingest.Product
	customers  []ingest.Customer
	orders     []ingest.Order
	pages      []ingest.Page
}

func (s *recordingSink) Categories(c []ingest.Category) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, ingest.KindCategories)
	s.categories = append(s.categories, c...)
	return nil
}

func (s *recordingSink) Products(p []ingest.Product) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, ingest.KindProducts)
	s.products = append(s.products, p...)
	return nil
}

func (s *recordingSink) Customers(c []ingest.Customer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, ingest.KindCustomers)
	s.customers = append(s.customers, c...)
	return nil
}

func (s *recordingSink) Orders(o []ingest.Order) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, ingest.KindOrders)
	s.orders = append(s.orders, o...)
	return nil
}

func (s *recordingSink) Pages(p []ingest.Page) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, ingest.KindPages)
	s.pages = append(s.pages, p...)
	return nil
}

func (s *recordingSink) product(t *testing.T, id ingest.ID) ingest.Product {
	t.Helper()
	for _, p := range s.products {
		if p.ID == id {
			return p
		}
	}
	t.Fatalf("product %s not delivered; got %v", id, productIDs(s.products))
	return ingest.Product{}
}

func (s *recordingSink) order(t *testing.T, id ingest.ID) ingest.Order {
	t.Helper()
	for _, o := range s.orders {
		if o.ID == id {
			return o
		}
	}
	t.Fatalf("order %s not delivered", id)
	return ingest.Order{}
}

func productIDs(ps []ingest.Product) []ingest.ID {
	ids := make([]ingest.ID, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	return ids
}

func ids[T any](recs []T, id func(T) ingest.ID) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(id(r))
	}
	return out
}

func f64(x float64) *float64 { return &x }

// wantError checks that res reports exactly one problem of kind whose
// message contains want.
func wantError(t *testing.T, res source.Result, kind ingest.Kind, want string) {
	t.Helper()
	for _, e := range res.Errors {
		if e.Kind == kind && strings.Contains(e.Error(), want) {
			return
		}
	}
	t.Fatalf("no %s error containing %q in %v", kind, want, res.Errors)
}

// notLeaking fails when err's message holds any of the secrets.
func notLeaking(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Fatalf("error leaks a credential: %v", err)
		}
	}
}
