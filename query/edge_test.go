package query

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/cluster/meta"
	"github.com/sibylhq/sibyl/engine"
	"github.com/sibylhq/sibyl/internal/version"
	"github.com/valyala/fasthttp"
)

// fakeBackend knows one store with a public and a private key. Writes
// block while hold is set (to fill the in-flight cap).
type fakeBackend struct {
	mu       sync.Mutex
	override *meta.RateLimit
	hold     chan struct{}
	entered  chan struct{} // receives when a write starts holding
}

const (
	tPublic  = "pk_test_public_key_0001"
	tPrivate = "sk_test_private_key_0001"
	tAdmin   = "admin-token-0123456789"
	tStore   = "st_test"
)

func (b *fakeBackend) Authenticate(key string) (string, meta.KeyKind, bool) {
	switch key {
	case tPublic:
		return tStore, meta.PublicKey, true
	case tPrivate:
		return tStore, meta.PrivateKey, true
	}
	return "", 0, false
}
func (b *fakeBackend) AdminToken() string { return tAdmin }
func (b *fakeBackend) CreateStore(context.Context, string) (meta.StoreInfo, error) {
	return meta.StoreInfo{}, fmt.Errorf("not in this test")
}
func (b *fakeBackend) Propose(ctx context.Context, store, op string, body []byte) (any, error) {
	b.mu.Lock()
	h, e := b.hold, b.entered
	b.mu.Unlock()
	if h != nil {
		e <- struct{}{}
		<-h
	}
	return engine.Result{Applied: 1}, nil
}
func (b *fakeBackend) StoreData(string) (StoreReader, error) { return nil, nil }
func (b *fakeBackend) Route(string, bool) (string, error)    { return "", nil }
func (b *fakeBackend) Ready() error                          { return nil }
func (b *fakeBackend) StoreRateLimit(string) (meta.RateLimit, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.override == nil {
		return meta.RateLimit{}, false
	}
	return *b.override, true
}

func startEdge(t *testing.T, mut func(*Config)) (string, *fakeBackend) {
	t.Helper()
	s, b := startEdgeServer(t, mut)
	return "http://" + s.Addr(), b
}

func startEdgeServer(t *testing.T, mut func(*Config)) (*Server, *fakeBackend) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	mut(&cfg)
	b := &fakeBackend{}
	s, err := New(cfg, b, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return s, b
}

type edgeAnswer struct {
	status int
	header http.Header
	body   []byte
	Type   string `json:"type"`
	Msg    string `json:"message"`
}

func call(t *testing.T, method, u string, body string, header ...string) edgeAnswer {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := edgeAnswer{status: resp.StatusCode, header: resp.Header, body: b}
	json.Unmarshal(b, &a)
	return a
}

const popular = "/v2/recommendations/popular?key=" + tPublic

func TestRateLimitPerIPAnswers429ThenRecovers(t *testing.T) {
	base, _ := startEdge(t, func(c *Config) {
		c.Rate.IPRate, c.Rate.IPBurst = 1, 3
		c.Rate.StoreRate = 0
	})
	for i := range 3 {
		if a := call(t, "GET", base+popular, ""); a.status != 200 {
			t.Fatalf("request %d within the burst: %d %s", i, a.status, a.body)
		}
	}
	a := call(t, "GET", base+popular, "")
	if a.status != 429 || a.Type != ErrTypeRateLimited || a.header.Get("Retry-After") != "1" {
		t.Fatalf("over the burst: %d %q Retry-After %q", a.status, a.body, a.header.Get("Retry-After"))
	}
	// Private-key calls are server-side and not rate limited.
	if a := call(t, "GET", base+"/v2/orders?key="+tPublic+"&private_key="+tPrivate, ""); a.status != 200 {
		t.Fatalf("private-key call while the IP is limited: %d %s", a.status, a.body)
	}
	time.Sleep(1100 * time.Millisecond) // 1/s: the next token
	if a := call(t, "GET", base+popular, ""); a.status != 200 {
		t.Fatalf("after the Retry-After: %d %s", a.status, a.body)
	}
}

