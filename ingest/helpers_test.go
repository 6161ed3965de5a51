package ingest

import (
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// sharedDataDir finds ../shared/data relative to the directory holding
// go.mod, walking up from the package directory.
func sharedDataDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("getwd: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", "data")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod above the package directory")
		}
		dir = parent
	}
}

// openOnlineRetail returns the decompressed real UCI Online Retail CSV, or
// skips the test when the shared data folder is absent.
func openOnlineRetail(t testing.TB) io.ReadCloser {
	t.Helper()
	path := filepath.Join(sharedDataDir(t), "online-retail", "online_retail.csv.gz")
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		t.Skipf("UCI Online Retail data not found at %s (expected ../shared/data next to the repo)", path)
	}
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		t.Fatalf("gunzip %s: %v", path, err)
	}
	return readCloser{zr, f}
}

type readCloser struct {
	*gzip.Reader
	f *os.File
}

func (r readCloser) Close() error {
	r.Reader.Close()
	return r.f.Close()
}
