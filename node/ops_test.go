package node

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestControlCallsFromRouteTable: the control server answers the calls
// node makes (ctlRequest.Op) because the route table declares them, and
// nothing else.
func TestControlCallsFromRouteTable(t *testing.T) {
	var got string
	mux := ctlMux(func(w http.ResponseWriter, r *http.Request) { got = r.URL.Path })
	f := func(method, path string, want int) {
		t.Helper()
		got = ""
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(method, path+"?shard=1&hops=0", nil))
		if w.Code != want || (want == 200) != (got == path) {
			t.Errorf("%s %s: %d (served %q), want %d", method, path, w.Code, got, want)
		}
	}
	for _, op := range []string{"status", "add", "promote", "transfer", "remove", "applied", "local"} {
		f("POST", "/ctl/"+op, 200)
		f("GET", "/ctl/"+op, 405)
	}
	f("POST", "/ctl/nope", 404)
	f("POST", "/v2/products", 404)
}