func TestRateLimitPerStoreAndOverride(t *testing.T) {
	base, b := startEdge(t, func(c *Config) {
		c.Rate.IPRate = 0
		c.Rate.StoreRate, c.Rate.StoreBurst = 0.1, 2
	})
	codes := func(n int) (ok, limited int) {
		for range n {
			switch a := call(t, "GET", base+popular, ""); a.status {
			case 200:
				ok++
			case 429:
				limited++
				if a.Type != ErrTypeRateLimited || a.header.Get("Retry-After") == "" {
					t.Fatalf("429 without its type or Retry-After: %s %v", a.body, a.header)
				}
			default:
				t.Fatalf("status %d: %s", a.status, a.body)
			}
		}
		return
	}
	if ok, limited := codes(5); ok != 2 || limited != 3 {
		t.Fatalf("node default 0.1/s burst 2: %d ok, %d limited", ok, limited)
	}
	// The store's override (from the registry) replaces the node's
	// default on the live bucket: rate 0 is unlimited.
	b.mu.Lock()
	b.override = &meta.RateLimit{Rate: 0}
	b.mu.Unlock()
	if ok, limited := codes(20); ok != 20 || limited != 0 {
		t.Fatalf("unlimited override: %d ok, %d limited", ok, limited)
	}
	b.mu.Lock()
	b.override = &meta.RateLimit{Rate: 0.001, Burst: 1}
	b.mu.Unlock()
	if _, limited := codes(3); limited < 2 {
		t.Fatalf("override 0.001/s burst 1: only %d of 3 limited", limited)
	}
}

func TestBucketMapsStayBounded(t *testing.T) {
	e := newEdge(RateLimits{IPRate: 10, IPBurst: 10, StoreRate: 10, StoreBurst: 10, Buckets: 1000})
	for i := range 100_000 {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		if err := e.allow(ip, fmt.Sprintf("st_%d", i), meta.RateLimit{}, false); err != nil {
			t.Fatalf("first request of a new address and store limited: %v", err)
		}
	}
	if n, m := e.ips.len(), e.stores.len(); n != 1000 || m != 1000 {
		t.Fatalf("bucket maps hold %d IPs and %d stores, bound 1000", n, m)
	}
	// IPv6 clients are bucketed per /64: rotating the low bits does not
	// buy a fresh bucket.
	e = newEdge(RateLimits{IPRate: 1, IPBurst: 5, Buckets: 1000})
	limited := 0
	for i := range 50 {
		ip := netip.MustParseAddr(fmt.Sprintf("2001:db8:1:2::%x", i+1))
		if e.allow(ip, "st", meta.RateLimit{}, false) != nil {
			limited++
		}
	}
	if e.ips.len() != 1 || limited != 45 {
		t.Fatalf("50 addresses of one /64: %d buckets, %d limited (want 1, 45)", e.ips.len(), limited)
	}
}

func TestClientIPTrustsOnlyConfiguredProxies(t *testing.T) {
	e := newEdge(RateLimits{TrustedProxies: []string{"10.0.0.0/8", "192.168.1.1"}})
	f := func(peer, xff, want string) {
		t.Helper()
		var req fasthttp.Request
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		var ctx fasthttp.RequestCtx
		ctx.Init(&req, net.TCPAddrFromAddrPort(netip.MustParseAddrPort(peer)), nil)
		if got := e.clientIP(&ctx).String(); got != want {
			t.Fatalf("peer %s XFF %q: client %s, want %s", peer, xff, got, want)
		}
	}
	f("203.0.113.5:1000", "1.2.3.4", "203.0.113.5")             // untrusted peer: XFF ignored
	f("10.1.2.3:1000", "1.2.3.4", "1.2.3.4")                    // trusted proxy
	f("10.1.2.3:1000", "6.6.6.6, 1.2.3.4, 10.9.9.9", "1.2.3.4") // rightmost untrusted hop
	f("192.168.1.1:1000", "garbage", "192.168.1.1")             // malformed: the peer
	f("10.1.2.3:1000", "", "10.1.2.3")                          // no header: the peer
}

func TestOverloadShedsWith503(t *testing.T) {
	base, b := startEdge(t, func(c *Config) { c.Rate.MaxInFlight = 1 })
	hold, entered := make(chan struct{}), make(chan struct{}, 1)
	b.mu.Lock()
	b.hold, b.entered = hold, entered
	b.mu.Unlock()
	done := make(chan edgeAnswer, 1)
	go func() {
		done <- call(t, "POST", base+"/v2/orders?key="+tPublic+"&private_key="+tPrivate, `[{"id":"o1","time":1,"products":[{"id":"p","price":1,"quantity":1}]}]`)
	}()
	// Wait until the write holds the only slot.
	select {
	case <-entered:
	case w := <-done:
		t.Fatalf("the write did not reach the backend: %d %s", w.status, w.body)
	case <-time.After(10 * time.Second):
		t.Fatal("the write did not reach the backend")
	}
	a := call(t, "GET", base+popular, "")
	if a.status != 503 || a.Type != ErrTypeOverloaded || a.header.Get("Retry-After") == "" {
		close(hold)
		t.Fatalf("second request while one is in flight (cap 1): %d %s; the write: %+v", a.status, a.body, <-done)
	}
	for _, p := range []string{"/health", "/ready", "/metrics"} {
		if a := call(t, "GET", base+p, ""); a.status != 200 {
			t.Fatalf("%s while overloaded: %d", p, a.status)
		}
	}
	close(hold)
	if w := <-done; w.status != 200 {
		t.Fatalf("the held write: %d %s", w.status, w.body)
	}
	if a := call(t, "GET", base+popular, ""); a.status != 200 {
		t.Fatalf("after the load is gone: %d %s", a.status, a.body)
	}
}

