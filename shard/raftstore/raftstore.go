// Package raftstore implements hashicorp/raft's LogStore and StableStore on
// one Badger database shared by every Raft group of a node: each group gets a
// view whose keys are prefixed by the group id.
//
// Key layout (gid is the group id, at most 255 bytes):
//
//	'l' len(gid) gid index(8, big endian) -> encoded raft.Log
//	's' len(gid) gid key                  -> stable value
package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"

	"github.com/sibylhq/sibyl/internal/wire"
	"github.com/sibylhq/sibyl/shard/kv"
)

// ErrKeyNotFound is returned by Store.Get for a missing key. Raft compares
// the message, not the value: it must stay exactly "not found".
var ErrKeyNotFound = errors.New("not found")

// ErrCorruptLog is returned when a stored log entry cannot be decoded.
var ErrCorruptLog = errors.New("corrupt raft log entry")

// ErrMissingLog is returned by CheckContiguous when entries raft will need
// are not in the store.
var ErrMissingLog = errors.New("raft log entries are missing")

const (
	kindLog    = 'l'
	kindStable = 's'
	encVersion = 1
)

// Store is one Raft group's view of the shared log database. It implements
// raft.LogStore and raft.StableStore. It does not own the database.
type Store struct {
	db        *kv.DB
	group     string
	logPrefix []byte
	stPrefix  []byte

	// mu guards the cached first/last index, so FirstIndex and LastIndex
	// never touch Badger, and serializes writes of this group.
	mu          sync.Mutex
	first, last uint64
}

var (
	_ raft.LogStore    = (*Store)(nil)
	_ raft.StableStore = (*Store)(nil)
)

// New returns the view of group in db, loading its first and last index.
func New(db *kv.DB, group string) (*Store, error) {
	if group == "" || len(group) > 255 {
		return nil, fmt.Errorf("raftstore: group id %q must be 1..255 bytes", group)
	}
	s := &Store{
		db:        db,
		group:     group,
		logPrefix: prefix(kindLog, group),
		stPrefix:  prefix(kindStable, group),
	}
	if err := db.View(func(txn *badger.Txn) error {
		var err error
		s.first, s.last, err = s.bounds(txn)
		return err
	}); err != nil {
		return nil, fmt.Errorf("cannot load log bounds of group %s: %w", group, err)
	}
	return s, nil
}

func prefix(kind byte, group string) []byte {
	p := make([]byte, 0, 2+len(group))
	p = append(p, kind, byte(len(group)))
	return append(p, group...)
}

func (s *Store) logKey(index uint64) []byte {
	k := make([]byte, len(s.logPrefix)+8)
	copy(k, s.logPrefix)
	binary.BigEndian.PutUint64(k[len(s.logPrefix):], index)
	return k
}

// bounds seeks the lowest and highest log index of the group (two seeks,
// no scan). It returns 0, 0 when the group has no logs.
func (s *Store) bounds(txn *badger.Txn) (first, last uint64, err error) {
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	opts.Prefix = s.logPrefix
	it := txn.NewIterator(opts)
	it.Seek(s.logPrefix)
	if it.ValidForPrefix(s.logPrefix) {
		first = s.indexOf(it.Item().Key())
	}
	it.Close()
	if first == 0 {
		return 0, 0, nil
	}
	opts.Reverse = true
	it = txn.NewIterator(opts)
	defer it.Close()
	it.Seek(s.logKey(^uint64(0)))
	if it.ValidForPrefix(s.logPrefix) {
		last = s.indexOf(it.Item().Key())
	}
	return first, last, nil
}

func (s *Store) indexOf(key []byte) uint64 {
	return binary.BigEndian.Uint64(key[len(s.logPrefix):])
}

// FirstIndex returns the first stored index, 0 if none (cached).
func (s *Store) FirstIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first, nil
}

// LastIndex returns the last stored index, 0 if none (cached).
func (s *Store) LastIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, nil
}

// GetLog reads the entry at index into out, or returns raft.ErrLogNotFound.
func (s *Store) GetLog(index uint64, out *raft.Log) error {
	return s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(s.logKey(index))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return raft.ErrLogNotFound
		}
		if err != nil {
			return fmt.Errorf("cannot read log %d of group %s: %w", index, s.group, err)
		}
		return item.Value(func(v []byte) error {
			if err := decodeLog(v, out); err != nil {
				return fmt.Errorf("log %d of group %s: %w", index, s.group, err)
			}
			out.Index = index
			return nil
		})
	})
}

