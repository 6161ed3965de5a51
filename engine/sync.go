package engine

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/ingest/schedule"
	"github.com/sibylhq/sibyl/ingest/source"
)

// Data Sync (issue 14): a store's sync configuration and the record of
// its last runs are replicated like merchandising, one Badger key each,
// "s/<store>/sync/config" and "s/<store>/sync_runs/<run id>", so Load and
// snapshots carry them unchanged and every replica (a new leader too)
// knows the configuration and the last run. The commands carry every
// time they store: apply reads no clock.

// Kinds of the Data Sync records.
const (
	KindSync     ingest.Kind = "sync"
	KindSyncRuns ingest.Kind = "sync_runs"
)

// syncConfigKey is the key of a store's one sync configuration.
const syncConfigKey = "config"

// Run states, as /v2/sync/runs spells them.
const (
	RunRunning   = "running"
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
	RunRefused   = "refused"
)

// Bounds of the run records.
const (
	// MaxSyncRuns is how many runs a store keeps; an upsert beyond it
	// drops the oldest.
	MaxSyncRuns = 50
	// MaxRunErrors is how many record errors a run keeps.
	MaxRunErrors = 100
	// maxRunIDBytes, maxRunMessageBytes bound a run's strings.
	maxRunIDBytes      = 64
	maxRunMessageBytes = 2048
	maxRunErrorBytes   = 512
)

// SyncConfig is a store's Data Sync configuration.
type SyncConfig struct {
	// Source is where the store's data is read; it holds the source's
	// secrets, which only Redacted hides (see SyncConfig.Redacted).
	Source source.Config `json:"source"`
	// Schedule says when the store syncs on its own.
	Schedule schedule.Schedule `json:"schedule"`
	// AllowMassDelete lets a sync delete more than the mirror's safety
	// valve allows (ingest/mirror.Config.AllowMassDelete).
	AllowMassDelete bool `json:"allow_mass_delete"`
	// Updated is when the configuration was last written (from the
	// command).
	Updated time.Time `json:"updated"`
}

// Validate reports a configuration that cannot run, without quoting a
// secret.
func (c SyncConfig) Validate() error {
	if err := c.Source.Validate(); err != nil {
		return fmt.Errorf("source: %w", err)
	}
	if err := c.Schedule.Validate(); err != nil {
		return fmt.Errorf("schedule: %w", err)
	}
	return nil
}

// Redacted returns c with the source's secrets replaced: what an answer
// or a log may show.
func (c SyncConfig) Redacted() SyncConfig {
	c.Source = c.Source.Redacted()
	return c
}

// RunCounts are a run's records of one kind.
type RunCounts struct {
	Created  int `json:"created"`
	Updated  int `json:"updated"`
	Deleted  int `json:"deleted"`
	Rejected int `json:"rejected"`
}

// RunError is one record a run rejected.
type RunError struct {
	Kind    ingest.Kind `json:"kind"`
	ID      ingest.ID   `json:"id,omitempty"`
	Field   string      `json:"field,omitempty"`
	Message string      `json:"message"`
}

// SyncRun is the record of one sync run; the runner upserts it when the
// run starts and again when it ends.
type SyncRun struct {
	ID       string                     `json:"id"`
	State    string                     `json:"state"`
	Started  time.Time                  `json:"started"`
	Finished time.Time                  `json:"finished,omitzero"`
	Counts   map[ingest.Kind]*RunCounts `json:"counts"`
	Bytes    int64                      `json:"bytes"`
	Errors   []RunError                 `json:"errors"`
	Message  string                     `json:"message,omitempty"`
	// Node is the node that ran it.
	Node string `json:"node,omitempty"`
	// Products is the store's product count after a complete sync
	// (mirrored: what the source no longer has deleted); absent for a
	// run that did not complete, and in records of older versions.
	Products *int `json:"products,omitempty"`
}

// Validate reports a run record apply must refuse.
func (r *SyncRun) Validate() error {
	if r.ID == "" || len(r.ID) > maxRunIDBytes || strings.ContainsAny(r.ID, "/\x00") {
		return fmt.Errorf("run id must be 1..%d bytes without '/'", maxRunIDBytes)
	}
	switch r.State {
	case RunRunning, RunSucceeded, RunFailed, RunRefused:
	default:
		return fmt.Errorf("unknown run state %s", ingest.Quote(r.State))
	}
	if r.Started.IsZero() {
		return fmt.Errorf("run %s has no start time", ingest.Quote(r.ID))
	}
	if r.State != RunRunning && r.Finished.Before(r.Started) {
		return fmt.Errorf("run %s finished before it started", ingest.Quote(r.ID))
	}
	if len(r.Errors) > MaxRunErrors {
		return fmt.Errorf("%d run errors, at most %d", len(r.Errors), MaxRunErrors)
	}
	for _, e := range r.Errors {
		if len(e.Message) > maxRunErrorBytes || len(e.ID) > maxRunErrorBytes || len(e.Field) > maxRunErrorBytes {
			return fmt.Errorf("a run error is longer than %d bytes", maxRunErrorBytes)
		}
	}
	if len(r.Message) > maxRunMessageBytes || len(r.Node) > maxRunIDBytes {
		return fmt.Errorf("run message or node longer than allowed")
	}
	for k, c := range r.Counts {
		if !slices.Contains(ingest.Kinds, k) || c == nil {
			return fmt.Errorf("counts of unknown kind %s", ingest.Quote(string(k)))
		}
	}
	if r.Bytes < 0 {
		return fmt.Errorf("negative byte count")
	}
	if r.Products != nil && *r.Products < 0 {
		return fmt.Errorf("negative product count")
	}
	return nil
}

