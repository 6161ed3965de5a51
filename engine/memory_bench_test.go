package engine

import (
	"context"
	"encoding/json"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"

	"github.com/sibylhq/sibyl/demo"
	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/shard/statemachine"
)

// discardKV is a statemachine.Writer that keeps nothing: the memory benchmark
// counts the store's in-memory state, not a key-value store's.
type discardKV struct{}

func (discardKV) Set(k, v []byte) error { return nil }
func (discardKV) Delete(k []byte) error { return nil }

// retailCollector gathers the demo data set's records.
type retailCollector struct {
	products  []ingest.Product
	customers []ingest.Customer
	orders    []ingest.Order
}

func (c *retailCollector) Product(p *ingest.Product) error {
	c.products = append(c.products, *p)
	return nil
}
func (c *retailCollector) Customer(x *ingest.Customer) error {
	c.customers = append(c.customers, *x)
	return nil
}
func (c *retailCollector) Order(o *ingest.Order) error {
	c.orders = append(c.orders, *o)
	return nil
}

func heapLive() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkRetailStoreMemory loads the bundled Online Retail demo (an
// Online-Retail-sized store) into one store, trains its model and
// reports the heap the store holds (store-MiB), which bounds how many
// stores a node carries (docs/operations.md, Sizing). With
// SIBYL_HEAP_PROFILE=path it writes a heap profile of the loaded store.
func BenchmarkRetailStoreMemory(b *testing.B) {
	var c retailCollector
	if _, err := ingest.ReadOnlineRetailFile(demo.OnlineRetail(b), &c); err != nil {
		b.Fatal(err)
	}
	enc := func(kind ingest.Kind, v any) []byte {
		if o, ok := v.([]ingest.Order); ok {
			body, err := EncodeUpsert(ingest.KindOrders, o)
			if err != nil {
				b.Fatal(err)
			}
			return body
		}
		body, err := json.Marshal(v)
		if err != nil {
			b.Fatal(err)
		}
		return body
	}
	for b.Loop() {
		before := heapLive()
		e := New(DefaultConfig())
		apply := func(op string, body []byte) {
			if _, ok := e.Apply(discardKV{}, &statemachine.Command{ID: "x", Store: "s", Op: op, Time: 1, Body: body}).(Result); !ok {
				b.Fatalf("%s rejected", op)
			}
		}
		for i := 0; i < len(c.products); i += 1000 {
			apply("products.upsert", enc(ingest.KindProducts, c.products[i:min(i+1000, len(c.products))]))
		}
		for i := 0; i < len(c.customers); i += 1000 {
			apply("customers.upsert", enc(ingest.KindCustomers, c.customers[i:min(i+1000, len(c.customers))]))
		}
		for i := 0; i < len(c.orders); i += 500 {
			apply("orders.upsert", enc(ingest.KindOrders, c.orders[i:min(i+500, len(c.orders))]))
		}
		st := e.Store("s")
		loaded := heapLive()
		if err := st.Retrain(context.Background(), 1); err != nil {
			b.Fatal(err)
		}
		trained := heapLive()
		b.ReportMetric(float64(loaded-before)/(1<<20), "data-MiB")
		b.ReportMetric(float64(trained-before)/(1<<20), "store-MiB")
		if p := os.Getenv("SIBYL_HEAP_PROFILE"); p != "" {
			f, err := os.Create(p)
			if err != nil {
				b.Fatal(err)
			}
			pprof.WriteHeapProfile(f)
			f.Close()
		}
		runtime.KeepAlive(e)
	}
}
