package query

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/valyala/fasthttp"
)

// The route table's types. Every path a node serves is one Endpoint in
// the table of routes.go; the router (buildRoutes), request forwarding
// (Op.Writes), the cluster's control calls (node reads ClusterEndpoints),
// the OpenAPI document and the endpoint list of docs/api.md all derive
// from it.

// Access says which key an endpoint needs.
type Access int

const (
	AccessNone    Access = iota // probes, metrics, the OpenAPI document
	AccessPublic                // the store's public key (or its private key)
	AccessPrivate               // the store's private key
	AccessAdmin                 // the cluster admin token (Authorization: Bearer)
	// AccessCluster: cluster-internal, served to other nodes only, over
	// the Raft port's mutual TLS (node's control calls); never on the
	// HTTP port, not in the OpenAPI document.
	AccessCluster
	// AccessSigned: no key; the store is the path's {store} and the
	// handler authenticates the request by a signature over its body
	// (platform webhooks, which cannot send a key). Only POST endpoints
	// under /v2/webhooks/ may have it (Endpoint.check).
	AccessSigned
)

func (a Access) String() string {
	switch a {
	case AccessNone:
		return "none"
	case AccessPublic:
		return "public"
	case AccessPrivate:
		return "private"
	case AccessAdmin:
		return "admin"
	case AccessCluster:
		return "cluster-internal"
	case AccessSigned:
		return "signature"
	}
	return fmt.Sprintf("Access(%d)", int(a))
}

// Writes says whether an operation changes replicated state, and in which
// Raft group: writes are sent to that group's leader, reads are served by
// any ready replica.
type Writes int

const (
	// NoWrite proposes nothing through Raft (it may still act on the
	// node, as /v2/cluster/leave does).
	NoWrite Writes = iota
	// ShardWrite proposes to a shard group: the store's (data, tracking),
	// or for a control call the shard it names.
	ShardWrite
	// MetaWrite proposes to the meta group (stores, keys, limits).
	MetaWrite
)

// Endpoint is one path and the methods served on it.
type Endpoint struct {
	// Path is the URL path; a {name} segment is a path parameter (at most
	// one), declared in every Op's Params with In "path".
	Path   string
	Access Access
	// Tag groups endpoints in the OpenAPI document and docs/api.md.
	Tag     string
	Summary string
	Ops     []Op
	// bind makes the endpoint's handler for a server; nil for
	// cluster-internal endpoints, which node serves.
	bind func(*Server) func(*request) error
}

// Op is one method of an endpoint.
type Op struct {
	Method string // GET, POST, PUT, PATCH or DELETE (HEAD is served wherever GET is)
	// ID is the OpenAPI operationId: Clerk's own for the operations
	// Sibyl shares with Clerk, unique in the table.
	ID     string
	Writes Writes
	// Summary, when set, replaces the endpoint's for this method.
	Summary string
	// Params are the query (and path) parameters.
	Params []Param
	// Body is the JSON request body; nil: none.
	Body *Schema
	// Result is the successful answer (200): JSON unless ResultType says
	// otherwise.
	Result     *Schema
	ResultType string
}

// Param is one query or path parameter.
type Param struct {
	Name     string
	In       string // "query" or "path"
	Required bool
	Schema   *Schema
	Desc     string
}

// Schema is the subset of JSON Schema the table uses.
type Schema struct {
	Ref         string             `json:"$ref,omitempty"`
	Type        string             `json:"type,omitempty"`
	Format      string             `json:"format,omitempty"`
	Description string             `json:"description,omitempty"`
	Enum        []string           `json:"enum,omitempty"`
	Items       *Schema            `json:"items,omitempty"`
	Properties  map[string]*Schema `json:"properties,omitempty"`
	Required    []string           `json:"required,omitempty"`
	// AdditionalProperties describes the values of a map-like object.
	AdditionalProperties *Schema   `json:"additionalProperties,omitempty"`
	OneOf                []*Schema `json:"oneOf,omitempty"`
}

// ClusterEndpoints returns the cluster-internal endpoints, which node
// serves on the Raft port's control layer.
func ClusterEndpoints() []Endpoint {
	var out []Endpoint
	for _, e := range endpoints {
		if e.Access == AccessCluster {
			out = append(out, e)
		}
	}
	return out
}

// Method indexes of route.ops.
const (
	mGet = iota
	mPost
	mPut
	mPatch
	mDelete
	numMethods
)

// methodIndex maps a request method to its index in route.ops; HEAD is
// GET's. -1: a method no endpoint serves.
func methodIndex(m []byte) int {
	switch string(m) { // no allocation: the conversion is only compared
	case "GET", "HEAD":
		return mGet
	case "POST":
		return mPost
	case "PUT":
		return mPut
	case "PATCH":
		return mPatch
	case "DELETE":
		return mDelete
	}
	return -1
}

// route is an endpoint made ready to serve: what handleRequest looks up.
type route struct {
	name    string // the declared path: labels metrics
	access  Access
	handler func(*request) error
	ops     [numMethods]*Op
	allow   string // the Allow header of a 405
}

// op returns the route's operation for the request's method, nil when the
// method is not declared.
func (rt *route) op(ctx *fasthttp.RequestCtx) *Op {
	i := methodIndex(ctx.Method())
	if i < 0 {
		return nil
	}
	return rt.ops[i]
}

// templateRoute is a route whose path holds one {param} segment: it
// matches prefix + value + suffix, value a non-empty segment.
type templateRoute struct {
	prefix, suffix string
	// key is the request's user value the segment is stored under.
	key string
	rt  route
}