func TestLongURLAndHeaders(t *testing.T) {
	base, _ := startEdge(t, func(c *Config) {})
	// Over the URI limit but within the read buffer: the handler's check.
	a := call(t, "GET", base+popular+"&exclude="+strings.Repeat("a", 10<<10), "")
	if a.status != 414 || a.Type != ErrTypeURITooLong {
		t.Fatalf("10 KB URL: %d %.200s", a.status, a.body)
	}
	// Over the read buffer: the request line never fits.
	a = call(t, "GET", base+popular+"&exclude="+strings.Repeat("a", 40<<10), "")
	if a.status != 414 || a.Type != ErrTypeURITooLong || a.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("40 KB URL: %d %.200s %v", a.status, a.body, a.header)
	}
	a = call(t, "GET", base+popular, "", "X-Big", strings.Repeat("b", 40<<10))
	if a.status != 431 || a.Type != ErrTypeHeaderTooLarge {
		t.Fatalf("40 KB header: %d %.200s", a.status, a.body)
	}
	// A long request line followed by many headers: the headers.
	var many []string
	for i := range 40 {
		many = append(many, fmt.Sprintf("X-H%d", i), strings.Repeat("c", 1<<10))
	}
	a = call(t, "GET", base+popular+"&exclude="+strings.Repeat("a", 1<<10), "", many...)
	if a.status != 431 || a.Type != ErrTypeHeaderTooLarge {
		t.Fatalf("1 KB URL and 40 KB of headers: %d %.200s", a.status, a.body)
	}
	// Long but within limits: served.
	// (ids are at most 1 KiB each, so 4 KB of URL is a list of them.)
	items := make([]string, 250)
	for i := range items {
		items[i] = fmt.Sprintf("%%22id-%010d%%22", i)
	}
	longList := "&exclude=%5B" + strings.Join(items, "%2C") + "%5D"
	if len(longList) < 4<<10 {
		t.Fatalf("test bug: the list is only %d bytes", len(longList))
	}
	if a := call(t, "GET", base+popular+longList, ""); a.status != 200 {
		t.Fatalf("%d-byte URL: %d %.200s", len(longList), a.status, a.body)
	}
}

func TestErrorsQuoteInputShort(t *testing.T) {
	base, _ := startEdge(t, func(c *Config) {})
	huge := strings.Repeat("x", 1<<20)
	priv := "?key=" + tPublic + "&private_key=" + tPrivate
	check := func(name string, a edgeAnswer) {
		t.Helper()
		if a.status < 400 || a.status >= 500 {
			t.Fatalf("%s: status %d", name, a.status)
		}
		if len(a.body) > 4<<10 {
			t.Fatalf("%s: %d-byte error for a 1 MB input: %.300s", name, len(a.body), a.body)
		}
		if !strings.Contains(a.Msg, "bytes)") && !strings.Contains(string(a.body), "bytes)") {
			t.Fatalf("%s: the error does not say the value was cut: %.300s", name, a.body)
		}
	}
	check("1 MB order id", call(t, "POST", base+"/v2/orders"+priv, `[{"id":"`+huge+`","time":1,"products":[{"id":"p","price":1,"quantity":1}]}]`))
	check("1 MB limit", call(t, "POST", base+"/v2/recommendations/popular", `{"key":"`+tPublic+`","limit":"`+huge+`"}`))
	check("1 MB duplicate patch id", call(t, "PATCH", base+"/v2/products"+priv, `[{"id":"`+huge+`"},{"id":"`+huge+`"}]`))
	check("4 KB path", call(t, "POST", base+"/v2/"+url.PathEscape(huge[:4000]), ``))

	if got := quote(huge); len(got) > 130 || !strings.HasSuffix(got, "(1048576 bytes)") {
		t.Fatalf("quote of 1 MB: %q", got)
	}
	if got := quote("short"); got != `"short"` {
		t.Fatalf("quote of a short value: %s", got)
	}
	// Cut on a rune boundary: still valid UTF-8.
	if got := quote(strings.Repeat("é", 100)); !strings.Contains(got, "…") || strings.ContainsRune(got, '\uFFFD') {
		t.Fatalf("quote cut inside a rune: %s", got)
	}
}

