package shard

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sibylhq/sibyl/shard/kv"
)

// DamagedStorageError is the refusal to start on storage that failed its
// integrity checks. Its message names the damaged file and says how to
// recover; `sibyl serve` prints it and exits.
type DamagedStorageError struct {
	// DB is "raft-log" or "state".
	DB string
	// Err is the detailed cause (a *kv.CorruptError when Badger's checks
	// failed, or a raftstore.ErrMissingLog).
	Err error
	// Remedy is what the operator should do.
	Remedy string
}

func (e *DamagedStorageError) Error() string {
	return fmt.Sprintf("refusing to start: the %s database is damaged: %v. To recover: %s", e.DB, e.Err, e.Remedy)
}

func (e *DamagedStorageError) Unwrap() error { return e.Err }

// ErrDamagedStorage is matched by errors.Is for every DamagedStorageError.
func (e *DamagedStorageError) Is(target error) bool { return target == kv.ErrCorrupt }

// remedy is the recovery text for a damaged database of a node.
//
// The rule behind it: a group's state and its Raft log must agree. The
// state records the last log index applied to it; the log is the truth.
//   - Damaged state, intact log: the state can be thrown away and rebuilt
//     from the node's own newest snapshot plus the log after it (every
//     group's snapshots hold its whole key range; raft keeps every entry
//     after the newest snapshot). Manager does this by itself when
//     Config.RepairState is on.
//   - Damaged log: the state cannot be kept alone, since a new log would
//     reuse indexes the state counts as applied (new writes would be
//     skipped as already applied), and the replica cannot rebuild itself.
//     Worse, a Raft member that forgets its log and vote can break a
//     majority's promise (it may vote again in a term, or let a leader
//     without an acknowledged entry win). So the node must come back as a
//     new member with empty storage; the cluster copies its shards to it
//     from the other replicas, and re-creates the old member's replicas
//     after the grace period. A single node has nobody to copy from: its
//     state database still holds everything applied, but only a backup
//     can bring the node back in service safely.
func (m *Manager) remedy(db string) string {
	dir := m.cfg.DataDir
	aside := fmt.Sprintf("mv %s %s", dir, dir+".damaged-"+stamp(time.Now()))
	switch {
	case db == "state-loaded":
		// Found while a group loaded, after the database opened: the
		// automatic repair runs only at open, so the operator moves it.
		return fmt.Sprintf("stop the node, `mv %s %s` (kept, never needed again) and start it: every group's state is rebuilt "+
			"from this node's Raft log and snapshots", filepath.Join(dir, "state"), filepath.Join(dir, "state.damaged-"+stamp(time.Now())))
	case db == "state":
		return fmt.Sprintf("start again with --repair-state: the damaged database is moved aside (never deleted) and every group's state is rebuilt "+
			"from this node's Raft log and snapshots; or move %s aside yourself and start the node", filepath.Join(dir, "state"))
	case m.cfg.Lazy:
		return fmt.Sprintf("this node's Raft log cannot be rebuilt here; bring it back as a new member and let the other nodes copy its shards to it: "+
			"stop it, `%s`, create an empty %s, copy admin.token (and any key files) into it and start the node with the same flags "+
			"(it gets a new node id; the cluster re-creates the old member's replicas after --grace-period)", aside, dir)
	default:
		return fmt.Sprintf("a single node has no replica to copy from: stop it, `%s` (keep it: its state database still holds every applied write) "+
			"and restore the data dir from a backup", aside)
	}
}

func stamp(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

// moveAside renames a damaged database directory to <dir>.damaged-<time>.
// It never deletes: the operator may want the data back.
func moveAside(dir string) (string, error) {
	to := dir + ".damaged-" + stamp(time.Now())
	if _, err := os.Stat(to); err == nil {
		return "", fmt.Errorf("cannot move %s aside: %s exists", dir, to)
	}
	if err := os.Rename(dir, to); err != nil {
		return "", fmt.Errorf("cannot move %s aside: %w", dir, err)
	}
	return to, nil
}

// damaged reports whether err means damaged storage.
func damaged(err error) bool { return errors.Is(err, kv.ErrCorrupt) }
