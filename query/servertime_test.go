package query

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	vm "github.com/VictoriaMetrics/metrics"
)

// slowConn answers reads from a fixed request and takes writeDelay per
// Write: the span of a request must include the write.
type slowConn struct {
	net.Conn
	req        []byte
	writeDelay time.Duration
}

func (c *slowConn) Read(p []byte) (int, error) { return copy(p, c.req), nil }
func (c *slowConn) Write(p []byte) (int, error) {
	if c.writeDelay > 0 {
		time.Sleep(c.writeDelay)
	}
	return len(p), nil
}
func (c *slowConn) Close() error { return nil }

func TestConnTimingSpansReadToLastWrite(t *testing.T) {
	set := vm.NewSet()
	h := set.NewHistogram(`span_seconds`)
	c := &edgeConn{Conn: &slowConn{req: []byte("GET / HTTP/1.1\r\n\r\n"), writeDelay: 3 * time.Millisecond}}
	buf := make([]byte, 64)
	c.Read(buf) // request 1: first byte
	c.Read(buf) // more of request 1: no new span
	c.timing.hist = h
	c.Write(buf) // answer, in two writes
	c.Write(buf)
	if c.timing.prev != 0 {
		t.Fatalf("span recorded before the next request: %v", c.timing.prev)
	}
	c.Read(buf) // request 2 starts: request 1's span is complete
	if c.timing.prev < 6*time.Millisecond || c.timing.prev > time.Second {
		t.Fatalf("request 1 span = %v, want >= 6ms (two 3ms writes)", c.timing.prev)
	}
	c.timing.hist = h
	c.Write(buf)
	c.Close() // the last request's span is recorded on close
	var out strings.Builder
	set.WritePrometheus(&out)
	if !strings.Contains(out.String(), "span_seconds_count 2") {
		t.Fatalf("histogram after two requests:\n%s", out.String())
	}
}

// TestServerTimingReportsWireTime checks the server end to end: on a
// keep-alive connection the second answer carries the first one's server
// time (wire), /metrics has the per-endpoint histogram, and wire >= app.
func TestServerTimingReportsWireTime(t *testing.T) {
	s, _ := startEdgeServer(t, func(*Config) {})
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	var timings []string
	for i := 0; i < 2; i++ {
		if _, err := conn.Write([]byte("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		timings = append(timings, resp.Header.Get("Server-Timing"))
	}
	if !strings.HasPrefix(timings[0], "app;dur=") || strings.Contains(timings[0], "wire") {
		t.Fatalf("first answer's Server-Timing = %q, want app only", timings[0])
	}
	if !strings.Contains(timings[1], ", wire;dur=") {
		t.Fatalf("second answer's Server-Timing = %q, want the first one's wire time", timings[1])
	}
	m := call(t, "GET", "http://"+s.Addr()+"/metrics", "")
	if !strings.Contains(string(m.body), `sibyl_http_server_duration_seconds_count{endpoint="/health"}`) {
		t.Fatalf("/metrics has no server-time histogram for /health:\n%s", m.body)
	}
}

// BenchmarkEdgeConnTiming is what the server-time clock adds to a
// request: a read that starts it, a write that moves its end, the span
// recorded when the next request starts. It must not allocate.
func BenchmarkEdgeConnTiming(b *testing.B) {
	h := vm.NewSet().NewHistogram(`bench_seconds`)
	c := &edgeConn{Conn: &slowConn{req: []byte("GET / HTTP/1.1\r\n\r\n")}}
	buf := make([]byte, 64)
	b.ReportAllocs()
	for b.Loop() {
		c.Read(buf)
		c.timing.hist = h
		c.Write(buf)
	}
}

// BenchmarkEdgeConnClockOnly is the same cycle without a histogram (the
// clock reads and the connection wrapper only), and BenchmarkEdgeConnRaw
// the bare connection, for comparison.
func BenchmarkEdgeConnClockOnly(b *testing.B) {
	c := &edgeConn{Conn: &slowConn{req: []byte("GET / HTTP/1.1\r\n\r\n")}}
	buf := make([]byte, 64)
	b.ReportAllocs()
	for b.Loop() {
		c.Read(buf)
		c.Write(buf)
	}
}

func BenchmarkEdgeConnRaw(b *testing.B) {
	var c net.Conn = &slowConn{req: []byte("GET / HTTP/1.1\r\n\r\n")}
	buf := make([]byte, 64)
	b.ReportAllocs()
	for b.Loop() {
		c.Read(buf)
		c.Write(buf)
	}
}
