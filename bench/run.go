package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Result is the outcome of one measured run.
type Result struct {
	Name        string    `json:"name"`
	Target      string    `json:"target"`
	Mode        Mode      `json:"mode"`
	OfferedRate float64   `json:"offered_rate,omitempty"` // requests/s, open loop only
	Connections int       `json:"connections"`
	URLs        []string  `json:"urls"`
	Warmup      float64   `json:"warmup_s"`
	Duration    float64   `json:"duration_s"`
	Started     time.Time `json:"started"`

	// Planned is the number of requests scheduled inside the window (open
	// loop); Unsent of them were never sent because the drain ran out.
	Planned int64 `json:"planned,omitempty"`
	Unsent  int64 `json:"unsent,omitempty"`
	// Responses counts answers of any status to requests sent (closed
	// loop) or due (open loop) inside the window; RPS is Responses per
	// second of Elapsed and OKRPS the 2xx part of it.
	Responses int64   `json:"responses"`
	Elapsed   float64 `json:"elapsed_s"` // window start to the last measured answer
	RPS       float64 `json:"rps"`
	OKRPS     float64 `json:"ok_rps"`
	// Latency is client-side, over every response of any status. In open
	// loop it runs from the intended send time.
	Latency Summary `json:"latency"`
	// SendLag (open loop) is how late requests left the client against the
	// schedule: high values mean every connection was busy (queueing,
	// already inside Latency) or the generator lacked CPU.
	SendLag *Summary `json:"send_lag,omitempty"`
	// Handler is the time the server reports its handler spent on each
	// request (Server-Timing "app;dur=": routed to answer written to the
	// connection's buffer), without reading the request, writing the
	// answer, network and client: nil when the server sends no such
	// header.
	Handler *Summary `json:"handler,omitempty"`
	// Server is the server's time as a user means it: first byte of the
	// request read to last byte of the answer written (Sibyl's
	// Server-Timing "wire;dur=", which reports the previous answer on the
	// same connection, so a connection's first request has none): nil
	// when the server sends no such header.
	Server *Summary `json:"server,omitempty"`
	// Behind (open loop) says the offered rate was not kept: fewer than
	// 95% of the planned requests were answered in time, or some were
	// never sent. For the ceiling it means the load generator itself is
	// the limit at this rate, and the run says little about the server.
	Behind bool `json:"behind,omitempty"`
	// Status counts responses by HTTP status; Errors counts non-2xx
	// responses ("http_503") and transport failures ("timeout",
	// "connection").
	Status map[string]int64 `json:"status"`
	Errors map[string]int64 `json:"errors,omitempty"`
	// Endpoints breaks a mix down by request label.
	Endpoints map[string]EndpointResult `json:"endpoints,omitempty"`

	// Ceiling is the same run against a NullServer, and VsCeiling the
	// comparison with it; both nil when the ceiling is off.
	Ceiling   *Result `json:"ceiling,omitempty"`
	VsCeiling *Ratio  `json:"vs_ceiling,omitempty"`
}

// EndpointResult is one label's share of a run.
type EndpointResult struct {
	Responses int64            `json:"responses"`
	RPS       float64          `json:"rps"`
	Latency   Summary          `json:"latency"`
	Errors    map[string]int64 `json:"errors,omitempty"`
}

// Ratio compares a run with its ceiling.
type Ratio struct {
	// Throughput is RPS / ceiling RPS: 1 means as fast as a do-nothing
	// server (in open loop both usually keep up, so it stays near 1).
	Throughput float64 `json:"throughput"`
	// P50 and P99 are latency / ceiling latency: 1 means no slower than
	// a do-nothing server.
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
}

// ErrNoResponses is returned when a run got no answer at all inside the
// window: the target is down or the window is too short.
var ErrNoResponses = errors.New("no responses in the measured window")

// Run measures cfg.Target against cfg.URLs and, when cfg.Ceiling is set,
// against a NullServer with the same settings right after.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	res, err := measure(ctx, cfg)
	if err != nil {
		return res, err
	}
	if !cfg.Ceiling {
		return res, nil
	}
	ceil, err := MeasureCeiling(ctx, cfg)
	if err != nil {
		return res, err
	}
	res.Ceiling = &ceil
	res.VsCeiling = compare(res, ceil)
	return res, nil
}

