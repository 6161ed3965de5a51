package source

// The HTTP client every source fetches through. Shops' feeds and APIs are
// slow, flaky and rate-limited, and their answers are untrusted: the
// client retries what is worth retrying (connection errors, 408, 429,
// 5xx but 501) with exponential backoff and jitter, waits as long as a
// Retry-After asks (up to a cap), gives up at once on other 4xx, and
// bounds every body after decompression so that a runaway feed or a gzip
// bomb fails with a clear error instead of filling memory.
//
// Retries are hashicorp/go-retryablehttp's loop; the policy (what to
// retry, how long to wait) and the body handling are Sibyl's.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// ClientConfig tunes a Client.
type ClientConfig struct {
	// Timeout bounds one attempt until its response headers arrive:
	// connecting, TLS and the server's think time.
	Timeout time.Duration
	// IdleTimeout bounds a stall while a body is read. A large feed may
	// take many minutes to stream, so there is no bound on the whole
	// read, only on how long it may stop.
	IdleTimeout time.Duration
	// RetryMax is how many times a failed attempt is tried again.
	RetryMax int
	// RetryWaitMin is the first backoff; each retry doubles it up to
	// RetryWaitMax. The wait actually slept is jittered between half the
	// backoff and the full backoff, so that stores failing together do
	// not retry together.
	RetryWaitMin time.Duration
	RetryWaitMax time.Duration
	// MaxRetryAfter caps the wait a 429 or 503 answer may ask for with
	// Retry-After.
	MaxRetryAfter time.Duration
	// MaxBodyBytes bounds one response body after decompression.
	MaxBodyBytes int64
	// UserAgent is sent with every request that does not set its own.
	UserAgent string
	// DenyPrivateNetworks refuses to connect to loopback, private,
	// link-local and unspecified addresses (checked on the resolved
	// address, so a DNS name cannot get around it): set it where store
	// owners who are not the operator configure sources, so that a feed
	// URL cannot reach the node's own network (cloud metadata, admin
	// ports). Off by default: a self-hosted shop often sits next door.
	DenyPrivateNetworks bool
}

// DefaultClientConfig returns the settings the sync runner uses: 30 s to
// the headers, 60 s of silence at most, 4 retries from 1 s to 30 s,
// Retry-After obeyed up to 2 minutes, bodies up to 4 GiB.
func DefaultClientConfig() ClientConfig {
	return ClientConfig{
		Timeout:       30 * time.Second,
		IdleTimeout:   60 * time.Second,
		RetryMax:      4,
		RetryWaitMin:  time.Second,
		RetryWaitMax:  30 * time.Second,
		MaxRetryAfter: 2 * time.Minute,
		MaxBodyBytes:  4 << 30,
		UserAgent:     "Sibyl-DataSync/1",
	}
}

// maxRetries bounds RetryMax: beyond it a dead shop keeps a sync slot for
// hours.
const maxRetries = 20

// Validate reports a configuration that cannot work.
func (c ClientConfig) Validate() error {
	switch {
	case c.Timeout <= 0:
		return fmt.Errorf("timeout must be positive, got %v", c.Timeout)
	case c.IdleTimeout <= 0:
		return fmt.Errorf("idle timeout must be positive, got %v", c.IdleTimeout)
	case c.RetryMax < 0 || c.RetryMax > maxRetries:
		return fmt.Errorf("retry max must be between 0 and %d, got %d", maxRetries, c.RetryMax)
	case c.RetryWaitMin <= 0:
		return fmt.Errorf("retry wait min must be positive, got %v", c.RetryWaitMin)
	case c.RetryWaitMax < c.RetryWaitMin:
		return fmt.Errorf("retry wait max %v is below retry wait min %v", c.RetryWaitMax, c.RetryWaitMin)
	case c.MaxRetryAfter < 0:
		return fmt.Errorf("max retry-after must not be negative, got %v", c.MaxRetryAfter)
	case c.MaxBodyBytes <= 0:
		return fmt.Errorf("max body bytes must be positive, got %d", c.MaxBodyBytes)
	case len(c.UserAgent) > 256:
		return fmt.Errorf("user agent is %d bytes, at most 256", len(c.UserAgent))
	}
	return nil
}

