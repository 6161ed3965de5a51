package query

import (
	"context"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/cluster/meta"
)

// TestRouteTable checks the table itself: every endpoint well formed,
// paths and operation ids unique.
func TestRouteTable(t *testing.T) {
	paths, ids := map[string]bool{}, map[string]string{}
	for _, e := range endpoints {
		if err := e.check(); err != nil {
			t.Error(err)
		}
		if paths[e.Path] {
			t.Errorf("%s declared twice", e.Path)
		}
		paths[e.Path] = true
		for _, op := range e.Ops {
			if prev, ok := ids[op.ID]; ok {
				t.Errorf("operation id %s of %s %s is also %s's", op.ID, op.Method, e.Path, prev)
			}
			ids[op.ID] = op.Method + " " + e.Path
			if op.Writes != NoWrite && e.Access == AccessNone {
				t.Errorf("%s %s writes without a key", op.Method, e.Path)
			}
		}
	}
	f := func(e Endpoint, want string) {
		t.Helper()
		if err := e.check(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error about %q", e.Path, err, want)
		}
	}
	bind := handler((*Server).handleHealth)
	ok := []Op{{Method: "GET", ID: "x", Result: okResult}}
	f(Endpoint{Path: "/a/{id}", Tag: "t", Summary: "s", Ops: ok, bind: bind}, "path parameter must be declared")
	f(Endpoint{Path: "/a/{id}/{b}", Tag: "t", Summary: "s", Ops: ok, bind: bind}, "at most one {param}")
	f(Endpoint{Path: "/a/x{id}", Tag: "t", Summary: "s", Ops: ok, bind: bind}, "at most one {param}")
	f(Endpoint{Path: "/a", Tag: "t", Summary: "s", Ops: []Op{{Method: "GET", ID: "x", Result: okResult, Params: []Param{{Name: "<kind>", In: "query", Schema: okResult, Desc: "d"}}}}, bind: bind}, "plain name")
	f(Endpoint{Path: "/a", Tag: "t", Summary: "s", Ops: []Op{ok[0], ok[0]}, bind: bind}, "repeated")
	f(Endpoint{Path: "/a", Tag: "t", Summary: "s", Ops: []Op{{Method: "HEAD", ID: "x", Result: okResult}}, bind: bind}, "unknown")
	f(Endpoint{Path: "/a", Tag: "t", Summary: "s", Ops: ok}, "handler")
}

// routeBackend is fakeBackend with the optional parts a node has: cluster
// operations and store administration. It records Route's arguments.
type routeBackend struct {
	*fakeBackend
	mu     sync.Mutex
	routed []string
}

func (b *routeBackend) ClusterCall(_ context.Context, op string, _ map[string]string) (any, error) {
	return map[string]any{"status": "ok", "op": op}, nil
}
func (b *routeBackend) CreateStore(context.Context, string) (meta.StoreInfo, error) {
	return meta.StoreInfo{ID: tStore}, nil
}
func (b *routeBackend) RotateKeys(context.Context, string, time.Time) (meta.StoreInfo, error) {
	return meta.StoreInfo{ID: tStore}, nil
}
func (b *routeBackend) SetStoreLimits(context.Context, string, *meta.RateLimit) (meta.StoreInfo, error) {
	return meta.StoreInfo{ID: tStore}, nil
}
func (b *routeBackend) Route(store string, write bool) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	w := "read"
	if write {
		w = "write"
	}
	b.routed = append(b.routed, store+" "+w)
	return "", nil
}

func (b *routeBackend) takeRouted() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.routed
	b.routed = nil
	return r
}

// tableRequest is a request for one operation of the table with the key
// its endpoint needs and, for a body, an empty JSON object.
func tableRequest(e Endpoint, method string) (path, body string, header []string) {
	q := url.Values{}
	switch e.Access {
	case AccessPublic:
		q.Set("key", tPublic)
	case AccessPrivate:
		q.Set("key", tPublic)
		q.Set("private_key", tPrivate)
	case AccessAdmin:
		header = []string{"Authorization", "Bearer " + tAdmin}
	}
	if e.Path == "/debug/pprof/profile" || e.Path == "/debug/pprof/trace" {
		q.Set("seconds", "1")
	}
	path = strings.Replace(e.Path, "{id}", tStore, 1)
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	if method != "GET" && method != "HEAD" {
		body = "{}"
	}
	return path, body, header
}

