package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/sibylhq/sibyl/ingest"
)

// fetcher sends a source's GET requests with its credentials and counts
// them for the Result. A Client (even wrapped in another Doer) counts its
// own attempts and bytes through the context; any other Doer is counted
// here, one request per Do.
type fetcher struct {
	doer Doer
	auth Auth
	cnt  Counter
}

// get fetches rawURL and checks the status; the caller closes the body.
func (f *fetcher) get(ctx context.Context, rawURL, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(WithCounter(ctx, &f.cnt), http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", RedactString(rawURL), err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	f.auth.Apply(req)
	before := f.cnt.Requests()
	resp, err := f.doer.Do(req)
	counted := f.cnt.Requests() > before
	if !counted {
		f.cnt.requests.Add(1)
	}
	if err != nil {
		var fe *FetchError
		var se *StatusError
		if errors.As(err, &fe) || errors.As(err, &se) {
			return nil, err // already names the URL, redacted
		}
		return nil, &FetchError{Method: http.MethodGet, URL: Redact(req.URL), Err: stripURL(err)}
	}
	if resp.StatusCode >= 400 {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, &StatusError{Method: http.MethodGet, URL: Redact(req.URL), Status: resp.StatusCode, Body: printable(snippet)}
	}
	if !counted {
		resp.Body = &countingBody{ReadCloser: resp.Body, cnt: &f.cnt}
	}
	resp.Body = &bomSkipper{ReadCloser: resp.Body}
	return resp, nil
}

// bomSkipper drops a UTF-8 byte order mark at the start of a body: some
// feed generators on Windows write one, and JSON and CSV readers choke on
// it.
type bomSkipper struct {
	io.ReadCloser
	started bool
	pending []byte
}

func (b *bomSkipper) Read(p []byte) (int, error) {
	if !b.started {
		b.started = true
		var head [3]byte
		n, err := io.ReadFull(b.ReadCloser, head[:])
		if n == 3 && string(head[:]) == "\ufeff" {
			n = 0
		}
		b.pending = append(b.pending, head[:n]...)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			return 0, err
		}
	}
	if len(b.pending) > 0 {
		n := copy(p, b.pending)
		b.pending = b.pending[n:]
		return n, nil
	}
	return b.ReadCloser.Read(p)
}

// fill copies the counters into r.
func (f *fetcher) fill(r *Result) {
	r.Requests = f.cnt.Requests()
	r.Bytes = f.cnt.Bytes()
}

type countingBody struct {
	io.ReadCloser
	cnt *Counter
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.cnt.bytes.Add(int64(n))
	return n, err
}

// newResult returns an empty Result with its maps made.
func newResult() Result {
	return Result{Records: map[ingest.Kind]int{}, Rejected: map[ingest.Kind]int{}}
}
