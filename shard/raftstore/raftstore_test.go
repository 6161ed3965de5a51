package raftstore

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/sibylhq/sibyl/shard/kv"
)

func openDB(t *testing.T, dir string) *kv.DB {
	t.Helper()
	s := kv.LogSizing()
	s.GCInterval = 0
	db, err := kv.Open(dir, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func mustStore(t *testing.T, db *kv.DB, group string) *Store {
	t.Helper()
	s, err := New(db, group)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func entry(i uint64) *raft.Log {
	return &raft.Log{
		Index: i, Term: i/10 + 1, Type: raft.LogCommand,
		Data:       []byte(fmt.Sprintf("data-%d", i)),
		Extensions: []byte{byte(i)},
		AppendedAt: time.Unix(1700000000, int64(i)),
	}
}

func bounds(t *testing.T, s *Store) (uint64, uint64) {
	t.Helper()
	f, err := s.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	return f, l
}

func TestLogStoreContract(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	a, b := mustStore(t, db, "a"), mustStore(t, db, "b")

	if f, l := bounds(t, a); f != 0 || l != 0 {
		t.Fatalf("empty bounds = %d,%d", f, l)
	}
	var got raft.Log
	if err := a.GetLog(1, &got); !errors.Is(err, raft.ErrLogNotFound) {
		t.Fatalf("GetLog on empty = %v, want ErrLogNotFound", err)
	}
	var logs []*raft.Log
	for i := uint64(1); i <= 50; i++ {
		logs = append(logs, entry(i))
	}
	if err := a.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	if err := b.StoreLog(entry(7)); err != nil {
		t.Fatal(err)
	}
	if f, l := bounds(t, a); f != 1 || l != 50 {
		t.Fatalf("bounds = %d,%d want 1,50", f, l)
	}
	if f, l := bounds(t, b); f != 7 || l != 7 {
		t.Fatalf("group b bounds = %d,%d want 7,7 (groups must not mix)", f, l)
	}
	for _, i := range []uint64{1, 23, 50} {
		if err := a.GetLog(i, &got); err != nil {
			t.Fatal(err)
		}
		want := entry(i)
		if got.Index != i || got.Term != want.Term || got.Type != want.Type ||
			!bytes.Equal(got.Data, want.Data) || !bytes.Equal(got.Extensions, want.Extensions) ||
			!got.AppendedAt.Equal(want.AppendedAt) {
			t.Fatalf("GetLog(%d) = %+v, want %+v", i, got, *want)
		}
	}

	// Compaction from the front, then truncation of the tail (conflict).
	if err := a.DeleteRange(1, 20); err != nil {
		t.Fatal(err)
	}
	if f, l := bounds(t, a); f != 21 || l != 50 {
		t.Fatalf("after prefix delete bounds = %d,%d want 21,50", f, l)
	}
	if err := a.GetLog(20, &got); !errors.Is(err, raft.ErrLogNotFound) {
		t.Fatalf("deleted log still readable: %v", err)
	}
	if err := a.DeleteRange(41, 50); err != nil {
		t.Fatal(err)
	}
	if f, l := bounds(t, a); f != 21 || l != 40 {
		t.Fatalf("after suffix delete bounds = %d,%d want 21,40", f, l)
	}
	// A gap (as after a snapshot install) then deleting across it.
	if err := a.StoreLogs([]*raft.Log{entry(1000), entry(1001)}); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteRange(21, 1000); err != nil {
		t.Fatal(err)
	}
	if f, l := bounds(t, a); f != 1001 || l != 1001 {
		t.Fatalf("after gap delete bounds = %d,%d want 1001,1001", f, l)
	}
	if err := b.DeleteRange(0, 100); err != nil {
		t.Fatal(err)
	}
	if f, l := bounds(t, b); f != 0 || l != 0 {
		t.Fatalf("emptied group bounds = %d,%d want 0,0", f, l)
	}

	// Restart: bounds and entries come back from disk.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openDB(t, dir)
	defer db.Close()
	a = mustStore(t, db, "a")
	if f, l := bounds(t, a); f != 1001 || l != 1001 {
		t.Fatalf("after reopen bounds = %d,%d want 1001,1001", f, l)
	}
	if err := a.GetLog(1001, &got); err != nil || string(got.Data) != "data-1001" {
		t.Fatalf("after reopen GetLog = %+v, %v", got, err)
	}
}

func TestStableStoreContract(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	s := mustStore(t, db, "g1")
	other := mustStore(t, db, "g2")

	// raft compares err.Error() with "not found" (api.go, raft.go).
	if _, err := s.Get([]byte("missing")); err == nil || err.Error() != "not found" {
		t.Fatalf("Get(missing) err = %v, want exactly \"not found\"", err)
	}
	if v, err := s.GetUint64([]byte("missing")); v != 0 || err != nil {
		t.Fatalf("GetUint64(missing) = %d, %v; want 0, nil", v, err)
	}
	snaps := raft.NewInmemSnapshotStore()
	if has, err := raft.HasExistingState(s, s, snaps); err != nil || has {
		t.Fatalf("fresh HasExistingState = %v, %v; want false, nil", has, err)
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 3); err != nil {
		t.Fatal(err)
	}
	if err := s.Set([]byte("LastVoteCand"), []byte("node-2")); err != nil {
		t.Fatal(err)
	}
	if has, err := raft.HasExistingState(s, s, snaps); err != nil || !has {
		t.Fatalf("HasExistingState after term = %v, %v; want true", has, err)
	}
	if has, _ := raft.HasExistingState(other, other, snaps); has {
		t.Fatal("another group sees this group's term")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openDB(t, dir)
	defer db.Close()
	s = mustStore(t, db, "g1")
	if v, err := s.GetUint64([]byte("CurrentTerm")); v != 3 || err != nil {
		t.Fatalf("after reopen GetUint64 = %d, %v; want 3", v, err)
	}
	if v, err := s.Get([]byte("LastVoteCand")); string(v) != "node-2" || err != nil {
		t.Fatalf("after reopen Get = %q, %v", v, err)
	}
}

func TestDecodeRejectsCorruption(t *testing.T) {
	b := encodeLog(entry(5))
	var l raft.Log
	for _, bad := range [][]byte{nil, b[:10], b[:len(b)-1], append(append([]byte{}, b...), 0)} {
		if err := decodeLog(bad, &l); !errors.Is(err, ErrCorruptLog) {
			t.Fatalf("decodeLog(%x) = %v, want ErrCorruptLog", bad, err)
		}
	}
}

func BenchmarkStoreLogs(b *testing.B) {
	db, err := kv.Open(b.TempDir(), kv.LogSizing(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s, _ := New(db, "bench")
	data := bytes.Repeat([]byte("x"), 1024)
	idx := uint64(0)
	b.ResetTimer()
	for b.Loop() {
		batch := make([]*raft.Log, 16)
		for i := range batch {
			idx++
			batch[i] = &raft.Log{Index: idx, Term: 1, Data: data}
		}
		if err := s.StoreLogs(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*16)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkStoreLogSize is one StoreLogs call (one commit, synced) per
// entry size: an entry above the log DB's value threshold also goes to
// Badger's value log, which costs a second sync.
func BenchmarkStoreLogSize(b *testing.B) {
	for _, size := range []int{1 << 10, 8 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			db, err := kv.Open(b.TempDir(), kv.LogSizing(), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			s, _ := New(db, "bench")
			data := bytes.Repeat([]byte("x"), size)
			idx := uint64(0)
			for b.Loop() {
				idx++
				if err := s.StoreLogs([]*raft.Log{{Index: idx, Term: 1, Data: data}}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// CheckContiguous accepts a log raft can read from `from` to the end and
// refuses one with a hole or a missing head, which raft would meet with
// "panic: log not found".
func TestCheckContiguous(t *testing.T) {
	db := openDB(t, t.TempDir())
	defer db.Close()
	s := mustStore(t, db, "g")
	f := func(from uint64, wantErr bool) {
		t.Helper()
		err := s.CheckContiguous(from)
		if (err != nil) != wantErr || (err != nil && !errors.Is(err, ErrMissingLog)) {
			t.Fatalf("CheckContiguous(%d) = %v, want error %v", from, err, wantErr)
		}
	}
	f(1, false) // empty log
	var logs []*raft.Log
	for i := uint64(1); i <= 20; i++ {
		logs = append(logs, entry(i))
	}
	if err := s.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	f(1, false)
	f(15, false)
	f(25, false) // a snapshot ahead of the log: raft needs none of it
	if err := s.DeleteRange(1, 5); err != nil {
		t.Fatal(err)
	}
	f(1, true)  // raft would start at 1 but the log starts at 6
	f(6, false) // after a snapshot at 5
	if err := s.DeleteRange(10, 11); err != nil {
		t.Fatal(err)
	}
	f(6, true)
	f(12, false)
	if err := s.DeleteRange(20, 20); err != nil { // a shorter tail is no hole
		t.Fatal(err)
	}
	f(12, false)
}

// An entry big enough for Badger's value log (not covered by the open-time
// table check) that is damaged there is refused by CheckContiguous, not
// left for raft to panic on.
func TestCheckContiguousReadsValueLog(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	s := mustStore(t, db, "g")
	big := entry(1)
	big.Data = bytes.Repeat([]byte("v"), 700<<10) // over the log's 512 KiB value threshold
	if err := s.StoreLogs([]*raft.Log{big, entry(2)}); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckContiguous(1); err != nil {
		t.Fatal(err)
	}
	db.Close()
	vlogs, _ := filepath.Glob(filepath.Join(dir, "*.vlog"))
	var damaged bool
	for _, p := range vlogs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if i := bytes.Index(b, []byte("vvvvvvvv")); i >= 0 {
			copy(b[i+300<<10:], "damage")
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
			damaged = true
		}
	}
	if !damaged {
		t.Fatal("the big entry is not in a value-log file")
	}
	db = openDB(t, dir)
	defer db.Close()
	err := mustStore(t, db, "g").CheckContiguous(1)
	if !errors.Is(err, ErrCorruptLog) {
		t.Fatalf("CheckContiguous over a damaged value-log entry = %v", err)
	}
	t.Log(err)
}
