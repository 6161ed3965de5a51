package shard

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"

	"github.com/sibylhq/sibyl/shard/kv"
	"github.com/sibylhq/sibyl/shard/statemachine"
)

// ErrDuplicateCommand is the result of a command whose id was already
// applied: the command was a no-op. A client retrying after ErrNoQuorum
// should treat it as success.
var ErrDuplicateCommand = errors.New("command already applied")

// ErrWriteTooLarge is the result of a command whose effects include a key
// or value over MaxKeyBytes/MaxValueBytes: the state machine's Writer
// refused it, and the command is rejected (none of its writes are kept).
var ErrWriteTooLarge = errors.New("state write too large")

// ErrBadCommand is the result of a command the FSM refuses before the state
// machine sees it (an id too long to be a key).
var ErrBadCommand = errors.New("malformed command")

// Bounds of one state write and of a command id, fixed (never from a
// node's configuration) so that every replica decides alike, and well
// below Badger's own limits (keys of 65,000 bytes, values of the value log
// file size, 256 MiB in kv's settings; kv must keep it above
// MaxValueBytes). A write over them used to fail the whole WriteBatch,
// and the FSM panicked on every replica and on every replay: a poison
// pill. Now the Writer refuses it and the command is rejected.
const (
	MaxKeyBytes       = 8 << 10
	MaxValueBytes     = 16 << 20
	MaxCommandIDBytes = 1 << 10
)

// DefaultDedupWindow is how long applied command ids are remembered,
// measured in command time (Command.Time), not wall-clock time.
const DefaultDedupWindow = 24 * time.Hour

// State DB key layout. Every group's keys start with len(gid) gid; the next
// byte says what the key is:
//
//	'd' key            -> state machine data (Writer/Reader keys)
//	'm' "applied"      -> last applied Raft index (8 bytes)
//	'm' "clock"        -> highest command time applied (8 bytes)
//	'i' id             -> command time of an applied id (8 bytes)
//	't' time(8) id     -> empty; applied ids ordered by time, for pruning
//
// Node-level keys start with a 0 byte (no group id is empty).
const (
	nsData = 'd'
	nsMeta = 'm'
	nsID   = 'i'
	nsTime = 't'
	nsNode = 0
)

var (
	metaApplied = []byte("applied")
	metaClock   = []byte("clock")
)

// maxPrunePerBatch bounds the expired ids deleted per ApplyBatch call so a
// clock jump cannot stall apply. Expired ids left behind are ignored by the
// dedup check anyway (see lookupID), so pruning is only space reclamation.
const maxPrunePerBatch = 4096

func groupPrefix(group string) []byte {
	p := make([]byte, 0, 1+len(group))
	p = append(p, byte(len(group)))
	return append(p, group...)
}

func joinKey(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	k := make([]byte, 0, n)
	for _, p := range parts {
		k = append(k, p...)
	}
	return k
}

// sortableTime maps int64 to uint64 so that byte order is numeric order.
func sortableTime(t int64) uint64 { return uint64(t) ^ (1 << 63) }

// FSM is one group's raft.BatchingFSM over the node's shared state Badger.
//
// The state DB runs with SyncWrites off: the Raft log is durable, and replay
// is idempotent because entries at or below the stored applied index are
// skipped and command ids are deduplicated. Writes of one ApplyBatch call go
// to one WriteBatch, the applied index after the records it covers: Badger
// commits a WriteBatch's internal transactions in order, so whatever prefix
// survives a crash never has an applied index ahead of its records.
type FSM struct {
	db     *kv.DB
	group  string
	prefix []byte
	sm     statemachine.StateMachine
	window int64 // dedup window in ms
	logger *slog.Logger

	applied atomic.Uint64
	// clock is the highest Command.Time applied; ids older than
	// clock-window are expired. Only the apply goroutine touches it.
	clock int64
	// oldestID is a lower bound of the time of any stored id, so pruning
	// is skipped without a seek when nothing can be expired.
	oldestID int64

	rejects           atomic.Uint64
	lastPanicLog      atomic.Int64
	lastReject        atomic.Int64 // unix ns of the last logged rejection
	rejectsSuppressed atomic.Uint64
}