func TestNosniffOnEveryAnswer(t *testing.T) {
	base, _ := startEdge(t, func(c *Config) { c.Rate.IPRate, c.Rate.IPBurst = 0.001, 1 })
	for _, c := range []struct{ name, method, path string }{
		{"ok", "GET", popular},
		{"rate limited", "GET", popular},
		{"unknown path", "GET", "/nope"},
		{"bad key", "GET", "/v2/recommendations/popular?key=pk_wrong"},
		{"health", "GET", "/health"},
		{"openapi", "GET", "/v2/openapi.json"},
	} {
		if a := call(t, c.method, base+c.path, ""); a.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s (%d): no nosniff header", c.name, a.status)
		}
	}
}

func TestJSONPOnlyOnPublicEndpoints(t *testing.T) {
	base, _ := startEdge(t, func(c *Config) {})
	a := call(t, "GET", base+popular+"&callback=cb", "")
	if a.status != 200 || !strings.HasPrefix(string(a.body), "cb(") {
		t.Fatalf("public endpoint with callback: %d %.100s", a.status, a.body)
	}
	for _, path := range []string{
		"/v2/orders?key=" + tPublic + "&private_key=" + tPrivate + "&callback=cb",
		"/v2/recommendations/customer/history?key=" + tPublic + "&private_key=" + tPrivate + "&customer=1&callback=cb",
		"/v2/stats/labels?key=" + tPublic + "&private_key=" + tPrivate + "&callback=cb",
	} {
		a := call(t, "GET", base+path, "")
		if strings.HasPrefix(string(a.body), "cb(") || a.status != 400 {
			t.Fatalf("%s: %d %.200s", path, a.status, a.body)
		}
	}
	a = call(t, "POST", base+"/v2/stores?callback=cb", `{"name":"x"}`, "Authorization", "Bearer "+tAdmin)
	if strings.HasPrefix(string(a.body), "cb(") {
		t.Fatalf("admin endpoint answered JSONP: %.200s", a.body)
	}
}

func TestConfigValidatesLimits(t *testing.T) {
	f := func(mut func(*Config)) {
		t.Helper()
		c := DefaultConfig()
		mut(&c)
		if c.Validate() == nil {
			t.Fatal("invalid limits accepted")
		}
	}
	f(func(c *Config) { c.Rate.IPRate = -1 })
	f(func(c *Config) { c.Rate.StoreBurst = 0 })
	f(func(c *Config) { c.Rate.TrustedProxies = []string{"not-an-ip"} })
	f(func(c *Config) { c.MaxHeaderBytes = c.MaxURIBytes })
	f(func(c *Config) { c.Rate.MaxInFlight = -1 })
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestConnectionsPerIPBounded(t *testing.T) {
	base, _ := startEdge(t, func(c *Config) { c.Rate.MaxConnsPerIP = 3 })
	addr := strings.TrimPrefix(base, "http://")
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	// The three are held open (idle); a fourth is refused with 429.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(b), "HTTP/1.1 429") || !strings.Contains(string(b), `"type":"rate_limited"`) {
		t.Fatalf("fourth connection: %q", b)
	}
	// Closing one frees a slot.
	conns[0].Close()
	conns = conns[1:]
	deadline := time.Now().Add(5 * time.Second)
	for {
		a := call(t, "GET", base+"/health", "")
		if a.status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no slot after a connection closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestHealthNamesTheBuild: /health says which build answers, so the nodes
// of a rolling upgrade can be told apart.
func TestHealthNamesTheBuild(t *testing.T) {
	base, _ := startEdge(t, func(c *Config) {})
	a := call(t, "GET", base+"/health", "")
	var h struct {
		Status  string        `json:"status"`
		Version version.Build `json:"version"`
	}
	if err := json.Unmarshal([]byte(a.body), &h); err != nil || a.status != 200 {
		t.Fatalf("/health: %d %s (%v)", a.status, a.body, err)
	}
	if h.Status != "ok" || h.Version != version.Get() || h.Version.Go == "" || h.Version.Version == "" {
		t.Fatalf("/health answered %+v, want status ok and %+v", h, version.Get())
	}
}
