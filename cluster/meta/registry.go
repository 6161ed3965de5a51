// Package meta is the state machine of the meta Raft group: the store
// registry and its keys. (The placement table joins it with the cluster
// work.) It implements statemachine.StateMachine so that the meta group runs on
// the same Raft and Badger machinery as the data shards.
package meta

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sibylhq/sibyl/shard/statemachine"
)

// Registry commands. Randomness (ids, keys) and times (a rotation's
// overlap end) are chosen by the proposer and travel in the command, so
// that every replica applies the same thing: apply reads no clock.
const (
	// OpCreateStore registers a store. Its body is a StoreInfo with the
	// private key's hash only (older logs carry the key itself; apply
	// hashes it, so replaying them gives the same state).
	OpCreateStore = "store.create"
	// OpRotateKeys gives a store new keys; the old ones keep working
	// until the command's OverlapUntil. Body: RotateKeys.
	OpRotateKeys = "store.rotate_keys"
	// OpSetLimits sets or clears a store's rate limit override. Body:
	// SetLimits.
	OpSetLimits = "store.set_limits"
)

// Errors callers branch on.
var (
	ErrStoreExists = errors.New("store already exists")
	ErrBadStore    = errors.New("invalid store")
	ErrNoStore     = errors.New("no such store")
)

// StoreInfo is a registered store and its keys.
//
// The private key itself is never kept: the registry (its Badger state,
// the meta group's snapshots, and the Raft log of new commands) holds only
// its SHA-256. SHA-256 rather than bcrypt or argon2 because the keys are
// 192 random bits, not passwords: nothing can be guessed, so a slow hash
// buys nothing, while every API call authenticates and a deliberately
// slow hash there would be a CPU denial of service of its own.
type StoreInfo struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	PublicKey string `json:"public_key"`
	// PrivateKey is set only on the value that minted it (NewStoreInfo,
	// NewRotation) so the API can show it once; the registry clears it.
	PrivateKey string `json:"private_key,omitempty"`
	// PrivateKeyHash is the hex SHA-256 of the private key.
	PrivateKeyHash string `json:"private_key_sha256,omitempty"`
	// CreatedAt is unix milliseconds, the creating command's time.
	CreatedAt int64 `json:"created_at"`
	// Limits overrides the node's per-store rate limit; nil = node default.
	Limits *RateLimit `json:"limits,omitempty"`
	// Retired are keys replaced by rotations that still authenticate
	// until their Until.
	Retired []RetiredKeys `json:"retired_keys,omitempty"`
}

// RetiredKeys are a store's previous keys during a rotation's overlap.
type RetiredKeys struct {
	PublicKey      string `json:"public_key"`
	PrivateKeyHash string `json:"private_key_sha256"`
	// Until is unix milliseconds: from then on the keys are refused.
	Until int64 `json:"until"`
}

// maxRetired bounds the retired key sets a store keeps, whatever the
// overlap windows: repeated rotations cannot grow the registry.
const maxRetired = 4

// RateLimit is a per-store override of the public-key request rate on
// each node. Rate 0 means unlimited.
type RateLimit struct {
	Rate  float64 `json:"rate"`
	Burst int     `json:"burst"`
}

// Validate checks a limit.
func (l RateLimit) Validate() error {
	if l.Rate < 0 || math.IsNaN(l.Rate) || math.IsInf(l.Rate, 0) {
		return fmt.Errorf("%w: rate must be a finite number >= 0", ErrBadStore)
	}
	if l.Rate > 0 && (l.Burst < 1 || l.Burst > 1<<24) {
		return fmt.Errorf("%w: burst must be in 1..%d when rate is set", ErrBadStore, 1<<24)
	}
	return nil
}

// RotateKeys is the body of OpRotateKeys.
type RotateKeys struct {
	Store          string `json:"store"`
	PublicKey      string `json:"public_key"`
	PrivateKeyHash string `json:"private_key_sha256"`
	// OverlapUntil (unix ms) is when the old keys stop working; at or
	// before the command's time they stop at once.
	OverlapUntil int64 `json:"overlap_until"`
}