// MeasureCeiling runs cfg against a fresh NullServer instead of cfg.URLs:
// in a child process when cfg.CeilingCommand is set, else in process.
func MeasureCeiling(ctx context.Context, cfg Config) (Result, error) {
	var ns ceilingServer
	var err error
	if len(cfg.CeilingCommand) > 0 {
		ns, err = StartNullServerProcess(cfg.CeilingCommand)
	} else {
		ns, err = StartNullServer(NullServerConfig{})
	}
	if err != nil {
		return Result{}, err
	}
	cc := cfg
	cc.Name = cfg.Name + " (ceiling)"
	cc.URLs = []string{ns.URL()}
	cc.Ceiling = false
	res, err := measure(ctx, cc)
	if cerr := ns.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return res, fmt.Errorf("cannot measure the ceiling: %w", err)
	}
	return res, nil
}

func compare(r, ceil Result) *Ratio {
	div := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}
	return &Ratio{
		Throughput: div(r.RPS, ceil.RPS),
		P50:        div(float64(r.Latency.P50Us), float64(ceil.Latency.P50Us)),
		P99:        div(float64(r.Latency.P99Us), float64(ceil.Latency.P99Us)),
	}
}

// labelStats accumulates one label's samples in one worker.
type labelStats struct {
	hist   *latencyHistogram
	errors map[string]int64
	n      int64
}

// worker owns everything it writes, so the hot path takes no locks.
type worker struct {
	rng      *rand.Rand
	labels   map[string]*labelStats
	status   map[int]int64
	lag      *latencyHistogram
	handler  *latencyHistogram // Server-Timing app durations
	server   *latencyHistogram // Server-Timing wire durations
	attempts int64             // measured requests sent (answered or failed)
	lastDone time.Time         // completion of the last measured request
	req      Request
	hreq     *fasthttp.Request
	hresp    *fasthttp.Response
	timer    *time.Timer
}

func (w *worker) stats(label string) *labelStats {
	s, ok := w.labels[label]
	if !ok {
		s = &labelStats{hist: newLatencyHistogram(), errors: map[string]int64{}}
		w.labels[label] = s
	}
	return s
}

// endpoint is one base URL with its own connection pool.
type endpoint struct {
	base   string
	client *fasthttp.HostClient
}

func newEndpoints(cfg Config) ([]endpoint, error) {
	eps := make([]endpoint, 0, len(cfg.URLs))
	for _, raw := range cfg.URLs {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("cannot parse url %q: %w", raw, err)
		}
		eps = append(eps, endpoint{
			base: u.Scheme + "://" + u.Host,
			client: &fasthttp.HostClient{
				Name:               "sibyl-bench",
				Addr:               hostPort(u),
				IsTLS:              u.Scheme == "https",
				MaxConns:           cfg.Connections,
				MaxConnWaitTimeout: cfg.Timeout,
				ReadTimeout:        cfg.Timeout,
				WriteTimeout:       cfg.Timeout,
				// Short, so that fasthttp's per-client idle-connection
				// cleaner goroutine ends within a second of the run.
				MaxIdleConnDuration: time.Second,
			},
		})
	}
	return eps, nil
}

func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "https" {
		return u.Host + ":443"
	}
	return u.Host + ":80"
}

// send performs w.req against ep and records the outcome when measured.
func (w *worker) send(ep endpoint, timeout time.Duration, from time.Time, measured bool) {
	r := &w.req
	w.hreq.Reset()
	w.hresp.Reset()
	w.hreq.SetRequestURI(ep.base + r.Path)
	if r.Method != "" {
		w.hreq.Header.SetMethod(r.Method)
	}
	if r.Body != nil {
		w.hreq.SetBodyRaw(r.Body)
		if r.ContentType != "" {
			w.hreq.Header.SetContentType(r.ContentType)
		}
	}
	err := ep.client.DoTimeout(w.hreq, w.hresp, timeout)
	done := time.Now()
	latency := done.Sub(from)
	if !measured {
		return
	}
	w.attempts++
	w.lastDone = done
	s := w.stats(r.Label)
	if err != nil {
		s.errors[transportErrorKind(err)]++
		return
	}
	if st := w.hresp.Header.Peek("Server-Timing"); len(st) > 0 {
		if d, ok := serverTiming(st, "app"); ok {
			w.handler.Record(d)
		}
		if d, ok := serverTiming(st, "wire"); ok {
			w.server.Record(d)
		}
	}
	code := w.hresp.StatusCode()
	w.status[code]++
	s.n++
	s.hist.Record(latency)
	if code < 200 || code > 299 {
		s.errors["http_"+strconv.Itoa(code)]++
	}
}

