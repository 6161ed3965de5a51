package source

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/ingest"
)

// fastClient retries quickly: tests must take milliseconds.
func fastClient(t *testing.T, edit func(*ClientConfig)) *Client {
	t.Helper()
	cfg := DefaultClientConfig()
	cfg.Timeout = 5 * time.Second
	cfg.IdleTimeout = 5 * time.Second
	cfg.RetryMax = 3
	cfg.RetryWaitMin = time.Millisecond
	cfg.RetryWaitMax = 5 * time.Millisecond
	cfg.MaxRetryAfter = 1500 * time.Millisecond
	if edit != nil {
		edit(&cfg)
	}
	return NewClient(cfg)
}

func get(t *testing.T, c Doer, url string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c.Do(req)
}

func TestClientConfigValidate(t *testing.T) {
	if err := DefaultClientConfig().Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
	f := func(name string, edit func(*ClientConfig), want string) {
		t.Helper()
		cfg := DefaultClientConfig()
		edit(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want it to mention %q", name, err, want)
		}
	}
	f("timeout", func(c *ClientConfig) { c.Timeout = 0 }, "timeout")
	f("idle", func(c *ClientConfig) { c.IdleTimeout = -1 }, "idle timeout")
	f("retries", func(c *ClientConfig) { c.RetryMax = 99 }, "retry max")
	f("wait order", func(c *ClientConfig) { c.RetryWaitMax = c.RetryWaitMin / 2 }, "below retry wait min")
	f("body", func(c *ClientConfig) { c.MaxBodyBytes = 0 }, "max body bytes")
	f("agent", func(c *ClientConfig) { c.UserAgent = strings.Repeat("a", 300) }, "user agent")
}

// A 429 with Retry-After is waited out, then the answer comes through;
// the wait obeys the header (1 s), capped by MaxRetryAfter.
func TestClientRetryAfter(t *testing.T) {
	var calls atomic.Int32
	var first, second atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			first.Store(time.Now().UnixNano())
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
		default:
			second.Store(time.Now().UnixNano())
			io.WriteString(w, `{"ok":true}`)
		}
	}))
	defer srv.Close()
	c := fastClient(t, nil)
	var cnt Counter
	req, _ := http.NewRequestWithContext(WithCounter(context.Background(), &cnt), http.MethodGet, srv.URL, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(b) != `{"ok":true}` {
		t.Fatalf("body %q, %v", b, err)
	}
	if waited := time.Duration(second.Load() - first.Load()); waited < 900*time.Millisecond {
		t.Errorf("retried after %v, Retry-After asked for 1s", waited)
	}
	if cnt.Requests() != 2 || cnt.Bytes() != int64(len(b)) || c.Stats().Requests != 2 {
		t.Errorf("counter: %d requests %d bytes, client %+v; want 2 and %d", cnt.Requests(), cnt.Bytes(), c.Stats(), len(b))
	}
	// A Retry-After beyond the cap waits the cap only.
	if d := c.backoff(time.Millisecond, time.Second, 0, &http.Response{StatusCode: 503, Header: http.Header{"Retry-After": {"3600"}}}); d != 1500*time.Millisecond {
		t.Errorf("Retry-After 3600 waited %v, want the 1.5s cap", d)
	}
	if d, ok := parseRetryAfter(time.Unix(1000, 0).UTC().Format(http.TimeFormat), time.Unix(990, 0)); !ok || d != 10*time.Second {
		t.Errorf("HTTP-date Retry-After = %v %v, want 10s", d, ok)
	}
}

// Backoff grows exponentially, stays within [half, full] of its step and
// under the maximum.
func TestClientBackoff(t *testing.T) {
	c := fastClient(t, nil)
	lo, hi := 100*time.Millisecond, time.Second
	for attempt, step := range []time.Duration{lo, 2 * lo, 4 * lo, 8 * lo, hi, hi} {
		for range 20 {
			d := c.backoff(lo, hi, attempt, nil)
			if d < step/2 || d > step {
				t.Fatalf("attempt %d waited %v, want within [%v, %v]", attempt, d, step/2, step)
			}
		}
	}
	if d := c.backoff(lo, hi, 200, nil); d > hi {
		t.Errorf("attempt 200 waited %v", d)
	}
}

