// Package statemachine is the contract between replication and the domain:
// a Command travels through a shard's Raft log, and a StateMachine applies it
// by writing through a Writer and rebuilding from a Reader.
//
// It imports neither Raft nor Badger on purpose, so that the engine and the
// query layer can speak in commands without linking the replication stack
// (go list -deps ./engine ./query names neither).
package statemachine

import "errors"

// ErrNotFound is returned by Reader.Get for a missing key.
var ErrNotFound = errors.New("statemachine: key not found")

// Command is one client request replicated through a shard's Raft log. The
// leader's batcher packs many commands into one log entry (group commit).
//
// Apply is deterministic: everything a command's effect depends on (the time,
// any seed) travels inside it, never read from the applying node.
type Command struct {
	// ID makes a retried request a no-op: the FSM remembers applied ids.
	// Clients may set it (an import batch's id); the API mints one otherwise.
	ID string `json:"id"`
	// Store is the tenant the command belongs to ("" for meta commands
	// that are not store-scoped).
	Store string `json:"store,omitempty"`
	// Op says what Body holds, e.g. "products.upsert" or "store.create".
	Op string `json:"op"`
	// Time is unix milliseconds, stamped by the proposing node.
	Time int64 `json:"time"`
	// Body is the op's payload, canonical JSON produced after validation.
	Body []byte `json:"body,omitempty"`
}

// Writer receives the durable effects of applying commands. Everything
// written for one Raft entry is committed to Badger in one WriteBatch,
// together with the applied index and the command ids.
//
// Keys are relative to the shard: the FSM prefixes them with the shard id so
// that several shards share one Badger.
type Writer interface {
	Set(key, value []byte) error
	Delete(key []byte) error
}

// Reader reads a shard's durable state, used to rebuild memory on open and
// after a snapshot restore. Keys are relative to the shard, as for Writer.
type Reader interface {
	// Iterate calls fn for each key with the given prefix in key order. The
	// key and value are only valid during the call.
	Iterate(prefix []byte, fn func(key, value []byte) error) error
	Get(key []byte) ([]byte, error) // returns ErrNotFound when absent
}

// StateMachine is a shard's domain logic, driven by the FSM. The FSM owns
// durability (applied index, command-id dedup, batching, snapshots); the
// state machine owns what a command means.
type StateMachine interface {
	// Apply executes one command: it writes its durable effects to w and
	// updates the in-memory state. It must be deterministic. The returned
	// value is handed to the proposer's future (an error value is a
	// rejected command, not a failed apply: the FSM still records the id).
	Apply(w Writer, cmd *Command) any
	// Load drops the in-memory state and rebuilds it from r. Called on open
	// and after a snapshot restore.
	Load(r Reader) error
}