// TestEveryRouteAnswers walks the table against a real server: every
// declared method of every endpoint is served (the router answers
// neither 404 nor 405; a handler may still refuse the empty request, or
// answer 404 for data it does not have), every other method is 405 with
// an Allow header naming the declared ones, and forwarding asks the
// Backend to route each operation as the table says it writes.
func TestEveryRouteAnswers(t *testing.T) {
	b := &routeBackend{fakeBackend: &fakeBackend{}}
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.Rate.IPRate, cfg.Rate.StoreRate = 0, 0
	s, err := New(cfg, b, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	base := "http://" + s.Addr()
	served, checkedRoutes, statuses := 0, 0, map[int]int{}
	for _, e := range endpoints {
		if e.Access == AccessCluster {
			continue
		}
		declared := map[string]bool{}
		for _, op := range e.Ops {
			declared[op.Method] = true
			methods := []string{op.Method}
			if op.Method == "GET" {
				methods = append(methods, "HEAD")
			}
			getStatus := 0
			for _, m := range methods {
				path, body, header := tableRequest(e, m)
				a := call(t, m, base+path, body, header...)
				if a.status == 405 || a.status == 404 && strings.HasPrefix(a.Msg, "no endpoint") {
					t.Errorf("%s %s: %d %.200s", m, path, a.status, a.body)
				}
				// HEAD has no body to tell the router's 404 from a
				// handler's: it must answer as GET does.
				if m == "GET" {
					getStatus = a.status
				} else if m == "HEAD" && a.status != getStatus {
					t.Errorf("HEAD %s: %d, GET %d", path, a.status, getStatus)
				}
				served++
				// Forwarding: data and tracking ask for their store's
				// shard (writes for the leader), store administration
				// for the meta group's leader, the rest nothing.
				routed := b.takeRouted()
				var want []string
				switch {
				case op.Writes == MetaWrite:
					want = []string{" write"}
				case e.Access == AccessPublic || e.Access == AccessPrivate:
					want = []string{tStore + " read"}
					if op.Writes == ShardWrite {
						want = []string{tStore + " write"}
					}
				}
				if (a.status < 400 || len(routed) > 0) && !slices.Equal(routed, want) {
					t.Errorf("%s %s: %d, routed %q, want %q", m, path, a.status, routed, want)
				}
				if len(routed) > 0 {
					checkedRoutes++
				}
				statuses[a.status]++
				if a.status >= 500 {
					t.Errorf("%s %s: %d %.200s", m, path, a.status, a.body)
				}
			}
		}
		for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"} {
			if declared[m] || m == "HEAD" && declared["GET"] {
				continue
			}
			path, body, header := tableRequest(e, m)
			a := call(t, m, base+path, body, header...)
			allow := a.header.Get("Allow")
			if a.status != 405 || allow == "" || (m != "HEAD" && a.Type != ErrTypeMethod) {
				t.Errorf("undeclared %s %s: %d, Allow %q, %.200s", m, path, a.status, allow, a.body)
			}
			for _, op := range e.Ops {
				if !strings.Contains(allow, op.Method) {
					t.Errorf("undeclared %s %s: Allow %q lacks %s", m, path, allow, op.Method)
				}
			}
		}
	}
	if served < 150 || checkedRoutes < 120 {
		t.Fatalf("only %d operations tried, %d of them routed", served, checkedRoutes)
	}
	t.Logf("%d operations (with HEAD) answered %v; %d asked the Backend where to go", served, statuses, checkedRoutes)
	// Paths near the templated ones are not routes.
	for _, p := range []string{"/v2/stores//limits", "/v2/stores/a/b/limits", "/v2/stores/limits", "/v2/cluster/nope", "/debug/pprof/nope", "/ctl/status"} {
		if a := call(t, "POST", base+p, "{}", "Authorization", "Bearer "+tAdmin); a.status != 404 {
			t.Errorf("%s: %d %.200s", p, a.status, a.body)
		}
	}
	// A trailing slash is the same route.
	if a := call(t, "GET", base+"/health/", ""); a.status != 200 {
		t.Errorf("/health/: %d", a.status)
	}
}
