package query

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// Request forwarding: in a cluster any node answers any request. After the
// key check names the store, the Backend's Route says whether this node
// serves the request itself ("") or which node's HTTP address does; the
// request is then proxied there over keep-alive connections, marked so
// that the receiver serves it itself (one hop at most, never a loop).
//
// The mark changes routing, so only cluster peers may set it: the
// forwarding node adds a proof, an HMAC-SHA256 over the method, path,
// query, hop count and time, keyed by a secret every node holds
// (ForwardConfig.Keys). A mark without a valid, recent proof is refused
// with 403 rather than routed as a client's request: ignoring it would let
// two nodes whose clocks disagree by more than the window pass a request
// back and forth with the hop count reset at each step.

// ForwardedHeader marks a request proxied by another node; its value is
// the number of hops so far.
const ForwardedHeader = "X-Sibyl-Forwarded"

// ForwardProofHeader carries the forwarding node's proof:
// "<unix milliseconds>:<base64url HMAC>".
const ForwardProofHeader = "X-Sibyl-Forward-Proof"

const maxForwardHops = 2

// ForwardConfig authenticates forwarded requests between nodes.
type ForwardConfig struct {
	// Keys: the first signs the requests this node forwards; any of them
	// verifies a received one (several during a key rotation). None: the
	// node neither trusts nor (usefully) sends the forwarded mark.
	Keys [][]byte
	// Window is how far a proof's time may be from this node's clock:
	// it bounds replays, and the nodes' clocks must agree within it.
	Window time.Duration
	// Dial connects to the node whose HTTP address is addr. A cluster
	// dials the target's Raft port (mutual TLS, the "api" stream layer,
	// served by ServePeers), so forwarded requests, keys included, are
	// encrypted between nodes. nil: plain TCP to addr.
	Dial func(addr string) (net.Conn, error)
}

// DefaultForwardWindow is ForwardConfig.Window's default.
const DefaultForwardWindow = 30 * time.Second

// forwardMAC computes the proof's MAC for one request.
func forwardMAC(key []byte, method, path, query []byte, hops int, ts int64) []byte {
	h := hmac.New(sha256.New, key)
	var num [20]byte
	h.Write([]byte("sibyl-forward v1\n"))
	h.Write(method)
	h.Write([]byte{'\n'})
	h.Write(path)
	h.Write([]byte{'\n'})
	h.Write(query)
	h.Write([]byte{'\n'})
	h.Write(strconv.AppendInt(num[:0], int64(hops), 10))
	h.Write([]byte{'\n'})
	h.Write(strconv.AppendInt(num[:0], ts, 10))
	return h.Sum(nil)
}

// signForward sets the forwarded mark and its proof on req (the copy sent
// to the next node) for the original request ctx.
func (c ForwardConfig) signForward(req *fasthttp.Request, ctx *fasthttp.RequestCtx, hops int, now time.Time) {
	req.Header.Set(ForwardedHeader, strconv.Itoa(hops))
	if len(c.Keys) == 0 {
		req.Header.Del(ForwardProofHeader)
		return
	}
	ts := now.UnixMilli()
	mac := forwardMAC(c.Keys[0], ctx.Method(), ctx.Path(), ctx.URI().QueryString(), hops, ts)
	req.Header.Set(ForwardProofHeader, strconv.FormatInt(ts, 10)+":"+base64.RawURLEncoding.EncodeToString(mac))
}

// errBadForwardProof is the refusal of a forwarded mark without a valid
// proof (its message names the likely causes, not which check failed).
func errBadForwardProof() *APIError {
	return errForbidden("the %s header is for Sibyl nodes only: this request's proof is missing, invalid or "+
		"older than the window (if it came from a cluster node: do the nodes share the gossip key, and do their clocks agree?)", ForwardedHeader)
}

