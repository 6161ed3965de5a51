package query

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/simplelru"
	"github.com/sibylhq/sibyl/cluster/meta"
	"github.com/valyala/fasthttp"
	"golang.org/x/time/rate"
)

// Edge limits: what keeps one client, or one store's traffic, from taking
// a node down. Three layers, cheapest first:
//
//   - connections per client IP (edgeListener: answered 429 and closed
//     before any request is read);
//   - a global cap on requests in flight (a semaphore around handlers):
//     over it a request is answered 503 `overloaded` at once instead of
//     queueing, so latency stays flat while the excess is shed. Health
//     probes and /metrics are exempt so that a busy node is not mistaken
//     for a dead one;
//   - token buckets (golang.org/x/time/rate) for public-key requests, one
//     per store and one per client IP, answered 429 `rate_limited` with
//     Retry-After. Private-key and admin calls are server-side and carry a
//     secret: they are not rate limited (the in-flight cap still holds).
//
// The bucket maps are LRU caches of bounded size: a client that is idle
// loses its bucket first, and an attacker cycling through many addresses
// evicts buckets instead of growing memory. (An evicted bucket starts full
// again: at worst an address gets one more burst, never unbounded rate.)
// IPv6 clients are bucketed by /64, since one host usually holds a whole
// /64 and could otherwise rotate addresses for free.

// RateLimits configures the edge limits of Config; zero values disable
// the limit they name.
type RateLimits struct {
	// StoreRate and StoreBurst bound the public-key requests of one store
	// on one node (requests per second, and the bucket's size). A store
	// may override them in the meta registry (`sibyl store limits`).
	StoreRate  float64
	StoreBurst int
	// IPRate and IPBurst bound the public-key requests of one client IP
	// (IPv6: one /64) on one node.
	IPRate  float64
	IPBurst int
	// Buckets bounds each bucket map (stores, IPs): least recently used
	// buckets are evicted beyond it.
	Buckets int
	// TrustedProxies are CIDRs (or single addresses) of reverse proxies
	// whose X-Forwarded-For names the client; from anyone else the TCP
	// peer is the client and X-Forwarded-For is ignored.
	TrustedProxies []string
	// MaxConnsPerIP bounds concurrent connections from one IP (IPv6: one
	// /64); an extra one is answered 429 and closed (edgeListener).
	MaxConnsPerIP int
	// MaxInFlight bounds requests being served at once on the node; the
	// excess is answered 503 overloaded.
	MaxInFlight int
}

// DefaultRateLimits are generous for browsers (a page view makes a
// handful of calls) and stop a single address or a runaway integration
// long before a 2-core node saturates. Load generators on one host need
// IPRate 0 (`--rate-per-ip 0`).
func DefaultRateLimits() RateLimits {
	return RateLimits{
		StoreRate: 5000, StoreBurst: 10000,
		IPRate: 1000, IPBurst: 2000,
		Buckets:       65536,
		MaxConnsPerIP: 512,
		MaxInFlight:   1024,
	}
}

