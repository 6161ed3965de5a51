// Package engine is a data shard's in-memory state: every store of the
// shard, its records, and the derived statistics the Prediction API reads.
//
// Engine implements statemachine.StateMachine. Raft drives Apply; the query layer
// reads a Store, whose parts (catalog, sales, sessions, models) each have
// their own lock (see Store for the lock order). Durable state is one Badger key per
// record, "s/<store>/<kind>/<id>" holding the record's canonical JSON, so
// Load rebuilds memory by one prefix scan.
package engine

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sibylhq/sibyl/compute"
	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/shard/statemachine"
)

// Ops understood by Apply. The body of an upsert is a JSON array of records
// of the kind, of a patch a JSON array of partial objects with "id", of a
// delete a JSON array of ids.
const (
	ActionUpsert = "upsert"
	ActionPatch  = "patch"
	ActionDelete = "delete"
)

// metaKind holds a store's bookkeeping keys beside its records.
const metaKind ingest.Kind = "_meta"

// Op builds an op name such as "products.upsert".
func Op(kind ingest.Kind, action string) string { return string(kind) + "." + action }

// ErrRejected wraps the reason a command was refused at apply time (for
// example a patch of a record that does not exist). The FSM records the
// command id all the same: a rejected command is decided, not failed.
var ErrRejected = errors.New("command rejected")

// Result is what Apply returns for an accepted data command.
type Result struct {
	Applied int `json:"applied"`
	// UnknownProducts counts order lines naming a product the catalog does
	// not have: accepted, as Clerk does, and reported for data health.
	UnknownProducts int `json:"unknown_products,omitempty"`
}

// maxStoreIDBytes bounds a command's store id (minted ids are "st_" and
// 24 hex digits): it is part of every record key.
const maxStoreIDBytes = 128

// Engine holds every store of one shard.
type Engine struct {
	mu     sync.RWMutex
	stores map[string]*Store
	cfg    Config
	// syncChanges counts applied sync commands and loads (sync.go).
	syncChanges atomic.Uint64
}

// Config tunes the statistics and models.
type Config struct {
	// Model configures the live statistics and the trained models.
	Model compute.ModelConfig
	// Retrain says when a store's factor model is rebuilt.
	Retrain compute.RetrainPolicy
	// AudienceRecentDays: a customer who bought an offered product this
	// many days before the store's newest order is left out of its
	// audience (they just bought it).
	AudienceRecentDays int
}

// DefaultConfig is the configuration of a node started with no flags.
func DefaultConfig() Config {
	return Config{Model: compute.DefaultModelConfig(), Retrain: compute.DefaultRetrainPolicy(), AudienceRecentDays: 30}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if err := c.Model.Validate(); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	if err := c.Retrain.Validate(); err != nil {
		return fmt.Errorf("retrain: %w", err)
	}
	if c.AudienceRecentDays < 0 {
		return fmt.Errorf("audience recent days must be >= 0, got %d", c.AudienceRecentDays)
	}
	return nil
}

// New returns an empty engine.
func New(cfg Config) *Engine {
	return &Engine{stores: make(map[string]*Store), cfg: cfg}
}

// Store returns the named store's state, or nil when the shard holds no
// data for it yet.
func (e *Engine) Store(id string) *Store {
	e.mu.RLock()
	s := e.stores[id]
	e.mu.RUnlock()
	return s
}

// StoreIDs lists the stores with data in this shard.
func (e *Engine) StoreIDs() []string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	ids := make([]string, 0, len(e.stores))
	for id := range e.stores {
		ids = append(ids, id)
	}
	return ids
}

func (e *Engine) storeForWrite(id string) (s *Store, created bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s = e.stores[id]
	if s == nil {
		s = newStore(id, e.cfg)
		e.stores[id] = s
		created = true
	}
	return s, created
}

// dropIfCreated forgets a store made for a command that was rejected:
// the command wrote nothing, so the store must not exist in memory
// either (rejected commands naming new stores would otherwise pile up
// empty stores that a restart does not have).
func (e *Engine) dropIfCreated(s *Store, created bool) {
	if !created {
		return
	}
	e.mu.Lock()
	if e.stores[s.ID] == s {
		delete(e.stores, s.ID)
	}
	e.mu.Unlock()
}

