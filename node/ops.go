package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sibylhq/sibyl/cluster/reconcile"
	"github.com/sibylhq/sibyl/query"
	"github.com/sibylhq/sibyl/shard"
	"github.com/sibylhq/sibyl/shard/transport"
)

// Shard operations for the reconciler. Each runs on the shard's Raft
// leader: locally when this node leads, else through a control call to
// the leader's node. Control calls are HTTP over the node's Raft port (a
// stream layer of its own next to the Raft groups). They carry no secret:
// in a secure cluster the port admits only mutual-TLS peers holding a
// certificate of the cluster CA (shard/transport), which is the
// authentication; with --insecure-cluster the port, Raft included, is open
// to anyone who can reach it.

// ctlLayer names the control calls' stream layer on the Raft port.
const ctlLayer = "ctl"

// maxCtlAnswer bounds a control call's answer (a shard status is a few
// hundred bytes; node info a few KiB).
const maxCtlAnswer = 4 << 20

// ctlRequest is one control call.
type ctlRequest struct {
	Op    string // status, add, promote, transfer, remove, applied, local
	Shard int
	Node  string
	From  string
}

// ctlResponse is a control call's answer.
type ctlResponse struct {
	Status    *reconcile.ShardStatus `json:"status,omitempty"`
	Applied   uint64                 `json:"applied,omitempty"`
	Info      *LocalInfo             `json:"info,omitempty"`
	Error     string                 `json:"error,omitempty"`
	NotLeader bool                   `json:"not_leader,omitempty"`
	NoQuorum  bool                   `json:"no_quorum,omitempty"`
}

// do runs a leader operation for shard req.Shard. hops bounds how often
// the call may be passed on (a node without the shard asks a replica, a
// replica asks the leader).
func (c *clusterNode) do(ctx context.Context, req ctlRequest, hops int) (ctlResponse, error) {
	g := c.group(req.Shard)
	if g != nil && g.IsLeader() {
		return c.local(ctx, g, req)
	}
	if hops <= 0 {
		return ctlResponse{}, fmt.Errorf("shard %d on %s: %w", req.Shard, c.self, shard.ErrNotLeader)
	}
	var errs []error
	if g != nil {
		// The local replica's idea of the leader; it may be stale (a
		// replica removed from the group hears from nobody).
		if id, addr := g.Leader(); id != "" && id != c.self {
			res, err := c.rpc.call(ctx, addr, req, 0)
			if err == nil || !errors.Is(err, shard.ErrNotLeader) {
				return res, err
			}
			errs = append(errs, err)
		}
	}
	for _, id := range c.ps.Table().Replicas(req.Shard) {
		if id == c.self {
			continue
		}
		addr, err := c.raftOf(id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		res, err := c.rpc.call(ctx, addr, req, hops-1)
		if err == nil {
			return res, nil
		}
		errs = append(errs, err)
	}
	if req.Op == "status" && g != nil {
		return ctlResponse{Status: &reconcile.ShardStatus{Shard: req.Shard}}, nil // no known leader
	}
	return ctlResponse{}, fmt.Errorf("cannot reach shard %d's leader: %w", req.Shard, errors.Join(errs...))
}

// status returns shard s's configuration as its leader sees it.
func (c *clusterNode) status(ctx context.Context, s, hops int) (reconcile.ShardStatus, error) {
	res, err := c.do(ctx, ctlRequest{Op: "status", Shard: s}, hops)
	if err != nil {
		return reconcile.ShardStatus{}, err
	}
	if res.Status == nil {
		return reconcile.ShardStatus{}, errors.New("empty status answer")
	}
	return *res.Status, nil
}

// local executes req on this node, which leads the group (leader ops) or
// holds it (applied).
func (c *clusterNode) local(ctx context.Context, g *shard.Group, req ctlRequest) (ctlResponse, error) {
	switch req.Op {
	case "status":
		st, err := c.localStatus(ctx, g, req.Shard)
		return ctlResponse{Status: &st}, err
	case "add":
		addr, err := c.raftOf(req.Node)
		if err != nil {
			return ctlResponse{}, err
		}
		return ctlResponse{}, g.AddNonvoter(ctx, shard.Peer{ID: req.Node, Addr: addr})
	case "promote":
		addr, err := c.raftOf(req.Node)
		if err != nil {
			return ctlResponse{}, err
		}
		return ctlResponse{}, g.AddVoter(ctx, shard.Peer{ID: req.Node, Addr: addr})
	case "transfer":
		addr, err := c.raftOf(req.Node)
		if err != nil {
			return ctlResponse{}, err
		}
		return ctlResponse{}, g.TransferLeadership(ctx, &shard.Peer{ID: req.Node, Addr: addr})
	case "remove":
		if req.Node == c.self {
			return ctlResponse{}, fmt.Errorf("group %s: the leader never removes itself; transfer leadership first", g.ID())
		}
		return ctlResponse{}, g.RemoveServer(ctx, req.Node)
	}
	return ctlResponse{}, fmt.Errorf("unknown control operation %q", req.Op)
}

// localStatus is the leader's view of the group, with each non-voter's
// progress asked from its node.
func (c *clusterNode) localStatus(ctx context.Context, g *shard.Group, s int) (reconcile.ShardStatus, error) {
	voters, nonvoters, err := g.Configuration()
	if err != nil {
		return reconcile.ShardStatus{}, err
	}
	st := reconcile.ShardStatus{Shard: s, Leader: c.self}
	for _, p := range voters {
		st.Replicas = append(st.Replicas, reconcile.Replica{Node: p.ID, Voter: true})
	}
	commit := g.CommitIndex()
	for _, p := range nonvoters {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		res, err := c.rpc.call(actx, p.Addr, ctlRequest{Op: "applied", Shard: s}, 0)
		cancel()
		caught := err == nil && res.Applied > 0 && res.Applied+c.cfg.CatchUpLag >= commit
		st.Replicas = append(st.Replicas, reconcile.Replica{Node: p.ID, CaughtUp: caught})
	}
	return st, nil
}

// shardOps implements control.Shards.
type shardOps struct{ c *clusterNode }

func (o shardOps) Status(ctx context.Context, s int) (reconcile.ShardStatus, error) {
	return o.c.status(ctx, s, 2)
}

func (o shardOps) run(ctx context.Context, req ctlRequest) error {
	_, err := o.c.do(ctx, req, 2)
	return err
}

func (o shardOps) AddNonVoter(ctx context.Context, s int, node string) error {
	return o.run(ctx, ctlRequest{Op: "add", Shard: s, Node: node})
}

func (o shardOps) Promote(ctx context.Context, s int, node string) error {
	return o.run(ctx, ctlRequest{Op: "promote", Shard: s, Node: node})
}

func (o shardOps) TransferLeadership(ctx context.Context, s int, from, to string) error {
	return o.run(ctx, ctlRequest{Op: "transfer", Shard: s, Node: to, From: from})
}

func (o shardOps) RemoveReplica(ctx context.Context, s int, node string) error {
	return o.run(ctx, ctlRequest{Op: "remove", Shard: s, Node: node})
}

// rpc serves and makes control calls over the Raft port.
type rpc struct {
	c      *clusterNode
	layer  *transport.Layer
	srv    *http.Server
	client *http.Client
	done   chan struct{}
}

func newRPC(n *Node) (*rpc, error) {
	l, err := n.shards.Layer(ctlLayer)
	if err != nil {
		return nil, fmt.Errorf("cannot open the control layer: %w", err)
	}
	r := &rpc{c: n.cl, layer: l, done: make(chan struct{})}
	// Control calls are a URL and no body: small bounds.
	r.srv = &http.Server{Handler: ctlMux(r.serve), ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 16 << 10}
	r.client = &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
				d := 5 * time.Second
				if dl, ok := ctx.Deadline(); ok {
					d = min(d, time.Until(dl))
				}
				return l.DialAddr(addr, d)
			},
			MaxIdleConnsPerHost: 8,
			IdleConnTimeout:     time.Minute,
		},
	}
	go func() {
		defer close(r.done)
		_ = r.srv.Serve(l) // ends with ErrServerClosed on close
	}()
	return r, nil
}

