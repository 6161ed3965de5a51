// Package query is the Prediction API: a fasthttp server speaking the
// Clerk.io v2 API. It authenticates store keys, parses parameters (GET query
// or POST JSON body, same names), validates data writes and hands them to
// the Backend for replication, and answers recommendations from the store's
// in-memory engine.
//
// A request's path: Server.handle -> route lookup (the route table,
// routes.go) -> auth -> forward or handler.
package query

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sibylhq/sibyl/cluster/meta"
	"github.com/sibylhq/sibyl/engine"
	"github.com/sibylhq/sibyl/ingest"
	"github.com/valyala/fasthttp"
)

// Backend is what the API needs from the node: key lookup, store creation,
// replicated writes and local reads. node.Node implements it; tests use
// the real node on random ports.
type Backend interface {
	// Authenticate resolves an API key to its store.
	Authenticate(key string) (store string, kind meta.KeyKind, ok bool)
	// AdminToken is the cluster admin token (store creation, status).
	AdminToken() string
	// CreateStore registers a store through the meta group.
	CreateStore(ctx context.Context, name string) (meta.StoreInfo, error)
	// Propose replicates one data command for a store and returns the
	// state machine's result once applied.
	Propose(ctx context.Context, store, op string, body []byte) (any, error)
	// StoreData returns the store's state for reads; nil (an untyped
	// nil) when the store has no data yet.
	StoreData(store string) (StoreReader, error)
	// Route says which node serves a request for store (a write, or a
	// read): "" for this node, else that node's HTTP address. store ""
	// with write means the meta group (store creation). An error means no
	// node can serve it now (503).
	Route(store string, write bool) (httpAddr string, err error)
	// Ready reports whether the node can serve (nil) or why not.
	Ready() error
}

// Errors a Backend returns that the API maps to statuses.
var (
	// ErrUnavailable means the write could not reach a quorum (503).
	ErrUnavailable = errors.New("unavailable")
)

// Config is the server's configuration.
type Config struct {
	Addr string
	// Limits bound request bodies and batches.
	Limits ingest.Limits
	// WriteTimeout bounds how long a write waits for replication.
	WriteTimeout time.Duration
	// DefaultLimit is the number of results when a request gives none.
	DefaultLimit int
	// MaxLimit caps limit+offset of a recommendation request.
	MaxLimit int
	// EventBatchMax caps the tracking events merged into one replicated
	// command; EventBatchesInFlight is how many such commands of one
	// store are being committed at once (see eventBatcher).
	EventBatchMax        int
	EventBatchesInFlight int
	// SearchCacheEntries is how many search answers each store keeps
	// for identical requests (query/search_cache.go); 0 turns the cache
	// off (to measure the search itself).
	SearchCacheEntries int
	// Forward authenticates requests forwarded between nodes (forward.go).
	Forward ForwardConfig
	// HTTPS is the optional TLS listener (https.go).
	HTTPS HTTPSConfig

	// Rate bounds public-key request rates, connections per IP and
	// requests in flight (ratelimit.go).
	Rate RateLimits
	// MaxHeaderBytes bounds the request line and headers together (it is
	// fasthttp's read buffer: memory per connection); MaxURIBytes bounds
	// the request line's URI. Over them: 414 or 431.
	MaxHeaderBytes int
	MaxURIBytes    int
}

