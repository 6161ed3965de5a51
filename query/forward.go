package query

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// Request forwarding: in a cluster any node answers any request. After the
// key check names the store, the Backend's Route says whether this node
// serves the request itself ("") or which node's HTTP address does; the
// request is then proxied there over keep-alive connections, marked so
// that the receiver serves it itself (one hop at most, never a loop).

// ForwardedHeader marks a request proxied by another node; its value is
// the number of hops so far.
const ForwardedHeader = "X-Sibyl-Forwarded"

const maxForwardHops = 2

// ClusterAPI is what a clustered Backend offers under /v2/cluster/ (the
// admin token is required). A Backend that does not implement it answers
// those paths with 404.
type ClusterAPI interface {
	// ClusterCall runs one cluster operation ("status", "leave") and
	// returns its JSON-encodable answer.
	ClusterCall(ctx context.Context, op string, args map[string]string) (any, error)
}

// forwardClient is shared by every server of the process: it is safe for
// concurrent use and keeps idle connections per target node.
var forwardClient = &fasthttp.Client{
	Name:                "sibyl-forward",
	MaxConnsPerHost:     512,
	MaxIdleConnDuration: time.Minute,
	ReadTimeout:         30 * time.Second,
	WriteTimeout:        30 * time.Second,
	// Paths and headers pass through untouched.
	DisablePathNormalizing:        true,
	DisableHeaderNamesNormalizing: true,
	NoDefaultUserAgentHeader:      true,
}

// isWrite reports whether a request to route name changes data: writes go
// to the shard's leader, reads to any ready replica.
func isWrite(name string, ctx *fasthttp.RequestCtx) bool {
	switch {
	case strings.HasPrefix(name, "/v2/log/"), name == "/v2/product/add", name == "/v2/product/remove":
		return true
	case name == "/v2/products", name == "/v2/categories", name == "/v2/customers", name == "/v2/orders", name == "/v2/pages":
		return !(ctx.IsGet() || ctx.IsHead())
	}
	return false
}

// forward proxies r to the node that must serve it. It reports whether
// the request was forwarded (the response is then written).
func (s *Server) forward(r *request, rt route) (bool, error) {
	ctx := r.ctx
	// A forwarded request may be passed on once more (a node whose idea
	// of the leader was stale), never a third time.
	hops := 0
	if h := ctx.Request.Header.Peek(ForwardedHeader); len(h) > 0 {
		if hops, _ = strconv.Atoi(string(h)); hops < 1 || hops >= maxForwardHops {
			return false, nil
		}
	}
	store, write := r.store, isWrite(rt.name, ctx)
	switch {
	case rt.name == "/v2/stores":
		if !ctx.IsPost() {
			return false, nil
		}
		store, write = "", true // store creation: the meta group's leader
	case rt.access == accessNone || rt.access == accessAdmin:
		return false, nil
	}
	addr, err := s.backend.Route(store, write)
	if err != nil {
		return false, errUnavailable("%v", err)
	}
	if addr == "" {
		return false, nil
	}
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	ctx.Request.CopyTo(req)
	req.SetHost(addr)
	req.URI().SetScheme("http")
	req.Header.Set(ForwardedHeader, strconv.Itoa(hops+1))
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	timeout := s.cfg.WriteTimeout + 5*time.Second
	if err := forwardClient.DoTimeout(req, resp, timeout); err != nil {
		return false, errUnavailable("cannot reach node %s that serves this store: %v", addr, err)
	}
	resp.CopyTo(&ctx.Response)
	return true, nil
}

// handleCluster serves /v2/cluster/<op> when the Backend is clustered. It
// reports whether the path was one of them.
func (s *Server) handleCluster(ctx *fasthttp.RequestCtx) bool {
	op, ok := strings.CutPrefix(strings.TrimSuffix(string(ctx.Path()), "/"), "/v2/cluster/")
	if !ok {
		return false
	}
	api, ok := s.backend.(ClusterAPI)
	if !ok {
		return false
	}
	r := &request{ctx: ctx, s: s}
	if err := s.authorize(r, accessAdmin); err != nil {
		s.writeError(ctx, err)
		return true
	}
	args := make(map[string]string)
	ctx.QueryArgs().VisitAll(func(k, v []byte) { args[string(k)] = string(v) })
	if ctx.IsPost() && len(ctx.PostBody()) > 0 {
		var body map[string]any
		if err := json.Unmarshal(ctx.PostBody(), &body); err != nil {
			s.writeError(ctx, errBadRequest("cannot parse the JSON body: %v", err))
			return true
		}
		for k, v := range body {
			if str, ok := v.(string); ok {
				args[k] = str
			}
		}
	}
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := api.ClusterCall(c, op, args)
	if err != nil {
		var ae *APIError
		switch {
		case errors.As(err, &ae):
		case errors.Is(err, ErrUnavailable):
			err = errUnavailable("%v", err)
		default:
			err = errBadRequest("%v", err)
		}
		s.writeError(ctx, err)
		return true
	}
	if err := writeJSON(ctx, res); err != nil {
		s.writeError(ctx, err)
	}
	return true
}