// Validate checks the limits.
func (l RateLimits) Validate() error {
	var errs []error
	check := func(name string, r float64, burst int) {
		if r < 0 || math.IsNaN(r) || math.IsInf(r, 0) {
			errs = append(errs, fmt.Errorf("%s rate must be a finite number >= 0, got %v", name, r))
		}
		if r > 0 && burst < 1 {
			errs = append(errs, fmt.Errorf("%s burst must be >= 1 when its rate is set, got %d", name, burst))
		}
	}
	check("per-store", l.StoreRate, l.StoreBurst)
	check("per-IP", l.IPRate, l.IPBurst)
	if (l.StoreRate > 0 || l.IPRate > 0) && l.Buckets < 1 {
		errs = append(errs, fmt.Errorf("rate buckets must be >= 1, got %d", l.Buckets))
	}
	if l.MaxConnsPerIP < 0 || l.MaxInFlight < 0 {
		errs = append(errs, fmt.Errorf("max connections per IP (%d) and max in flight (%d) must be >= 0", l.MaxConnsPerIP, l.MaxInFlight))
	}
	if _, err := parseTrusted(l.TrustedProxies); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func parseTrusted(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q is not an address or CIDR: %w", s, err)
			}
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is not an address or CIDR: %w", s, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// StoreLimiter is implemented by a Backend that keeps per-store rate
// overrides (the node reads them from the meta registry).
type StoreLimiter interface {
	StoreRateLimit(store string) (meta.RateLimit, bool)
}

// edge holds the node's limiters.
type edge struct {
	cfg      RateLimits
	trusted  []netip.Prefix
	ips      *bucketMap
	stores   *bucketMap
	inflight chan struct{} // nil: unlimited
}

func newEdge(cfg RateLimits) *edge {
	e := &edge{cfg: cfg}
	e.trusted, _ = parseTrusted(cfg.TrustedProxies) // checked by Validate
	n := max(cfg.Buckets, 1)
	e.ips, e.stores = newBucketMap(n), newBucketMap(n)
	if cfg.MaxInFlight > 0 {
		e.inflight = make(chan struct{}, cfg.MaxInFlight)
	}
	return e
}

// acquire takes an in-flight slot without waiting; false means shed.
func (e *edge) acquire() bool {
	if e.inflight == nil {
		return true
	}
	select {
	case e.inflight <- struct{}{}:
		return true
	default:
		return false
	}
}

func (e *edge) release() {
	if e.inflight != nil {
		<-e.inflight
	}
}

func errOverloaded() *APIError {
	return &APIError{Status: fasthttp.StatusServiceUnavailable, Type: ErrTypeOverloaded, RetryAfter: 1,
		Message: "the node is serving too many requests at once; retry shortly"}
}

// allow takes one token from the client IP's and the store's buckets, or
// neither: when one of them is empty the other's reservation is given
// back, and the error says how long until a token is due.
func (e *edge) allow(ip netip.Addr, store string, override meta.RateLimit, hasOverride bool) *APIError {
	now := time.Now()
	// AllowN takes a token without allocating (a reservation would cost
	// an allocation on every request); only a refusal reserves, to say
	// how long to wait. A request the store's bucket refuses has spent
	// its client's token: it did reach the node.
	take := func(m *bucketMap, key string, r float64, burst int, what string) *APIError {
		if r <= 0 {
			return nil
		}
		l := m.get(key, rate.Limit(r), burst)
		if l.AllowN(now, 1) {
			return nil
		}
		wait := time.Second
		if res := l.ReserveN(now, 1); res.OK() {
			wait = res.DelayFrom(now)
			res.CancelAt(now)
		}
		return errRateLimited(what, wait)
	}
	if ip.IsValid() {
		if err := take(e.ips, bucketKey(ip), e.cfg.IPRate, e.cfg.IPBurst, "this client"); err != nil {
			return err
		}
	}
	sr, sb := e.cfg.StoreRate, e.cfg.StoreBurst
	if hasOverride {
		sr, sb = override.Rate, override.Burst
	}
	return take(e.stores, store, sr, sb, "this store")
}

func errRateLimited(who string, wait time.Duration) *APIError {
	secs := int(math.Ceil(wait.Seconds()))
	secs = max(secs, 1)
	return &APIError{Status: fasthttp.StatusTooManyRequests, Type: ErrTypeRateLimited, RetryAfter: secs,
		Message: "too many requests from " + who + "; retry after " + strconv.Itoa(secs) + " s"}
}

// bucketKey groups IPv6 clients by /64.
func bucketKey(ip netip.Addr) string {
	if ip.Is6() {
		ip = netip.PrefixFrom(ip, 64).Masked().Addr()
	}
	return ip.String()
}

// clientIP is the TCP peer, unless the peer is a trusted proxy: then the
// rightmost X-Forwarded-For address that is not itself a trusted proxy
// (the leftmost entries are whatever the client wrote and prove nothing).
func (e *edge) clientIP(ctx *fasthttp.RequestCtx) netip.Addr {
	peer, _ := netip.AddrFromSlice(ctx.RemoteIP())
	peer = peer.Unmap()
	if !e.isTrusted(peer) {
		return peer
	}
	var hops [][]byte
	for _, h := range ctx.Request.Header.PeekAll("X-Forwarded-For") {
		hops = append(hops, bytes.Split(h, []byte(","))...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(string(bytes.TrimSpace(hops[i])))
		if err != nil {
			// A malformed hop: nothing to its left can be trusted.
			return peer
		}
		if a = a.Unmap(); !e.isTrusted(a) {
			return a
		}
	}
	return peer
}

func (e *edge) isTrusted(a netip.Addr) bool {
	for _, p := range e.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// bucketMap is a bounded LRU of token buckets. One mutex: a lookup is a
// map access and a list move, far shorter than the request it guards.
type bucketMap struct {
	mu  sync.Mutex
	lru *simplelru.LRU
}

func newBucketMap(size int) *bucketMap {
	l, err := simplelru.NewLRU(size, nil)
	if err != nil {
		panic(err) // only for size <= 0, excluded by the caller
	}
	return &bucketMap{lru: l}
}

// get returns key's bucket with the given limits, creating it full.
func (m *bucketMap) get(key string, r rate.Limit, burst int) *rate.Limiter {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.lru.Get(key); ok {
		l := v.(*rate.Limiter)
		if l.Limit() == r && l.Burst() == burst {
			return l
		}
		// A store's override changed: a fresh bucket with the new
		// limits, so that the change takes effect at once rather than
		// after the old bucket's debt is paid.
	}
	l := rate.NewLimiter(r, burst)
	m.lru.Add(key, l)
	return l
}

func (m *bucketMap) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lru.Len()
}

// edgeListener limits connections per client IP (IPv6: per /64) and
// wraps each connection in an edgeConn. fasthttp's own MaxConnsPerIP is
// not used: it counts IPv4 only, and it hides the connection from the
// error handler behind its own wrapper.
type edgeListener struct {
	net.Listener
	maxPerIP int
	mu       sync.Mutex
	perIP    map[netip.Addr]int
}

func newEdgeListener(ln net.Listener, maxPerIP int) *edgeListener {
	return &edgeListener{Listener: ln, maxPerIP: maxPerIP, perIP: make(map[netip.Addr]int)}
}

// tooManyConns is the whole answer to a connection over the limit.
var tooManyConns = func() []byte {
	body := `{"status":"error","type":"` + ErrTypeRateLimited + `","message":"too many connections from this client"}`
	return []byte("HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nContent-Type: application/json\r\n" +
		"X-Content-Type-Options: nosniff\r\nRetry-After: 1\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}()

// Accept implements net.Listener.
func (l *edgeListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := connIP(c)
		if l.maxPerIP > 0 && ip.IsValid() {
			l.mu.Lock()
			if l.perIP[ip] >= l.maxPerIP {
				l.mu.Unlock()
				// A short deadline: a client that does not read must
				// not hold the accept loop.
				c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
				c.Write(tooManyConns)
				c.Close()
				continue
			}
			l.perIP[ip]++
			l.mu.Unlock()
		} else {
			ip = netip.Addr{}
		}
		return &edgeConn{Conn: c, l: l, ip: ip}, nil
	}
}

func connIP(c net.Conn) netip.Addr {
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}
	}
	a := ap.Addr().Unmap()
	if a.Is6() {
		a = netip.PrefixFrom(a, 64).Masked().Addr()
	}
	return a
}

func (l *edgeListener) conns(ip netip.Addr) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.perIP[ip]
}