// DefaultConfig is the configuration of `sibyl serve` with no flags.
func DefaultConfig() Config {
	return Config{
		Addr:         ":8080",
		Limits:       ingest.DefaultLimits(),
		WriteTimeout: 10 * time.Second,
		DefaultLimit: 10,
		MaxLimit:     1000,

		EventBatchMax:        1024,
		EventBatchesInFlight: 1,
		SearchCacheEntries:   4096,

		Rate:           DefaultRateLimits(),
		MaxHeaderBytes: 16 << 10,
		MaxURIBytes:    8 << 10,
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.Addr == "" {
		return errors.New("http address is required")
	}
	if c.DefaultLimit <= 0 || c.MaxLimit < c.DefaultLimit {
		return fmt.Errorf("need 0 < default limit (%d) <= max limit (%d)", c.DefaultLimit, c.MaxLimit)
	}
	if c.SearchCacheEntries < 0 {
		return fmt.Errorf("search cache entries %d: 0 (off) or more", c.SearchCacheEntries)
	}
	if c.WriteTimeout <= 0 {
		return errors.New("write timeout must be positive")
	}
	if c.EventBatchMax < 1 || c.EventBatchesInFlight < 1 {
		return fmt.Errorf("need event batch max (%d) and event batches in flight (%d) >= 1", c.EventBatchMax, c.EventBatchesInFlight)
	}
	if c.MaxURIBytes < 256 || c.MaxHeaderBytes < c.MaxURIBytes+256 || c.MaxHeaderBytes > 1<<20 {
		return fmt.Errorf("need 256 <= max URI bytes (%d) and max URI bytes + 256 <= max header bytes (%d) <= 1 MiB", c.MaxURIBytes, c.MaxHeaderBytes)
	}
	if err := c.Rate.Validate(); err != nil {
		return err
	}
	return c.HTTPS.validate()
}

// Server is the HTTP API server.
type Server struct {
	cfg     Config
	backend Backend
	log     *slog.Logger
	srv     *fasthttp.Server
	routes  router // made from the route table (routes.go)
	openapi []byte // GET /v2/openapi.json, made from the same table
	metrics *apiMetrics

	// events merges concurrent tracking calls into replicated batches.
	events *eventBatcher
	// edge holds the rate and concurrency limiters.
	edge *edge

	ln      net.Listener
	httpsLn net.Listener // nil without HTTPS
	fwd     forwarder    // forward.go
	done    sync.WaitGroup
}

// request is one API call being served.
type request struct {
	ctx   *fasthttp.RequestCtx
	p     *params
	store string
	kind  meta.KeyKind
	// signed: no key was checked (AccessSigned); the handler must verify
	// the body's signature.
	signed bool
	s      *Server
}

// New builds a server; Start listens.
func New(cfg Config, b Backend, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid http config: %w", err)
	}
	s := &Server{cfg: cfg, backend: b, log: log, metrics: newMetrics(), edge: newEdge(cfg.Rate)}
	s.routes = s.buildRoutes()
	doc, err := openAPI()
	if err != nil {
		return nil, fmt.Errorf("cannot describe the API: %w", err)
	}
	s.openapi = doc
	s.events = newEventBatcher(func(ctx context.Context, store string, body []byte) (any, error) {
		return b.Propose(ctx, store, engine.OpEvents, body)
	}, eventBatcherConfig{Timeout: cfg.WriteTimeout, MaxCount: cfg.EventBatchMax, MaxBytes: 256 << 10, InFlight: cfg.EventBatchesInFlight})
	s.srv = &fasthttp.Server{
		Handler:            s.handle,
		Name:               "sibyl",
		MaxRequestBodySize: int(cfg.Limits.MaxBodyBytes),
		// The body limit is answered as a clean 413 by fasthttp itself.
		ReadTimeout:                   30 * time.Second,
		WriteTimeout:                  30 * time.Second,
		IdleTimeout:                   2 * time.Minute,
		NoDefaultServerHeader:         true,
		DisableHeaderNamesNormalizing: false,
		Logger:                        slogPrintf{log},
		ErrorHandler:                  s.transportError,
		// The request line and headers must fit the read buffer; a
		// longer one is answered 414 or 431 by transportError.
		ReadBufferSize: cfg.MaxHeaderBytes,
	}
	return s, nil
}

// Start listens on the configured address and serves in the background.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", s.cfg.Addr, err)
	}
	ln = newEdgeListener(ln, s.cfg.Rate.MaxConnsPerIP)
	s.ln = ln
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		if err := s.srv.Serve(ln); err != nil {
			s.log.Error("http server stopped", "err", err)
		}
	}()
	if err := s.startHTTPS(); err != nil {
		s.srv.Shutdown()
		s.done.Wait()
		return err
	}
	return nil
}