var _ raft.BatchingFSM = (*FSM)(nil)

// NewFSM opens group's state in db and loads sm from it.
func NewFSM(db *kv.DB, group string, sm statemachine.StateMachine, dedupWindow time.Duration, logger *slog.Logger) (*FSM, error) {
	if logger == nil {
		logger = slog.Default()
	}
	f := &FSM{
		db: db, group: group, prefix: groupPrefix(group), sm: sm,
		window: dedupWindow.Milliseconds(), logger: logger,
	}
	if err := f.load(); err != nil {
		return nil, fmt.Errorf("cannot load state of group %s: %w", group, err)
	}
	return f, nil
}

// AppliedIndex is the last Raft index whose effects are in the state DB.
func (f *FSM) AppliedIndex() uint64 { return f.applied.Load() }

func (f *FSM) key(ns byte, k []byte) []byte { return joinKey(f.prefix, []byte{ns}, k) }

// load reads the FSM's own metadata and rebuilds the state machine.
func (f *FSM) load() error {
	return f.db.View(func(txn *badger.Txn) error {
		applied, err := getUint64(txn, f.key(nsMeta, metaApplied))
		if err != nil {
			return err
		}
		clock, err := getUint64(txn, f.key(nsMeta, metaClock))
		if err != nil {
			return err
		}
		f.applied.Store(applied)
		f.clock = int64(clock)
		f.oldestID = math.MaxInt64
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = f.key(nsTime, nil)
		it := txn.NewIterator(opts)
		for it.Rewind(); it.Valid(); it.Next() {
			// A malformed key (only a hostile or damaged snapshot makes
			// one) is skipped here and deleted by the next prune.
			if t, _, ok := parseTimeKey(it.Item().Key()[len(opts.Prefix):]); ok {
				f.oldestID = t
				break
			}
		}
		it.Close()
		return f.sm.Load(&reader{txn: txn, base: f.key(nsData, nil)})
	})
}

func getUint64(txn *badger.Txn, key []byte) (uint64, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var v uint64
	err = item.Value(func(b []byte) error {
		if len(b) != 8 {
			return fmt.Errorf("key %q holds %d bytes, want 8", key, len(b))
		}
		v = binary.BigEndian.Uint64(b)
		return nil
	})
	return v, err
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// Apply applies one entry (raft calls ApplyBatch; this is for completeness).
func (f *FSM) Apply(l *raft.Log) any { return f.ApplyBatch([]*raft.Log{l})[0] }

// ApplyBatch applies committed entries. The response for a command entry is
// a []any with one result per command of the batch, in order.
func (f *FSM) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	txn := f.db.NewTransaction(false)
	defer txn.Discard()
	wb := f.db.NewWriteBatch()
	defer wb.Cancel()
	w := &batchWriter{wb: wb, base: f.key(nsData, nil)}
	added := make(map[string]int64) // ids applied in this call
	applied := f.applied.Load()
	wrote := false
	for i, l := range logs {
		if l.Index <= applied {
			continue // replay of an entry already in the state DB
		}
		applied, wrote = l.Index, true
		if l.Type != raft.LogCommand {
			continue // configuration changes: nothing to apply
		}
		cmds, err := DecodeBatch(l.Data)
		if err != nil {
			f.rejected(l.Index, "", err)
			out[i] = err
		} else {
			results := make([]any, len(cmds))
			for j, c := range cmds {
				results[j] = f.applyCommand(txn, w, added, c)
				if err, ok := results[j].(error); ok && !errors.Is(err, ErrDuplicateCommand) {
					f.rejected(l.Index, c.Op, err)
				}
			}
			out[i] = results
		}
	}
	if !wrote {
		return out
	}
	f.prune(txn, w, added)
	w.set(f.key(nsMeta, metaClock), u64(uint64(f.clock)))
	w.set(f.key(nsMeta, metaApplied), u64(applied))
	err := w.err
	if err == nil {
		err = wb.Flush()
	}
	if err != nil {
		// Only Badger itself fails here (every write was bounded and
		// accepted by the WriteBatch): an I/O error, not a bad command.
		// Memory is already ahead of disk: the node must stop and replay
		// the Raft log on restart rather than serve diverging state.
		panic(fmt.Sprintf("shard %s: cannot write state at index %d: %v", f.group, applied, err))
	}
	f.applied.Store(applied)
	return out
}

