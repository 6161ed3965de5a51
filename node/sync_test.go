package node

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// feedFixture serves a Clerk JSON feed v1: one document with a
// "products" list (docs.clerk.io/docs/data-feed, help.clerk.io "Data
// Feeds"). The test changes what it holds between runs; failHalfway
// sends half of the document and then breaks the connection.
type feedFixture struct {
	mu          sync.Mutex
	ids         []int
	failHalfway bool
	// bad adds a product whose price is not a number.
	bad bool
}

func (f *feedFixture) set(ids []int, fail bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ids, f.failHalfway = slices.Clone(ids), fail
}

func (f *feedFixture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	ids, fail, bad := slices.Clone(f.ids), f.failHalfway, f.bad
	f.mu.Unlock()
	products := make([]map[string]any, len(ids))
	for i, id := range ids {
		products[i] = map[string]any{"id": fmt.Sprintf("p%d", id), "name": fmt.Sprintf("Gadget number%d", id),
			"price": 10 + id, "url": fmt.Sprintf("https://shop.example/p%d", id), "categories": []int{1}}
	}
	if bad {
		products = append(products, map[string]any{"id": "bad", "name": "Broken", "price": "free"})
	}
	body, _ := json.Marshal(map[string]any{"products": products})
	w.Header().Set("Content-Type", "application/json")
	if fail {
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the connection breaks mid-body
	}
	w.Write(body)
}