// SetLimits is the body of OpSetLimits.
type SetLimits struct {
	Store  string     `json:"store"`
	Limits *RateLimit `json:"limits"` // nil clears the override
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
	// pub maps public keys, priv the SHA-256 of private keys, to stores.
	pub  map[string]keyEntry
	priv map[[sha256.Size]byte]keyEntry
	// legacy lists stores loaded from records that still held a private
	// key in plain text; the next applied command rewrites them hashed.
	legacy []string
	// changed is closed and replaced at every change (Changed).
	changed chan struct{}
}

type keyEntry struct {
	store string
	kind  KeyKind
	// until is unix ms after which a retired key is refused; 0 = current.
	until int64
	// hash is the private key's SHA-256 (private keys only).
	hash [sha256.Size]byte
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{stores: make(map[string]StoreInfo), pub: make(map[string]keyEntry),
		priv: make(map[[sha256.Size]byte]keyEntry), changed: make(chan struct{})}
}

// HashKey is the hex SHA-256 of a private key, as the registry keeps it.
func HashKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

func parseHash(s string) ([sha256.Size]byte, bool) {
	var h [sha256.Size]byte
	if len(s) != 2*sha256.Size {
		return h, false
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, false
	}
	return h, true
}

// NewStoreInfo mints an id and a key pair for a new store. The result
// holds the private key (to show once) and its hash; propose Sealed().
func NewStoreInfo(name string, nowMillis int64) (StoreInfo, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return StoreInfo{}, fmt.Errorf("%w: name is required", ErrBadStore)
	}
	if len(name) > 200 {
		return StoreInfo{}, fmt.Errorf("%w: name is longer than 200 bytes", ErrBadStore)
	}
	priv := "sk_" + randomHex(24)
	return StoreInfo{
		ID:             "st_" + randomHex(8),
		Name:           name,
		PublicKey:      "pk_" + randomHex(16),
		PrivateKey:     priv,
		PrivateKeyHash: HashKey(priv),
		CreatedAt:      nowMillis,
	}, nil
}

// NewRotation mints new keys for store; the old ones work until
// overlapUntil (unix ms). It returns the command body and the new private
// key, which is shown once and never replicated.
func NewRotation(store string, overlapUntil int64) (RotateKeys, string) {
	priv := "sk_" + randomHex(24)
	return RotateKeys{Store: store, PublicKey: "pk_" + randomHex(16), PrivateKeyHash: HashKey(priv), OverlapUntil: overlapUntil}, priv
}

// Sealed is st without its private key: what may be replicated and kept.
func (st StoreInfo) Sealed() StoreInfo {
	if st.PrivateKey != "" && st.PrivateKeyHash == "" {
		st.PrivateKeyHash = HashKey(st.PrivateKey)
	}
	st.PrivateKey = ""
	st.Retired = append([]RetiredKeys(nil), st.Retired...)
	if st.Limits != nil {
		l := *st.Limits
		st.Limits = &l
	}
	return st
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error()) // the OS is broken
	}
	return hex.EncodeToString(b)
}

const storeKeyPrefix = "store/"

// Apply implements statemachine.StateMachine.
func (r *Registry) Apply(w statemachine.Writer, cmd *statemachine.Command) any {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.migrateLocked(w)
	var res any
	switch cmd.Op {
	case OpCreateStore:
		res = r.createLocked(w, cmd)
	case OpRotateKeys:
		res = r.rotateLocked(w, cmd)
	case OpSetLimits:
		res = r.setLimitsLocked(w, cmd)
	default:
		return fmt.Errorf("unknown meta op %q", cmd.Op)
	}
	if _, failed := res.(error); !failed {
		close(r.changed)
		r.changed = make(chan struct{})
	}
	return res
}

// migrateLocked rewrites records loaded with a plain-text private key.
// Deterministic: which records are legacy is a function of the state at
// this log index, and the rewrite (hash the key) is a pure function, so
// every replica ends with the same records whenever it runs it.
func (r *Registry) migrate(w statemachine.Writer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.migrateLocked(w)
}

func (r *Registry) migrateLocked(w statemachine.Writer) {
	if len(r.legacy) == 0 {
		return
	}
	var left []string
	for _, id := range r.legacy {
		st, ok := r.stores[id]
		if !ok {
			continue
		}
		if err := r.putLocked(w, st); err != nil {
			left = append(left, id) // retried at the next command
		}
	}
	r.legacy = left
}

