//go:build hostile

package node

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sibylhq/sibyl/shard"
	"github.com/sibylhq/sibyl/shard/kv"
)

// The attack of issue 11 on a real file system: a 64 MiB tmpfs filled by
// another file while the node runs. Badger used to die with SIGBUS; now
// writes answer 507, reads work, and writes resume once the file is gone.
func TestHostileDiskFull(t *testing.T) {
	mnt := t.TempDir()
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=64m"); err != nil {
		t.Fatalf("cannot mount a 64 MiB tmpfs on %s: %v (make test-hostile runs as root, as CI does: the disk-full replay needs a small file system of its own)", mnt, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(mnt, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	cfg := testNodeConfig(filepath.Join(mnt, "data"))
	cfg.MinFreeDisk = kv.Floor{Bytes: 16 << 20}
	n := openReadyNode(t, cfg)
	defer func() { n.Shutdown(context.Background()) }() // n is replaced by the restart
	c := newClient(t, n.HTTPAddr())
	st := createStore(c, "shop")
	seedShop(t, c, st)

	// Leave 6 MiB: under the floor, with room for what the node still
	// writes by itself (heartbeats' term updates, memtable flushes).
	free, _, err := kv.StatFS(mnt)
	if err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(mnt, "filler")
	if err := os.WriteFile(filler, make([]byte, free-6<<20), 0o600); err != nil {
		t.Fatalf("cannot fill the tmpfs: %v", err)
	}
	writesRefusedReadsServed(t, c, st)
	// Then fill it to the last byte, as another program would: the node
	// writes nothing of its own accord while idle, and keeps serving.
	fillUp(t, filler, mnt)
	for range 20 {
		writesRefusedReadsServed(t, c, st)
		time.Sleep(100 * time.Millisecond)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	writesResume(t, c, st)

	// A restart on a full disk refuses cleanly (it used to die with SIGBUS
	// in Badger's open) and succeeds, with every write, once space is back.
	if err := n.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filler, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	fillUp(t, filler, mnt)
	if n2, err := Open(cfg, nil); err == nil {
		n2.Shutdown(context.Background())
		t.Fatal("started on a full disk")
	} else if !errors.Is(err, shard.ErrDiskFull) {
		t.Fatalf("start on a full disk: %v", err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	n = openReadyNode(t, cfg)
	c = newClient(t, n.HTTPAddr())
	if res, _ := c.Do("GET", "/v2/products"+q(st, true, "products", "late"), nil).Body["result"].([]any); len(res) != 1 {
		t.Fatal("the write acknowledged before the restart is gone")
	}
}

// fillUp appends to path until the file system has no space left.
func fillUp(t *testing.T, path, mnt string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for chunk := make([]byte, 64<<10); ; {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, unix.ENOSPC) {
				t.Fatalf("filling the tmpfs: %v", err)
			}
			break
		}
	}
	if free, _, _ := kv.StatFS(mnt); free > 64<<10 {
		t.Fatalf("the tmpfs still has %d bytes free", free)
	}
}
