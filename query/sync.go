package query

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/sibylhq/sibyl/engine"
	"github.com/sibylhq/sibyl/ingest/schedule"
	"github.com/sibylhq/sibyl/ingest/source"
	"github.com/valyala/fasthttp"
)

// Data Sync endpoints (private key): /v2/sync holds a store's source and
// schedule, replicated like merchandising (validated here so that a bad
// configuration is a 400 before any replication, and again at apply);
// /v2/sync/start asks the node leading the store's shard to run it now;
// /v2/sync/status and /v2/sync/runs read the local replica. No answer
// ever holds a source's secrets: configurations are shown Redacted.

// syncStore is what these endpoints read of a store; *engine.Store has
// it. It is not part of StoreReader so that test fakes need not grow.
type syncStore interface {
	SyncConfig() (engine.SyncConfig, bool)
	SyncRuns() []engine.SyncRun
	SyncState() schedule.State
	RunningSync() string
}

var _ syncStore = (*engine.Store)(nil)

// SyncRunner is implemented by a Backend that runs Data Sync (node). The
// route table marks /v2/sync/start a shard write, so StartSync is called
// on the node leading the store's shard.
type SyncRunner interface {
	// StartSync starts the store's sync as soon as a slot is free (after
	// the run in progress, if any) and returns the id the run will have.
	StartSync(ctx context.Context, store string) (runID string, err error)
}

// ErrNoSyncConfig is returned by StartSync for a store without a sync
// configuration (404).
var ErrNoSyncConfig = errors.New("the store has no sync configuration: POST /v2/sync first")

func syncOf(st StoreReader) syncStore {
	m, _ := st.(syncStore)
	return m
}

// syncFields are the members a POST /v2/sync body may have.
var syncFields = []string{"key", "private_key", "source", "schedule", "allow_mass_delete"}

// handleSync serves /v2/sync: GET the configuration, POST create or
// replace it, PATCH change some of its fields, DELETE it.
func (s *Server) handleSync(r *request) error {
	switch {
	case r.ctx.IsGet() || r.ctx.IsHead():
		cur, ok, err := s.syncConfig(r)
		if err != nil {
			return err
		}
		out := map[string]any{"status": "ok", "configured": ok, "sync": nil}
		if ok {
			out["sync"] = cur.Redacted()
		}
		return writeJSON(r.ctx, out)
	case r.ctx.IsPost() || r.ctx.IsPut():
		return s.postSync(r)
	case r.ctx.IsPatch():
		return s.patchSync(r)
	case r.ctx.IsDelete():
		return s.proposeSync(r, engine.ActionDelete, nil, nil)
	}
	return &APIError{Status: fasthttp.StatusMethodNotAllowed, Type: ErrTypeMethod, Message: "use GET, POST, PATCH or DELETE"}
}

func (s *Server) syncConfig(r *request) (engine.SyncConfig, bool, error) {
	st, serr := s.backend.StoreData(r.store)
	if serr != nil {
		return engine.SyncConfig{}, false, s.backendErr(serr)
	}
	if ss := syncOf(st); ss != nil {
		cfg, ok := ss.SyncConfig()
		return cfg, ok, nil
	}
	return engine.SyncConfig{}, false, nil
}

func (s *Server) checkSyncFields(r *request) error {
	for k := range r.p.body {
		if !slices.Contains(syncFields, k) {
			return errBadRequest("unknown member %s: a sync is {\"source\": {...}, \"schedule\": ..., \"allow_mass_delete\": false}", quote(k))
		}
	}
	return nil
}

func (s *Server) postSync(r *request) error {
	if err := s.checkSyncFields(r); err != nil {
		return err
	}
	raw, ok := r.p.body["source"]
	if !ok {
		return errBadRequest("a sync needs a \"source\": {\"type\": \"feed\", \"url\": \"https://...\"}")
	}
	src, err := source.ParseConfig(raw)
	if err != nil {
		return errBadRequest("source: %v", err)
	}
	cfg := engine.SyncConfig{Source: src, Schedule: schedule.WhenNeeded(), Updated: time.Now().UTC()}
	if raw, ok := r.p.body["schedule"]; ok {
		if err := json.Unmarshal(raw, &cfg.Schedule); err != nil {
			return errBadRequest("schedule: %v (\"when_needed\", \"manual\", {\"every\": \"2h\"} or {\"windows\": [3, 4]})", err)
		}
	}
	if raw, ok := r.p.body["allow_mass_delete"]; ok {
		if err := json.Unmarshal(raw, &cfg.AllowMassDelete); err != nil {
			return errBadRequest("allow_mass_delete must be true or false")
		}
	}
	if err := cfg.Validate(); err != nil {
		return errBadRequest("%v", err)
	}
	return s.proposeSync(r, engine.ActionUpsert, cfg, &cfg)
}