func transportErrorKind(err error) string {
	switch {
	case errors.Is(err, fasthttp.ErrTimeout):
		return "timeout"
	case errors.Is(err, fasthttp.ErrNoFreeConns):
		return "no_free_conns"
	default:
		return "connection"
	}
}

// sleepUntil waits for t or ctx; it reports false when ctx ended first.
func (w *worker) sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	w.timer.Reset(d)
	select {
	case <-w.timer.C:
		return true
	case <-ctx.Done():
		w.timer.Stop()
		return false
	}
}

// measure runs cfg once; cfg is valid.
func measure(ctx context.Context, cfg Config) (Result, error) {
	eps, err := newEndpoints(cfg)
	if err != nil {
		return Result{}, err
	}
	defer func() {
		for _, ep := range eps {
			ep.client.CloseIdleConnections()
		}
	}()

	// Leave the workers a moment to start before the first intended send,
	// so start-up is not mistaken for server latency.
	start := time.Now().Add(20 * time.Millisecond)
	warmEnd := start.Add(cfg.Warmup)
	end := warmEnd.Add(cfg.Duration)
	drainEnd := end.Add(cfg.Drain)
	nsPerReq := float64(time.Second) / cfg.Rate

	workers := make([]*worker, cfg.Connections)
	var ticket atomic.Int64
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{
			rng:     rand.New(rand.NewPCG(cfg.Seed, uint64(i))),
			labels:  map[string]*labelStats{},
			status:  map[int]int64{},
			lag:     newLatencyHistogram(),
			handler: newLatencyHistogram(),
			server:  newLatencyHistogram(),
			hreq:    fasthttp.AcquireRequest(),
			hresp:   fasthttp.AcquireResponse(),
			timer:   time.NewTimer(time.Hour),
		}
		w.timer.Stop()
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			if cfg.Mode == OpenLoop {
				w.openLoop(ctx, cfg, eps, &ticket, start, nsPerReq, warmEnd, end, drainEnd)
			} else {
				w.closedLoop(ctx, cfg, eps, i, start, warmEnd, end)
			}
		}()
	}
	wg.Wait()
	for _, w := range workers {
		fasthttp.ReleaseRequest(w.hreq)
		fasthttp.ReleaseResponse(w.hresp)
	}
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("bench %q interrupted: %w", cfg.Name, err)
	}
	return collect(cfg, workers, start, warmEnd, end, nsPerReq)
}

func (w *worker) openLoop(ctx context.Context, cfg Config, eps []endpoint, ticket *atomic.Int64,
	start time.Time, nsPerReq float64, warmEnd, end, drainEnd time.Time) {
	for {
		i := ticket.Add(1) - 1
		intended := start.Add(time.Duration(float64(i) * nsPerReq))
		if !intended.Before(end) {
			return
		}
		if !w.sleepUntil(ctx, intended) {
			return
		}
		sent := time.Now()
		if sent.After(drainEnd) {
			// Overloaded past the drain: stop; the rest count as Unsent.
			return
		}
		measured := !intended.Before(warmEnd)
		if measured {
			w.lag.Record(sent.Sub(intended))
		}
		cfg.Target.Next(w.rng, &w.req)
		w.send(eps[int(i%int64(len(eps)))], cfg.Timeout, intended, measured)
	}
}

func (w *worker) closedLoop(ctx context.Context, cfg Config, eps []endpoint, id int,
	start, warmEnd, end time.Time) {
	if !w.sleepUntil(ctx, start) {
		return
	}
	for n := id; ctx.Err() == nil; n++ {
		sent := time.Now()
		if !sent.Before(end) {
			return
		}
		cfg.Target.Next(w.rng, &w.req)
		w.send(eps[n%len(eps)], cfg.Timeout, sent, !sent.Before(warmEnd))
	}
}

