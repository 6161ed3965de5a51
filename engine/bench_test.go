package engine

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/shard/statemachine"
)

// BenchmarkApplyEvent measures applying one tracking event (a product
// view) to a store with a session of typical length.
func BenchmarkApplyEvent(b *testing.B) {
	h := &harness{e: New(DefaultConfig()), kv: memKV{}}
	var ps []ingest.Product
	for i := range 1000 {
		ps = append(ps, ingest.Product{ID: ingest.ID(fmt.Sprint(i)), Name: "p", Price: 1})
	}
	body, _ := json.Marshal(ps)
	h.e.Apply(h.kv, &statemachine.Command{ID: "p", Store: "s", Op: "products.upsert", Body: body})
	bodies := make([][]byte, 1000)
	for i := range bodies {
		bodies[i] = EncodeEvents([]Event{{Kind: EventProduct, Visitor: fmt.Sprintf("v%d", i%200), Products: []ingest.ID{ingest.ID(fmt.Sprint(i % 1000))}, Time: int64(i)}})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if res := h.e.Apply(h.kv, &statemachine.Command{ID: "e", Store: "s", Op: OpEvents, Body: bodies[i%len(bodies)]}); res == nil {
			b.Fatal("nil result")
		}
	}
}

// BenchmarkApplyEventBatch is the apply side of the log_product load: one
// command of 128 product views (what the API merges under load) from
// 4,000 visitors whose sessions are full (50 items, so each view pairs
// with 20 recent items). ns/op is per event.
func BenchmarkApplyEventBatch(b *testing.B) {
	const batch, visitors, products = 128, 4000, 3600
	h := &harness{e: New(DefaultConfig()), kv: memKV{}}
	mk := func(k int) []byte {
		evs := make([]Event, batch)
		for i := range evs {
			n := k*batch + i
			evs[i] = Event{Kind: EventProduct, Visitor: fmt.Sprintf("v%d", (n*7919)%visitors),
				Products: []ingest.ID{ingest.ID(fmt.Sprint((n * 104729) % products))}, Time: 1700000000000 + int64(n)}
		}
		return EncodeEvents(evs)
	}
	// Fill every session first.
	for k := range visitors * 60 / batch {
		h.e.Apply(h.kv, &statemachine.Command{ID: "w", Store: "s", Op: OpEvents, Body: mk(k)})
	}
	bodies := make([][]byte, 64)
	for i := range bodies {
		bodies[i] = mk(visitors*60/batch + i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += batch {
		if res, ok := h.e.Apply(h.kv, &statemachine.Command{ID: "e", Store: "s", Op: OpEvents, Body: bodies[(i/batch)%len(bodies)]}).(Result); !ok || res.Applied != batch {
			b.Fatalf("apply: %v", res)
		}
	}
}

// BenchmarkPopularPick measures what the popular logic costs per request
// after the list is cached: the first page of the ranked list.
func BenchmarkPopular(b *testing.B) {
	h := &harness{e: New(DefaultConfig()), kv: memKV{}}
	var ps []ingest.Product
	var os []ingest.Order
	for i := range 4000 {
		ps = append(ps, ingest.Product{ID: ingest.ID(fmt.Sprint(i)), Name: "p", Price: 1})
	}
	for i := range 20000 {
		os = append(os, order(fmt.Sprint("o", i), fmt.Sprint("c", i%3000), int64(1700000000+i*60), fmt.Sprint(i%4000), fmt.Sprint((i*7)%4000), fmt.Sprint((i*13)%97)))
	}
	body, _ := json.Marshal(ps)
	h.e.Apply(h.kv, &statemachine.Command{ID: "p", Store: "s", Op: "products.upsert", Body: body})
	h.e.Apply(h.kv, &statemachine.Command{ID: "o", Store: "s", Op: "orders.upsert", Body: EncodeOrders(os)})
	st := h.e.Store("s")
	st.Popular()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if len(st.Popular()) == 0 {
			b.Fatal("empty")
		}
		st.MostSoldWith([]ingest.ID{ingest.ID(fmt.Sprint(i % 4000))})
	}
}
