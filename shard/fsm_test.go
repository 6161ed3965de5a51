package shard

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"
	"github.com/sibylhq/sibyl/shard/statemachine"
)

func entryOf(index uint64, cmds ...*statemachine.Command) *raft.Log {
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: EncodeBatch(cmds)}
}

func newFSM(t *testing.T, db *kvDB, group string, sm statemachine.StateMachine) *FSM {
	t.Helper()
	f, err := NewFSM(db, group, sm, DefaultDedupWindow, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFSMReplayIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	db := openStateDB(t, dir)
	sm := newKV()
	f := newFSM(t, db, "s1", sm)
	const t0 = int64(1_700_000_000_000)

	res := f.ApplyBatch([]*raft.Log{
		entryOf(1, setCmd("c1", "a", "1", t0), setCmd("c2", "b", "2", t0)),
		{Index: 2, Term: 1, Type: raft.LogConfiguration},
		entryOf(3, setCmd("c3", "a", "3", t0+1), &statemachine.Command{ID: "c4", Op: "reject", Time: t0 + 1}),
	})
	want := []any{[]any{"set:a", "set:b"}, nil, []any{"set:a", errRejected}}
	if len(res) != 3 || !equalResults(res[0], want[0]) || res[1] != nil || !equalResults(res[2], want[2]) {
		t.Fatalf("results = %#v, want %#v", res, want)
	}
	if f.AppliedIndex() != 3 {
		t.Fatalf("applied = %d, want 3", f.AppliedIndex())
	}

	// Restart: a fresh FSM over the same (reopened) DB loads the state.
	db.Close()
	db = openStateDB(t, dir)
	defer db.Close()
	sm2 := newKV()
	f = newFSM(t, db, "s1", sm2)
	if f.AppliedIndex() != 3 || !maps.Equal(sm2.snapshot(), map[string]string{"a": "3", "b": "2"}) {
		t.Fatalf("after reopen applied=%d state=%v", f.AppliedIndex(), sm2.snapshot())
	}
	// Raft replays entries after its last snapshot: 1 and 3 are skipped,
	// 4 is new; its duplicate id c2 is a no-op and c5 applies once even
	// though it appears twice in the same entry.
	res = f.ApplyBatch([]*raft.Log{
		entryOf(1, setCmd("c1", "a", "1", t0)),
		entryOf(3, setCmd("c3", "a", "3", t0+1)),
		entryOf(4, setCmd("c2", "b", "replayed", t0+2), setCmd("c5", "c", "5", t0+2), setCmd("c5", "c", "again", t0+2)),
	})
	if res[0] != nil || res[1] != nil {
		t.Fatalf("replayed entries returned %v, %v; want nil (skipped)", res[0], res[1])
	}
	if !equalResults(res[2], []any{ErrDuplicateCommand, "set:c", ErrDuplicateCommand}) {
		t.Fatalf("entry 4 results = %#v", res[2])
	}
	if sm2.applyCount() != 1 {
		t.Fatalf("state machine Apply called %d times, want 1", sm2.applyCount())
	}
	if got := sm2.snapshot(); !maps.Equal(got, map[string]string{"a": "3", "b": "2", "c": "5"}) {
		t.Fatalf("state = %v", got)
	}
	// The same id in a later entry, after a restart, is still a duplicate.
	db.Close()
	db = openStateDB(t, dir)
	f = newFSM(t, db, "s1", newKV())
	res = f.ApplyBatch([]*raft.Log{entryOf(5, setCmd("c5", "c", "x", t0+3))})
	if !equalResults(res[0], []any{ErrDuplicateCommand}) {
		t.Fatalf("duplicate after restart = %#v", res[0])
	}
}

func TestFSMDedupWindowExpiresAndPrunes(t *testing.T) {
	db := openStateDB(t, t.TempDir())
	defer db.Close()
	sm := newKV()
	f := newFSM(t, db, "s1", sm)
	const t0 = int64(1_700_000_000_000)
	day := DefaultDedupWindow.Milliseconds()

	f.ApplyBatch([]*raft.Log{entryOf(1, setCmd("old", "a", "1", t0), setCmd("mid", "b", "1", t0+day/2))})
	if n := countKeys(t, db, f.key(nsID, nil)); n != 2 {
		t.Fatalf("%d ids stored, want 2", n)
	}
	// The command clock moves past t0+24h: "old" expires and is pruned,
	// "mid" is still remembered.
	f.ApplyBatch([]*raft.Log{entryOf(2, setCmd("new", "c", "1", t0+day+1))})
	if n := countKeys(t, db, f.key(nsID, nil)); n != 2 {
		t.Fatalf("%d ids stored after pruning, want 2 (mid, new)", n)
	}
	if n := countKeys(t, db, f.key(nsTime, nil)); n != 2 {
		t.Fatalf("%d time-index keys after pruning, want 2", n)
	}
	res := f.ApplyBatch([]*raft.Log{entryOf(3, setCmd("old", "a", "2", t0+day+2), setCmd("mid", "b", "2", t0+day+2))})
	if !equalResults(res[0], []any{"set:a", ErrDuplicateCommand}) {
		t.Fatalf("results = %#v: an expired id must apply again, a live one must not", res[0])
	}
	// "mid" expires and is used again in the same apply call that prunes
	// its first use: the second use must stay remembered, also after a
	// later prune pass.
	res = f.ApplyBatch([]*raft.Log{
		entryOf(4, setCmd("later", "d", "1", t0+day+day/2+1)),
		entryOf(5, setCmd("mid", "b", "3", t0+day+day/2+1)),
	})
	if !equalResults(res[1], []any{"set:b"}) {
		t.Fatalf("expired id not applied again: %#v", res[1])
	}
	f.ApplyBatch([]*raft.Log{entryOf(6, setCmd("later2", "e", "1", t0+2*day))})
	res = f.ApplyBatch([]*raft.Log{entryOf(7, setCmd("mid", "b", "4", t0+2*day))})
	if !equalResults(res[0], []any{ErrDuplicateCommand}) {
		t.Fatalf("re-applied id forgotten after pruning its first use: %#v", res[0])
	}
	if n := countKeys(t, db, f.key(nsTime, nil)); n != countKeys(t, db, f.key(nsID, nil)) {
		t.Fatalf("time index has %d keys for %d ids", n, countKeys(t, db, f.key(nsID, nil)))
	}
}

func TestFSMSnapshotRestoreIntoFreshState(t *testing.T) {
	srcDB := openStateDB(t, t.TempDir())
	defer srcDB.Close()
	src := newFSM(t, srcDB, "s7", newKV())
	const t0 = int64(1_700_000_000_000)
	var logs []*raft.Log
	for i := range 300 {
		k := string(rune('a'+i%26)) + string(rune('a'+i/26))
		logs = append(logs, entryOf(uint64(i+1), setCmd("id"+k, k, k+"-v", t0+int64(i))))
	}
	src.ApplyBatch(logs)
	src.ApplyBatch([]*raft.Log{entryOf(301, &statemachine.Command{ID: "d", Op: "del", Time: t0 + 400, Body: []byte("aa")})})

	snap, err := src.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// Applies after Snapshot() must not leak into the persisted stream.
	src.ApplyBatch([]*raft.Log{entryOf(302, setCmd("late", "late", "x", t0+500))})
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	if !sink.closed {
		t.Fatal("Persist did not close the sink")
	}

	// The destination has stale data of the same group and data of another
	// group that must survive.
	dstDB := openStateDB(t, t.TempDir())
	defer dstDB.Close()
	other := newFSM(t, dstDB, "s70", newKV())
	other.ApplyBatch([]*raft.Log{entryOf(9, setCmd("o", "keep", "me", t0))})
	dstSM := newKV()
	dst := newFSM(t, dstDB, "s7", dstSM)
	dst.ApplyBatch([]*raft.Log{entryOf(1000, setCmd("stale", "stale", "x", t0))})

	if err := dst.Restore(io.NopCloser(bytes.NewReader(sink.buf.Bytes()))); err != nil {
		t.Fatal(err)
	}
	wantState := newKV()
	srcCopy := newFSM(t, srcDB, "s7", wantState) // reload the source from disk
	want := wantState.snapshot()
	delete(want, "late")
	if got := dstSM.snapshot(); !maps.Equal(got, want) || len(got) != 299 {
		t.Fatalf("restored %d keys, want %d equal to the source at the snapshot", len(got), len(want))
	}
	if dst.AppliedIndex() != 301 {
		t.Fatalf("restored applied index %d, want 301", dst.AppliedIndex())
	}
	_ = srcCopy
	// Dedup state travels with the snapshot.
	res := dst.ApplyBatch([]*raft.Log{entryOf(302, setCmd("idba", "ba", "changed", t0+500))})
	if !equalResults(res[0], []any{ErrDuplicateCommand}) {
		t.Fatalf("id applied before the snapshot not deduplicated after restore: %#v", res[0])
	}
	otherSM := newKV()
	newFSM(t, dstDB, "s70", otherSM)
	if v, _ := otherSM.get("keep"); v != "me" {
		t.Fatal("restore of s7 touched group s70 (prefix s7 must not match s70)")
	}
	if err := dst.Restore(io.NopCloser(bytes.NewReader([]byte("garbage")))); err == nil {
		t.Fatal("restoring garbage succeeded")
	}
}

func countKeys(t *testing.T, db *kvDB, prefix []byte) int {
	t.Helper()
	n := 0
	err := db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefix
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func equalResults(got, want any) bool {
	g, ok1 := got.([]any)
	w, ok2 := want.([]any)
	if !ok1 || !ok2 || len(g) != len(w) {
		return false
	}
	for i := range g {
		ge, gIsErr := g[i].(error)
		we, wIsErr := w[i].(error)
		if gIsErr || wIsErr {
			if !gIsErr || !wIsErr || !errors.Is(ge, we) {
				return false
			}
			continue
		}
		if g[i] != w[i] {
			return false
		}
	}
	return true
}

type memSink struct {
	buf      bytes.Buffer
	closed   bool
	canceled bool
}

func (s *memSink) Write(p []byte) (int, error) { return s.buf.Write(p) }
func (s *memSink) Close() error                { s.closed = true; return nil }
func (s *memSink) ID() string                  { return "mem" }
func (s *memSink) Cancel() error               { s.canceled = true; return nil }

var _ = time.Second
