package node

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sibylhq/sibyl/query"
)

// The HTTP listeners (public, peer and control) are up before
// startCluster has made the router, the membership and the controller: a
// request that arrives in between is answered "unavailable", not served
// from a half-made node. A forwarded write once found the router nil and
// crashed a restarting node (CI, TestClusterKill9WhileWriting).
func TestClusterNodeNotStartedAnswersUnavailable(t *testing.T) {
	n := &Node{cl: &clusterNode{}}
	n.cl.n = n
	for _, write := range []bool{false, true} {
		if _, err := n.Route("store", write); !errors.Is(err, query.ErrUnavailable) {
			t.Errorf("Route(write %v) before start: %v, want unavailable", write, err)
		}
	}
	if err := n.Ready(); !errors.Is(err, query.ErrUnavailable) {
		t.Errorf("Ready before start: %v, want unavailable", err)
	}
	for _, op := range []string{"status", "leave"} {
		if _, err := n.ClusterCall(context.Background(), op, nil); !errors.Is(err, query.ErrUnavailable) {
			t.Errorf("cluster %s before start: %v, want unavailable", op, err)
		}
	}
	r := &rpc{c: n.cl}
	w := httptest.NewRecorder()
	r.serve(w, httptest.NewRequest(http.MethodPost, "/ctl/local?shard=0&hops=0", nil))
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("control call before start: HTTP %d %s, want 503", w.Code, w.Body)
	}
}
