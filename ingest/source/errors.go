package source

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/sibylhq/sibyl/ingest"
)

// FetchError is a request that failed without an answer (connection
// refused, timeout, a body that stopped) or a body that could not be
// read. URL is redacted (Redact).
type FetchError struct {
	Method string
	URL    string
	// Attempts is how many times the request was sent, 0 when unknown.
	Attempts int
	Err      error
}

func (e *FetchError) Error() string {
	if e.Attempts > 1 {
		return fmt.Sprintf("%s %s: %v (after %d attempts)", e.Method, e.URL, e.Err, e.Attempts)
	}
	return fmt.Sprintf("%s %s: %v", e.Method, e.URL, e.Err)
}

func (e *FetchError) Unwrap() error { return e.Err }

// StatusError is an answer with a status of 400 or more, after the
// retries the status allows.
type StatusError struct {
	Method string
	URL    string
	Status int
	// Attempts is how many times the request was sent, 0 when unknown.
	Attempts int
	// Body is the start of the answer's first line, for the report.
	Body string
}

func (e *StatusError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: HTTP %d", e.Method, e.URL, e.Status)
	if text := http.StatusText(e.Status); text != "" {
		b.WriteString(" " + text)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " after %d attempts", e.Attempts)
	}
	if e.Body != "" {
		fmt.Fprintf(&b, ": %q", e.Body)
	}
	return b.String()
}

// BodyTooLargeError is a body beyond the configured limit. It wraps
// ingest.ErrBodyTooLarge.
type BodyTooLargeError struct {
	URL   string
	Limit int64
	// Length is the announced Content-Length, -1 when the body was cut
	// while reading.
	Length int64
}

func (e *BodyTooLargeError) Error() string {
	if e.Length >= 0 {
		return fmt.Sprintf("GET %s: body of %d bytes exceeds the limit of %d bytes", e.URL, e.Length, e.Limit)
	}
	return fmt.Sprintf("GET %s: body exceeds the limit of %d bytes (after decompression)", e.URL, e.Limit)
}

func (e *BodyTooLargeError) Unwrap() error { return ingest.ErrBodyTooLarge }

// secretParams are query parameter names (lower case, as substrings)
// whose values Redact hides: WooCommerce's consumer_key and
// consumer_secret, tokens, signatures, passwords.
var secretParams = []string{"key", "secret", "token", "password", "passwd", "signature", "sig", "auth", "code"}

// Redact renders u for errors and logs: without user info, with the
// values of credential-like query parameters replaced, cut at 300 bytes.
func Redact(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.User = nil
	if c.RawQuery != "" {
		q, err := url.ParseQuery(c.RawQuery)
		if err != nil {
			c.RawQuery = "REDACTED"
		} else {
			for name := range q {
				lower := strings.ToLower(name)
				for _, s := range secretParams {
					if strings.Contains(lower, s) {
						q[name] = []string{"REDACTED"}
						break
					}
				}
			}
			c.RawQuery = q.Encode()
		}
	}
	return clip(c.String(), 300)
}

// RedactString is Redact for a URL not yet parsed; an unparsable one is
// reported as such, never echoed.
func RedactString(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return Redact(u)
}