// CheckContiguous checks that every entry from `from` (or the first
// stored entry, whichever is later) to the last is present and readable.
// A group opens only when it passes.
//
// hashicorp/raft panics when the log store cannot return an entry it
// expects (NewRaft's configuration scan and the apply loop both call panic
// on any GetLog error: "panic: log not found"), so a log with a hole, or
// with an entry whose value fails its checksum, must be refused before
// raft.NewRaft sees it. from is the first index raft will read at start:
// one past the newest snapshot, or 1 without a snapshot. Every value is
// read: entries of 512 KiB and more live in the value log, which the
// open-time table check does not cover (its entries carry their own
// checksums, verified on read).
func (s *Store) CheckContiguous(from uint64) error {
	s.mu.Lock()
	first, last := s.first, s.last
	s.mu.Unlock()
	if last == 0 {
		return nil // no log: raft starts from the snapshot alone, or empty
	}
	if from < first && from <= last {
		return fmt.Errorf("group %s: entries %d..%d are needed but the log starts at %d: %w",
			s.group, from, first-1, first, ErrMissingLog)
	}
	want := max(from, first)
	return s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = s.logPrefix
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Seek(s.logKey(want)); it.ValidForPrefix(s.logPrefix) && want <= last; it.Next() {
			got := s.indexOf(it.Item().Key())
			if got != want {
				return fmt.Errorf("group %s: entries %d..%d are missing from a log of %d..%d: %w",
					s.group, want, got-1, first, last, ErrMissingLog)
			}
			// Decode-check too: a value-log file Badger truncated at a
			// damaged entry when it opened yields an empty value, no error.
			if err := it.Item().Value(checkEncoded); err != nil {
				if !errors.Is(err, ErrCorruptLog) {
					err = fmt.Errorf("%v: %w", err, ErrCorruptLog)
				}
				return fmt.Errorf("group %s: entry %d cannot be read: %w", s.group, got, err)
			}
			want++
		}
		if want <= last {
			return fmt.Errorf("group %s: entries %d..%d are missing from a log of %d..%d: %w",
				s.group, want, last, first, last, ErrMissingLog)
		}
		return nil
	})
}

// StoreLog stores one entry.
func (s *Store) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

// StoreLogs stores the entries in one Badger transaction (one fsync), or a
// write batch when they exceed one transaction.
func (s *Store) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	lo, hi := logs[0].Index, logs[0].Index
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	for _, l := range logs {
		lo, hi = min(lo, l.Index), max(hi, l.Index)
		err := txn.Set(s.logKey(l.Index), encodeLog(l))
		if errors.Is(err, badger.ErrTxnTooBig) {
			txn.Discard()
			return s.storeLogsBatched(logs)
		}
		if err != nil {
			return fmt.Errorf("cannot store log %d of group %s: %w", l.Index, s.group, err)
		}
	}
	if err := txn.Commit(); err != nil {
		return fmt.Errorf("cannot store logs %d..%d of group %s: %w", lo, hi, s.group, err)
	}
	s.noteStored(lo, hi)
	return nil
}

