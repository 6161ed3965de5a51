package node

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The API's handlers are tested in query/ (api_test.go and beside it)
// over the engine without Raft; what stays here is about a node: its
// process metrics and what survives its restart.

func TestAPIHealthAndMetrics(t *testing.T) {
	n := testNode(t, "")
	c := newClient(t, n.HTTPAddr())
	expect(t, c.Do("GET", "/health", nil), 200, "")
	expect(t, c.Do("GET", "/ready", nil), 200, "")
	resp, err := c.HTTP.Get(c.Base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), `sibyl_http_requests_total{endpoint="/health"`) {
		t.Fatalf("metrics lack request counts: %.500s", body)
	}
	// The live heap, which sizing needs: a plausible byte count.
	var live float64
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "go_gc_heap_live_bytes "); ok {
			live, _ = strconv.ParseFloat(v, 64)
		}
	}
	if live < 1<<20 || live > 1<<34 {
		t.Fatalf("go_gc_heap_live_bytes = %v, want a heap size", live)
	}
}

func TestDataSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	n := testNode(t, dir)
	c := newClient(t, n.HTTPAddr())
	st := createStore(c, "shop")
	seedShop(t, c, st)
	before := c.Do("GET", "/v2/recommendations/popular"+q(st, false), nil).IDs()
	beforeMSW := c.Do("GET", "/v2/recommendations/most_sold_with"+q(st, false, "products", "lamp"), nil).IDs()
	if err := n.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	n2 := testNode(t, dir)
	c2 := newClient(t, n2.HTTPAddr())
	after := c2.Do("GET", "/v2/recommendations/popular"+q(st, false), nil)
	expect(t, after, 200, "") // the keys survived in the meta group
	if !slices.Equal(after.IDs(), before) {
		t.Fatalf("popular after restart %v, before %v", after.IDs(), before)
	}
	if got := c2.Do("GET", "/v2/recommendations/most_sold_with"+q(st, false, "products", "lamp"), nil).IDs(); !slices.Equal(got, beforeMSW) {
		t.Fatalf("most_sold_with after restart %v, before %v", got, beforeMSW)
	}
	if n2.AdminToken() != "test-admin-token-0123456789" {
		t.Fatal(fmt.Sprint("admin token changed: ", n2.AdminToken()))
	}
}
