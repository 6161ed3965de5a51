package node

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestSyncHealth: after sync runs, GET /v2/health/data shows the sync
// checks with the last run's outcome and the catalog size change between
// the last two complete syncs, read from the replicated run records.
func TestSyncHealth(t *testing.T) {
	cfg := testNodeConfig(t.TempDir())
	cfg.Sync.Client.RetryMax = 1
	cfg.Sync.Client.RetryWaitMin, cfg.Sync.Client.RetryWaitMax = 10*time.Millisecond, 20*time.Millisecond
	n := openReadyNode(t, cfg)
	t.Cleanup(func() { n.Shutdown(t.Context()) })
	c := newClient(t, n.HTTPAddr())
	st := createStore(c, "healthy")

	type check struct{ Name, State, Value, Message string }
	checks := func() map[string]check {
		t.Helper()
		a := c.Do("GET", "/v2/health/data"+q(st, true), nil)
		expect(t, a, 200, "")
		var body struct{ Checks []check }
		if err := json.Unmarshal([]byte(a.Raw), &body); err != nil {
			t.Fatal(err)
		}
		out := make(map[string]check)
		for _, ch := range body.Checks {
			out[ch.Name] = ch
		}
		return out
	}
	if got := checks()["sync_last"]; got.Value != "none" || !strings.Contains(got.Message, "no sync configured") {
		t.Fatalf("before any sync configuration: %+v", got)
	}

	fix := &feedFixture{}
	fix.set(seq(0, 50), false)
	srv := httptest.NewServer(fix)
	defer srv.Close()
	expect(t, c.Do("POST", "/v2/sync"+q(st, true), map[string]any{
		"source": map[string]any{"type": "feed", "url": srv.URL + "/feed.json"}, "schedule": "manual"}), 200, "")
	if got := checks()["sync_last"]; got.State != "yellow" || got.Value != "never" {
		t.Fatalf("configured, never run: %+v", got)
	}
	runOnce := func() {
		t.Helper()
		a := c.Do("POST", "/v2/sync/start"+q(st, true), nil)
		expect(t, a, 200, "")
		id, _ := a.Body["run"].(string)
		checkFor(t, 20*time.Second, func() error {
			a := c.Do("GET", "/v2/sync/status"+q(st, true), nil)
			last, _ := a.Body["last_run"].(map[string]any)
			if last["id"] != id || last["state"] == "running" {
				return errf("run %s not finished: %.300s", id, a.Raw)
			}
			return nil
		})
	}

	runOnce()
	got := checks()
	if s := got["sync_last"]; s.State != "green" || !strings.HasPrefix(s.Value, "succeeded ") {
		t.Errorf("after one sync: %+v", s)
	}
	if s := got["sync_catalog_change"]; s.Value != "n/a" {
		t.Errorf("one complete sync: %+v", s)
	}

	fix.set(seq(0, 45), false) // 5 of 50 gone: a 10% change, under the safety valve
	runOnce()
	got = checks()
	if s := got["sync_catalog_change"]; s.Value != "-5 (10.0%)" || !strings.Contains(s.Message, "from 50 to 45 products") {
		t.Errorf("after a sync that deleted 5: %+v", s)
	}

	fix.set(seq(0, 45), true) // the feed breaks half-way
	runOnce()
	got = checks()
	if s := got["sync_last"]; s.State != "red" || !strings.HasPrefix(s.Value, "failed ") || !strings.Contains(s.Message, "the read failed") {
		t.Errorf("after a failed sync: %+v", s)
	}
	if s := got["sync_catalog_change"]; s.Value != "-5 (10.0%)" {
		t.Errorf("a failed sync changed the catalog comparison: %+v", s)
	}
}
