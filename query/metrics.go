package query

import (
	"fmt"
	"runtime/metrics"
	"sync"
	"time"

	vm "github.com/VictoriaMetrics/metrics"
)

// apiMetrics holds the API's request metrics, exposed at /metrics in
// Prometheus text format. A Set per server keeps tests that start several
// servers in one process apart.
type apiMetrics struct {
	set *vm.Set
	mu  sync.Mutex
	// per endpoint, and per endpoint and status class (index 0..5 of
	// statusClasses): looked up without building a key string, which was
	// an allocation per request
	durations map[string]*vm.Histogram
	counts    map[string]*[len(statusClasses)]*vm.Counter
	// per endpoint: first request byte read to last answer byte written
	// (servertime.go)
	server map[string]*vm.Histogram
}

func newMetrics() *apiMetrics {
	return &apiMetrics{
		set:       vm.NewSet(),
		durations: make(map[string]*vm.Histogram),
		counts:    make(map[string]*[len(statusClasses)]*vm.Counter),
		server:    make(map[string]*vm.Histogram),
	}
}

var statusClasses = [...]string{"", "1xx", "2xx", "3xx", "4xx", "5xx"}

func (m *apiMetrics) observe(endpoint string, start time.Time, status int) {
	d := time.Since(start)
	class := 5
	if c := status / 100; c >= 1 && c <= 5 {
		class = c
	}
	m.mu.Lock()
	h := m.durations[endpoint]
	if h == nil {
		h = m.set.NewHistogram(fmt.Sprintf(`sibyl_http_request_duration_seconds{endpoint=%q}`, endpoint))
		m.durations[endpoint] = h
	}
	byClass := m.counts[endpoint]
	if byClass == nil {
		byClass = new([len(statusClasses)]*vm.Counter)
		m.counts[endpoint] = byClass
	}
	c := byClass[class]
	if c == nil {
		c = m.set.NewCounter(fmt.Sprintf(`sibyl_http_requests_total{endpoint=%q,status=%q}`, endpoint, statusClasses[class]))
		byClass[class] = c
	}
	m.mu.Unlock()
	h.Update(d.Seconds())
	c.Inc()
}

func (s *Server) handleMetrics(r *request) error {
	r.ctx.SetContentType("text/plain; version=0.0.4")
	s.metrics.set.WritePrometheus(r.ctx)
	vm.WriteProcessMetrics(r.ctx)
	// What the last collection found live: the figure memory sizing needs
	// (heap_alloc includes garbage not yet collected, RSS the collector's
	// headroom up to twice this, or up to --memory-limit).
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(live)
	if live[0].Value.Kind() == metrics.KindUint64 {
		vm.WriteGaugeUint64(r.ctx, "go_gc_heap_live_bytes", live[0].Value.Uint64())
	}
	return nil
}