// applyCommand runs one command unless its id is a duplicate. The state
// machine's writes are kept only when it accepts the command: a rejected
// command (an error result) leaves nothing in the state DB, and the state
// machine validates before it changes memory, so both agree.
func (f *FSM) applyCommand(txn *badger.Txn, w *batchWriter, added map[string]int64, c *statemachine.Command) any {
	if len(c.ID) > MaxCommandIDBytes {
		// Not recorded: the id cannot be a key. Decided from the command
		// alone, so every replica answers the same.
		return fmt.Errorf("%w: command id of %d bytes, at most %d allowed", ErrBadCommand, len(c.ID), MaxCommandIDBytes)
	}
	f.clock = max(f.clock, c.Time)
	if c.ID != "" {
		prev, found := f.lookupID(txn, added, c.ID)
		if found && prev >= f.clock-f.window {
			return ErrDuplicateCommand
		}
		if found {
			// Expired and applied again: drop the old time-index entry so
			// pruning it later cannot delete the new record.
			w.del(f.timeKey(prev, c.ID))
		}
		added[c.ID] = c.Time
		w.set(f.key(nsID, []byte(c.ID)), u64(uint64(c.Time)))
		w.set(f.timeKey(c.Time, c.ID), nil)
		f.oldestID = min(f.oldestID, c.Time)
	}
	w.begin()
	res := f.applySM(w, c)
	if err, ok := res.(error); ok {
		w.discard()
		if w.refused != nil && !errors.Is(err, ErrWriteTooLarge) {
			// The state machine wrapped or replaced the refusal; say why.
			res = fmt.Errorf("%w (%v)", err, w.refused)
		}
	} else if w.refused != nil {
		// The state machine ignored a refused write: reject the command
		// all the same rather than keep half of its effects.
		w.discard()
		res = w.refused
	} else {
		w.commit()
	}
	return res
}

// applySM calls the state machine, turning a panic into a rejection: the
// command's writes are discarded, and a command that panics does so on
// every replica and on every replay, so stopping would be a crash loop of
// the whole group. The state machine validates before it changes memory,
// so a panic means a bug; it is logged with its stack (at most once per
// rejectLogEvery, as other rejections).
func (f *FSM) applySM(w *batchWriter, c *statemachine.Command) (res any) {
	defer func() {
		if p := recover(); p != nil {
			now, last := time.Now().UnixNano(), f.lastPanicLog.Load()
			if now-last >= int64(rejectLogEvery) && f.lastPanicLog.CompareAndSwap(last, now) {
				f.logger.Error("state machine panicked applying a command; rejecting it",
					"op", clip(c.Op), "store", clip(c.Store), "panic", p, "stack", string(debug.Stack()))
			}
			res = fmt.Errorf("%w: %s: apply failed: %v", ErrBadCommand, clip(c.Op), p)
		}
	}()
	return f.sm.Apply(w, c)
}

// clip shortens a command's string for a log line or an error.
func clip(s string) string {
	if len(s) <= 64 {
		return s
	}
	return fmt.Sprintf("%.64s... (%d bytes)", s, len(s))
}

// rejected logs a rejected command, at most once per rejectLogEvery per
// group: a client repeating a bad command must not flood the log.
func (f *FSM) rejected(index uint64, op string, err error) {
	f.rejects.Add(1)
	now := time.Now().UnixNano()
	last := f.lastReject.Load()
	if now-last < int64(rejectLogEvery) {
		f.rejectsSuppressed.Add(1)
		return
	}
	if !f.lastReject.CompareAndSwap(last, now) {
		f.rejectsSuppressed.Add(1)
		return
	}
	f.logger.Warn("command rejected at apply", "index", index, "op", clip(op), "err", err,
		"suppressed_since_last", f.rejectsSuppressed.Swap(0))
}