// Apply implements statemachine.StateMachine.
func (e *Engine) Apply(w statemachine.Writer, cmd *statemachine.Command) any {
	if cmd.Store == "" {
		return fmt.Errorf("%w: command %s has no store", ErrRejected, ingest.Quote(cmd.ID))
	}
	if len(cmd.Store) > maxStoreIDBytes {
		return fmt.Errorf("%w: store id of %d bytes, at most %d allowed: %s", ErrRejected, len(cmd.Store), maxStoreIDBytes, ingest.Quote(cmd.Store))
	}
	if kind, action, ok := splitMerchOp(cmd.Op); ok {
		return e.applyMerch(w, cmd, kind, action)
	}
	if kind, action, ok := splitSyncOp(cmd.Op); ok {
		return e.applySync(w, cmd, kind, action)
	}
	kind, action, ok := splitOp(cmd.Op)
	if !ok && cmd.Op != OpEvents {
		return fmt.Errorf("%w: unknown op %s", ErrRejected, ingest.Quote(cmd.Op))
	}
	s, created := e.storeForWrite(cmd.Store)
	var res Result
	var err error
	if cmd.Op == OpEvents {
		// Events change sessions and co-views, not the records or the
		// lists cached per data version: tracking traffic must not
		// invalidate them.
		s.lockEvents()
		defer s.unlockEvents()
		if res, err = s.applyEvents(w, cmd.Body); err != nil {
			e.dropIfCreated(s, created)
			return err
		}
		return res
	}
	s.lockData(kind)
	defer s.unlockData(kind)
	res, err = s.apply(w, kind, action, cmd)
	if err != nil {
		e.dropIfCreated(s, created)
		return err
	}
	s.catalog.version++
	// The version travels with the data, so that a restarted node names
	// the same data by the same version (models record it).
	if err := w.Set(recordKey(s.ID, metaKind, "version"), binary.BigEndian.AppendUint64(nil, s.catalog.version)); err != nil {
		return err
	}
	s.models.lastChange.Store(time.Now().UnixNano())
	return res
}

func splitOp(op string) (ingest.Kind, string, bool) {
	i := bytes.IndexByte([]byte(op), '.')
	if i < 0 {
		return "", "", false
	}
	kind, action := ingest.Kind(op[:i]), op[i+1:]
	switch kind {
	case ingest.KindProducts, ingest.KindCategories, ingest.KindCustomers, ingest.KindOrders, ingest.KindPages:
	default:
		return "", "", false
	}
	switch action {
	case ActionUpsert, ActionPatch, ActionDelete:
	default:
		return "", "", false
	}
	return kind, action, true
}

// Load implements statemachine.StateMachine: it drops memory and rebuilds every
// store from the shard's records.
func (e *Engine) Load(r statemachine.Reader) error {
	fresh := make(map[string]*Store)
	err := r.Iterate([]byte("s/"), func(key, value []byte) error {
		store, kind, _, err := parseKey(key)
		if err != nil {
			return err
		}
		s := fresh[store]
		if s == nil {
			s = newStore(store, e.cfg)
			fresh[store] = s
		}
		if kind == sessionKind {
			_, _, id, _ := parseKey(key)
			return s.sessions.load(store, id, value)
		}
		if kind == searchKind {
			_, _, q, _ := parseKey(key)
			s.sessions.loadSearch(kind, q, value)
			return nil
		}
		if kind == metaKind {
			_, _, name, _ := parseKey(key)
			switch name {
			case "version":
				if len(value) == 8 {
					s.catalog.version = binary.BigEndian.Uint64(value)
				}
			case searchOtherKey:
				s.sessions.loadSearch(kind, name, value)
			case healthEventsKey:
				s.health.loadEvents(value)
			case labelsKey, labelsOtherKey:
				if err := s.sessions.loadLabels(name, value); err != nil {
					return fmt.Errorf("store %s: bad label stats: %w", store, err)
				}
			}
			return nil
		}
		if IsMerchKind(kind) {
			_, _, id, _ := parseKey(key)
			if err := s.merch.load(kind, id, value); err != nil {
				return fmt.Errorf("store %s: %w", store, err)
			}
			return nil
		}
		if kind == KindSync || kind == KindSyncRuns {
			_, _, id, _ := parseKey(key)
			if err := s.sync.load(kind, id, value); err != nil {
				return fmt.Errorf("store %s: %w", store, err)
			}
			return nil
		}
		return s.load(kind, value)
	})
	if err != nil {
		return fmt.Errorf("cannot load shard state: %w", err)
	}
	for _, s := range fresh {
		s.finishLoad()
	}
	e.mu.Lock()
	e.stores = fresh
	e.mu.Unlock()
	e.syncChanges.Add(1)
	return nil
}

func recordKey(store string, kind ingest.Kind, id ingest.ID) []byte {
	b := make([]byte, 0, 4+len(store)+len(kind)+len(id))
	b = append(b, "s/"...)
	b = append(b, store...)
	b = append(b, '/')
	b = append(b, kind...)
	b = append(b, '/')
	b = append(b, id...)
	return b
}

func parseKey(key []byte) (store string, kind ingest.Kind, id ingest.ID, err error) {
	parts := bytes.SplitN(key, []byte("/"), 4)
	if len(parts) != 4 || string(parts[0]) != "s" {
		return "", "", "", fmt.Errorf("malformed record key %q", key)
	}
	return string(parts[1]), ingest.Kind(parts[2]), ingest.ID(parts[3]), nil
}

func decodeList[T any](body []byte) ([]T, error) {
	var out []T
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("%w: malformed body: %v", ErrRejected, err)
	}
	return out, nil
}
