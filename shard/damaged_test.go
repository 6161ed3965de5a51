package shard

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/shard/kv"
	"github.com/sibylhq/sibyl/shard/raftstore"
)

// writeAndClose runs a one-shard node in dir, applies n set commands (with
// a snapshot half way, so a rebuild needs both the snapshot and the log
// after it) and closes it.
func writeAndClose(t *testing.T, dir string, n int) {
	t.Helper()
	ms := &machines{}
	m := openManager(t, testConfig("n1", dir, "127.0.0.1:0", 1, ms))
	defer m.Close()
	if err := m.WaitReady(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if i == n/2 {
			if err := m.Shard(0).Snapshot(); err != nil {
				t.Fatal(err)
			}
		}
		cmd := setCmd(fmt.Sprintf("c%d", i), fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i), int64(i+1))
		if _, _, err := m.ProposeStore(ctxTimeout(t, 5*time.Second), cmd); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

// damageSST writes 64 random bytes into the middle of an SSTable of db
// (the attack of issue 11) and returns its path.
func damageSST(t *testing.T, db string) string {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(db, "*.sst"))
	if len(paths) == 0 {
		t.Fatalf("no SSTable in %s", db)
	}
	b, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(len(b)), 4))
	off := len(b) / 3
	for i := range 64 {
		b[off+i] = byte(rng.UintN(256))
	}
	if err := os.WriteFile(paths[0], b, 0o600); err != nil {
		t.Fatal(err)
	}
	return paths[0]
}

// expectRefusal opens the manager and expects a DamagedStorageError for db
// naming want (a file, or a message part).
func expectRefusal(t *testing.T, c Config, db, want string) {
	t.Helper()
	m, err := Open(c)
	if err == nil {
		m.Close()
		t.Fatalf("opened with a damaged %s database", db)
	}
	var de *DamagedStorageError
	if !errors.As(err, &de) || de.DB != db || !errors.Is(err, kv.ErrCorrupt) {
		t.Fatalf("want a DamagedStorageError for %s, got %T: %v", db, err, err)
	}
	if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "To recover:") {
		t.Fatalf("the refusal does not name %q or say how to recover: %v", want, err)
	}
	t.Logf("refused: %v", err)
}

// A damaged state database is refused with the file named; with
// RepairState it is moved aside (kept) and every applied write comes back
// from the node's own snapshot and Raft log.
func TestDamagedStateRefusedOrRebuilt(t *testing.T) {
	dir := t.TempDir()
	const n = 60
	writeAndClose(t, dir, n)
	sst := damageSST(t, filepath.Join(dir, "state"))

	c := testConfig("n1", dir, "127.0.0.1:0", 1, &machines{})
	c.RepairState = false
	expectRefusal(t, c, "state", sst)

	ms := &machines{}
	c = testConfig("n1", dir, "127.0.0.1:0", 1, ms)
	c.RepairState = true
	m := openManager(t, c)
	defer m.Close()
	aside, _ := filepath.Glob(filepath.Join(dir, "state.damaged-*"))
	if len(aside) != 1 {
		t.Fatalf("the damaged state was not moved aside: %v", aside)
	}
	if _, err := os.Stat(filepath.Join(aside[0], filepath.Base(sst))); err != nil {
		t.Fatalf("the damaged table is not kept: %v", err)
	}
	if m.ShardCount() != 1 {
		t.Fatalf("shard count %d after the rebuild, want 1 (kept in the log database too)", m.ShardCount())
	}
	if err := m.WaitReady(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	sm := ms.get("n1", ShardGroupID(0))
	eventually(t, 10*time.Second, "every write rebuilt", func() bool { return len(sm.snapshot()) == n })
	for i := range n {
		if v, _ := sm.get(fmt.Sprintf("k%d", i)); v != fmt.Sprintf("v%d", i) {
			t.Fatalf("k%d = %q after the rebuild", i, v)
		}
	}
}

// A damaged Raft-log database is refused with the file named, never a
// panic; a single node is told it has no replica to copy from.
func TestDamagedRaftLogRefused(t *testing.T) {
	dir := t.TempDir()
	writeAndClose(t, dir, 40)
	sst := damageSST(t, filepath.Join(dir, "raft-log"))
	c := testConfig("n1", dir, "127.0.0.1:0", 1, &machines{})
	expectRefusal(t, c, "raft-log", sst)
	expectRefusal(t, c, "raft-log", "no replica to copy from")
	c.Lazy = true // cluster mode: the remedy is to come back as a new member
	expectRefusal(t, c, "raft-log", "new member")
}

// A Raft log with a hole (entries raft will need are missing, as a damaged
// log read without checksums looked) is refused at open: hashicorp/raft
// would panic with "log not found".
func TestRaftLogHoleRefused(t *testing.T) {
	dir := t.TempDir()
	writeAndClose(t, dir, 10)
	db, err := kv.Open(filepath.Join(dir, "raft-log"), kv.LogSizing(), nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := raftstore.New(db, ShardGroupID(0))
	if err != nil {
		t.Fatal(err)
	}
	last, _ := st.LastIndex()
	if err := st.DeleteRange(last-3, last-2); err != nil {
		t.Fatal(err)
	}
	db.Close()
	c := testConfig("n1", dir, "127.0.0.1:0", 1, &machines{})
	expectRefusal(t, c, "raft-log", fmt.Sprintf("entries %d..%d are missing", last-3, last-2))
}

// A damaged value in the state's value log (values of 64 KiB and more live
// there, outside the SSTables the open check reads) is refused when the
// group loads: Badger itself only logs it and returns an empty value.
func TestDamagedStateValueLogRefused(t *testing.T) {
	dir := t.TempDir()
	ms := &machines{}
	m := openManager(t, testConfig("n1", dir, "127.0.0.1:0", 1, ms))
	if err := m.WaitReady(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("v", 100<<10)
	if _, _, err := m.ProposeStore(ctxTimeout(t, 5*time.Second), setCmd("c1", "big", big, 1)); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	vlogs, _ := filepath.Glob(filepath.Join(dir, "state", "*.vlog"))
	damaged := ""
	for _, p := range vlogs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if i := strings.Index(string(b), big[:64]); i >= 0 {
			copy(b[i+50<<10:], "damage")
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
			damaged = p
		}
	}
	if damaged == "" {
		t.Fatal("the big value is not in a state value-log file")
	}
	c := testConfig("n1", dir, "127.0.0.1:0", 1, &machines{})
	expectRefusal(t, c, "state", "could not be read while group s0 loaded")
}
