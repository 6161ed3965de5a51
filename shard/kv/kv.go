// Package kv opens the two Badger databases a node keeps (one for Raft logs,
// one for shard state) with memory options sized for the whole node, and runs
// their value-log garbage collection.
//
// Badger's defaults are sized for one database owning the machine (64 MiB
// memtables x5, 256 MiB block cache, 1 GiB value-log files). A Sibyl node runs
// exactly two instances shared by every Raft group, so each gets a fraction:
//
//	                log DB     state DB
//	memtable        16 MiB x3  32 MiB x3
//	block cache     16 MiB     64 MiB
//	index cache      8 MiB     32 MiB
//	vlog file      256 MiB    256 MiB
//
// giving roughly 300 MiB of Badger memory per node at the worst case
// (all memtables full), against about 1 GiB for two default instances.
//
// Checksums are verified everywhere Badger offers it: every SSTable is read
// in full and checked when the database opens, every block again when it is
// read, and value-log entries when they are read. Damage is an error (see
// CorruptError), never data silently missing.
package kv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/sibylhq/sibyl/internal/periodic"
)

// Sizing is the memory and durability profile of one Badger instance.
type Sizing struct {
	MemTableSize     int64
	NumMemtables     int
	BlockCacheSize   int64
	IndexCacheSize   int64
	ValueLogFileSize int64
	// ValueThreshold: values at least this big go to the value log instead
	// of the LSM tree, which keeps compaction cheap for large Raft entries.
	ValueThreshold int64
	SyncWrites     bool
	NumCompactors  int
	// GCInterval is how often value-log GC runs; 0 disables it.
	GCInterval time.Duration
	// GCDiscardRatio: a value-log file is rewritten when at least this
	// fraction of it is garbage.
	GCDiscardRatio float64
	// InMemory keeps everything in RAM (tests only).
	InMemory bool
}

// LogSizing is the profile of the Raft log database. SyncWrites is on: an
// acknowledged write must be on disk on a quorum.
func LogSizing() Sizing {
	return Sizing{
		MemTableSize:     16 << 20,
		NumMemtables:     3,
		BlockCacheSize:   16 << 20,
		IndexCacheSize:   8 << 20,
		ValueLogFileSize: 256 << 20,
		// Entries below this stay in the synced WAL alone: one above it
		// also goes to the value log, a second sync per commit (8 KiB
		// entries: 4.2 ms per commit against 3.0 ms at 1 KiB on the
		// development disk). Tracking batches (at most 256 KiB) and most
		// import batches stay below it.
		ValueThreshold: 512 << 10,
		SyncWrites:     true,
		NumCompactors:  2,
		GCInterval:     5 * time.Minute,
		GCDiscardRatio: 0.5,
	}
}

// StateSizing is the profile of the shard-state database. SyncWrites is off:
// the Raft log is durable and replaying it is idempotent (the FSM skips
// entries at or below the stored applied index and dedups command ids), so a
// state write lost in a crash is rewritten on restart.
func StateSizing() Sizing {
	return Sizing{
		MemTableSize:     32 << 20,
		NumMemtables:     3,
		BlockCacheSize:   64 << 20,
		IndexCacheSize:   32 << 20,
		ValueLogFileSize: 256 << 20,
		ValueThreshold:   64 << 10,
		SyncWrites:       false,
		NumCompactors:    2,
		GCInterval:       10 * time.Minute,
		GCDiscardRatio:   0.5,
	}
}

// Validate checks that the sizing can open a database.
func (s Sizing) Validate() error {
	switch {
	case s.MemTableSize <= 0:
		return errors.New("kv: MemTableSize must be positive")
	case s.NumMemtables < 1:
		return errors.New("kv: NumMemtables must be at least 1")
	case s.ValueLogFileSize < 1<<20 || s.ValueLogFileSize >= 2<<30:
		return errors.New("kv: ValueLogFileSize must be in [1 MiB, 2 GiB)")
	case s.NumCompactors != 0 && s.NumCompactors < 2:
		return errors.New("kv: NumCompactors must be 0 (default) or at least 2")
	case s.GCInterval < 0:
		return errors.New("kv: GCInterval must not be negative")
	case s.GCInterval > 0 && (s.GCDiscardRatio <= 0 || s.GCDiscardRatio >= 1):
		return errors.New("kv: GCDiscardRatio must be in (0, 1)")
	}
	return nil
}

// DB is a Badger database with its value-log GC loop.
type DB struct {
	*badger.DB
	logger *slog.Logger
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	gcRuns atomic.Int64 // GC rounds run, for tests
	// readErrs counts values Badger could not read (see ReadErrors).
	readErrs *atomic.Int64
}