func (r *Registry) putLocked(w statemachine.Writer, st StoreInfo) error {
	b, err := json.Marshal(st.Sealed())
	if err != nil {
		return fmt.Errorf("cannot encode store %s: %w", st.ID, err)
	}
	if err := w.Set([]byte(storeKeyPrefix+st.ID), b); err != nil {
		return fmt.Errorf("cannot store %s: %w", st.ID, err)
	}
	return nil
}

func (r *Registry) createLocked(w statemachine.Writer, cmd *statemachine.Command) any {
	var st StoreInfo
	if err := json.Unmarshal(cmd.Body, &st); err != nil {
		return fmt.Errorf("%w: %v", ErrBadStore, err)
	}
	st = st.Sealed() // a log written before hashing carries the key
	st.Retired, st.Limits = nil, nil
	h, ok := parseHash(st.PrivateKeyHash)
	if st.ID == "" || st.PublicKey == "" || !ok {
		return fmt.Errorf("%w: id, public key and private key (hash) are required", ErrBadStore)
	}
	if _, ok := r.stores[st.ID]; ok {
		return fmt.Errorf("%w: %s", ErrStoreExists, st.ID)
	}
	if _, ok := r.pub[st.PublicKey]; ok {
		return fmt.Errorf("%w: key collision", ErrStoreExists)
	}
	if _, ok := r.priv[h]; ok {
		return fmt.Errorf("%w: key collision", ErrStoreExists)
	}
	if err := r.putLocked(w, st); err != nil {
		return err
	}
	r.addLocked(st)
	return st.Sealed()
}

func (r *Registry) rotateLocked(w statemachine.Writer, cmd *statemachine.Command) any {
	var rk RotateKeys
	if err := json.Unmarshal(cmd.Body, &rk); err != nil {
		return fmt.Errorf("%w: %v", ErrBadStore, err)
	}
	h, ok := parseHash(rk.PrivateKeyHash)
	if rk.PublicKey == "" || !ok {
		return fmt.Errorf("%w: new public key and private key hash are required", ErrBadStore)
	}
	st, ok := r.stores[rk.Store]
	if !ok {
		return fmt.Errorf("%w: %.100q", ErrNoStore, rk.Store)
	}
	if _, ok := r.pub[rk.PublicKey]; ok {
		return fmt.Errorf("%w: key collision", ErrStoreExists)
	}
	if _, ok := r.priv[h]; ok {
		return fmt.Errorf("%w: key collision", ErrStoreExists)
	}
	old := st
	st = st.Sealed()
	// Keep the retired sets still open at this command's time (its time,
	// not the clock: the same on every replica), then the keys being
	// replaced, newest last, at most maxRetired.
	var kept []RetiredKeys
	for _, k := range st.Retired {
		if k.Until > cmd.Time {
			kept = append(kept, k)
		}
	}
	if rk.OverlapUntil > cmd.Time {
		kept = append(kept, RetiredKeys{PublicKey: st.PublicKey, PrivateKeyHash: st.PrivateKeyHash, Until: rk.OverlapUntil})
	}
	if len(kept) > maxRetired {
		kept = kept[len(kept)-maxRetired:]
	}
	st.Retired = kept
	st.PublicKey, st.PrivateKeyHash = rk.PublicKey, rk.PrivateKeyHash
	if err := r.putLocked(w, st); err != nil {
		return err
	}
	r.removeLocked(old)
	r.addLocked(st)
	return st.Sealed()
}

func (r *Registry) setLimitsLocked(w statemachine.Writer, cmd *statemachine.Command) any {
	var sl SetLimits
	if err := json.Unmarshal(cmd.Body, &sl); err != nil {
		return fmt.Errorf("%w: %v", ErrBadStore, err)
	}
	if sl.Limits != nil {
		if err := sl.Limits.Validate(); err != nil {
			return err
		}
	}
	st, ok := r.stores[sl.Store]
	if !ok {
		return fmt.Errorf("%w: %.100q", ErrNoStore, sl.Store)
	}
	st = st.Sealed()
	st.Limits = sl.Limits
	if err := r.putLocked(w, st); err != nil {
		return err
	}
	r.stores[st.ID] = st
	return st.Sealed()
}

