package source

// The response body a Client hands out: decompressed, bounded, watched
// for stalls, counted.

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// body is a response body that decompresses gzip the transport left
// alone (a .json.gz file), fails past the size limit, fails when the
// server stalls longer than IdleTimeout, and counts bytes.
type body struct {
	c      *Client
	where  string
	raw    io.ReadCloser
	r      io.Reader // what Read reads: raw, buffered and maybe gunzipped
	cnt    *Counter
	n      int64
	cancel context.CancelFunc
	idle   *time.Timer
	// stalled is set by the idle timer before it cancels the request.
	stalled atomic.Bool
	once    sync.Once
	err     error
}

func (c *Client) newBody(resp *http.Response, where string, cnt *Counter, cancel context.CancelFunc) *body {
	b := &body{c: c, where: where, raw: resp.Body, cnt: cnt, cancel: cancel}
	b.idle = time.AfterFunc(c.cfg.IdleTimeout, func() {
		b.stalled.Store(true)
		cancel()
	})
	gzipped := !resp.Uncompressed && strings.EqualFold(strings.TrimSpace(resp.Header.Get("Content-Encoding")), "gzip")
	b.r = &sniffGzip{src: resp.Body, force: gzipped}
	return b
}

// sniffGzip decompresses its source when told to or when the source
// starts with gzip's magic bytes; it decides on the first Read.
type sniffGzip struct {
	src   io.Reader
	force bool
	r     io.Reader
}

func (s *sniffGzip) Read(p []byte) (int, error) {
	if s.r == nil {
		br := bufio.NewReader(s.src)
		magic, err := br.Peek(2)
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
			return 0, err
		}
		if s.force || (len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
			zr, err := gzip.NewReader(br)
			if err != nil {
				return 0, fmt.Errorf("gzip: %w", err)
			}
			s.r = zr
		} else {
			s.r = br
		}
	}
	return s.r.Read(p)
}

// Read reads the body, failing once MaxBodyBytes would be exceeded (never
// truncating silently).
func (b *body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	limit := b.c.cfg.MaxBodyBytes
	if b.n >= limit {
		// One byte more proves the body is too large, not exactly full.
		var one [1]byte
		n, err := b.r.Read(one[:])
		if n > 0 {
			b.err = &BodyTooLargeError{URL: b.where, Limit: limit, Length: -1}
			return 0, b.err
		}
		return 0, b.fail(err)
	}
	if int64(len(p)) > limit-b.n {
		p = p[:limit-b.n]
	}
	n, err := b.r.Read(p)
	if n > 0 {
		b.n += int64(n)
		b.c.bytes.Add(int64(n))
		if b.cnt != nil {
			b.cnt.bytes.Add(int64(n))
		}
		b.idle.Reset(b.c.cfg.IdleTimeout)
	}
	if err != nil {
		err = b.fail(err)
	}
	return n, err
}

// fail turns a read error into one naming the URL; io.EOF stays io.EOF.
func (b *body) fail(err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return err
	}
	if b.stalled.Load() {
		err = fmt.Errorf("no data for %v", b.c.cfg.IdleTimeout)
	}
	b.err = &FetchError{Method: http.MethodGet, URL: b.where, Err: fmt.Errorf("reading the body after %d bytes: %w", b.n, stripURL(err))}
	return b.err
}

// Close closes the body and releases the request's context.
func (b *body) Close() error {
	var err error
	b.once.Do(func() {
		b.idle.Stop()
		err = b.raw.Close()
		b.cancel()
	})
	return err
}