// Client is a Doer that retries, obeys Retry-After, limits and
// decompresses bodies, and counts what it does. Unlike http.Client, Do
// answers a status of 400 or more with a *StatusError (the body already
// closed): a sync has no use for an error page. It is safe for concurrent
// use; one Client serves every store of a node.
type Client struct {
	cfg   ClientConfig
	retry *retryablehttp.Client
	// requests and bytes count every attempt and every body byte (after
	// decompression) over the Client's life.
	requests atomic.Int64
	bytes    atomic.Int64
}

// NewClient returns a Client for cfg, which must pass Validate (NewClient
// panics otherwise: a configuration is checked where it is read).
func NewClient(cfg ClientConfig) *Client {
	if err := cfg.Validate(); err != nil {
		panic("source.NewClient: " + err.Error())
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	dialer := &net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}
	if cfg.DenyPrivateNetworks {
		dialer.Control = denyPrivate
	}
	transport.DialContext = dialer.DialContext
	transport.Proxy = nil // a proxy would hide the address DenyPrivateNetworks checks
	transport.TLSHandshakeTimeout = cfg.Timeout
	transport.ResponseHeaderTimeout = cfg.Timeout
	transport.MaxIdleConnsPerHost = 4
	c := &Client{cfg: cfg}
	c.retry = &retryablehttp.Client{
		HTTPClient:   &http.Client{Transport: transport, CheckRedirect: checkRedirect},
		RetryWaitMin: cfg.RetryWaitMin,
		RetryWaitMax: cfg.RetryWaitMax,
		RetryMax:     cfg.RetryMax,
		CheckRetry:   checkRetry,
		Backoff:      c.backoff,
		// retryablehttp logs URLs with their query (where some
		// platforms carry keys); errors are reported by Do instead.
		Logger: nil,
		RequestLogHook: func(_ retryablehttp.Logger, req *http.Request, _ int) {
			c.requests.Add(1)
			if cnt := counterFrom(req.Context()); cnt != nil {
				cnt.requests.Add(1)
			}
			if a, ok := req.Context().Value(attemptsKey{}).(*atomic.Int64); ok {
				a.Add(1)
			}
		},
		// Give the last answer back, so that Do reports its status.
		ErrorHandler: func(resp *http.Response, err error, _ int) (*http.Response, error) {
			if err != nil && resp != nil {
				resp.Body.Close()
				resp = nil
			}
			return resp, err
		},
	}
	return c
}

// ClientStats counts a Client's work over its life.
type ClientStats struct {
	// Requests counts attempts, retries included.
	Requests int64
	// Bytes counts body bytes read, after decompression.
	Bytes int64
}

// Stats returns the Client's counters.
func (c *Client) Stats() ClientStats {
	return ClientStats{Requests: c.requests.Load(), Bytes: c.bytes.Load()}
}

// Counter counts the attempts and body bytes of the requests whose
// context carries it (WithCounter): one Fetch's share of a shared Client.
type Counter struct {
	requests atomic.Int64
	bytes    atomic.Int64
}

// Requests returns the attempts counted so far.
func (c *Counter) Requests() int { return int(c.requests.Load()) }

// Bytes returns the body bytes counted so far.
func (c *Counter) Bytes() int64 { return c.bytes.Load() }

type counterKey struct{}

type attemptsKey struct{}

// WithCounter returns ctx carrying cnt: a Client adds every attempt and
// body byte of a request made with the returned context to cnt.
func WithCounter(ctx context.Context, cnt *Counter) context.Context {
	return context.WithValue(ctx, counterKey{}, cnt)
}

func counterFrom(ctx context.Context) *Counter {
	cnt, _ := ctx.Value(counterKey{}).(*Counter)
	return cnt
}

// maxRedirects bounds a redirect chain, as net/http's default does.
const maxRedirects = 10

// redirectHeaders are the headers kept when a redirect leaves the
// original host: net/http drops Authorization and Cookie itself, but not
// a custom credential header such as X-Clerk-Authorization.
var redirectHeaders = map[string]bool{"Accept": true, "Accept-Encoding": true, "User-Agent": true, "Referer": true}

