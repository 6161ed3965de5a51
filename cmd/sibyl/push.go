package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sibylhq/sibyl/ingest"
)

// pusher sends batches of records to a node's data endpoints, several
// batches in flight, retrying what a node could not replicate. Upserts are
// idempotent, so a retried or re-run batch changes nothing twice. It is an
// ingest.FeedSink: the Clerk feed reader feeds it directly, the Online
// Retail reader through ingest.RetailBatcher.
//
// Ordering: orders name products and customers, so before an orders batch
// is sent every catalog and customer batch sent so far must be
// acknowledged (a barrier on those kinds only).
type pusher struct {
	base, key, priv string
	client          *http.Client
	sem             chan struct{}
	inflight        map[ingest.Kind]*sync.WaitGroup

	mu       sync.Mutex
	firstErr error
	sent     map[ingest.Kind]*atomic.Int64
	lines    atomic.Int64 // order lines acknowledged
	unknown  atomic.Int64 // order lines naming unknown products
	retries  atomic.Int64
}

func newPusher(base, key, priv string, concurrency int) *pusher {
	p := &pusher{
		base: strings.TrimRight(base, "/"), key: key, priv: priv,
		client: &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{
			MaxIdleConnsPerHost: concurrency, MaxConnsPerHost: concurrency,
		}},
		sem:      make(chan struct{}, concurrency),
		inflight: make(map[ingest.Kind]*sync.WaitGroup),
		sent:     make(map[ingest.Kind]*atomic.Int64),
	}
	for _, k := range ingest.Kinds {
		p.inflight[k] = &sync.WaitGroup{}
		p.sent[k] = &atomic.Int64{}
	}
	return p
}

func (p *pusher) Categories(r []ingest.Category) error {
	return p.push(ingest.KindCategories, r, len(r), 0)
}
func (p *pusher) Products(r []ingest.Product) error { return p.push(ingest.KindProducts, r, len(r), 0) }
func (p *pusher) Customers(r []ingest.Customer) error {
	return p.push(ingest.KindCustomers, r, len(r), 0)
}
func (p *pusher) Pages(r []ingest.Page) error { return p.push(ingest.KindPages, r, len(r), 0) }
func (p *pusher) Orders(r []ingest.Order) error {
	lines := 0
	for i := range r {
		lines += len(r[i].Products)
	}
	for _, dep := range []ingest.Kind{ingest.KindCategories, ingest.KindProducts, ingest.KindCustomers} {
		p.inflight[dep].Wait()
	}
	return p.push(ingest.KindOrders, r, len(r), lines)
}

// push sends one batch in the background; the reader may reuse nothing
// of it, since the body is encoded before push returns.
func (p *pusher) push(kind ingest.Kind, recs any, n, lines int) error {
	if err := p.err(); err != nil {
		return err
	}
	body, err := json.Marshal(map[string]any{string(kind): recs})
	if err != nil {
		return err
	}
	wg := p.inflight[kind]
	wg.Add(1)
	p.sem <- struct{}{}
	go func() {
		defer func() { <-p.sem; wg.Done() }()
		unknown, err := p.send(kind, body)
		if err != nil {
			p.fail(fmt.Errorf("cannot send a batch of %d %s: %w", n, kind, err))
			return
		}
		p.sent[kind].Add(int64(n))
		p.lines.Add(int64(lines))
		p.unknown.Add(int64(unknown))
	}()
	return nil
}

// close waits for every batch in flight.
func (p *pusher) close() error {
	for _, k := range ingest.Kinds {
		p.inflight[k].Wait()
	}
	return p.err()
}

func (p *pusher) send(kind ingest.Kind, body []byte) (unknown int, err error) {
	url := p.base + "/v2/" + string(kind) + "?key=" + p.key + "&private_key=" + p.priv
	backoff := 200 * time.Millisecond
	for attempt := 0; ; attempt++ {
		var status int
		var answer map[string]any
		status, answer, err = p.post(url, body)
		if err == nil && status == http.StatusOK {
			if n, ok := answer["unknown_products"].(float64); ok {
				unknown = int(n)
			}
			return unknown, nil
		}
		retryable := err != nil || status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests
		if err == nil {
			err = fmt.Errorf("HTTP %d: %v %v", status, answer["type"], answer["message"])
			if d, ok := answer["details"]; ok {
				b, _ := json.Marshal(d)
				err = fmt.Errorf("%w: %s", err, abbreviate(string(b), 2000))
			}
		}
		if !retryable || attempt >= 8 {
			return 0, err
		}
		p.retries.Add(1)
		time.Sleep(backoff)
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (p *pusher) post(url string, body []byte) (int, map[string]any, error) {
	resp, err := p.client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return 0, nil, err
	}
	var answer map[string]any
	if err := json.Unmarshal(b, &answer); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("HTTP %d with a non-JSON answer: %s", resp.StatusCode, abbreviate(string(b), 200))
	}
	return resp.StatusCode, answer, nil
}

func (p *pusher) fail(err error) {
	p.mu.Lock()
	if p.firstErr == nil {
		p.firstErr = err
	}
	p.mu.Unlock()
}

func (p *pusher) err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.firstErr
}

func abbreviate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

var errUnknownFormat = errors.New("unknown file format")