func (s *Server) patchSync(r *request) error {
	if err := s.checkSyncFields(r); err != nil {
		return err
	}
	patch := engine.SyncPatch{Updated: time.Now().UTC()}
	if raw, ok := r.p.body["source"]; ok {
		if err := json.Unmarshal(raw, &patch.Source); err != nil || patch.Source == nil {
			return errBadRequest("source must be an object of the members to change")
		}
	}
	if raw, ok := r.p.body["schedule"]; ok {
		var sch schedule.Schedule
		if err := json.Unmarshal(raw, &sch); err != nil {
			return errBadRequest("schedule: %v", err)
		}
		patch.Schedule = &sch
	}
	if raw, ok := r.p.body["allow_mass_delete"]; ok {
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return errBadRequest("allow_mass_delete must be true or false")
		}
		patch.AllowMassDelete = &b
	}
	// Checked against this replica's configuration (apply merges again
	// against the one the command meets).
	cur, ok, err := s.syncConfig(r)
	if err != nil {
		return err
	}
	if !ok {
		return errNotFound("the store has no sync configuration to change: POST /v2/sync first")
	}
	next, err := patch.ApplyTo(cur)
	if err != nil {
		return errBadRequest("%v", err)
	}
	return s.proposeSync(r, engine.ActionPatch, patch, &next)
}

// proposeSync replicates a sync command and answers with the
// configuration now in force (redacted), when there is one.
func (s *Server) proposeSync(r *request, action string, body any, now *engine.SyncConfig) error {
	var b []byte
	if body != nil {
		var err error
		if b, err = engine.EncodeSync(body); err != nil {
			return errInternal("cannot encode: %v", err)
		}
	}
	var extra map[string]any
	if now != nil {
		extra = map[string]any{"sync": now.Redacted()}
	}
	return s.proposeThen(r, engine.Op(engine.KindSync, action), b, extra)
}

// handleSyncStart is POST /v2/sync/start: the run starts as soon as the
// node has a free slot; the answer names it at once.
func (s *Server) handleSyncStart(r *request) error {
	sr, ok := s.backend.(SyncRunner)
	if !ok {
		return errNotFound("this node does not run syncs")
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.WriteTimeout)
	defer cancel()
	id, err := sr.StartSync(ctx, r.store)
	if errors.Is(err, ErrNoSyncConfig) {
		return errNotFound("%v", err)
	}
	if err != nil {
		return s.backendErr(err)
	}
	return writeJSON(r.ctx, map[string]any{"status": "ok", "run": id})
}

// handleSyncStatus is GET /v2/sync/status: whether the store is
// configured, the run in progress, the last run and when the next one
// is due (computed from the replicated schedule and last run, so every
// replica answers alike).
func (s *Server) handleSyncStatus(r *request) error {
	st, serr := s.backend.StoreData(r.store)
	if serr != nil {
		return s.backendErr(serr)
	}
	out := map[string]any{"status": "ok", "configured": false, "running": nil, "last_run": nil, "next_run": nil, "schedule": nil}
	ss := syncOf(st)
	if ss == nil {
		return writeJSON(r.ctx, out)
	}
	cfg, ok := ss.SyncConfig()
	out["configured"] = ok
	if id := ss.RunningSync(); id != "" {
		out["running"] = id
	}
	if runs := ss.SyncRuns(); len(runs) > 0 {
		out["last_run"] = runs[0]
	}
	if ok {
		out["schedule"] = cfg.Schedule
		if next, due := schedule.Next(r.store, cfg.Schedule, ss.SyncState(), time.Now()); due {
			out["next_run"] = next.UTC()
		}
	}
	return writeJSON(r.ctx, out)
}

// handleSyncRuns is GET /v2/sync/runs: the last runs, newest first.
func (s *Server) handleSyncRuns(r *request) error {
	st, serr := s.backend.StoreData(r.store)
	if serr != nil {
		return s.backendErr(serr)
	}
	runs := []engine.SyncRun{}
	if ss := syncOf(st); ss != nil {
		runs = ss.SyncRuns()
	}
	return writeJSON(r.ctx, map[string]any{"status": "ok", "runs": runs})
}
