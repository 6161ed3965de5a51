package bench

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// The load generator's own per-request cost must stay far below the
// server's, or it measures itself.

func BenchmarkHistogramRecord(b *testing.B) {
	h := newLatencyHistogram()
	rng := rand.New(rand.NewPCG(1, 1))
	for b.Loop() {
		h.Record(time.Duration(rng.IntN(50_000_000)))
	}
}

func BenchmarkTemplateNext(b *testing.B) {
	d := SyntheticDataset(10000, 1000, 0, 1)
	t, err := Scenario("complementary", d, Keys{Public: "pub"})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	var req Request
	for b.Loop() {
		t.Next(rng, &req)
	}
}

func BenchmarkIngestOrdersNext(b *testing.B) {
	d := SyntheticDataset(10000, 1000, 5000, 1)
	t, err := Scenario("ingest_orders", d, Keys{Public: "pub", Private: "priv"})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	var req Request
	for b.Loop() {
		t.Next(rng, &req)
	}
}

// BenchmarkClosedLoopNull is the whole client path against the ceiling
// server: one op is one request.
func BenchmarkClosedLoopNull(b *testing.B) {
	ns, err := StartNullServer(NullServerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer ns.Close()
	eps, err := newEndpoints(Config{URLs: []string{ns.URL()}, Connections: 1, Timeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	w := &worker{labels: map[string]*labelStats{}, status: map[int]int64{}, lag: newLatencyHistogram()}
	w.hreq, w.hresp = fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	w.req = Request{Label: "x", Method: "GET", Path: "/v2/recommendations/popular?key=k"}
	for b.Loop() {
		w.send(eps[0], time.Second, time.Now(), true)
	}
	if w.status[200] == 0 {
		b.Fatal("no 200 answers")
	}
}
