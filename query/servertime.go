package query

import (
	"fmt"
	"strconv"
	"time"

	vm "github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"
)

// Server time, as a user means it: from the first byte of a request read
// off the connection to the last byte of its answer written to it (the
// handler's time, Server-Timing "app", leaves out reading the request and
// writing the answer). edgeConn timestamps both ends; a request's span
// ends at the last Write before the next request's first byte (or the
// connection's close), so it is recorded then, into the histogram the
// handler chose for its endpoint, and reported to the client in the next
// answer on the same connection (Server-Timing "wire", the previous
// answer's span). It does not count the time a request waited in the
// kernel before the server read it, nor a pipelined request's wait behind
// the one before (their spans merge into one).

// clockBase anchors connection timestamps: time.Since reads the monotonic
// clock without allocating, and an int64 of nanoseconds keeps edgeConn
// small.
var clockBase = time.Now()

func monoNow() int64 { return int64(time.Since(clockBase)) }

// connTiming is an edgeConn's request clock. One goroutine serves a
// connection (fasthttp), so it needs no lock.
type connTiming struct {
	start     int64         // first byte of the current request read; 0: none
	lastWrite int64         // end of the last Write since start; 0: none yet
	hist      *vm.Histogram // where the current span goes (set by the handler)
	prev      time.Duration // the previous span on this connection; 0: none
}

// read notes n bytes read: the first bytes after an answer was written
// start a new request (and complete the previous span).
func (t *connTiming) read(n int) {
	if n <= 0 {
		return
	}
	if t.start == 0 || t.lastWrite != 0 {
		t.finish()
		t.start = monoNow()
	}
}

// wrote notes n bytes of an answer written.
func (t *connTiming) wrote(n int) {
	if n > 0 && t.start != 0 {
		t.lastWrite = monoNow()
	}
}

// finish records the span of the request whose answer was written.
func (t *connTiming) finish() {
	if t.start == 0 || t.lastWrite == 0 {
		return
	}
	d := time.Duration(t.lastWrite - t.start)
	t.prev = d
	if t.hist != nil {
		t.hist.Update(d.Seconds())
	}
	t.start, t.lastWrite, t.hist = 0, 0, nil
}

// serverTimingHeader writes the answer's Server-Timing: app (this
// request, routed to answered) and, when the connection served a request
// before, wire (that previous request, first byte read to last byte
// written). It also tells the connection where this request's span goes.
func (s *Server) serverTimingHeader(ctx *fasthttp.RequestCtx, endpoint string, start time.Time) {
	var st [64]byte
	b := append(st[:0], "app;dur="...)
	b = strconv.AppendFloat(b, float64(time.Since(start).Microseconds())/1000, 'f', 3, 64)
	if c, ok := ctx.Conn().(*edgeConn); ok {
		c.timing.hist = s.metrics.serverHistogram(endpoint)
		if c.timing.prev > 0 {
			b = append(b, ", wire;dur="...)
			b = strconv.AppendFloat(b, float64(c.timing.prev.Microseconds())/1000, 'f', 3, 64)
		}
	}
	ctx.Response.Header.SetBytesV("Server-Timing", b)
}

// serverHistogram is endpoint's histogram of server time (first byte read
// to last byte written).
func (m *apiMetrics) serverHistogram(endpoint string) *vm.Histogram {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.server[endpoint]
	if h == nil {
		h = m.set.NewHistogram(fmt.Sprintf(`sibyl_http_server_duration_seconds{endpoint=%q}`, endpoint))
		m.server[endpoint] = h
	}
	return h
}
