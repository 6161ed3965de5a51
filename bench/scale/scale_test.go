// Package scale holds the scale benchmarks of the store engine and the
// models: a synthetic store shaped like Online Retail (bench/storegen) is
// applied to an engine, then its model is built and queried, reporting
// apply rate, memory and training time as benchmark metrics.
//
//	go test ./bench/scale -run XXX -bench . -benchtime 1x                   # 100k customers, 10k products, 2M lines
//	SIBYL_SCALE=full go test ./bench/scale -run XXX -bench . -benchtime 1x  # 1M customers, 100k products, 20M lines
package scale

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/bench"
	"github.com/sibylhq/sibyl/bench/storegen"
	"github.com/sibylhq/sibyl/engine"
	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/shard/statemachine"
)

// nullWriter discards the durable writes: this measures memory and
// compute, not Badger.
type nullWriter struct{}

func (nullWriter) Set(k, v []byte) error { return nil }
func (nullWriter) Delete(k []byte) error { return nil }

func sizes() storegen.Config {
	cfg := storegen.DefaultConfig()
	cfg.Customers, cfg.Products, cfg.OrderLines = 100_000, 10_000, 2_000_000
	if os.Getenv("SIBYL_SCALE") == "full" {
		cfg.Customers, cfg.Products, cfg.OrderLines = 1_000_000, 100_000, 20_000_000
	}
	return cfg
}

func heapMiB() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / (1 << 20)
}

// BenchmarkScaleStore applies a generated store to an engine, builds its
// model and measures queries.
func BenchmarkScaleStore(b *testing.B) {
	cfg := sizes()
	for range b.N {
		e := engine.New(engine.DefaultConfig())
		base := heapMiB()
		products := make([]ingest.Product, cfg.Products)
		for i := range products {
			products[i] = ingest.Product{ID: ingest.ID(fmt.Sprintf("p%d", i)), Name: fmt.Sprintf("product %d", i), Price: float64(1 + i%50)}
		}
		body, err := engine.EncodeUpsert(ingest.KindProducts, products)
		if err != nil {
			b.Fatal(err)
		}
		e.Apply(nullWriter{}, &statemachine.Command{ID: "p", Store: "s", Op: "products.upsert", Body: body})
		start := time.Now()
		var batch []ingest.Order
		lines, n := int64(0), 0
		flush := func() {
			body, _ := engine.EncodeUpsert(ingest.KindOrders, batch)
			if res, ok := e.Apply(nullWriter{}, &statemachine.Command{ID: fmt.Sprint(n), Store: "s", Op: "orders.upsert", Body: body}).(engine.Result); !ok || res.Applied != len(batch) {
				b.Fatalf("apply failed")
			}
			n++
			batch = batch[:0]
		}
		err = storegen.Generate(cfg, func(o *bench.Order) error {
			io := ingest.Order{ID: ingest.ID(o.ID), Time: o.Time, Customer: ingest.ID(o.Customer)}
			for _, l := range o.Products {
				io.Products = append(io.Products, ingest.OrderLine{ID: ingest.ID(l.ID), Quantity: l.Quantity, Price: l.Price})
			}
			lines += int64(len(io.Products))
			batch = append(batch, io)
			if len(batch) == 500 {
				flush()
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if len(batch) > 0 {
			flush()
		}
		applyTook := time.Since(start)
		st := e.Store("s")
		if len(st.Popular()) == 0 {
			b.Fatal("empty popular list")
		}
		heap := heapMiB() - base
		trainStart := time.Now()
		if err := st.Retrain(context.Background(), time.Now().Unix()); err != nil {
			b.Fatal(err)
		}
		trainTook := time.Since(trainStart)
		heapModel := heapMiB() - base
		qStart := time.Now()
		const queries = 2000
		for i := range queries {
			id := ingest.ID(fmt.Sprintf("p%d", (i*7919)%cfg.Products))
			st.Complementary([]ingest.ID{id})
			st.MostSoldWith([]ingest.ID{id})
		}
		b.ReportMetric(float64(lines)/applyTook.Seconds(), "lines/s")
		b.ReportMetric(float64(lines), "lines")
		b.ReportMetric(heap, "MiB-store")
		b.ReportMetric(heapModel, "MiB-with-model")
		b.ReportMetric(trainTook.Seconds(), "s-train")
		b.ReportMetric(float64(time.Since(qStart).Microseconds())/(2*queries), "us/query-uncached")
	}
}