// pathParamKey is the request user value holding path parameter name.
func pathParamKey(name string) string { return pathParamPrefix + name }

const pathParamPrefix = "sibyl.path."

// signedPathPrefix is where AccessSigned endpoints live.
const signedPathPrefix = "/v2/webhooks/"

// router is the lookup built from the table: a map of exact paths, then
// the few templated ones.
type router struct {
	exact     map[string]route
	templates []templateRoute
}

// buildRoutes turns the table into the server's router; it panics on a
// malformed table (TestRouteTable checks the table the same way).
func (s *Server) buildRoutes() router {
	r := router{exact: make(map[string]route, len(endpoints))}
	for _, e := range endpoints {
		if e.Access == AccessCluster {
			continue // served by node on the Raft port
		}
		if err := e.check(); err != nil {
			panic(err)
		}
		rt := route{name: e.Path, access: e.Access, handler: e.bind(s)}
		var allow []string
		for i := range e.Ops {
			op := &e.Ops[i]
			rt.ops[methodIndex([]byte(op.Method))] = op
			allow = append(allow, op.Method)
			if op.Method == "GET" {
				allow = append(allow, "HEAD")
			}
		}
		rt.allow = strings.Join(allow, ", ")
		before, after, templated := strings.Cut(e.Path, "{")
		if !templated {
			r.exact[e.Path] = rt
			continue
		}
		name, suffix, _ := strings.Cut(after, "}")
		r.templates = append(r.templates, templateRoute{prefix: before, suffix: suffix, key: pathParamKey(name), rt: rt})
	}
	return r
}

// lookup finds the route of path (a trailing slash ignored) and stores a
// templated path's parameter as a user value of ctx. An exact path costs
// one map lookup and no allocation.
func (r *router) lookup(ctx *fasthttp.RequestCtx, path []byte) (route, bool) {
	if len(path) > 1 && path[len(path)-1] == '/' {
		path = path[:len(path)-1]
	}
	if rt, ok := r.exact[string(path)]; ok {
		return rt, true
	}
	for i := range r.templates {
		t := &r.templates[i]
		if len(path) <= len(t.prefix)+len(t.suffix) || string(path[:len(t.prefix)]) != t.prefix ||
			string(path[len(path)-len(t.suffix):]) != t.suffix {
			continue
		}
		v := path[len(t.prefix) : len(path)-len(t.suffix)]
		if bytes.IndexByte(v, '/') >= 0 {
			continue
		}
		ctx.SetUserValue(t.key, string(v))
		return t.rt, true
	}
	return route{}, false
}

// check reports a malformed endpoint: every endpoint has a summary, ops
// with known, distinct methods and ids, and a handler unless it is
// cluster-internal; a {param} path segment is declared as a required path
// parameter of every op, and only there.
func (e *Endpoint) check() error {
	if !strings.HasPrefix(e.Path, "/") || e.Summary == "" || e.Tag == "" || len(e.Ops) == 0 {
		return fmt.Errorf("endpoint %q: needs a path, a tag, a summary and operations", e.Path)
	}
	if (e.bind == nil) != (e.Access == AccessCluster) {
		return fmt.Errorf("endpoint %s: a handler is needed exactly when it is not cluster-internal", e.Path)
	}
	if e.Access == AccessSigned {
		// The handler, not a key, authenticates these: keep them few and
		// recognisable.
		if !strings.HasPrefix(e.Path, signedPathPrefix) || !strings.HasSuffix(e.Path, "/{store}") {
			return fmt.Errorf("endpoint %s: signed endpoints are %s.../{store}", e.Path, signedPathPrefix)
		}
		for _, op := range e.Ops {
			if op.Method != "POST" || op.Writes != ShardWrite {
				return fmt.Errorf("endpoint %s: a signed endpoint has only POST shard writes", e.Path)
			}
		}
	}
	var pathParam string
	if _, after, ok := strings.Cut(e.Path, "{"); ok {
		name, rest, ok := strings.Cut(after, "}")
		if !ok || name == "" || strings.ContainsAny(rest, "{}") || !strings.HasSuffix(e.Path[:strings.IndexByte(e.Path, '{')], "/") ||
			(rest != "" && rest[0] != '/') {
			return fmt.Errorf("endpoint %s: at most one {param}, a whole path segment", e.Path)
		}
		pathParam = name
	}
	seen := map[string]bool{}
	for _, op := range e.Ops {
		if i := methodIndex([]byte(op.Method)); i < 0 || op.Method == "HEAD" || seen[op.Method] {
			return fmt.Errorf("endpoint %s: method %q unknown or repeated", e.Path, op.Method)
		}
		seen[op.Method] = true
		if op.ID == "" || op.Result == nil {
			return fmt.Errorf("endpoint %s %s: needs an operation id and a result", op.Method, e.Path)
		}
		found := false
		for _, p := range op.Params {
			switch {
			case p.In == "path" && p.Name == pathParam && p.Required:
				found = true
			case p.In != "query":
				return fmt.Errorf("endpoint %s %s: parameter %q in %q is not the path's", op.Method, e.Path, p.Name, p.In)
			}
			if p.Schema == nil || p.Desc == "" || strings.ContainsAny(p.Name, "<>{}") {
				return fmt.Errorf("endpoint %s %s: parameter %q needs a schema, a description and a plain name", op.Method, e.Path, p.Name)
			}
		}
		if found != (pathParam != "") {
			return fmt.Errorf("endpoint %s %s: the path parameter must be declared (in: path, required)", op.Method, e.Path)
		}
	}
	return nil
}
