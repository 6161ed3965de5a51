package source

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/sibylhq/sibyl/ingest"
)

// fetcher sends a source's GET requests with its credentials and counts
// them for the Result, through a Client (which counts its own attempts
// and bytes) or any other Doer (counted here, one request per Do).
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
	_, counts := f.doer.(*Client)
	if !counts {
		f.cnt.requests.Add(1)
	}
	resp, err := f.doer.Do(req)
	if err != nil {
		if counts {
			return nil, err // already names the URL, redacted
		}
		return nil, &FetchError{Method: http.MethodGet, URL: Redact(req.URL), Err: stripURL(err)}
	}
	if counts {
		return resp, nil
	}
	if resp.StatusCode >= 400 {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, &StatusError{Method: http.MethodGet, URL: Redact(req.URL), Status: resp.StatusCode, Body: printable(snippet)}
	}
	resp.Body = &countingBody{ReadCloser: resp.Body, cnt: &f.cnt}
	return resp, nil
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