// rejectLogEvery throttles rejected-command logging per group.
const rejectLogEvery = 5 * time.Second

// Rejected counts the commands this FSM rejected (state machine errors,
// undecodable entries, refused writes), for tests and metrics.
func (f *FSM) Rejected() uint64 { return f.rejects.Load() }

// parseTimeKey splits the part of a time-index key after its prefix into
// the time and the command id; false when it is too short to be one.
func parseTimeKey(suffix []byte) (t int64, id []byte, ok bool) {
	if len(suffix) < 8 {
		return 0, nil, false
	}
	return int64(binary.BigEndian.Uint64(suffix) ^ (1 << 63)), suffix[8:], true
}

func (f *FSM) timeKey(t int64, id string) []byte {
	return joinKey(f.key(nsTime, u64(sortableTime(t))), []byte(id))
}

// lookupID returns the command time recorded for id. An id whose time is
// before clock-window counts as absent whether or not pruning has deleted
// it yet, which keeps dedup deterministic across replicas that prune at
// different batch boundaries.
func (f *FSM) lookupID(txn *badger.Txn, added map[string]int64, id string) (int64, bool) {
	if t, ok := added[id]; ok {
		return t, true
	}
	item, err := txn.Get(f.key(nsID, []byte(id)))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, false
	}
	if err != nil {
		panic(fmt.Sprintf("shard %s: cannot read command id: %v", f.group, err))
	}
	var t int64
	err = item.Value(func(b []byte) error {
		if len(b) != 8 {
			return fmt.Errorf("id record of %d bytes", len(b))
		}
		t = int64(binary.BigEndian.Uint64(b))
		return nil
	})
	if err != nil {
		panic(fmt.Sprintf("shard %s: cannot read command id: %v", f.group, err))
	}
	return t, true
}

// prune deletes up to maxPrunePerBatch expired ids, oldest first.
func (f *FSM) prune(txn *badger.Txn, w *batchWriter, added map[string]int64) {
	cutoff := f.clock - f.window
	if f.oldestID >= cutoff {
		return
	}
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	opts.Prefix = f.key(nsTime, nil)
	it := txn.NewIterator(opts)
	defer it.Close()
	n := 0
	next := int64(math.MaxInt64)
	for it.Rewind(); it.Valid(); it.Next() {
		k := it.Item().Key()
		t, id, ok := parseTimeKey(k[len(opts.Prefix):])
		if !ok {
			// Not a key this FSM wrote (a hostile or damaged snapshot):
			// drop it rather than panic on every replica.
			w.del(it.Item().KeyCopy(nil))
			continue
		}
		if t >= cutoff || n == maxPrunePerBatch {
			next = t
			break
		}
		w.del(it.Item().KeyCopy(nil))
		// An id used again in this call has a new record: keep it.
		if _, again := added[string(id)]; !again {
			w.del(f.key(nsID, id))
		}
		n++
	}
	// Ids added in this call are not visible to txn; keep them covered.
	for _, t := range added {
		next = min(next, t)
	}
	f.oldestID = next
}

// batchWriter is the Writer handed to the state machine: keys are made
// shard-absolute and copied (Badger keeps references until Flush).
//
// The state machine's writes for one command are held until the command
// is decided (begin, then commit or discard), so a rejected command writes
// nothing. A key or value over MaxKeyBytes/MaxValueBytes is refused with
// ErrWriteTooLarge (the command is then rejected) instead of reaching the
// WriteBatch, whose failure would stop the node.
type batchWriter struct {
	wb   *badger.WriteBatch
	base []byte
	err  error // a WriteBatch failure: fatal for the entry

	held    []heldWrite // this command's writes, while held
	holding bool
	refused error // the first refused write of this command
}

type heldWrite struct {
	k, v []byte
	del  bool
}