// storeLogsBatched is the slow path for a set of entries too large for one
// transaction; a crash may keep a prefix of them, which Raft tolerates
// because it re-sends entries a follower does not acknowledge.
func (s *Store) storeLogsBatched(logs []*raft.Log) error {
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	lo, hi := logs[0].Index, logs[0].Index
	for _, l := range logs {
		lo, hi = min(lo, l.Index), max(hi, l.Index)
		if err := wb.Set(s.logKey(l.Index), encodeLog(l)); err != nil {
			return fmt.Errorf("cannot store log %d of group %s: %w", l.Index, s.group, err)
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("cannot store logs %d..%d of group %s: %w", lo, hi, s.group, err)
	}
	s.noteStored(lo, hi)
	return nil
}

func (s *Store) noteStored(lo, hi uint64) {
	if s.first == 0 || lo < s.first {
		s.first = lo
	}
	if hi > s.last {
		s.last = hi
	}
}

// DeleteRange deletes entries min..max inclusive. It walks the keys that
// exist in the range (keys only), so gaps left by snapshot installs cost
// nothing.
func (s *Store) DeleteRange(lo, hi uint64) error {
	if lo > hi {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	var keys [][]byte
	err := s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = s.logPrefix
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Seek(s.logKey(lo)); it.ValidForPrefix(s.logPrefix); it.Next() {
			k := it.Item().KeyCopy(nil)
			if s.indexOf(k) > hi {
				break
			}
			keys = append(keys, k)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cannot list logs %d..%d of group %s: %w", lo, hi, s.group, err)
	}
	for _, k := range keys {
		if err := wb.Delete(k); err != nil {
			return fmt.Errorf("cannot delete logs %d..%d of group %s: %w", lo, hi, s.group, err)
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("cannot delete logs %d..%d of group %s: %w", lo, hi, s.group, err)
	}
	// Re-seek the bounds: cheap, and correct whatever the shape of the hole.
	return s.db.View(func(txn *badger.Txn) error {
		var err error
		s.first, s.last, err = s.bounds(txn)
		return err
	})
}

func (s *Store) stableKey(key []byte) []byte {
	k := make([]byte, 0, len(s.stPrefix)+len(key))
	k = append(k, s.stPrefix...)
	return append(k, key...)
}

// Set stores a stable value durably.
func (s *Store) Set(key, val []byte) error {
	err := s.db.Update(func(txn *badger.Txn) error {
		return txn.Set(s.stableKey(key), append([]byte(nil), val...))
	})
	if err != nil {
		return fmt.Errorf("cannot set stable key %q of group %s: %w", key, s.group, err)
	}
	return nil
}

// Get returns a stable value, or ErrKeyNotFound ("not found") when absent.
func (s *Store) Get(key []byte) ([]byte, error) {
	var out []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(s.stableKey(key))
		if err != nil {
			return err
		}
		out, err = item.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrKeyNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("cannot get stable key %q of group %s: %w", key, s.group, err)
	}
	return out, nil
}

// SetUint64 stores a stable integer.
func (s *Store) SetUint64(key []byte, val uint64) error {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], val)
	return s.Set(key, b[:])
}

// GetUint64 returns a stable integer, 0 and no error when absent (the
// raft.StableStore contract; raft's own InmemStore does the same).
func (s *Store) GetUint64(key []byte) (uint64, error) {
	v, err := s.Get(key)
	if errors.Is(err, ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("stable key %q of group %s holds %d bytes, want 8", key, s.group, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// encodeLog: version, term, type, appendedAt (unix ns, 0 = zero time),
// uvarint len + data, uvarint len + extensions. The index is in the key.
func encodeLog(l *raft.Log) []byte {
	b := make([]byte, 0, 1+8+1+8+2*binary.MaxVarintLen64+len(l.Data)+len(l.Extensions))
	b = append(b, encVersion)
	b = binary.BigEndian.AppendUint64(b, l.Term)
	b = append(b, byte(l.Type))
	var at int64
	if !l.AppendedAt.IsZero() {
		at = l.AppendedAt.UnixNano()
	}
	b = binary.BigEndian.AppendUint64(b, uint64(at))
	b = wire.AppendBytes(b, l.Data)
	return wire.AppendBytes(b, l.Extensions)
}

func decodeLog(b []byte, l *raft.Log) error {
	if len(b) < 18 || b[0] != encVersion {
		return ErrCorruptLog
	}
	l.Term = binary.BigEndian.Uint64(b[1:9])
	l.Type = raft.LogType(b[9])
	at := int64(binary.BigEndian.Uint64(b[10:18]))
	l.AppendedAt = time.Time{}
	if at != 0 {
		l.AppendedAt = time.Unix(0, at)
	}
	// Badger's value buffer is only valid inside the read callback: copy.
	d := wire.NewDecoder(b[18:])
	data, ext := d.Bytes(), d.Bytes()
	if d.Err() != nil || d.Len() != 0 {
		return ErrCorruptLog
	}
	l.Data, l.Extensions = cloneNonEmpty(data), cloneNonEmpty(ext)
	return nil
}

// checkEncoded checks the structure decodeLog expects, without copying.
func checkEncoded(b []byte) error {
	if len(b) < 18 || b[0] != encVersion {
		return ErrCorruptLog
	}
	d := wire.NewDecoder(b[18:])
	d.Bytes() // data
	d.Bytes() // extensions
	if d.Err() != nil || d.Len() != 0 {
		return ErrCorruptLog
	}
	return nil
}

// cloneNonEmpty copies b, and is nil for an empty b.
func cloneNonEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

// GroupPrefixes are the key prefixes of group's log and stable values in
// the shared database: deleting both forgets the group's Raft state.
func GroupPrefixes(group string) [][]byte {
	return [][]byte{prefix(kindLog, group), prefix(kindStable, group)}
}