// ctlMux routes the control calls the route table declares
// (query.ClusterEndpoints, query/routes.go) to serve; any other path is
// 404, another method 405.
func ctlMux(serve http.HandlerFunc) *http.ServeMux {
	mux := http.NewServeMux()
	for _, e := range query.ClusterEndpoints() {
		for _, op := range e.Ops {
			mux.HandleFunc(op.Method+" "+e.Path, serve)
		}
	}
	return mux
}

func (r *rpc) close() {
	r.srv.Close()
	<-r.done
	r.client.CloseIdleConnections()
}

func (r *rpc) call(ctx context.Context, raftAddr string, req ctlRequest, hops int) (ctlResponse, error) {
	q := url.Values{}
	q.Set("shard", strconv.Itoa(req.Shard))
	q.Set("node", req.Node)
	q.Set("from", req.From)
	q.Set("hops", strconv.Itoa(hops))
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+raftAddr+"/ctl/"+req.Op+"?"+q.Encode(), nil)
	if err != nil {
		return ctlResponse{}, err
	}
	resp, err := r.client.Do(hreq)
	if err != nil {
		return ctlResponse{}, fmt.Errorf("control call %s to %s: %w", req.Op, raftAddr, err)
	}
	defer resp.Body.Close()
	var out ctlResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxCtlAnswer)).Decode(&out); err != nil {
		return ctlResponse{}, fmt.Errorf("control call %s to %s: bad answer (HTTP %d): %w", req.Op, raftAddr, resp.StatusCode, err)
	}
	switch {
	case out.NotLeader:
		return out, fmt.Errorf("%w: %s", shard.ErrNotLeader, out.Error)
	case out.NoQuorum:
		return out, fmt.Errorf("%w: %s", shard.ErrNoQuorum, out.Error)
	case out.Error != "":
		return out, errors.New(out.Error)
	}
	return out, nil
}

func (r *rpc) serve(w http.ResponseWriter, hr *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if !r.c.started.Load() {
		// The control port is up before startCluster is done.
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(ctlResponse{Error: errStarting.Error()})
		return
	}
	op := strings.TrimPrefix(hr.URL.Path, "/ctl/")
	q := hr.URL.Query()
	s, err := strconv.Atoi(q.Get("shard"))
	hops, herr := strconv.Atoi(q.Get("hops"))
	if err != nil || herr != nil {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(ctlResponse{Error: "bad shard or hops"})
		return
	}
	req := ctlRequest{Op: op, Shard: s, Node: q.Get("node"), From: q.Get("from")}
	var res ctlResponse
	switch {
	case op == "applied":
		if g := r.c.group(s); g != nil {
			res.Applied = g.RaftAppliedIndex()
		}
	case op == "local":
		info := r.c.localInfo()
		res.Info = &info
	default:
		// The others run on the shard's leader (c.local refuses an
		// operation it does not know).
		res, err = r.c.do(hr.Context(), req, min(hops, 1))
	}
	if err != nil {
		res.Error = err.Error()
		res.NotLeader = errors.Is(err, shard.ErrNotLeader)
		res.NoQuorum = errors.Is(err, shard.ErrNoQuorum)
		w.WriteHeader(http.StatusConflict)
	}
	json.NewEncoder(w).Encode(res)
}