func (w *batchWriter) set(k, v []byte) {
	if w.err == nil {
		w.err = w.wb.Set(k, v)
	}
}

func (w *batchWriter) del(k []byte) {
	if w.err == nil {
		w.err = w.wb.Delete(k)
	}
}

// begin starts holding a command's writes.
func (w *batchWriter) begin() { w.held, w.holding, w.refused = w.held[:0], true, nil }

// commit passes the held writes to the WriteBatch.
func (w *batchWriter) commit() {
	for _, h := range w.held {
		if h.del {
			w.del(h.k)
		} else {
			w.set(h.k, h.v)
		}
	}
	w.discard()
}

// discard drops the held writes.
func (w *batchWriter) discard() {
	clear(w.held)
	w.held, w.holding, w.refused = w.held[:0], false, nil
}

func (w *batchWriter) check(key, value []byte) error {
	if n := len(w.base) + len(key); n > MaxKeyBytes {
		return fmt.Errorf("%w: key of %d bytes, at most %d allowed (key starts %q)", ErrWriteTooLarge, n, MaxKeyBytes, key[:min(len(key), 64)])
	}
	if len(value) > MaxValueBytes {
		return fmt.Errorf("%w: value of %d bytes under key %q, at most %d allowed", ErrWriteTooLarge, len(value), key[:min(len(key), 64)], MaxValueBytes)
	}
	return nil
}

func (w *batchWriter) Set(key, value []byte) error {
	if err := w.check(key, value); err != nil {
		w.refused = cmp.Or(w.refused, err)
		return err
	}
	k, v := joinKey(w.base, key), append([]byte(nil), value...)
	if w.holding {
		w.held = append(w.held, heldWrite{k: k, v: v})
		return nil
	}
	w.set(k, v)
	return w.err
}

func (w *batchWriter) Delete(key []byte) error {
	if err := w.check(key, nil); err != nil {
		w.refused = cmp.Or(w.refused, err)
		return err
	}
	k := joinKey(w.base, key)
	if w.holding {
		w.held = append(w.held, heldWrite{k: k, del: true})
		return nil
	}
	w.del(k)
	return w.err
}

// reader is the Reader over a consistent Badger view of one group's data.
type reader struct {
	txn  *badger.Txn
	base []byte
}

func (r *reader) Iterate(prefix []byte, fn func(key, value []byte) error) error {
	opts := badger.DefaultIteratorOptions
	opts.Prefix = joinKey(r.base, prefix)
	it := r.txn.NewIterator(opts)
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		k := item.Key()[len(r.base):]
		if err := item.Value(func(v []byte) error { return fn(k, v) }); err != nil {
			return err
		}
	}
	return nil
}

func (r *reader) Get(key []byte) ([]byte, error) {
	item, err := r.txn.Get(joinKey(r.base, key))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, statemachine.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return item.ValueCopy(nil)
}

// Snapshot captures a consistent Badger view of the group at the current
// applied index; Persist streams it while applies continue.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	return &fsmSnapshot{txn: f.db.NewTransaction(false), prefix: f.prefix, applied: f.applied.Load()}, nil
}

const snapshotMagic = "SIBYLSN1"

// Snapshot stream: magic, the applied index of the state it holds (8 bytes),
// then records uvarint(len k) k uvarint(len v) v with keys relative to the
// group prefix, ended by a zero-length key.
//
// The applied index in the header can be lower than raft's snapshot index
// (raft also counts no-op entries, which never reach the FSM); Group uses
// it to tell whether the state DB already holds everything a snapshot has.
type fsmSnapshot struct {
	txn     *badger.Txn
	prefix  []byte
	applied uint64
}

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.write(sink); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("cannot persist snapshot %s: %w", sink.ID(), err)
	}
	return sink.Close()
}

