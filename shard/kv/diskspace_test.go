package kv

import (
	"errors"
	"sync/atomic"
	"testing"
)

func TestFloorOf(t *testing.T) {
	f := func(fl Floor, total, want uint64) {
		t.Helper()
		if got := fl.Of(total); got != want {
			t.Fatalf("%+v of %d = %d, want %d", fl, total, got, want)
		}
	}
	const gib = 1 << 30
	f(DefaultFloor(), 100*gib, gib)    // 5% = 5 GiB: 1 GiB is smaller
	f(DefaultFloor(), 10*gib, gib/2)   // 5% = 512 MiB
	f(Floor{Bytes: gib}, 10*gib, gib)  // bytes only
	f(Floor{Percent: 10}, 10*gib, gib) // percent only
	f(Floor{}, 10*gib, 0)              // off
	if (Floor{Percent: 60}).Validate() == nil || (Floor{Percent: -1}).Validate() == nil || DefaultFloor().Validate() != nil {
		t.Fatal("Validate accepts a floor over half the disk, or refuses the default")
	}
}

// The guard's cached answer follows the measured free space both ways,
// keeps its last answer when a measurement fails, and a zero floor never
// refuses.
func TestSpaceGuard(t *testing.T) {
	var free atomic.Uint64
	var fail atomic.Bool
	measure := func(string) (uint64, uint64, error) {
		if fail.Load() {
			return 0, 0, errors.New("statfs failed")
		}
		return free.Load(), 1000 << 20, nil
	}
	free.Store(500 << 20)
	g := NewSpaceGuard("/data", Floor{Bytes: 100 << 20}, measure, nil)
	if err := g.Check(); err != nil {
		t.Fatalf("500 MiB free over a 100 MiB floor: %v", err)
	}
	free.Store(99 << 20)
	if g.Check() != nil {
		t.Fatal("the answer changed before a refresh: it must be the cached one")
	}
	g.Refresh()
	err := g.Check()
	var dfe *DiskFullError
	if !errors.Is(err, ErrDiskFull) || !errors.As(err, &dfe) || dfe.Free != 99<<20 || dfe.Floor != 100<<20 || dfe.Dir != "/data" {
		t.Fatalf("99 MiB free under a 100 MiB floor: %v", err)
	}
	fail.Store(true)
	g.Refresh()
	if g.Check() == nil {
		t.Fatal("a failed measurement lifted the refusal")
	}
	fail.Store(false)
	free.Store(100 << 20)
	g.Refresh()
	if err := g.Check(); err != nil {
		t.Fatalf("back at the floor: %v", err)
	}
	off := NewSpaceGuard("/data", Floor{}, func(string) (uint64, uint64, error) { return 0, 1, nil }, nil)
	if off.Check() != nil {
		t.Fatal("a zero floor refused a write")
	}
}

// StatFS measures a real directory.
func TestStatFS(t *testing.T) {
	free, total, err := StatFS(t.TempDir())
	if err != nil || total == 0 || free > total {
		t.Fatalf("StatFS = %d, %d, %v", free, total, err)
	}
}