// Outcome is the run's state as the scheduler knows it.
func (r *SyncRun) Outcome() schedule.Outcome {
	switch r.State {
	case RunSucceeded:
		return schedule.OutcomeSucceeded
	case RunFailed:
		return schedule.OutcomeFailed
	case RunRefused:
		return schedule.OutcomeRefused
	}
	return schedule.OutcomeNone
}

// SyncPatch is the body of a "sync.patch" command: the fields it names
// change, the others stay. Source members are merged one by one, and a
// secret sent back as source.Redacted's placeholder keeps its value (a
// client may PATCH what GET showed it).
type SyncPatch struct {
	Source          map[string]json.RawMessage `json:"source,omitempty"`
	Schedule        *schedule.Schedule         `json:"schedule,omitempty"`
	AllowMassDelete *bool                      `json:"allow_mass_delete,omitempty"`
	Updated         time.Time                  `json:"updated"`
}

// syncPart holds a store's sync configuration and runs. mu is a leaf
// lock.
type syncPart struct {
	mu     sync.RWMutex
	config *SyncConfig
	runs   map[string]*SyncRun
}

// SyncConfig returns the store's sync configuration (secrets included:
// for the runner; answers show Redacted) and whether it has one.
func (s *Store) SyncConfig() (SyncConfig, bool) {
	s.sync.mu.RLock()
	defer s.sync.mu.RUnlock()
	if s.sync.config == nil {
		return SyncConfig{}, false
	}
	return *s.sync.config, true
}

// SyncRuns returns the store's runs, newest first (by start, then id).
func (s *Store) SyncRuns() []SyncRun {
	s.sync.mu.RLock()
	defer s.sync.mu.RUnlock()
	out := make([]SyncRun, 0, len(s.sync.runs))
	for _, r := range s.sync.runs {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b SyncRun) int {
		if c := b.Started.Compare(a.Started); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out
}

// LastSyncRun returns the store's newest run, false when it has none.
func (s *Store) LastSyncRun() (SyncRun, bool) {
	runs := s.SyncRuns()
	if len(runs) == 0 {
		return SyncRun{}, false
	}
	return runs[0], true
}

// LastFinishedRun returns the newest run that ended (what the schedule
// counts from), and how many failed in a row before and including it.
func (s *Store) LastFinishedRun() (run SyncRun, failures int, ok bool) {
	for _, r := range s.SyncRuns() {
		if r.State == RunRunning {
			continue
		}
		if !ok {
			run, ok = r, true
		}
		if r.State != RunFailed {
			break
		}
		failures++
	}
	return run, failures, ok
}

// RecordIDs returns the ids of the store's records of kind, sorted. The
// slice is shared with the store's cache: callers must not change it.
func (s *Store) RecordIDs(kind ingest.Kind) []ingest.ID { return s.sortedIDs(kind) }

// SyncStores lists the stores of the shard that have a sync
// configuration.
func (e *Engine) SyncStores() []string {
	e.mu.RLock()
	stores := make([]*Store, 0, len(e.stores))
	for _, s := range e.stores {
		stores = append(stores, s)
	}
	e.mu.RUnlock()
	var out []string
	for _, s := range stores {
		if _, ok := s.SyncConfig(); ok {
			out = append(out, s.ID)
		}
	}
	slices.Sort(out)
	return out
}

// SyncChanges counts the sync commands applied and the loads: a runner
// rereads the shard's configurations only when it moved.
func (e *Engine) SyncChanges() uint64 { return e.syncChanges.Load() }

// EncodeSync encodes the body of a sync command (a SyncConfig, a
// SyncPatch or a SyncRun): engine owns the format apply decodes.
func EncodeSync(v any) ([]byte, error) { return json.Marshal(v) }

// SyncState is what the schedule needs of the store's last finished
// run (the zero State when it never synced).
func (s *Store) SyncState() schedule.State {
	run, failures, ok := s.LastFinishedRun()
	if !ok {
		return schedule.State{}
	}
	return schedule.State{LastStart: run.Started, LastFinish: run.Finished, LastDuration: run.Finished.Sub(run.Started),
		Outcome: run.Outcome(), Failures: failures}
}

// RunningSync returns the id of the store's run recorded as running,
// "" when none is.
func (s *Store) RunningSync() string {
	for _, r := range s.SyncRuns() {
		if r.State == RunRunning {
			return r.ID
		}
	}
	return ""
}
