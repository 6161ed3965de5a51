package kv

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

func TestSizingValidate(t *testing.T) {
	for _, s := range []Sizing{LogSizing(), StateSizing()} {
		if err := s.Validate(); err != nil {
			t.Fatalf("preset invalid: %v", err)
		}
	}
	bad := LogSizing()
	bad.GCDiscardRatio = 1
	if bad.Validate() == nil {
		t.Fatal("discard ratio 1 accepted")
	}
	bad = StateSizing()
	bad.NumCompactors = 1
	if bad.Validate() == nil {
		t.Fatal("one compactor accepted (badger needs at least 2)")
	}
	if !LogSizing().SyncWrites || StateSizing().SyncWrites {
		t.Fatal("the log DB must sync writes; the state DB relies on log replay instead")
	}
}

// The GC loop runs on its timer and stops on Close; data survives reopen.
func TestOpenGCAndClose(t *testing.T) {
	base := runtime.NumGoroutine()
	dir := t.TempDir()
	s := StateSizing()
	s.GCInterval = 5 * time.Millisecond
	s.ValueLogFileSize = 1 << 20
	s.ValueThreshold = 1 << 10
	db, err := Open(dir, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	val := make([]byte, 4<<10)
	for round := range 3 {
		wb := db.NewWriteBatch()
		for i := range 300 {
			if err := wb.Set([]byte{byte(i >> 8), byte(i)}, val); err != nil {
				t.Fatal(err)
			}
		}
		if err := wb.Flush(); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	// Let a few GC rounds run against real garbage.
	for deadline := time.Now().Add(5 * time.Second); db.gcRuns.Load() < 3; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("value-log GC loop did not run")
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after Close, %d before", runtime.NumGoroutine(), base)
		}
		time.Sleep(5 * time.Millisecond)
	}
	db, err = Open(dir, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte{1, 2})
		if err != nil {
			return err
		}
		if item.ValueSize() != int64(len(val)) {
			t.Fatalf("value size %d after reopen", item.ValueSize())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// DeletePrefix deletes exactly the keys under the prefix (more than one
// WriteBatch's worth) and refuses the empty prefix.
func TestDeletePrefix(t *testing.T) {
	s := StateSizing()
	s.InMemory = true
	db, err := Open("", s, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	wb := db.NewWriteBatch()
	for i := range 20000 {
		for _, p := range []string{"\x02s1", "\x03s10"} {
			if err := wb.Set([]byte(fmt.Sprintf("%s/%06d", p, i)), []byte("v")); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := wb.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.DeletePrefix(nil); err == nil {
		t.Fatal("empty prefix accepted")
	}
	n, err := db.DeletePrefix([]byte("\x02s1"))
	if err != nil || n != 20000 {
		t.Fatalf("DeletePrefix = %d, %v; want 20000", n, err)
	}
	if has, _ := db.HasPrefix([]byte("\x02s1")); has {
		t.Fatal("keys left under the deleted prefix")
	}
	if has, _ := db.HasPrefix([]byte("\x03s10")); !has {
		t.Fatal("the neighbouring group's keys were deleted")
	}
	if n, _ := db.DeletePrefix([]byte("\x03s10")); n != 20000 {
		t.Fatalf("second prefix: %d keys deleted, want 20000", n)
	}
}
