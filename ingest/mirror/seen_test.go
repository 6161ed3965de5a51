package mirror

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/sibylhq/sibyl/ingest"
)

func TestSeen(t *testing.T) {
	s := NewSeen()
	s.Add(products, "p1")
	s.Add(products, "p2")
	s.Add(products, "p1")
	if !s.Has(products, "p1") || !s.Has(products, "p2") || s.Has(products, "p3") || s.Len(products) != 2 {
		t.Fatalf("after p1 p2 p1: has p1 %v p2 %v p3 %v, len %d", s.Has(products, "p1"), s.Has(products, "p2"), s.Has(products, "p3"), s.Len(products))
	}
	// Adds after a query are seen too (the kind is sorted again).
	s.Add(products, "p3")
	if !s.Has(products, "p3") || s.Len(products) != 3 {
		t.Fatal("p3 added after a query is not seen")
	}
	// Kinds are separate; orders are never recorded.
	if s.Has(categories, "p1") || s.Len(categories) != 0 {
		t.Fatal("a product id seen as a category")
	}
	s.Add(orders, "o1")
	if s.Has(orders, "o1") || s.Len(orders) != 0 {
		t.Fatal("an order was recorded")
	}
	if s.Has(products, "") || s.Has(products, "P1") {
		t.Fatal("ids are not compared exactly")
	}
}

// sinkLog is a FeedSink that keeps the ids it is given, in order.
type sinkLog struct{ got []string }

func (s *sinkLog) add(kind ingest.Kind, id ingest.ID) {
	s.got = append(s.got, string(kind)+":"+string(id))
}

func (s *sinkLog) Categories(b []ingest.Category) error {
	for _, r := range b {
		s.add(categories, r.ID)
	}
	return nil
}

func (s *sinkLog) Products(b []ingest.Product) error {
	for _, r := range b {
		s.add(products, r.ID)
	}
	return nil
}

func (s *sinkLog) Customers(b []ingest.Customer) error {
	for _, r := range b {
		s.add(customers, r.ID)
	}
	return nil
}

func (s *sinkLog) Orders(b []ingest.Order) error {
	for _, r := range b {
		s.add(orders, r.ID)
	}
	return nil
}

func (s *sinkLog) Pages(b []ingest.Page) error {
	for _, r := range b {
		s.add(pages, r.ID)
	}
	return nil
}

// TestRecorder reads a real Clerk feed through a Recorder: every record
// reaches the next sink, and Seen holds the ids of every kind but orders;
// a second feed without one product then plans exactly that deletion.
func TestRecorder(t *testing.T) {
	const feed = `{
		"categories": [{"id": 1, "name": "Shoes"}],
		"products": [{"id": 10, "name": "Boot", "price": 50}, {"id": "11", "name": "Sandal", "price": 20}],
		"customers": [{"id": "c1", "email": "a@example.com"}],
		"orders": [{"id": "o1", "time": 1700000000, "products": [{"id": 10, "quantity": 1, "price": 50}]}],
		"pages": [{"id": "about", "title": "About"}]
	}`
	next := &sinkLog{}
	seen := NewSeen()
	if _, err := ingest.ReadFeed(strings.NewReader(feed), Recorder{Next: next, Seen: seen}, ingest.DefaultFeedConfig()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(next.got, " "); got != "categories:1 products:10 products:11 customers:c1 orders:o1 pages:about" {
		t.Fatalf("next sink got %s", got)
	}
	for _, c := range []struct {
		kind ingest.Kind
		id   ingest.ID
		want bool
	}{{categories, "1", true}, {products, "10", true}, {products, "11", true}, {customers, "c1", true}, {pages, "about", true}, {orders, "o1", false}, {products, "12", false}} {
		if got := seen.Has(c.kind, c.id); got != c.want {
			t.Fatalf("seen %s %s = %v, want %v", c.kind, c.id, got, c.want)
		}
	}
	// The next sync's feed lost product 11.
	second := NewSeen()
	feed2 := strings.Replace(feed, `, {"id": "11", "name": "Sandal", "price": 20}`, "", 1)
	if _, err := ingest.ReadFeed(strings.NewReader(feed2), Recorder{Next: &sinkLog{}, Seen: second}, ingest.DefaultFeedConfig()); err != nil {
		t.Fatal(err)
	}
	have := store{categories: {"1"}, products: {"10", "11"}, customers: {"c1"}, orders: {"o1"}, pages: {"about"}}
	plan, err := Plan(have.existing, second, all, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if plan.Len() != 1 || len(plan.IDs[products]) != 1 || plan.IDs[products][0] != "11" {
		t.Fatalf("plan %v, want product 11 deleted", plan.IDs)
	}
}

// BenchmarkSeen adds 1,000,000 customer ids and reports the bytes of heap
// Seen holds per id ("B/id"); ns/op is a million Adds and the sort.
func BenchmarkSeen(b *testing.B) {
	const n = 1000000
	list := make([]ingest.ID, n)
	for i := range list {
		list[i] = ingest.ID(fmt.Sprintf("customer-%d", 1000000+i))
	}
	var perID float64
	for b.Loop() {
		before := heapInUse()
		s := NewSeen()
		for _, id := range list {
			s.Add(customers, id)
		}
		if s.Len(customers) != n {
			b.Fatalf("len %d", s.Len(customers))
		}
		perID = float64(heapInUse()-before) / n
		runtime.KeepAlive(s)
	}
	b.ReportMetric(perID, "B/id")
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