func seq(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// TestSyncMirrorsFeed: a sync configured and started over HTTP mirrors a
// Clerk feed into the store; a re-run changes nothing; a product removed
// from the feed is deleted; a feed that lost 40% of its products is
// refused and deletes nothing; a feed that breaks half-way fails and
// deletes nothing. Each outcome is read from /v2/sync/runs.
func TestSyncMirrorsFeed(t *testing.T) {
	cfg := testNodeConfig(t.TempDir())
	cfg.Sync.Client.RetryMax = 1
	cfg.Sync.Client.RetryWaitMin, cfg.Sync.Client.RetryWaitMax = 10*time.Millisecond, 20*time.Millisecond
	n := openReadyNode(t, cfg)
	t.Cleanup(func() { n.Shutdown(t.Context()) })
	c := newClient(t, n.HTTPAddr())
	st := createStore(c, "synced")

	fix := &feedFixture{bad: true}
	fix.set(seq(0, 50), false)
	srv := httptest.NewServer(fix)
	defer srv.Close()

	expect(t, c.Do("POST", "/v2/sync"+q(st, true), map[string]any{
		"source": map[string]any{"type": "feed", "url": srv.URL + "/feed.json", "token": "feed-s3cret"}, "schedule": "manual"}), 200, "")

	type counts struct{ Created, Updated, Deleted, Rejected int }
	type run struct {
		ID, State, Message string
		Counts             map[string]counts
		Errors             []struct{ Kind, ID, Field, Message string }
		Bytes              int64
		Started, Finished  time.Time
	}
	runOnce := func() run {
		t.Helper()
		a := c.Do("POST", "/v2/sync/start"+q(st, true), nil)
		expect(t, a, 200, "")
		id, _ := a.Body["run"].(string)
		if id == "" {
			t.Fatalf("start answered no run id: %s", a.Raw)
		}
		var got run
		checkFor(t, 20*time.Second, func() error {
			a := c.Do("GET", "/v2/sync/runs"+q(st, true), nil)
			var body struct{ Runs []run }
			if err := json.Unmarshal([]byte(a.Raw), &body); err != nil {
				return err
			}
			if len(body.Runs) == 0 || body.Runs[0].ID != id || body.Runs[0].State == "running" {
				return errf("run %s not finished: %.300s", id, a.Raw)
			}
			got = body.Runs[0]
			return nil
		})
		if got.Finished.Before(got.Started) {
			t.Errorf("run %s finished %v before it started %v", got.ID, got.Finished, got.Started)
		}
		return got
	}
	productIDs := func() []string {
		t.Helper()
		a := c.Do("GET", "/v2/products"+q(st, true, "limit", "1000"), nil)
		expect(t, a, 200, "")
		var ids []string
		list, _ := a.Body["result"].([]any)
		for _, rec := range list {
			m, _ := rec.(map[string]any)
			id, _ := m["id"].(string)
			ids = append(ids, id)
		}
		slices.Sort(ids)
		return ids
	}
	want := func(ids []int) []string {
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = fmt.Sprintf("p%d", id)
		}
		slices.Sort(out)
		return out
	}

	r := runOnce()
	if r.State != "succeeded" || r.Counts["products"] != (counts{Created: 50, Rejected: 1}) || r.Bytes == 0 ||
		len(r.Errors) != 1 || r.Errors[0].ID != "bad" || r.Errors[0].Kind != "products" || r.Errors[0].Message == "" {
		t.Fatalf("first run: %+v", r)
	}
	fix.mu.Lock()
	fix.bad = false
	fix.mu.Unlock()
	if got := productIDs(); !slices.Equal(got, want(seq(0, 50))) {
		t.Fatalf("after the first run the store holds %v", got)
	}
	if got := c.Do("GET", "/v2/search/search"+q(st, false, "query", "number7"), nil).IDs(); len(got) == 0 || got[0] != "p7" {
		t.Errorf("search for number7 found %v, want p7 first", got)
	}
	if a := c.Do("GET", "/v2/sync"+q(st, true), nil); a.Status != 200 || json.Valid([]byte(a.Raw)) && (contains(a.Raw, "feed-s3cret")) {
		t.Errorf("GET /v2/sync: %d %s", a.Status, a.Raw)
	}

	r = runOnce()
	if r.State != "succeeded" || r.Counts["products"] != (counts{Updated: 50}) {
		t.Fatalf("the re-run changed something: %+v", r)
	}

	fix.set(seq(0, 49), false) // p49 left the shop
	r = runOnce()
	if r.State != "succeeded" || r.Counts["products"] != (counts{Updated: 49, Deleted: 1}) {
		t.Fatalf("run after a removal: %+v", r)
	}
	if got := productIDs(); !slices.Equal(got, want(seq(0, 49))) {
		t.Fatalf("after the removal the store holds %d products, p49 kept: %v", len(got), slices.Contains(got, "p49"))
	}

	fix.set(seq(0, 29), false) // 20 of 49 (41%) gone: a broken feed
	r = runOnce()
	if r.State != "refused" || r.Counts["products"].Deleted != 0 || !contains(r.Message, "products") {
		t.Fatalf("run over a feed that lost 41%%: %+v", r)
	}
	if got := productIDs(); len(got) != 49 {
		t.Fatalf("a refused run deleted: the store holds %d products", len(got))
	}

	fix.set(seq(1, 49), true) // p0 gone, and the feed breaks half-way
	r = runOnce()
	if r.State != "failed" || r.Counts["products"].Deleted != 0 || r.Message == "" {
		t.Fatalf("run over a broken feed: %+v", r)
	}
	if got := productIDs(); !slices.Equal(got, want(seq(0, 49))) {
		t.Fatalf("a failed run deleted: the store holds %d products, p0 kept: %v", len(got), slices.Contains(got, "p0"))
	}

	status := c.Do("GET", "/v2/sync/status"+q(st, true), nil)
	expect(t, status, 200, "")
	last, _ := status.Body["last_run"].(map[string]any)
	if status.Body["configured"] != true || status.Body["running"] != nil || last["id"] != r.ID || last["state"] != "failed" {
		t.Fatalf("status: %s", status.Raw)
	}
	runs := c.Do("GET", "/v2/sync/runs"+q(st, true), nil)
	if l, _ := runs.Body["runs"].([]any); len(l) != 5 || contains(runs.Raw, "feed-s3cret") {
		t.Fatalf("runs: %d, or a secret shown: %.300s", len(l), runs.Raw)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// TestSyncInterruptedByRestart: a node stopped in the middle of a sync
// leaves the run "running" and deletes nothing; started again on the same
// data, it records the run interrupted and runs the sync again at once.
func TestSyncInterruptedByRestart(t *testing.T) {
	dir := t.TempDir()
	n := openReadyNode(t, testNodeConfig(dir))
	c := newClient(t, n.HTTPAddr())
	st := createStore(c, "restarted")
	expect(t, c.Do("POST", "/v2/products"+q(st, true), `[{"id":"old","name":"Old thing","price":1}]`), 200, "")

	var requests atomic.Int32
	stalled := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		products := []map[string]any{}
		for i := range 20 {
			products = append(products, map[string]any{"id": fmt.Sprintf("p%d", i), "name": fmt.Sprintf("Thing %d", i), "price": i + 1})
		}
		body, _ := json.Marshal(map[string]any{"products": products})
		if requests.Add(1) == 1 {
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.Write(body[:len(body)/2])
			w.(http.Flusher).Flush()
			close(stalled)
			<-r.Context().Done()
			panic(http.ErrAbortHandler)
		}
		w.Write(body)
	}))
	defer srv.Close()
	expect(t, c.Do("POST", "/v2/sync"+q(st, true), map[string]any{
		"source": map[string]any{"type": "feed", "url": srv.URL}, "schedule": "manual"}), 200, "")
	a := c.Do("POST", "/v2/sync/start"+q(st, true), nil)
	expect(t, a, 200, "")
	first, _ := a.Body["run"].(string)
	select {
	case <-stalled:
	case <-time.After(20 * time.Second):
		t.Fatal("the sync never fetched the feed")
	}
	checkFor(t, 10*time.Second, func() error {
		if s := c.Do("GET", "/v2/sync/status"+q(st, true), nil); s.Body["running"] != first {
			return errf("status does not show %s running: %s", first, s.Raw)
		}
		return nil
	})
	if err := n.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}

	n2 := testNode(t, dir)
	c2 := newClient(t, n2.HTTPAddr())
	var runs []map[string]any
	checkFor(t, 20*time.Second, func() error {
		a := c2.Do("GET", "/v2/sync/runs"+q(st, true), nil)
		runs = nil
		list, _ := a.Body["runs"].([]any)
		for _, r := range list {
			runs = append(runs, r.(map[string]any))
		}
		if len(runs) != 2 || runs[0]["state"] != "succeeded" {
			return errf("no second, successful run yet: %s", a.Raw)
		}
		return nil
	})
	if runs[1]["id"] != first || runs[1]["state"] != "failed" || !strings.Contains(fmt.Sprint(runs[1]["message"]), "interrupted") {
		t.Fatalf("the interrupted run: %v", runs[1])
	}
	if got := fmt.Sprint(runs[0]["counts"]); got != "map[products:map[created:20 deleted:1 rejected:0 updated:0]]" {
		t.Fatalf("the resumed run's counts: %s", got)
	}
}