// forwardedHops returns the hop count of a request forwarded by a cluster
// peer and 0 for a client's request; a request carrying the mark without a
// valid proof is an error. A node without keys (a single node, which
// forwards nothing) ignores the mark.
func (c ForwardConfig) forwardedHops(ctx *fasthttp.RequestCtx, now time.Time) (int, error) {
	h := ctx.Request.Header.Peek(ForwardedHeader)
	if len(h) == 0 || len(c.Keys) == 0 {
		return 0, nil
	}
	hops, err := strconv.Atoi(string(h))
	if err != nil || hops < 1 || hops > maxForwardHops {
		return 0, errBadForwardProof()
	}
	proof := ctx.Request.Header.Peek(ForwardProofHeader)
	tsPart, macPart, ok := bytes.Cut(proof, []byte{':'})
	// A MAC is 43 base64 characters; bound before decoding.
	if !ok || len(tsPart) > 19 || len(macPart) > 64 {
		return 0, errBadForwardProof()
	}
	ts, err := strconv.ParseInt(string(tsPart), 10, 64)
	if err != nil {
		return 0, errBadForwardProof()
	}
	window := c.Window
	if window <= 0 {
		window = DefaultForwardWindow
	}
	if age := now.Sub(time.UnixMilli(ts)); age > window || age < -window {
		return 0, errBadForwardProof()
	}
	mac, err := base64.RawURLEncoding.DecodeString(string(macPart))
	if err != nil {
		return 0, errBadForwardProof()
	}
	for _, k := range c.Keys {
		want := forwardMAC(k, ctx.Method(), ctx.Path(), ctx.URI().QueryString(), hops, ts)
		if subtle.ConstantTimeCompare(mac, want) == 1 {
			return hops, nil
		}
	}
	return 0, errBadForwardProof()
}

// ClusterAPI is what a clustered Backend offers under /v2/cluster/ (the
// admin token is required). A Backend that does not implement it answers
// those paths with 404.
type ClusterAPI interface {
	// ClusterCall runs one cluster operation ("status", "leave") and
	// returns its JSON-encodable answer.
	ClusterCall(ctx context.Context, op string, args map[string]string) (any, error)
}

// forwarder holds a server's forwarding client, made at first use: its
// dialer comes from ForwardConfig, and it keeps idle connections per
// target node.
type forwarder struct {
	once   sync.Once
	client *fasthttp.Client
}

func (s *Server) forwardClient() *fasthttp.Client {
	s.fwd.once.Do(func() {
		c := &fasthttp.Client{
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
		if d := s.cfg.Forward.Dial; d != nil {
			c.Dial = d
		}
		s.fwd.client = c
	})
	return s.fwd.client
}

// ServePeers serves the API to other nodes on ln: the forwarded requests
// arriving over the cluster's mutual-TLS port (ForwardConfig.Dial on the
// sending node). Same handler, limits and shutdown as the public listener.
func (s *Server) ServePeers(ln net.Listener) {
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		if err := s.srv.Serve(ln); err != nil {
			s.log.Error("peer api listener stopped", "err", err)
		}
	}()
}

// forward proxies r to the node that must serve it. It reports whether
// the request was forwarded (the response is then written). Where to
// comes from the route table: an operation that writes goes to the
// leader of its Raft group (the store's shard, or the meta group), a read
// of store data to a node holding the store.
func (s *Server) forward(r *request, rt route, op *Op) (bool, error) {
	ctx := r.ctx
	// A forwarded request may be passed on once more (a node whose idea
	// of the leader was stale), never a third time. The mark counts only
	// with a peer's proof.
	hops, err := s.cfg.Forward.forwardedHops(ctx, time.Now())
	if err != nil {
		return false, err
	}
	if hops >= maxForwardHops {
		return false, nil
	}
	store, write := r.store, op.Writes == ShardWrite
	switch {
	case op.Writes == MetaWrite:
		store, write = "", true // the meta group's leader
	case rt.access == AccessNone || rt.access == AccessAdmin:
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
	s.cfg.Forward.signForward(req, ctx, hops+1, time.Now())
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	timeout := s.cfg.WriteTimeout + 5*time.Second
	if err := s.forwardClient().DoTimeout(req, resp, timeout); err != nil {
		return false, errUnavailable("cannot reach node %s that serves this store: %v", addr, err)
	}
	resp.CopyTo(&ctx.Response)
	return true, nil
}

// handleCluster serves /v2/cluster/<op> when the Backend is clustered
// (404 otherwise). Its arguments are the query's and the JSON body's
// string fields.
func (s *Server) handleCluster(r *request, op string) error {
	api, ok := s.backend.(ClusterAPI)
	if !ok {
		return errNotFound("this node runs alone: no cluster operations")
	}
	ctx := r.ctx
	args := make(map[string]string)
	ctx.QueryArgs().VisitAll(func(k, v []byte) { args[string(k)] = string(v) })
	for k, v := range r.p.body {
		var str string
		if json.Unmarshal(v, &str) == nil {
			args[k] = str
		}
	}
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := api.ClusterCall(c, op, args)
	if err != nil {
		var ae *APIError
		switch {
		case errors.As(err, &ae):
			return ae
		case errors.Is(err, ErrUnavailable):
			return errUnavailable("%v", err)
		}
		return errBadRequest("%v", err)
	}
	return writeJSON(ctx, res)
}