// Addr is the address the server listens on (useful with port 0).
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Shutdown stops accepting, waits for in-flight requests, and returns.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.ShutdownWithContext(ctx)
	s.events.wait()
	s.done.Wait()
	return err
}

// transportError answers requests fasthttp refused before routing, in the
// API's error format: above all a body over the size limit, which is
// refused from its Content-Length before it is read.
func (s *Server) transportError(ctx *fasthttp.RequestCtx, err error) {
	// The request was not read to its end: close gently, or the unread
	// bytes make the kernel reset the connection and the client never
	// sees this answer.
	if c, ok := ctx.Conn().(*edgeConn); ok {
		c.linger = true
	}
	if errors.Is(err, fasthttp.ErrBodyTooLarge) {
		s.writeError(ctx, errTooLarge("the request body is larger than %d bytes; split the batch", s.cfg.Limits.MaxBodyBytes))
		return
	}
	var small *fasthttp.ErrSmallBuffer
	if errors.As(err, &small) {
		// The request line and headers did not fit the read buffer. The
		// connection knows whether a line end arrived since the last
		// request: none means the request line itself is too long.
		if c, ok := ctx.Conn().(*edgeConn); ok && c.lineEnds > 0 {
			s.writeError(ctx, errHeadersTooLarge(s.cfg.MaxHeaderBytes))
		} else {
			s.writeError(ctx, errURITooLong(s.cfg.MaxURIBytes))
		}
		return
	}
	// fasthttp's message may quote the request's bytes.
	s.writeError(ctx, errBadRequest("cannot read the request: %s", quote(err.Error())))
}

func errURITooLong(limit int) *APIError {
	return &APIError{Status: fasthttp.StatusRequestURITooLong, Type: ErrTypeURITooLong,
		Message: fmt.Sprintf("the URL is longer than %d bytes; send the parameters as a POST JSON body", limit)}
}

func errHeadersTooLarge(limit int) *APIError {
	return &APIError{Status: fasthttp.StatusRequestHeaderFieldsTooLarge, Type: ErrTypeHeaderTooLarge,
		Message: fmt.Sprintf("the request line and headers are larger than %d bytes", limit)}
}

// handle serves one request and marks every answer, error or success,
// local or forwarded, nosniff: JSON must never be sniffed into HTML.
func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	s.handleRequest(ctx)
	ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
}

func (s *Server) handleRequest(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	if c, ok := ctx.Conn().(*edgeConn); ok {
		c.lineEnds = 0 // the next request's head starts after this one
	}
	rt, ok := s.routes.lookup(ctx, ctx.Path())
	if !ok {
		s.writeError(ctx, errNotFound("no endpoint %s", quote(string(ctx.Path()))))
		s.metrics.observe("unknown", start, ctx.Response.StatusCode())
		return
	}
	op := rt.op(ctx)
	if op == nil {
		s.writeError(ctx, &APIError{Status: fasthttp.StatusMethodNotAllowed, Type: ErrTypeMethod,
			Message: "method " + quote(string(ctx.Method())) + " is not allowed on " + rt.name + "; use " + rt.allow})
		ctx.Response.Header.Set("Allow", rt.allow)
		s.metrics.observe(rt.name, start, ctx.Response.StatusCode())
		return
	}
	if len(ctx.Request.Header.RequestURI()) > s.cfg.MaxURIBytes {
		s.writeError(ctx, errURITooLong(s.cfg.MaxURIBytes))
		s.metrics.observe(rt.name, start, ctx.Response.StatusCode())
		return
	}
	if rt.access != AccessNone {
		// Probes and /metrics are exempt: a node shedding load is busy,
		// not dead, and must not be restarted for it.
		if !s.edge.acquire() {
			s.writeError(ctx, errOverloaded())
			s.metrics.observe(rt.name, start, ctx.Response.StatusCode())
			return
		}
		defer s.edge.release()
	}
	if err := s.serve(ctx, rt, op); err != nil {
		s.writeError(ctx, err)
	}
	// Handler and server time, for benchmark harnesses that want them
	// apart from the network and the load generator (W3C Server-Timing;
	// servertime.go).
	s.serverTimingHeader(ctx, rt.name, start)
	s.metrics.observe(rt.name, start, ctx.Response.StatusCode())
}

