package kv

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// writeClosedDB fills a database in dir with n keys and closes it, which
// flushes the memtable into an SSTable.
func writeClosedDB(t *testing.T, dir string, s Sizing, n int) {
	t.Helper()
	db, err := Open(dir, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	wb := db.NewWriteBatch()
	for i := range n {
		if err := wb.Set(fmt.Appendf(nil, "key-%08d", i), fmt.Appendf(nil, "value-%08d-%s", i, strings.Repeat("x", 40))); err != nil {
			t.Fatal(err)
		}
	}
	if err := wb.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// damage writes 64 random bytes at a random offset of the first file in
// dir whose name ends with ext, and returns its path.
func damage(t *testing.T, dir, ext string, rng *rand.Rand) string {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(dir, "*"+ext))
	if len(paths) == 0 {
		t.Fatalf("no %s file in %s", ext, dir)
	}
	path := paths[0]
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, 64)
	for i := range junk {
		junk[i] = byte(rng.UintN(256))
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(junk, rng.Int64N(st.Size()-int64(len(junk)))); err != nil {
		t.Fatal(err)
	}
	return path
}

// The attack of issue 11: random bytes in an SSTable of a closed database.
// Badger's default skipped the damage silently; Open must refuse, naming the
// file. Several offsets, since damage in the data blocks, the index and the
// footer takes different paths through Badger.
func TestOpenRefusesDamagedTable(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Sizing
	}{{"state", StateSizing()}, {"raft-log", LogSizing()}} {
		for seed := range uint64(6) {
			t.Run(fmt.Sprintf("%s/%d", tc.name, seed), func(t *testing.T) {
				dir := t.TempDir()
				writeClosedDB(t, dir, tc.s, 5000)
				path := damage(t, dir, ".sst", rand.New(rand.NewPCG(seed, 11)))
				db, err := Open(dir, tc.s, nil)
				if err == nil {
					db.Close()
					t.Fatalf("a damaged table (%s) opened without error", path)
				}
				var ce *CorruptError
				if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
					t.Fatalf("want a CorruptError, got %T: %v", err, err)
				}
				t.Logf("refused: %v", err)
				if ce.File != path || !strings.Contains(err.Error(), filepath.Base(path)) {
					t.Fatalf("error names %q, want %q: %v", ce.File, path, err)
				}
			})
		}
	}
}

// An intact database opens, and checksum verification on reads accepts
// what was written.
func TestOpenVerifiesIntactTables(t *testing.T) {
	dir := t.TempDir()
	writeClosedDB(t, dir, StateSizing(), 5000)
	db, err := Open(dir, StateSizing(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n := 0
	if err := db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if _, err := it.Item().ValueCopy(nil); err != nil {
				return err
			}
			n++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != 5000 {
		t.Fatalf("read %d keys, want 5000", n)
	}
}

// Errors that are not damage stay plain errors.
func TestAsCorruptLeavesOtherErrors(t *testing.T) {
	if asCorrupt("/d", errors.New("Cannot acquire directory lock on \"/d\"")) != nil {
		t.Fatal("a lock error classified as damage")
	}
	err := asCorrupt("/d", errors.New(`Opening table: "/d/000007.sst" err: failed to verify checksum`))
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.File != "/d/000007.sst" {
		t.Fatalf("got %v", err)
	}
	err = asCorrupt("/d", errors.New("manifest has checksum mismatch"))
	if !errors.As(err, &ce) || ce.File != "" {
		t.Fatalf("got %v", err)
	}
}
