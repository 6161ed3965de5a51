package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/ingest/schedule"
	"github.com/sibylhq/sibyl/ingest/source"
	"github.com/sibylhq/sibyl/shard/statemachine"
)

func syncRun(id string, started time.Time, state string) SyncRun {
	r := SyncRun{ID: id, State: state, Started: started,
		Counts: map[ingest.Kind]*RunCounts{ingest.KindProducts: {Created: 2}}, Errors: []RunError{}}
	if state != RunRunning {
		r.Finished = started.Add(time.Minute)
	}
	return r
}

// TestSyncConfigAndRunsSurviveLoad: the configuration (secrets included,
// for the runner), a patch that keeps a secret sent back redacted, and
// the runs (at most MaxSyncRuns, the oldest dropped) are the same after
// a rebuild from the records.
func TestSyncConfigAndRunsSurviveLoad(t *testing.T) {
	h := newHarness(t)
	t0 := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	cfg := SyncConfig{Source: source.Config{Type: source.TypeFeed, URL: "https://shop.example/feed.json", Token: "s3cret"},
		Schedule: schedule.Every(2 * time.Hour), Updated: t0}
	h.mustApply("s1", Op(KindSync, ActionUpsert), cfg)
	h.mustApply("s1", Op(KindSync, ActionPatch), map[string]any{
		"source": map[string]any{"token": "REDACTED", "url": "https://shop.example/feed2.json"}, "schedule": "manual", "allow_mass_delete": true})
	for i := range MaxSyncRuns + 3 {
		h.mustApply("s1", Op(KindSyncRuns, ActionUpsert), syncRun(fmt.Sprintf("r%03d", i), t0.Add(time.Duration(i)*time.Hour), RunSucceeded))
	}
	last := syncRun("r100", t0.Add(1000*time.Hour), RunRunning)
	h.mustApply("s1", Op(KindSyncRuns, ActionUpsert), last)
	last.State, last.Finished, last.Message = RunFailed, last.Started.Add(time.Second), "feed answered 500"
	h.mustApply("s1", Op(KindSyncRuns, ActionUpsert), last)

	fresh := New(DefaultConfig())
	if err := fresh.Load(h.kv); err != nil {
		t.Fatal(err)
	}
	for name, st := range map[string]*Store{"before": h.e.Store("s1"), "after Load": fresh.Store("s1")} {
		got, ok := st.SyncConfig()
		if !ok || got.Source.Token != "s3cret" || got.Source.URL != "https://shop.example/feed2.json" ||
			got.Schedule != schedule.Manual() || !got.AllowMassDelete || !got.Updated.Equal(t0) {
			t.Errorf("%s: config %+v", name, got)
		}
		if red := got.Redacted(); red.Source.Token != "REDACTED" {
			t.Errorf("%s: redacted token %q", name, red.Source.Token)
		}
		runs := st.SyncRuns()
		if len(runs) != MaxSyncRuns || runs[0].ID != "r100" || runs[0].State != RunFailed || runs[1].ID != "r052" || runs[len(runs)-1].ID != "r004" {
			t.Errorf("%s: %d runs, first %s %s, second %s, last %s", name, len(runs), runs[0].ID, runs[0].State, runs[1].ID, runs[len(runs)-1].ID)
		}
		if r, failures, ok := st.LastFinishedRun(); !ok || r.ID != "r100" || failures != 1 {
			t.Errorf("%s: last finished %s, %d failures", name, r.ID, failures)
		}
	}
	if got := fresh.SyncStores(); len(got) != 1 || got[0] != "s1" {
		t.Errorf("SyncStores = %v", got)
	}
	h.mustApply("s1", Op(KindSync, ActionDelete), nil)
	if _, ok := h.e.Store("s1").SyncConfig(); ok {
		t.Error("the configuration survived its delete")
	}
}