func (s *fsmSnapshot) write(sink io.Writer) error {
	bw := bufio.NewWriterSize(sink, 256<<10)
	if _, err := bw.WriteString(snapshotMagic); err != nil {
		return err
	}
	if _, err := bw.Write(u64(s.applied)); err != nil {
		return err
	}
	opts := badger.DefaultIteratorOptions
	opts.Prefix = s.prefix
	it := s.txn.NewIterator(opts)
	defer it.Close()
	var hdr []byte
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		k := item.Key()[len(s.prefix):]
		err := item.Value(func(v []byte) error {
			hdr = binary.AppendUvarint(hdr[:0], uint64(len(k)))
			hdr = append(hdr, k...)
			hdr = binary.AppendUvarint(hdr, uint64(len(v)))
			if _, err := bw.Write(hdr); err != nil {
				return err
			}
			_, err := bw.Write(v)
			return err
		})
		if err != nil {
			return err
		}
	}
	if err := bw.WriteByte(0); err != nil {
		return err
	}
	return bw.Flush()
}

func (s *fsmSnapshot) Release() { s.txn.Discard() }

// Restore replaces the group's state with a snapshot stream: delete the
// group's keys, write the stream's keys (the applied index last), reload.
// A crash in between leaves no applied index, so the next open restores the
// snapshot again (see Group).
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	r := bufio.NewReaderSize(rc, 256<<10)
	if _, err := readSnapshotHeader(r); err != nil {
		return fmt.Errorf("cannot restore snapshot into group %s: %w", f.group, err)
	}
	if err := f.restore(r); err != nil {
		return fmt.Errorf("cannot restore snapshot into group %s: %w", f.group, err)
	}
	return nil
}

// readSnapshotHeader checks the magic and returns the applied index of the
// state the snapshot holds.
func readSnapshotHeader(r *bufio.Reader) (uint64, error) {
	hdr := make([]byte, len(snapshotMagic)+8)
	if _, err := io.ReadFull(r, hdr); err != nil || string(hdr[:len(snapshotMagic)]) != snapshotMagic {
		return 0, fmt.Errorf("not a shard snapshot (header %q): %v", hdr, err)
	}
	return binary.BigEndian.Uint64(hdr[len(snapshotMagic):]), nil
}

// restore reads the records after the header.
func (f *FSM) restore(r *bufio.Reader) error {
	if err := f.dropAll(); err != nil {
		return err
	}
	wb := f.db.NewWriteBatch()
	defer wb.Cancel()
	var metas [][2][]byte
	for {
		k, err := readChunk(r)
		if err != nil {
			return err
		}
		if len(k) == 0 {
			break
		}
		v, err := readChunk(r)
		if err != nil {
			return err
		}
		abs := joinKey(f.prefix, k)
		if k[0] == nsMeta {
			metas = append(metas, [2][]byte{abs, v})
			continue
		}
		if err := wb.Set(abs, v); err != nil {
			return err
		}
	}
	for _, kv := range metas {
		if err := wb.Set(kv[0], kv[1]); err != nil {
			return err
		}
	}
	if err := wb.Flush(); err != nil {
		return err
	}
	return f.load()
}

func readChunk(r *bufio.Reader) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, fmt.Errorf("truncated snapshot: %w", err)
	}
	if n > 1<<30 {
		return nil, fmt.Errorf("snapshot record of %d bytes", n)
	}
	if n <= snapshotEagerChunk {
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("truncated snapshot: %w", err)
		}
		return b, nil
	}
	// A length prefix alone must not allocate: grow with the bytes that
	// actually arrive, so a truncated or lying stream costs what it sent.
	var buf bytes.Buffer
	if got, err := io.CopyN(&buf, r, int64(n)); err != nil {
		return nil, fmt.Errorf("truncated snapshot: record of %d bytes ends after %d: %w", n, got, err)
	}
	return buf.Bytes(), nil
}

// snapshotEagerChunk is the largest snapshot record allocated from its
// length prefix before its bytes are read.
const snapshotEagerChunk = 1 << 20

// dropAll deletes every key of the group.
func (f *FSM) dropAll() error {
	wb := f.db.NewWriteBatch()
	defer wb.Cancel()
	err := f.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = f.prefix
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := wb.Delete(it.Item().KeyCopy(nil)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return wb.Flush()
}