func (s *Server) serve(ctx *fasthttp.RequestCtx, rt route, op *Op) error {
	var p *params
	if rt.access == AccessSigned {
		// The body is the platform's document, read raw by the handler
		// once its signature verifies: nothing parses it before.
		p = &params{args: ctx.QueryArgs()}
	} else {
		var perr *APIError
		if p, perr = parseParams(ctx); perr != nil {
			return perr
		}
	}
	r := &request{ctx: ctx, p: p, s: s}
	if err := s.authorize(r, rt.access); err != nil {
		return err
	}
	if rt.access == AccessPublic {
		// JSONP hands the answer to any page that includes the URL as a
		// script: only public-key endpoints, whose data the browser may
		// see anyway, offer it.
		ctx.SetUserValue(jsonpAllowed, true)
	} else if rt.access != AccessNone && len(ctx.QueryArgs().Peek("callback")) > 0 {
		return errBadRequest("JSONP (callback=) is only served on public-key endpoints; call this endpoint from a server")
	}
	if err := s.rateLimit(r); err != nil {
		return err
	}
	if fwd, err := s.forward(r, rt, op); fwd || err != nil {
		return err
	}
	return rt.handler(r)
}

// authorize checks the key the route needs. Keys come as `key` (and
// Clerk's `private_key`) parameters or as `Authorization: Bearer <key>`.
func (s *Server) authorize(r *request, need Access) error {
	if need == AccessNone {
		return nil
	}
	if need == AccessSigned {
		// No key: the store is the path's, and the handler checks the
		// body's signature with that store's secret before anything.
		store, _ := r.ctx.UserValue(pathParamKey("store")).(string)
		if !validStorePathID(store) {
			return errNotFound("no store %s", quote(clip(store)))
		}
		r.store, r.signed = store, true
		return nil
	}
	if need == AccessCluster {
		// Never on the HTTP port: node serves these on the Raft port.
		return errForbidden("this endpoint is for cluster nodes only")
	}
	bearer := ""
	if h := string(r.ctx.Request.Header.Peek("Authorization")); strings.HasPrefix(h, "Bearer ") {
		bearer = strings.TrimSpace(h[len("Bearer "):])
	}
	if need == AccessAdmin {
		if bearer == "" {
			return &APIError{Status: fasthttp.StatusUnauthorized, Type: ErrTypeMissingKey, Message: "this endpoint needs the admin token: Authorization: Bearer <token>"}
		}
		if !secretEqual(bearer, s.backend.AdminToken()) {
			return &APIError{Status: fasthttp.StatusUnauthorized, Type: ErrTypeInvalidKey, Message: "the admin token is not valid"}
		}
		return nil
	}
	key, err := r.p.str("key")
	if err != nil {
		return err
	}
	priv, err := r.p.str("private_key")
	if err != nil {
		return err
	}
	if key == "" && priv == "" && bearer == "" {
		return &APIError{Status: fasthttp.StatusUnauthorized, Type: ErrTypeMissingKey, Message: "a store key is required: pass key=<public key> (and private_key=<private key> for data and customer endpoints)"}
	}
	// Every key given must be valid and name the same store: a private
	// key of store B with the public key of store A is refused, never
	// resolved to either.
	store, kind := "", meta.KeyKind(0)
	for _, k := range []string{key, priv, bearer} {
		if k == "" {
			continue
		}
		st, kk, ok := s.backend.Authenticate(k)
		if !ok {
			return &APIError{Status: fasthttp.StatusUnauthorized, Type: ErrTypeInvalidKey, Message: "the key " + redact(k) + " is not valid"}
		}
		if store != "" && st != store {
			return &APIError{Status: fasthttp.StatusUnauthorized, Type: ErrTypeInvalidKey, Message: "the keys given belong to different stores"}
		}
		store = st
		kind = max(kind, kk)
	}
	if need == AccessPrivate && kind != meta.PrivateKey {
		return errForbidden("this endpoint needs the store's private key (private_key=...); a public key only reads recommendations and logs events")
	}
	r.store, r.kind = store, kind
	return nil
}