// checkRedirect follows at most maxRedirects http(s) redirects and sends
// no credential to another host.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return fmt.Errorf("redirect to a %s URL refused", clip(req.URL.Scheme, 20))
	}
	if req.URL.Host != via[0].URL.Host {
		for name := range req.Header {
			if !redirectHeaders[name] {
				req.Header.Del(name)
			}
		}
	}
	return nil
}

// ErrPrivateNetwork is wrapped by the error of a connection
// DenyPrivateNetworks refused.
var ErrPrivateNetwork = errors.New("address in a private network refused")

// denyPrivate is a net.Dialer Control refusing non-public addresses.
func denyPrivate(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrPrivateNetwork, clip(host, 64))
	}
	ip = ip.Unmap()
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast() {
		return fmt.Errorf("%w: %s", ErrPrivateNetwork, ip)
	}
	return nil
}

// checkRetry retries connection errors (as retryablehttp decides: not bad
// certificates, schemes or redirect loops), 408, 429 and 5xx but 501.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		if errors.Is(err, ErrPrivateNetwork) {
			return false, nil // the address will not change by waiting
		}
		return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	}
	switch code := resp.StatusCode; {
	case code == http.StatusTooManyRequests, code == http.StatusRequestTimeout:
		return true, nil
	case code == 0, code >= 500 && code != http.StatusNotImplemented:
		return true, nil
	}
	return false, nil
}

// backoff waits what a 429 or 503 asks with Retry-After (capped), or
// else RetryWaitMin doubled per attempt up to RetryWaitMax, jittered
// between half and all of it.
func (c *Client) backoff(lo, hi time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return min(d, c.cfg.MaxRetryAfter)
		}
	}
	d := hi
	if attempt < 32 {
		if e := lo << attempt; e > 0 && e < hi {
			d = e
		}
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP
// date (RFC 9110, section 10.2.3).
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(0, t.Sub(now)), true
}

// Do sends req with retries. A status of 400 or more (after the retries
// the status allows) becomes a *StatusError; a body larger than
// MaxBodyBytes fails its Read with a *BodyTooLargeError.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	if req.Header.Get("User-Agent") == "" && c.cfg.UserAgent != "" {
		req = req.Clone(req.Context())
		req.Header.Set("User-Agent", c.cfg.UserAgent)
	}
	where := Redact(req.URL)
	// The context outlives Do: the body is read after it returns, and
	// the idle timer cancels it when the body stalls.
	attempts := new(atomic.Int64)
	ctx, cancel := context.WithCancel(context.WithValue(req.Context(), attemptsKey{}, attempts))
	rreq, err := retryablehttp.FromRequest(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, &FetchError{Method: req.Method, URL: where, Err: err}
	}
	resp, err := c.retry.Do(rreq)
	n := int(attempts.Load())
	if err != nil {
		cancel()
		return nil, &FetchError{Method: req.Method, URL: where, Attempts: n, Err: stripURL(err)}
	}
	if resp.StatusCode >= 400 {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		cancel()
		return nil, &StatusError{Method: req.Method, URL: where, Status: resp.StatusCode, Attempts: n, Body: printable(snippet)}
	}
	if resp.ContentLength > c.cfg.MaxBodyBytes && resp.Header.Get("Content-Encoding") == "" {
		resp.Body.Close()
		cancel()
		return nil, &BodyTooLargeError{URL: where, Limit: c.cfg.MaxBodyBytes, Length: resp.ContentLength}
	}
	resp.Body = c.newBody(resp, where, counterFrom(req.Context()), cancel)
	// The length is of the wire encoding, not of what Read returns.
	resp.ContentLength = -1
	return resp, nil
}

// stripURL drops the *url.Error wrapper, whose message repeats the URL
// with its query (where some platforms carry keys); Do names the URL
// itself, redacted.
func stripURL(err error) error {
	var ue *url.Error
	for errors.As(err, &ue) {
		err = ue.Err
	}
	return err
}

// printable keeps the first line of an error body, without control
// characters, for the report.
func printable(b []byte) string {
	s := strings.ToValidUTF8(string(b), "?")
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	return clip(strings.TrimSpace(s), 200)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