func (r *Registry) addLocked(st StoreInfo) {
	r.stores[st.ID] = st
	r.pub[st.PublicKey] = keyEntry{store: st.ID, kind: PublicKey}
	if h, ok := parseHash(st.PrivateKeyHash); ok {
		r.priv[h] = keyEntry{store: st.ID, kind: PrivateKey, hash: h}
	}
	for _, k := range st.Retired {
		r.pub[k.PublicKey] = keyEntry{store: st.ID, kind: PublicKey, until: k.Until}
		if h, ok := parseHash(k.PrivateKeyHash); ok {
			r.priv[h] = keyEntry{store: st.ID, kind: PrivateKey, until: k.Until, hash: h}
		}
	}
}

func (r *Registry) removeLocked(st StoreInfo) {
	delete(r.stores, st.ID)
	delete(r.pub, st.PublicKey)
	if h, ok := parseHash(st.PrivateKeyHash); ok {
		delete(r.priv, h)
	}
	for _, k := range st.Retired {
		delete(r.pub, k.PublicKey)
		if h, ok := parseHash(k.PrivateKeyHash); ok {
			delete(r.priv, h)
		}
	}
}

// Load implements statemachine.StateMachine.
func (r *Registry) Load(rd statemachine.Reader) error {
	stores := make(map[string]StoreInfo)
	var legacy []string
	err := rd.Iterate([]byte(storeKeyPrefix), func(_, v []byte) error {
		var st StoreInfo
		if err := json.Unmarshal(v, &st); err != nil {
			return fmt.Errorf("bad store record: %w", err)
		}
		if st.PrivateKey != "" {
			legacy = append(legacy, st.ID)
		}
		stores[st.ID] = st.Sealed()
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(legacy)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stores = make(map[string]StoreInfo, len(stores))
	r.pub = make(map[string]keyEntry, len(stores))
	r.priv = make(map[[sha256.Size]byte]keyEntry, len(stores))
	r.legacy = legacy
	for _, st := range stores {
		r.addLocked(st)
	}
	close(r.changed)
	r.changed = make(chan struct{})
	return nil
}

// Authenticate resolves an API key to its store and what it may do. A
// private key is looked up by its hash, and the hash compared in constant
// time; a retired key works until its overlap ends (wall clock: this is a
// read, not apply).
func (r *Registry) Authenticate(key string) (store string, kind KeyKind, ok bool) {
	return r.authenticateAt(key, time.Now().UnixMilli())
}

func (r *Registry) authenticateAt(key string, nowMillis int64) (string, KeyKind, bool) {
	r.mu.RLock()
	e, ok := r.pub[key]
	if !ok {
		h := sha256.Sum256([]byte(key))
		e, ok = r.priv[h]
		// The map found it by hash already; the constant-time compare of
		// the stored hash is the check that does not depend on how the
		// map compares keys.
		ok = ok && subtle.ConstantTimeCompare(e.hash[:], h[:]) == 1
	}
	r.mu.RUnlock()
	if !ok || (e.until != 0 && nowMillis >= e.until) {
		return "", 0, false
	}
	return e.store, e.kind, true
}

// Changed returns a channel closed at the next change of the registry
// (an applied command or a load).
func (r *Registry) Changed() <-chan struct{} {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.changed
}

// Store returns a registered store (without its private key).
func (r *Registry) Store(id string) (StoreInfo, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	st, ok := r.stores[id]
	return st.Sealed(), ok
}

// Limits returns a store's rate limit override, if it has one.
func (r *Registry) Limits(id string) (RateLimit, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	st, ok := r.stores[id]
	if !ok || st.Limits == nil {
		return RateLimit{}, false
	}
	return *st.Limits, true
}

// Stores lists the registered stores by id.
func (r *Registry) Stores() []StoreInfo {
	r.mu.RLock()
	out := make([]StoreInfo, 0, len(r.stores))
	for _, st := range r.stores {
		out = append(out, st.Sealed())
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