func collect(cfg Config, workers []*worker, start, warmEnd, end time.Time, nsPerReq float64) (Result, error) {
	res := Result{
		Name:        cfg.Name,
		Target:      cfg.Target.Name(),
		Mode:        cfg.Mode,
		Connections: cfg.Connections,
		URLs:        cfg.URLs,
		Warmup:      cfg.Warmup.Seconds(),
		Duration:    cfg.Duration.Seconds(),
		Started:     start.UTC(),
		Status:      map[string]int64{},
	}
	overall := newLatencyHistogram()
	errs := map[string]int64{}
	type acc struct {
		hist   *latencyHistogram
		errors map[string]int64
		n      int64
	}
	byLabel := map[string]*acc{}
	var attempts int64
	lag := newLatencyHistogram()
	handler, server := newLatencyHistogram(), newLatencyHistogram()
	lastDone := end
	for _, w := range workers {
		attempts += w.attempts
		handler.Merge(w.handler)
		server.Merge(w.server)
		if w.lastDone.After(lastDone) {
			lastDone = w.lastDone
		}
		lag.Merge(w.lag)
		for code, n := range w.status {
			res.Status[strconv.Itoa(code)] += n
			if code >= 200 && code <= 299 {
				res.OKRPS += float64(n)
			}
		}
		for label, s := range w.labels {
			a, ok := byLabel[label]
			if !ok {
				a = &acc{hist: newLatencyHistogram(), errors: map[string]int64{}}
				byLabel[label] = a
			}
			a.hist.Merge(s.hist)
			a.n += s.n
			for k, v := range s.errors {
				a.errors[k] += v
				errs[k] += v
			}
			overall.Merge(s.hist)
			res.Responses += s.n
		}
	}
	// Throughput is over the window plus the tail of its last answers:
	// when overloaded, answers to requests due inside the window keep
	// coming during the drain, and dividing by the window alone would
	// report more than the server can do.
	secs := lastDone.Sub(warmEnd).Seconds()
	res.Elapsed = secs
	res.RPS = float64(res.Responses) / secs
	res.OKRPS /= secs
	res.Latency = overall.Summary()
	if len(errs) > 0 {
		res.Errors = errs
	}
	if cfg.Mode == OpenLoop {
		res.OfferedRate = cfg.Rate
		// Tickets i with start+i*nsPerReq in [warmEnd, end).
		first := ceilTicket(warmEnd.Sub(start), nsPerReq)
		last := ceilTicket(end.Sub(start), nsPerReq)
		res.Planned = last - first
		res.Unsent = max(res.Planned-attempts, 0)
		s := lag.Summary()
		res.SendLag = &s
		res.Behind = res.Unsent > 0 || res.RPS < 0.95*cfg.Rate
	}
	if hs := handler.Summary(); hs.Count > 0 {
		res.Handler = &hs
	}
	if ss := server.Summary(); ss.Count > 0 {
		res.Server = &ss
	}
	if len(byLabel) > 1 {
		res.Endpoints = map[string]EndpointResult{}
		for label, a := range byLabel {
			e := EndpointResult{Responses: a.n, RPS: float64(a.n) / secs, Latency: a.hist.Summary()}
			if len(a.errors) > 0 {
				e.Errors = a.errors
			}
			res.Endpoints[label] = e
		}
	}
	if res.Responses == 0 {
		return res, fmt.Errorf("bench %q against %v: %w (errors: %v)", cfg.Name, cfg.URLs, ErrNoResponses, errs)
	}
	return res, nil
}

// ceilTicket is the first ticket whose intended offset is >= d.
func ceilTicket(d time.Duration, nsPerReq float64) int64 {
	i := int64(float64(d) / nsPerReq)
	for time.Duration(float64(i)*nsPerReq) < d {
		i++
	}
	for i > 0 && time.Duration(float64(i-1)*nsPerReq) >= d {
		i--
	}
	return i
}

// serverTiming reads the duration of metric name in a W3C Server-Timing
// header such as "app;dur=0.153, wire;dur=0.210" (milliseconds).
func serverTiming(h []byte, name string) (time.Duration, bool) {
	for len(h) > 0 {
		m := h
		if i := bytes.IndexByte(h, ','); i >= 0 {
			m, h = h[:i], h[i+1:]
		} else {
			h = nil
		}
		m = bytes.TrimSpace(m)
		j := bytes.IndexByte(m, ';')
		if j < 0 || string(m[:j]) != name {
			continue
		}
		k := bytes.Index(m[j:], []byte(";dur="))
		if k < 0 {
			return 0, false
		}
		v := m[j+k+5:]
		if e := bytes.IndexByte(v, ';'); e >= 0 {
			v = v[:e]
		}
		ms, err := strconv.ParseFloat(string(bytes.TrimSpace(v)), 64)
		if err != nil || ms < 0 {
			return 0, false
		}
		return time.Duration(ms * float64(time.Millisecond)), true
	}
	return 0, false
}