func redact(k string) string {
	if len(k) <= 6 {
		return "***"
	}
	return k[:6] + "***"
}

// secretEqual compares a presented secret with the expected one in time
// independent of their contents (crypto/subtle); an empty expected secret
// matches nothing.
func secretEqual(given, want string) bool {
	if want == "" {
		return false
	}
	return subtle.ConstantTimeCompare(secretDigest(given), secretDigest(want)) == 1
}

// rateLimit applies the store's and the client's token buckets to a
// public-key request. A forwarded request was counted by the node that
// received it from the client (whose address this node cannot see).
func (s *Server) rateLimit(r *request) error {
	if r.signed && len(r.ctx.Request.Header.Peek(ForwardedHeader)) == 0 {
		// A signed request carries no key: its client's bucket only (a
		// zero override leaves the store's public traffic alone).
		if err := s.edge.allow(s.edge.clientIP(r.ctx), r.store, meta.RateLimit{}, true); err != nil {
			return err
		}
		return nil
	}
	if r.kind != meta.PublicKey || len(r.ctx.Request.Header.Peek(ForwardedHeader)) > 0 {
		return nil
	}
	var over meta.RateLimit
	has := false
	if sl, ok := s.backend.(StoreLimiter); ok {
		over, has = sl.StoreRateLimit(r.store)
	}
	if err := s.edge.allow(s.edge.clientIP(r.ctx), r.store, over, has); err != nil {
		return err
	}
	return nil
}

func (s *Server) writeError(ctx *fasthttp.RequestCtx, err error) {
	var ae *APIError
	if !errors.As(err, &ae) {
		s.log.Error("request failed", "path", string(ctx.Path()), "err", err)
		ae = errInternal("internal error")
	}
	ctx.Response.Reset()
	ctx.SetStatusCode(ae.Status)
	ctx.SetContentType("application/json")
	ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
	if ae.RetryAfter > 0 {
		ctx.Response.Header.Set("Retry-After", strconv.Itoa(ae.RetryAfter))
	}
	out := *ae
	out.Message = capMessage(out.Message)
	body := struct {
		Status string `json:"status"`
		*APIError
	}{"error", &out}
	b, _ := json.Marshal(body)
	writeMaybeJSONP(ctx, b)
}

// writeJSON answers 200 with v's JSON encoding.
func writeJSON(ctx *fasthttp.RequestCtx, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return errInternal("cannot encode response: %v", err)
	}
	ctx.SetContentType("application/json")
	writeMaybeJSONP(ctx, b)
	return nil
}

// jsonpAllowed is the request's user value that serve sets on public-key
// endpoints, the only ones answered as JSONP.
const jsonpAllowed = "sibyl.jsonp"

// writeMaybeJSONP wraps the body in callback(...) when the request names
// a JSONP callback (Clerk's `callback` parameter for browser integrations)
// on a public-key endpoint.
func writeMaybeJSONP(ctx *fasthttp.RequestCtx, b []byte) {
	cb := ctx.QueryArgs().Peek("callback")
	if len(cb) == 0 || ctx.UserValue(jsonpAllowed) == nil || !validCallback(cb) {
		ctx.SetBody(b)
		return
	}
	ctx.SetContentType("application/javascript")
	out := make([]byte, 0, len(cb)+len(b)+3)
	out = append(out, cb...)
	out = append(out, '(')
	out = append(out, b...)
	out = append(out, ");"...)
	ctx.SetBody(out)
}

func validCallback(cb []byte) bool {
	if len(cb) > 64 {
		return false
	}
	for _, c := range cb {
		if !(c == '_' || c == '.' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// slogPrintf adapts fasthttp's Printf logger to slog.
type slogPrintf struct{ l *slog.Logger }

func (p slogPrintf) Printf(format string, args ...any) { p.l.Warn(fmt.Sprintf(format, args...)) }