// TestSyncConcurrencyLimit: with --sync-concurrency 1, a second store's
// sync waits while the first one's feed is being read, then runs.
func TestSyncConcurrencyLimit(t *testing.T) {
	cfg := testNodeConfig(t.TempDir())
	cfg.Sync.MaxConcurrent = 1
	n := openReadyNode(t, cfg)
	t.Cleanup(func() { n.Shutdown(t.Context()) })
	c := newClient(t, n.HTTPAddr())

	var inFlight, most atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := most.Load()
			if now <= m || most.CompareAndSwap(m, now) {
				break
			}
		}
		<-release
		fmt.Fprintf(w, `{"products":[{"id":"p1","name":"One","price":1}]}`)
	}))
	defer srv.Close()

	stores := []testStore{createStore(c, "first"), createStore(c, "second")}
	runs := make([]string, len(stores))
	for i, st := range stores {
		expect(t, c.Do("POST", "/v2/sync"+q(st, true), map[string]any{
			"source": map[string]any{"type": "feed", "url": srv.URL}, "schedule": "manual"}), 200, "")
		a := c.Do("POST", "/v2/sync/start"+q(st, true), nil)
		expect(t, a, 200, "")
		runs[i], _ = a.Body["run"].(string)
	}
	checkFor(t, 10*time.Second, func() error {
		if inFlight.Load() != 1 {
			return errf("%d feed requests in flight, want 1", inFlight.Load())
		}
		return nil
	})
	time.Sleep(300 * time.Millisecond) // a second sync, if it wrongly started, would be reading by now
	if most.Load() != 1 {
		t.Fatalf("%d syncs read at once with a limit of 1", most.Load())
	}
	close(release)
	for i, st := range stores {
		checkFor(t, 20*time.Second, func() error {
			a := c.Do("GET", "/v2/sync/runs"+q(st, true), nil)
			list, _ := a.Body["runs"].([]any)
			if len(list) != 1 || list[0].(map[string]any)["id"] != runs[i] || list[0].(map[string]any)["state"] != "succeeded" {
				return errf("store %d: %s", i, a.Raw)
			}
			return nil
		})
	}
	if most.Load() != 1 {
		t.Fatalf("%d syncs read at once with a limit of 1", most.Load())
	}
}

// TestSyncRemovedWhileRunning: deleting the configuration cancels the
// run in progress, which records its end and deletes nothing.
func TestSyncRemovedWhileRunning(t *testing.T) {
	n := testNode(t, "")
	c := newClient(t, n.HTTPAddr())
	st := createStore(c, "removed")
	expect(t, c.Do("POST", "/v2/products"+q(st, true), `[{"id":"old","name":"Old thing","price":1}]`), 200, "")
	stalled := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.Write([]byte(`{"products":[{"id":"p1","name":"One","price":1},`))
		w.(http.Flusher).Flush()
		close(stalled)
		<-r.Context().Done()
		panic(http.ErrAbortHandler)
	}))
	defer srv.Close()
	expect(t, c.Do("POST", "/v2/sync"+q(st, true), map[string]any{"source": map[string]any{"type": "feed", "url": srv.URL}, "schedule": "manual"}), 200, "")
	a := c.Do("POST", "/v2/sync/start"+q(st, true), nil)
	expect(t, a, 200, "")
	select {
	case <-stalled:
	case <-time.After(20 * time.Second):
		t.Fatal("the sync never fetched the feed")
	}
	expect(t, c.Do("DELETE", "/v2/sync"+q(st, true), nil), 200, "")
	checkFor(t, 20*time.Second, func() error {
		r := c.Do("GET", "/v2/sync/runs"+q(st, true), nil)
		list, _ := r.Body["runs"].([]any)
		if len(list) != 1 {
			return errf("runs: %s", r.Raw)
		}
		run := list[0].(map[string]any)
		if run["id"] != a.Body["run"] || run["state"] != "failed" || !strings.Contains(fmt.Sprint(run["message"]), "removed") {
			return errf("run: %v", run)
		}
		return nil
	})
	if s := c.Do("GET", "/v2/sync/status"+q(st, true), nil); s.Body["configured"] != false || s.Body["running"] != nil {
		t.Fatalf("status after the delete: %s", s.Raw)
	}
	if got := c.Do("GET", "/v2/products"+q(st, true), nil).Body["total"]; got != float64(1) {
		t.Fatalf("products after the cancelled run: total %v, want the old one only", got)
	}
}