// A 500 that keeps failing gives up after RetryMax retries with an error
// naming the URL (without its credentials) and the status.
func TestClientGivesUp(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "database down\nstack trace", http.StatusInternalServerError)
	}))
	defer srv.Close()
	c := fastClient(t, nil)
	u := strings.Replace(srv.URL, "http://", "http://bob:hunter2@", 1) + "/feed?consumer_secret=cs_123&page=2"
	_, err := get(t, c, u)
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 500 || se.Attempts != 4 {
		t.Fatalf("err = %v, want a StatusError 500 after 4 attempts", err)
	}
	if calls.Load() != 4 {
		t.Errorf("server saw %d calls, want 4", calls.Load())
	}
	msg := err.Error()
	for _, secret := range []string{"hunter2", "bob", "cs_123"} {
		if strings.Contains(msg, secret) {
			t.Errorf("error %q shows %q", msg, secret)
		}
	}
	if !strings.Contains(msg, "/feed?") || !strings.Contains(msg, "page=2") || !strings.Contains(msg, "500") || !strings.Contains(msg, "database down") || strings.Contains(msg, "stack") {
		t.Errorf("error %q should name the URL, the status and the first line of the body", msg)
	}
}

// 4xx other than 408 and 429 is not retried.
func TestClientNoRetryOn4xx(t *testing.T) {
	for _, code := range []int{400, 401, 404} {
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.WriteHeader(code)
		}))
		_, err := get(t, fastClient(t, nil), srv.URL)
		srv.Close()
		var se *StatusError
		if !errors.As(err, &se) || se.Status != code || calls.Load() != 1 {
			t.Errorf("%d: err = %v after %d calls, want one call and a StatusError", code, err, calls.Load())
		}
	}
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusRequestTimeout)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	resp, err := get(t, fastClient(t, nil), srv.URL)
	if err != nil || calls.Load() != 2 {
		t.Fatalf("408 then 200: %v after %d calls", err, calls.Load())
	}
	resp.Body.Close()
}

// A body over the limit fails with a clear error, announced or not, and
// decompressed or not; a body exactly at the limit passes.
func TestClientBodyLimit(t *testing.T) {
	payload := strings.Repeat("x", 1000)
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write([]byte(payload))
	zw.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/announced":
			io.WriteString(w, payload)
		case "/chunked":
			w.(http.Flusher).Flush()
			io.WriteString(w, payload)
		case "/bomb.gz": // small on the wire, 1000 bytes inside
			w.Header().Set("Content-Type", "application/gzip")
			w.Write(zipped.Bytes())
		}
	}))
	defer srv.Close()
	c := fastClient(t, func(c *ClientConfig) { c.MaxBodyBytes = 999 })
	for _, path := range []string{"/announced", "/chunked", "/bomb.gz"} {
		resp, err := get(t, c, srv.URL+path)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		var tl *BodyTooLargeError
		if !errors.As(err, &tl) || !errors.Is(err, ingest.ErrBodyTooLarge) || !strings.Contains(err.Error(), "999 bytes") || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: err = %v, want a BodyTooLargeError naming the limit and URL", path, err)
		}
	}
	c = fastClient(t, func(c *ClientConfig) { c.MaxBodyBytes = 1000 })
	resp, err := get(t, c, srv.URL+"/chunked")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || len(b) != 1000 {
		t.Errorf("body at the limit: %d bytes, %v", len(b), err)
	}
}

// Gzip is undone whether the transport negotiated it or the file is
// gzipped itself.
func TestClientGzip(t *testing.T) {
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write([]byte(`{"products":[]}`))
	zw.Close()
	var acceptGzip atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/negotiated":
			acceptGzip.Store(strings.Contains(r.Header.Get("Accept-Encoding"), "gzip"))
			w.Header().Set("Content-Encoding", "gzip")
		case "/file.json.gz":
			w.Header().Set("Content-Type", "application/octet-stream")
		}
		w.Write(zipped.Bytes())
	}))
	defer srv.Close()
	c := fastClient(t, nil)
	for _, path := range []string{"/negotiated", "/file.json.gz"} {
		resp, err := get(t, c, srv.URL+path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(b) != `{"products":[]}` {
			t.Errorf("%s: body %q, %v", path, b, err)
		}
	}
	if !acceptGzip.Load() {
		t.Error("the client did not offer gzip")
	}
}

