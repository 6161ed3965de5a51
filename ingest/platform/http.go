package platform

// HTTP for the connectors: one GET through the Doer, bounded in size,
// with non-2xx answers turned into *StatusError and credentials kept out
// of every error.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// StatusError is an HTTP answer that ends a Fetch: authentication refused
// (401, 403), rate limited (429) after whatever retries the Doer made, or
// any other status that is not 2xx. Its message names the platform, the
// request path (never the query, which may hold credentials) and the
// status.
type StatusError struct {
	Platform string
	// Path is the request path without query.
	Path       string
	StatusCode int
	// RetryAfter is the wait the server asked for on a 429 or 503, zero
	// when it named none.
	RetryAfter time.Duration
}

// Error names the platform, the path and the status, never a credential.
func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s: GET %s: %d %s", e.Platform, e.Path, e.StatusCode, http.StatusText(e.StatusCode))
	switch {
	case e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden:
		msg += " (check the credentials and their access scopes)"
	case e.RetryAfter > 0:
		msg += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return msg
}

// Unwrap lets callers test errors.Is(err, ErrUnauthorized) and
// errors.Is(err, ErrRateLimited).
func (e *StatusError) Unwrap() error {
	switch e.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return ErrUnauthorized
	case http.StatusTooManyRequests:
		return ErrRateLimited
	}
	return nil
}

// get fetches one page and returns its body (bounded by MaxPageBytes) and
// headers. Any status but 2xx is a *StatusError.
func (r *run) get(ctx context.Context, rawURL string) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		// The URL may hold a consumer secret (WooCommerce query auth):
		// report only that it is unusable.
		return nil, nil, fmt.Errorf("%s: cannot build a request: invalid URL", r.cfg.platform)
	}
	req.Header.Set("Accept", "application/json")
	r.auth(req)
	r.res.Requests++
	resp, err := r.doer.Do(req)
	if err != nil {
		return nil, nil, r.redact(fmt.Errorf("%s: GET %s: %w", r.cfg.platform, req.URL.Path, scrubURLError(err)))
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// Drain a little so the connection can be reused; never the
		// whole of a hostile body.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, nil, &StatusError{
			Platform:   r.cfg.platform,
			Path:       req.URL.Path,
			StatusCode: resp.StatusCode,
			RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
		}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, r.cfg.maxPageBytes+1))
	r.res.Bytes += int64(len(body))
	if err != nil {
		return nil, nil, r.redact(fmt.Errorf("%s: GET %s: reading the body: %w", r.cfg.platform, req.URL.Path, scrubURLError(err)))
	}
	if int64(len(body)) > r.cfg.maxPageBytes {
		return nil, nil, fmt.Errorf("%s: GET %s: %w: more than %d bytes", r.cfg.platform, req.URL.Path, ErrPageTooLarge, r.cfg.maxPageBytes)
	}
	return body, resp.Header, nil
}

// redact replaces the run's credentials in err's text, in their plain and
// URL-escaped forms. The result still unwraps to err, so errors.Is
// (context.Canceled, ...) keeps working.
func (r *run) redact(err error) error {
	msg := err.Error()
	clean := msg
	for _, s := range r.secrets {
		if s == "" {
			continue
		}
		clean = strings.ReplaceAll(clean, s, "[redacted]")
		clean = strings.ReplaceAll(clean, url.QueryEscape(s), "[redacted]")
	}
	if clean == msg {
		return err
	}
	return &redactedError{msg: clean, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// scrubURLError drops the URL from a *url.Error-like error, whose text
// would repeat a query that may hold credentials.
func scrubURLError(err error) error {
	var ue interface {
		Unwrap() error
		Timeout() bool
	}
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date (RFC 9110
// section 10.2.3); anything else, or a wait over an hour, is ignored.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if math.IsNaN(f) || f < 0 || f > 3600 {
			return 0
		}
		d = time.Duration(f * float64(time.Second))
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	if d < 0 || d > time.Hour {
		return 0
	}
	return d
}
