// Package meta is the state machine of the meta Raft group: the store
// registry and its keys. (The placement table joins it with the cluster
// work.) It implements shard.StateMachine so that the meta group runs on
// the same Raft and Badger machinery as the data shards.
package meta

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/sibylhq/sibyl/shard"
)

// OpCreateStore registers a store. Its body is a StoreInfo whose id and
// keys were minted by the proposer: randomness travels in the command so
// that every replica applies the same store.
const OpCreateStore = "store.create"

// Errors callers branch on.
var (
	ErrStoreExists = errors.New("store already exists")
	ErrBadStore    = errors.New("invalid store")
)

// StoreInfo is a registered store and its keys.
type StoreInfo struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	PublicKey  string `json:"public_key"`
	PrivateKey string `json:"private_key"`
	// CreatedAt is unix milliseconds, the creating command's time.
	CreatedAt int64 `json:"created_at"`
}

// KeyKind says what a key may do.
type KeyKind int

const (
	// PublicKey reads recommendations and logs events; safe in a browser.
	PublicKey KeyKind = iota + 1
	// PrivateKey also writes data and reads customer data.
	PrivateKey
)

// Registry is the meta group's state.
type Registry struct {
	mu     sync.RWMutex
	stores map[string]StoreInfo
	keys   map[string]keyEntry
}

type keyEntry struct {
	store string
	kind  KeyKind
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{stores: make(map[string]StoreInfo), keys: make(map[string]keyEntry)}
}

// NewStoreInfo mints an id and a key pair for a new store.
func NewStoreInfo(name string, nowMillis int64) (StoreInfo, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return StoreInfo{}, fmt.Errorf("%w: name is required", ErrBadStore)
	}
	if len(name) > 200 {
		return StoreInfo{}, fmt.Errorf("%w: name is longer than 200 bytes", ErrBadStore)
	}
	return StoreInfo{
		ID:         "st_" + randomHex(8),
		Name:       name,
		PublicKey:  "pk_" + randomHex(16),
		PrivateKey: "sk_" + randomHex(24),
		CreatedAt:  nowMillis,
	}, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error()) // the OS is broken
	}
	return hex.EncodeToString(b)
}

const storeKeyPrefix = "store/"

// Apply implements shard.StateMachine.
func (r *Registry) Apply(w shard.Writer, cmd *shard.Command) any {
	switch cmd.Op {
	case OpCreateStore:
		var st StoreInfo
		if err := json.Unmarshal(cmd.Body, &st); err != nil {
			return fmt.Errorf("%w: %v", ErrBadStore, err)
		}
		if st.ID == "" || st.PublicKey == "" || st.PrivateKey == "" {
			return fmt.Errorf("%w: id and keys are required", ErrBadStore)
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if _, ok := r.stores[st.ID]; ok {
			return fmt.Errorf("%w: %s", ErrStoreExists, st.ID)
		}
		if _, ok := r.keys[st.PublicKey]; ok {
			return fmt.Errorf("%w: key collision", ErrStoreExists)
		}
		if _, ok := r.keys[st.PrivateKey]; ok {
			return fmt.Errorf("%w: key collision", ErrStoreExists)
		}
		b, _ := json.Marshal(st)
		if err := w.Set([]byte(storeKeyPrefix+st.ID), b); err != nil {
			return err
		}
		r.addLocked(st)
		return st
	default:
		return fmt.Errorf("unknown meta op %q", cmd.Op)
	}
}

func (r *Registry) addLocked(st StoreInfo) {
	r.stores[st.ID] = st
	r.keys[st.PublicKey] = keyEntry{st.ID, PublicKey}
	r.keys[st.PrivateKey] = keyEntry{st.ID, PrivateKey}
}

// Load implements shard.StateMachine.
func (r *Registry) Load(rd shard.Reader) error {
	stores := make(map[string]StoreInfo)
	err := rd.Iterate([]byte(storeKeyPrefix), func(_, v []byte) error {
		var st StoreInfo
		if err := json.Unmarshal(v, &st); err != nil {
			return fmt.Errorf("bad store record: %w", err)
		}
		stores[st.ID] = st
		return nil
	})
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stores = make(map[string]StoreInfo, len(stores))
	r.keys = make(map[string]keyEntry, 2*len(stores))
	for _, st := range stores {
		r.addLocked(st)
	}
	return nil
}

// Authenticate resolves an API key to its store and what it may do.
func (r *Registry) Authenticate(key string) (store string, kind KeyKind, ok bool) {
	r.mu.RLock()
	e, ok := r.keys[key]
	r.mu.RUnlock()
	return e.store, e.kind, ok
}

// Store returns a registered store.
func (r *Registry) Store(id string) (StoreInfo, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	st, ok := r.stores[id]
	return st, ok
}

// Stores lists the registered stores by id.
func (r *Registry) Stores() []StoreInfo {
	r.mu.RLock()
	out := make([]StoreInfo, 0, len(r.stores))
	for _, st := range r.stores {
		out = append(out, st)
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