// edgeConn counts the reads that held a line end since the last request
// was handed to the handler: when fasthttp then fails with its
// small-buffer error, none means the request line itself never ended
// (414), some mean the headers are too large (431). One goroutine serves
// a connection, so the counter needs no lock.
type edgeConn struct {
	net.Conn
	l        *edgeListener
	ip       netip.Addr // zero: not counted
	lineEnds int
	// linger asks Close to drain what the client still sends before
	// closing (set when an answer went out before the request was read).
	linger bool
	closed sync.Once
	// timing is the request clock of the server time (servertime.go).
	timing connTiming
}

// Lingering close bounds: at most this long and this many bytes of a
// refused request are read and dropped (as nginx's lingering_close).
const (
	lingerTime  = 500 * time.Millisecond
	lingerBytes = 256 << 10
)

func (c *edgeConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.timing.read(n)
	if n > 0 && bytes.IndexByte(p[:n], '\n') >= 0 {
		c.lineEnds++
	}
	return n, err
}

func (c *edgeConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.timing.wrote(n)
	return n, err
}

func (c *edgeConn) Close() error {
	c.closed.Do(func() {
		c.timing.finish()
		if c.ip.IsValid() {
			c.l.mu.Lock()
			if c.l.perIP[c.ip]--; c.l.perIP[c.ip] <= 0 {
				delete(c.l.perIP, c.ip)
			}
			c.l.mu.Unlock()
		}
	})
	if c.linger {
		c.lingerClose()
	}
	return c.Conn.Close()
}

// lingerClose half-closes the connection (the answer already written is
// followed by a FIN, not a reset) and drains the rest of the refused
// request, within lingerTime and lingerBytes, so that closing does not
// reset the connection while the client still reads the answer.
func (c *edgeConn) lingerClose() {
	type closeWriter interface{ CloseWrite() error }
	cw, ok := c.Conn.(closeWriter)
	if !ok {
		return
	}
	if cw.CloseWrite() != nil {
		return
	}
	c.Conn.SetReadDeadline(time.Now().Add(lingerTime))
	io.CopyN(io.Discard, c.Conn, lingerBytes)
}