// A server that stops sending mid-body fails after IdleTimeout, naming
// the stall.
func TestClientIdleTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"products":[`)
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c := fastClient(t, func(c *ClientConfig) { c.IdleTimeout = 100 * time.Millisecond })
	resp, err := get(t, c, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, err = io.ReadAll(resp.Body)
	var fe *FetchError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "no data for 100ms") {
		t.Errorf("err = %v, want a FetchError about the stall", err)
	}
}

// A refused connection is retried, then reported with the URL.
func TestClientConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/feed?token=abc"
	srv.Close()
	_, err := get(t, fastClient(t, nil), url)
	var fe *FetchError
	if !errors.As(err, &fe) || fe.Attempts != 4 || strings.Contains(err.Error(), "abc") || !strings.Contains(err.Error(), "/feed") {
		t.Errorf("err = %v, want a FetchError after 4 attempts naming the redacted URL", err)
	}
}

func TestAuthNeverShowsSecrets(t *testing.T) {
	a := Auth{Bearer: "tok_secret", User: "ck_user", Password: "pw_secret"}
	for _, s := range []string{a.String(), a.GoString()} {
		if strings.Contains(s, "secret") || strings.Contains(s, "ck_user") {
			t.Errorf("%q shows a secret", s)
		}
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	Auth{Bearer: "t", Header: "X-Clerk-Authorization"}.Apply(req)
	if got := req.Header.Get("X-Clerk-Authorization"); got != "Bearer t" || req.Header.Get("Authorization") != "" {
		t.Errorf("custom header: %q", got)
	}
}

// A redirect to another host carries no credential, not even a custom
// header (net/http drops only Authorization and Cookie); the same host
// keeps it.
func TestClientRedirectDropsCredentials(t *testing.T) {
	var seen atomic.Value
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Header.Get("X-Clerk-Authorization") + "|" + r.Header.Get("Authorization"))
		io.WriteString(w, "[]")
	}))
	defer other.Close()
	var sameHost atomic.Value
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, other.URL+"/cdn/feed.json", http.StatusFound)
		case "/moved":
			http.Redirect(w, r, "/here", http.StatusMovedPermanently)
		case "/here":
			sameHost.Store(r.Header.Get("X-Clerk-Authorization"))
			io.WriteString(w, "[]")
		}
	}))
	defer shop.Close()
	c := fastClient(t, nil)
	for _, path := range []string{"/away", "/moved"} {
		req, _ := http.NewRequest(http.MethodGet, shop.URL+path, nil)
		Auth{Bearer: "tok", Header: "X-Clerk-Authorization"}.Apply(req)
		req.SetBasicAuth("u", "p")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if got := seen.Load(); got != "|" {
		t.Errorf("the other host received credentials %q", got)
	}
	if got := sameHost.Load(); got != "Bearer tok" {
		t.Errorf("same-host redirect lost the token: %q", got)
	}
}

// DenyPrivateNetworks refuses loopback at once, without retries.
func TestClientDenyPrivateNetworks(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	defer srv.Close()
	c := fastClient(t, func(c *ClientConfig) { c.DenyPrivateNetworks = true })
	_, err := get(t, c, srv.URL)
	var fe *FetchError
	if !errors.Is(err, ErrPrivateNetwork) || !errors.As(err, &fe) || fe.Attempts != 1 || calls.Load() != 0 {
		t.Errorf("err = %v (%d calls), want ErrPrivateNetwork after one attempt", err, calls.Load())
	}
}

// An attempt whose headers do not come within Timeout is abandoned and
// retried.
func TestClientTimeoutPerAttempt(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		}
		io.WriteString(w, "late but fine")
	}))
	defer srv.Close()
	c := fastClient(t, func(c *ClientConfig) { c.Timeout = 100 * time.Millisecond })
	start := time.Now()
	resp, err := get(t, c, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "late but fine" || calls.Load() != 2 || time.Since(start) > 3*time.Second {
		t.Errorf("body %q after %d calls in %v", b, calls.Load(), time.Since(start))
	}
}