// Open opens (or creates) the Badger database in dir. logger may be nil.
func Open(dir string, s Sizing, logger *slog.Logger) (*DB, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("db", dir)
	readErrs := new(atomic.Int64)
	opts := badger.DefaultOptions(dir).
		WithMemTableSize(s.MemTableSize).
		WithNumMemtables(s.NumMemtables).
		WithNumLevelZeroTables(min(5, s.NumMemtables+1)).
		WithBlockCacheSize(s.BlockCacheSize).
		WithIndexCacheSize(s.IndexCacheSize).
		WithValueLogFileSize(s.ValueLogFileSize).
		WithSyncWrites(s.SyncWrites).
		WithMetricsEnabled(false).
		// Each key has one writer (a group's raft or apply goroutine), so
		// transaction conflict tracking is pure overhead.
		WithDetectConflicts(false).
		WithLogger(slogAdapter{l: logger, readErrs: readErrs}).
		// Badger's default verifies nothing: a flipped bit in an SSTable
		// block reads as missing keys (issue 11: 8,721 of 15,200
		// acknowledged orders vanished after 64 random bytes). Every
		// table is read and checked once before open (verifyTables, not
		// Badger's OnTableRead, which crashes on damage); blocks are
		// checked again on every read, values on every read. Cost:
		// docs/architecture.md ("Apply and durability").
		WithChecksumVerificationMode(options.OnBlockRead).
		WithVerifyValueChecksum(true)
	if s.ValueThreshold > 0 {
		opts = opts.WithValueThreshold(s.ValueThreshold)
	}
	if s.NumCompactors > 0 {
		opts = opts.WithNumCompactors(s.NumCompactors)
	}
	if s.InMemory {
		opts = opts.WithDir("").WithValueDir("").WithInMemory(true)
	}
	if !s.InMemory {
		if err := verifyTables(dir, opts); err != nil {
			return nil, err
		}
	}
	bdb, err := badger.Open(opts)
	if err != nil {
		if cerr := asCorrupt(dir, err); cerr != nil {
			return nil, cerr
		}
		return nil, fmt.Errorf("cannot open badger in %q: %w", dir, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	db := &DB{DB: bdb, logger: logger, cancel: cancel, readErrs: readErrs}
	if s.GCInterval > 0 && !s.InMemory {
		db.wg.Add(1)
		go db.gcLoop(ctx, s.GCInterval, s.GCDiscardRatio)
	}
	return db, nil
}

// gcLoop runs value-log GC on a timer. One RunValueLogGC call rewrites at
// most one file, so it repeats while files are being reclaimed.
func (db *DB) gcLoop(ctx context.Context, every time.Duration, ratio float64) {
	defer db.wg.Done()
	periodic.Run(ctx, every, func() {
		db.gcRuns.Add(1)
		for ctx.Err() == nil {
			err := db.RunValueLogGC(ratio)
			if err == nil {
				continue
			}
			if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) {
				db.logger.Warn("value log gc failed", "err", err)
			}
			break
		}
	})
}

// Close stops the GC loop and closes the database. It is safe to call more
// than once.
func (db *DB) Close() error {
	var err error
	db.once.Do(func() {
		db.cancel()
		db.wg.Wait()
		err = db.DB.Close()
	})
	return err
}

// ReadErrors is how many times Badger failed to read a value (a value-log
// checksum mismatch, or an entry past the end of a value-log file Badger
// truncated at open). Badger logs these and hands the caller an empty value
// with no error (Item.Value in v4.9.6: "Don't return error if we cannot
// read the value. Just log the error."), so its log is the only signal:
// callers check this counter after reading what must be intact.
func (db *DB) ReadErrors() int64 { return db.readErrs.Load() }

// slogAdapter routes Badger's printf-style logs to slog. Badger's info
// chatter (compactions, flushes) goes to debug.
type slogAdapter struct {
	l        *slog.Logger
	readErrs *atomic.Int64
}

// badgerReadError starts the message Badger logs for a value it could not
// read (iterator.go, yieldItemValue).
const badgerReadError = "Unable to read:"

func (a slogAdapter) Errorf(f string, args ...any) {
	msg := trim(fmt.Sprintf(f, args...))
	if a.readErrs != nil && strings.HasPrefix(msg, badgerReadError) {
		a.readErrs.Add(1)
	}
	a.l.Error(msg)
}
func (a slogAdapter) Warningf(f string, args ...any) {
	a.l.Warn(trim(fmt.Sprintf(f, args...)))
}
func (a slogAdapter) Infof(f string, args ...any)  { a.l.Debug(trim(fmt.Sprintf(f, args...))) }
func (a slogAdapter) Debugf(f string, args ...any) { a.l.Debug(trim(fmt.Sprintf(f, args...))) }

func trim(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == ' ') {
		s = s[:len(s)-1]
	}
	return s
}

// DeletePrefix deletes every key that starts with prefix and returns how
// many it deleted. It writes tombstones in batches (a WriteBatch) rather
// than calling Badger's DropPrefix, which blocks every writer of the
// database while it runs: the other Raft groups keep writing meanwhile.
// Keys written under prefix while it runs may survive; callers delete
// ranges nobody writes to any more.
func (db *DB) DeletePrefix(prefix []byte) (int, error) {
	if len(prefix) == 0 {
		return 0, errors.New("kv: refusing to delete the empty prefix (the whole database)")
	}
	wb := db.NewWriteBatch()
	defer wb.Cancel()
	n := 0
	err := db.View(func(txn *badger.Txn) error {
		it := keyIterator(txn, prefix)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := wb.Delete(it.Item().KeyCopy(nil)); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err == nil {
		err = wb.Flush()
	}
	if err != nil {
		return 0, fmt.Errorf("cannot delete keys under prefix %q: %w", prefix, err)
	}
	return n, nil
}

// keyIterator walks the keys under prefix without reading values.
func keyIterator(txn *badger.Txn, prefix []byte) *badger.Iterator {
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	opts.Prefix = prefix
	return txn.NewIterator(opts)
}

// HasPrefix reports whether any key starts with prefix.
func (db *DB) HasPrefix(prefix []byte) (bool, error) {
	found := false
	err := db.View(func(txn *badger.Txn) error {
		it := keyIterator(txn, prefix)
		defer it.Close()
		it.Rewind()
		found = it.Valid()
		return nil
	})
	return found, err
}
