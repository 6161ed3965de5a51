package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/shard/statemachine"
)

// TestPartsConcurrentReadsAndApply drives every kind of command through
// Apply (one goroutine, as a shard applies) while readers call every read
// of every part, and the model trains: with -race it checks that each
// part's data is read under its lock, and it fails instead of hanging
// when the lock order (see Store) is broken somewhere.
func TestPartsConcurrentReadsAndApply(t *testing.T) {
	h := newHarness(t)
	seed(h)
	st := h.e.Store("s1")
	h.mustApply("s1", "customers.upsert", []ingest.Customer{{ID: "u1", Email: "u1@example.com"}})

	var stop atomic.Bool
	var wg sync.WaitGroup
	apply := func(n int, op string, body []byte) {
		res := h.e.Apply(h.kv, &statemachine.Command{ID: fmt.Sprint("c", n), Store: "s1", Op: op, Time: int64(n), Body: body})
		if err, ok := res.(error); ok {
			t.Errorf("%s: %v", op, err)
		}
	}
	wg.Add(1)
	go func() { // the apply loop
		defer wg.Done()
		defer stop.Store(true)
		for i := range 150 {
			p := fmt.Sprint("p", i)
			b, _ := json.Marshal(products(p))
			apply(5*i, "products.upsert", b)
			b, _ = EncodeUpsert(ingest.KindOrders, []ingest.Order{order(fmt.Sprint("x", i), fmt.Sprint("u", i%7), int64(20+i)*day, "a", p)})
			apply(5*i+1, "orders.upsert", b)
			if i%10 == 9 { // a deleted order makes the statistics stale
				b, _ = json.Marshal([]ingest.ID{ingest.ID(fmt.Sprint("x", i-1))})
				apply(5*i+2, "orders.delete", b)
			}
			v := fmt.Sprint("v", i%5)
			apply(5*i+3, OpEvents, EncodeEvents([]Event{
				{Kind: EventProduct, Visitor: v, Products: []ingest.ID{"a", ingest.ID(p)}, Time: int64(i)},
				{Kind: EventClick, Visitor: v, Products: []ingest.ID{"b"}, Labels: []string{"home"}, Time: int64(i)},
				{Kind: EventSale, Visitor: v, Products: []ingest.ID{"b"}, Time: int64(i)},
			}))
			b, _ = json.Marshal([]ingest.Customer{{ID: ingest.ID(fmt.Sprint("u", i%7)), Email: fmt.Sprintf("u%d@example.com", i%7)}})
			apply(5*i+4, "customers.upsert", b)
		}
	}()
	read := func(f func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				f()
			}
		}()
	}
	seeds := []ingest.ID{"a", "b"}
	read(func() {
		st.Popular()
		st.Trending()
		st.New()
		st.RecentlyBought()
		st.MostSoldWith(seeds)
		st.Complementary(seeds)
		st.Substituting(seeds)
	})
	read(func() {
		st.Get(ingest.KindOrders, []ingest.ID{"o1", "x3"})
		st.List(ingest.KindProducts, 0, 10)
		st.List(ingest.KindOrders, 0, 10)
		st.Counts()
		st.Version()
		st.Products()
		st.CategoryScope("c1", true)
		st.Derived("test", func() any { return len(st.Products()) })
		st.Keywords("product")
	})
	read(func() {
		st.CustomerHistory("u1", "")
		st.CustomerHistory("", "U2@example.com")
		st.CustomerComplementary("u1", "")
		st.CustomerSubstituting("u1", "")
		st.Audience(seeds, 5)
		items, kinds, _ := st.VisitorItems("v1")
		st.VisitorComplementary(items, kinds)
		st.VisitorEmail("v1")
		st.CurrentlyWatched()
		st.CountImpressions([]string{"home"})
		st.LabelsPage(0, 10)
	})
	read(func() {
		if err := st.Retrain(context.Background(), time.Now().Unix()); err != nil {
			t.Error(err)
		}
		st.ModelInfo()
	})
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("apply and reads still running after 2 minutes: a lock-order deadlock?")
	}
	if got := st.Counts().Products; got != 5+150 {
		t.Fatalf("%d products, want %d", got, 5+150)
	}
}
