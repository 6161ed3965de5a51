package engine

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/ingest/source"
	"github.com/sibylhq/sibyl/shard/statemachine"
)

// Applying Data Sync commands: "sync.upsert" (a whole SyncConfig),
// "sync.patch" (a SyncPatch), "sync.delete" (no body) and
// "sync_runs.upsert" (a SyncRun). Each is decoded strictly and validated
// before anything is written, as merchandising commands are: the API
// validated them, but a log entry may come from anywhere and must not
// panic a replica.

// splitSyncOp recognizes the ops of the sync kinds.
func splitSyncOp(op string) (ingest.Kind, string, bool) {
	kind, action, ok := strings.Cut(op, ".")
	if !ok {
		return "", "", false
	}
	switch ingest.Kind(kind) {
	case KindSync:
		if action != ActionUpsert && action != ActionPatch && action != ActionDelete {
			return "", "", false
		}
	case KindSyncRuns:
		if action != ActionUpsert {
			return "", "", false
		}
	default:
		return "", "", false
	}
	return ingest.Kind(kind), action, true
}

// applySync runs a sync command.
func (e *Engine) applySync(w statemachine.Writer, cmd *statemachine.Command, kind ingest.Kind, action string) any {
	s, created := e.storeForWrite(cmd.Store)
	p := &s.sync
	p.mu.Lock()
	defer p.mu.Unlock()
	res, err := p.apply(w, s.ID, kind, action, cmd.Body)
	if err != nil {
		e.dropIfCreated(s, created)
		return err
	}
	e.syncChanges.Add(1)
	return res
}

// apply runs one command with mu locked.
func (p *syncPart) apply(w statemachine.Writer, store string, kind ingest.Kind, action string, body []byte) (Result, error) {
	if kind == KindSyncRuns {
		var run SyncRun
		if err := decodeStrict(body, &run); err != nil {
			return Result{}, fmt.Errorf("%w: sync run: %v", ErrRejected, err)
		}
		if err := run.Validate(); err != nil {
			return Result{}, fmt.Errorf("%w: sync run: %v", ErrRejected, err)
		}
		return p.upsertRun(w, store, &run)
	}
	switch action {
	case ActionDelete:
		if p.config == nil {
			return Result{}, nil
		}
		if err := w.Delete(recordKey(store, KindSync, syncConfigKey)); err != nil {
			return Result{}, err
		}
		p.config = nil
		return Result{Applied: 1}, nil
	case ActionPatch:
		if p.config == nil {
			return Result{}, fmt.Errorf("%w: the store has no sync configuration to change", ErrRejected)
		}
		var patch SyncPatch
		if err := decodeStrict(body, &patch); err != nil {
			return Result{}, fmt.Errorf("%w: sync patch: %v", ErrRejected, err)
		}
		next, err := patch.ApplyTo(*p.config)
		if err != nil {
			return Result{}, fmt.Errorf("%w: %v", ErrRejected, err)
		}
		return p.setConfig(w, store, next)
	}
	var cfg SyncConfig
	if err := decodeStrict(body, &cfg); err != nil {
		return Result{}, fmt.Errorf("%w: sync configuration: %v", ErrRejected, err)
	}
	return p.setConfig(w, store, cfg)
}

func (p *syncPart) setConfig(w statemachine.Writer, store string, cfg SyncConfig) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, fmt.Errorf("%w: sync configuration: %v", ErrRejected, err)
	}
	stored, err := json.Marshal(cfg)
	if err != nil {
		return Result{}, fmt.Errorf("%w: sync configuration: %v", ErrRejected, err)
	}
	if err := w.Set(recordKey(store, KindSync, syncConfigKey), stored); err != nil {
		return Result{}, err
	}
	p.config = &cfg
	return Result{Applied: 1}, nil
}

// upsertRun stores a run and drops the oldest beyond MaxSyncRuns (by
// start time, then id: the same on every replica).
func (p *syncPart) upsertRun(w statemachine.Writer, store string, run *SyncRun) (Result, error) {
	stored, err := json.Marshal(run)
	if err != nil {
		return Result{}, fmt.Errorf("%w: sync run: %v", ErrRejected, err)
	}
	if err := checkRecord(0, ingest.ID(run.ID), stored); err != nil {
		return Result{}, err
	}
	if err := w.Set(recordKey(store, KindSyncRuns, ingest.ID(run.ID)), stored); err != nil {
		return Result{}, err
	}
	if p.runs == nil {
		p.runs = make(map[string]*SyncRun)
	}
	p.runs[run.ID] = run
	for len(p.runs) > MaxSyncRuns {
		var oldest *SyncRun
		for _, r := range p.runs {
			if oldest == nil || r.Started.Before(oldest.Started) || (r.Started.Equal(oldest.Started) && r.ID < oldest.ID) {
				oldest = r
			}
		}
		if err := w.Delete(recordKey(store, KindSyncRuns, ingest.ID(oldest.ID))); err != nil {
			return Result{}, err
		}
		delete(p.runs, oldest.ID)
	}
	return Result{Applied: 1}, nil
}

// ApplyTo returns cfg changed by the patch, validated.
func (patch SyncPatch) ApplyTo(cfg SyncConfig) (SyncConfig, error) {
	if patch.Source != nil {
		cur, err := json.Marshal(cfg.Source)
		if err != nil {
			return cfg, err
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(cur, &obj); err != nil {
			return cfg, err
		}
		for k, v := range patch.Source {
			if slices.Contains(source.SecretFields, k) && string(v) == `"`+source.RedactedPlaceholder+`"` {
				continue // GET showed the placeholder; the secret stays
			}
			if string(v) == "null" {
				delete(obj, k)
				continue
			}
			obj[k] = v
		}
		merged, err := json.Marshal(obj)
		if err != nil {
			return cfg, err
		}
		src, err := source.ParseConfig(merged)
		if err != nil {
			return cfg, fmt.Errorf("source: %v", err)
		}
		cfg.Source = src
	}
	if patch.Schedule != nil {
		cfg.Schedule = *patch.Schedule
	}
	if patch.AllowMassDelete != nil {
		cfg.AllowMassDelete = *patch.AllowMassDelete
	}
	if !patch.Updated.IsZero() {
		cfg.Updated = patch.Updated
	}
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// load reads one sync record back from Badger.
func (p *syncPart) load(kind ingest.Kind, key ingest.ID, value []byte) error {
	switch kind {
	case KindSync:
		var cfg SyncConfig
		if err := json.Unmarshal(value, &cfg); err != nil {
			return fmt.Errorf("bad sync configuration: %w", err)
		}
		p.config = &cfg
	case KindSyncRuns:
		var run SyncRun
		if err := json.Unmarshal(value, &run); err != nil {
			return fmt.Errorf("bad sync run %s: %w", ingest.Quote(string(key)), err)
		}
		if p.runs == nil {
			p.runs = make(map[string]*SyncRun)
		}
		p.runs[run.ID] = &run
	}
	return nil
}
