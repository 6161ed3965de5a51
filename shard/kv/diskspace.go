package kv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/sibylhq/sibyl/internal/periodic"
	"golang.org/x/sys/unix"
)

// ErrDiskFull is matched (errors.Is) by every DiskFullError: the node is
// refusing writes because its disk is under the free-space floor.
var ErrDiskFull = errors.New("insufficient storage")

// Floor is a free-space floor for the file system of a node's data dir.
// With both fields set the smaller applies, so the default (1 GiB or 5%)
// neither wastes a large disk nor takes most of a small one. Zero in both
// turns the floor off.
type Floor struct {
	Bytes   uint64
	Percent float64 // of the file system's size, 0..50
}

// DefaultFloor is 1 GiB or 5% of the file system, whichever is smaller.
//
// What it protects: Badger needs free space to keep working even when no
// client writes, and runs out of it by crashing (SIGBUS in its mmap'd table
// builder, issue 11) rather than by returning errors. Under the floor the
// node still has to: flush full memtables into level-0 tables (up to 3 x
// 32 MiB for the state, 3 x 16 MiB for the log), compact (a compaction
// writes its output before deleting its input: up to one level's tables at
// once), rewrite value-log files during GC (256 MiB files), append the
// entries followers receive and apply them, and write Raft snapshots (a
// shard's whole state). 1 GiB covers those on a node with a few GiB of data;
// larger nodes should set a floor near their largest shard's size plus
// 1 GiB.
func DefaultFloor() Floor { return Floor{Bytes: 1 << 30, Percent: 5} }

// Validate checks the floor.
func (f Floor) Validate() error {
	if f.Percent < 0 || f.Percent > 50 {
		return fmt.Errorf("the free-space floor must be 0..50%% of the disk, got %g%%", f.Percent)
	}
	return nil
}

// Of is the floor in bytes on a file system of total bytes.
func (f Floor) Of(total uint64) uint64 {
	pct := uint64(float64(total) * f.Percent / 100)
	switch {
	case f.Bytes == 0:
		return pct
	case f.Percent == 0:
		return f.Bytes
	}
	return min(f.Bytes, pct)
}

// String is the floor as a flag value.
func (f Floor) String() string {
	switch {
	case f.Bytes == 0 && f.Percent == 0:
		return "0"
	case f.Percent == 0:
		return bytesText(f.Bytes)
	case f.Bytes == 0:
		return fmt.Sprintf("%g%%", f.Percent)
	}
	return fmt.Sprintf("%s or %g%%, whichever is smaller", bytesText(f.Bytes), f.Percent)
}

// FreeSpaceFunc reports the bytes available to the process and the size of
// the file system holding dir.
type FreeSpaceFunc func(dir string) (free, total uint64, err error)

// StatFS is the FreeSpaceFunc of the real file system (statfs(2)); free is
// what an unprivileged writer may use (f_bavail).
func StatFS(dir string) (free, total uint64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, 0, fmt.Errorf("cannot statfs %s: %w", dir, err)
	}
	bs := uint64(st.Bsize)
	return st.Bavail * bs, st.Blocks * bs, nil
}

// DiskFullError is a write refused because the data dir's file system is
// under the floor.
type DiskFullError struct {
	Dir         string
	Free, Floor uint64
}

func (e *DiskFullError) Error() string {
	return fmt.Sprintf("the node's disk is nearly full (%s free on %s, under the %s floor): writes are refused until space is freed; reads still work",
		bytesText(e.Free), e.Dir, bytesText(e.Floor))
}

func (e *DiskFullError) Unwrap() error { return ErrDiskFull }

// SpaceGuard keeps a cached answer to "is the disk under the floor?", so
// the write path pays one atomic load. Refresh updates it; Run refreshes it
// on a timer.
type SpaceGuard struct {
	dir    string
	floor  Floor
	free   FreeSpaceFunc
	logger *slog.Logger
	full   atomic.Pointer[DiskFullError] // nil: room to write
	failed atomic.Bool                   // the last statfs failed (logged once)
}

// NewSpaceGuard guards dir's file system. free nil means StatFS. It
// measures once before returning.
func NewSpaceGuard(dir string, floor Floor, free FreeSpaceFunc, logger *slog.Logger) *SpaceGuard {
	if free == nil {
		free = StatFS
	}
	if logger == nil {
		logger = slog.Default()
	}
	g := &SpaceGuard{dir: dir, floor: floor, free: free, logger: logger}
	g.Refresh()
	return g
}

// Check returns a *DiskFullError while the disk is under the floor, else nil.
func (g *SpaceGuard) Check() error {
	if e := g.full.Load(); e != nil {
		return e
	}
	return nil
}

// Refresh measures free space now and logs when the state changes. A
// failed measurement keeps the last state: refusing every write because
// statfs failed once would be worse than the risk it guards against.
func (g *SpaceGuard) Refresh() {
	if g.floor.Bytes == 0 && g.floor.Percent == 0 {
		return
	}
	free, total, err := g.free(g.dir)
	if err != nil {
		if !g.failed.Swap(true) {
			g.logger.Warn("cannot measure free disk space; the free-space floor is not enforced until it can", "err", err)
		}
		return
	}
	g.failed.Store(false)
	floor := g.floor.Of(total)
	if free < floor {
		e := &DiskFullError{Dir: g.dir, Free: free, Floor: floor}
		if g.full.Swap(e) == nil {
			g.logger.Error("disk under the free-space floor: refusing writes (reads still work) until space is freed",
				"dir", g.dir, "free", bytesText(free), "floor", bytesText(floor))
		}
		return
	}
	if g.full.Swap(nil) != nil {
		g.logger.Warn("disk space is back above the floor: accepting writes again",
			"dir", g.dir, "free", bytesText(free), "floor", bytesText(floor))
	}
}

// Run refreshes every interval until ctx ends.
func (g *SpaceGuard) Run(ctx context.Context, every time.Duration) {
	periodic.Run(ctx, every, g.Refresh)
}

func bytesText(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KiB", n>>10)
}