// TestSyncRejectsBadCommands: bad bodies are rejected and change nothing.
func TestSyncRejectsBadCommands(t *testing.T) {
	h := newHarness(t)
	t0 := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	bad := func(op string, body any) {
		t.Helper()
		res := h.apply("s2", op, body)
		if err, ok := res.(error); !ok || !errors.Is(err, ErrRejected) {
			t.Errorf("%s %v: got %v, want a rejection", op, body, res)
		}
	}
	bad(Op(KindSync, ActionUpsert), map[string]any{"source": map[string]any{"type": "nope"}})
	bad(Op(KindSync, ActionUpsert), map[string]any{"source": map[string]any{"type": "feed", "url": "https://x"}, "extra": 1})
	bad(Op(KindSync, ActionPatch), map[string]any{"schedule": "manual"}) // nothing to patch
	bad(Op(KindSyncRuns, ActionUpsert), SyncRun{ID: "a/b", State: RunRunning, Started: t0})
	bad(Op(KindSyncRuns, ActionUpsert), SyncRun{ID: "r", State: "done", Started: t0})
	bad(Op(KindSyncRuns, ActionUpsert), SyncRun{ID: "r", State: RunRunning})
	bad(Op(KindSyncRuns, ActionUpsert), "not a run")
	bad("sync_runs.delete", []string{"r"})
	if st := h.e.Store("s2"); st != nil {
		t.Errorf("rejected commands left a store behind")
	}
}

// FuzzSyncApply: no sync command body panics a replica, a rejected one
// writes nothing, and what an accepted one leaves in memory is what a
// Load of its keys rebuilds.
func FuzzSyncApply(f *testing.F) {
	f.Add("sync.upsert", []byte(`{"source":{"type":"feed","url":"https://x/f.json","token":"t"},"schedule":{"every":"2h"},"allow_mass_delete":false,"updated":"2026-01-02T03:04:05Z"}`))
	f.Add("sync.patch", []byte(`{"source":{"token":"REDACTED","url":"https://y"},"schedule":"manual","updated":"2026-01-02T03:04:05Z"}`))
	f.Add("sync.delete", []byte(nil))
	f.Add("sync_runs.upsert", []byte(`{"id":"r1","state":"succeeded","started":"2026-01-02T03:04:05Z","finished":"2026-01-02T03:05:05Z","counts":{"products":{"created":1,"updated":0,"deleted":0,"rejected":0}},"bytes":10,"errors":[]}`))
	f.Fuzz(func(t *testing.T, op string, body []byte) {
		h := newHarness(t)
		h.mustApply("s", Op(KindSync, ActionUpsert), SyncConfig{Source: source.Config{Type: source.TypeFeed, URL: "https://x/f.json"}})
		h.mustApply("s", Op(KindSyncRuns, ActionUpsert), syncRun("r0", time.Unix(1e9, 0).UTC(), RunRunning))
		before := fmt.Sprint(h.kv)
		res := h.e.Apply(h.kv, &statemachine.Command{ID: "x", Store: "s", Op: op, Time: 2, Body: body})
		if err, ok := res.(error); ok {
			if !errors.Is(err, ErrRejected) {
				t.Fatalf("a rejection that is not ErrRejected: %v", err)
			}
			if fmt.Sprint(h.kv) != before {
				t.Fatalf("rejected %s wrote to the state: %v", op, err)
			}
		}
		fresh := New(DefaultConfig())
		if err := fresh.Load(h.kv); err != nil {
			t.Fatalf("state written by %s does not load: %v", op, err)
		}
		a, b := h.e.Store("s"), fresh.Store("s")
		ca, oka := a.SyncConfig()
		cb, okb := b.SyncConfig()
		ja, _ := json.Marshal([]any{oka, ca, a.SyncRuns()})
		jb, _ := json.Marshal([]any{okb, cb, b.SyncRuns()})
		if !bytes.Equal(ja, jb) {
			t.Fatalf("memory and the stored state differ after %s:\n%s\n%s", op, ja, jb)
		}
	})
}

// A PATCH that sends the webhook secret back as GET showed it keeps it;
// a new value replaces it.
func TestSyncPatchKeepsWebhookSecret(t *testing.T) {
	cfg := SyncConfig{Source: source.Config{Type: source.TypeShopify, URL: "https://s.myshopify.com", Token: "shpat_1", WebhookSecret: "whsec_1"}}
	next, err := SyncPatch{Source: map[string]json.RawMessage{"webhook_secret": json.RawMessage(`"REDACTED"`), "token": json.RawMessage(`"REDACTED"`),
		"currency": json.RawMessage(`"EUR"`)}}.ApplyTo(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if next.Source.WebhookSecret != "whsec_1" || next.Source.Token != "shpat_1" || next.Source.Currency != "EUR" {
		t.Errorf("patched = %+v", next.Source)
	}
	next, err = SyncPatch{Source: map[string]json.RawMessage{"webhook_secret": json.RawMessage(`"whsec_2"`)}}.ApplyTo(cfg)
	if err != nil || next.Source.WebhookSecret != "whsec_2" {
		t.Errorf("patched = %+v, %v", next.Source, err)
	}
}
