package query

import (
	"strings"
	"testing"
)

// TestSyncConfigEndpoints: a configuration written, patched, read back
// (never with its secrets), survives a restart, and is deleted; bad ones
// are 400s before any replication; start without a runner is a 404.
func TestSyncConfigEndpoints(t *testing.T) {
	c, b := startAPI(t)
	st := createStore(c, "sync")
	get := func() map[string]any {
		t.Helper()
		a := c.Do("GET", "/v2/sync"+q(st, true), nil)
		expect(t, a, 200, "")
		if strings.Contains(a.Raw, "s3cret") || strings.Contains(a.Raw, "pa55") {
			t.Fatalf("GET /v2/sync shows a secret: %s", a.Raw)
		}
		return a.Body
	}
	if got := get(); got["configured"] != false {
		t.Fatalf("before any POST: %v", got)
	}
	a := c.Do("POST", "/v2/sync"+q(st, true), map[string]any{
		"source":   map[string]any{"type": "feed", "url": "https://user:pa55@shop.example/feed.json", "token": "s3cret"},
		"schedule": map[string]any{"every": "2h"}})
	expect(t, a, 200, "")
	if strings.Contains(a.Raw, "s3cret") || strings.Contains(a.Raw, "pa55") {
		t.Fatalf("POST answer shows a secret: %s", a.Raw)
	}
	got := get()
	src := got["sync"].(map[string]any)["source"].(map[string]any)
	if got["configured"] != true || src["token"] != "REDACTED" || got["sync"].(map[string]any)["schedule"].(map[string]any)["every"] != "2h" {
		t.Fatalf("after POST: %v", got)
	}
	// PATCH with what GET showed keeps the token; the schedule changes.
	expect(t, c.Do("PATCH", "/v2/sync"+q(st, true), map[string]any{"source": map[string]any{"token": "REDACTED"}, "schedule": "manual"}), 200, "")
	b.restart(t)
	stored, ok := b.eng.Store(st.ID).SyncConfig()
	if !ok || stored.Source.Token != "s3cret" || stored.Schedule.String() != `"manual"` {
		t.Fatalf("stored after PATCH and restart: token kept %v, schedule %s", stored.Source.Token == "s3cret", stored.Schedule)
	}
	for _, bad := range []map[string]any{
		{"source": map[string]any{"type": "ftp", "url": "https://x"}},
		{"source": map[string]any{"type": "feed", "url": "https://x"}, "schedule": map[string]any{"every": "1s"}},
		{"source": map[string]any{"type": "feed", "url": "https://x"}, "sheduel": "manual"},
		{"schedule": "manual"},
	} {
		expect(t, c.Do("POST", "/v2/sync"+q(st, true), bad), 400, "")
	}
	expect(t, c.Do("GET", "/v2/sync"+q(st, false), nil), 403, "")
	status := c.Do("GET", "/v2/sync/status"+q(st, true), nil)
	expect(t, status, 200, "")
	if status.Body["configured"] != true || status.Body["next_run"] != nil {
		t.Fatalf("status of a manual sync: %v", status.Body)
	}
	runs := c.Do("GET", "/v2/sync/runs"+q(st, true), nil)
	expect(t, runs, 200, "")
	if l, _ := runs.Body["runs"].([]any); l == nil || len(l) != 0 {
		t.Fatalf("runs before any: %v", runs.Raw)
	}
	expect(t, c.Do("POST", "/v2/sync/start"+q(st, true), nil), 404, "")
	expect(t, c.Do("DELETE", "/v2/sync"+q(st, true), nil), 200, "")
	if got := get(); got["configured"] != false {
		t.Fatalf("after DELETE: %v", got)
	}
	expect(t, c.Do("PATCH", "/v2/sync"+q(st, true), map[string]any{"schedule": "manual"}), 404, "")
}
