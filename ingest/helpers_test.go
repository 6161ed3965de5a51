package ingest

import (
	"compress/gzip"
	"io"
	"os"
	"testing"

	"github.com/sibylhq/sibyl/demo"
)

// openOnlineRetail returns the decompressed real UCI Online Retail CSV:
// the repository's bundled copy (demo/online-retail.csv.gz), so the test
// never skips.
func openOnlineRetail(t testing.TB) io.ReadCloser {
	t.Helper()
	path := demo.OnlineRetail(t)
	f, err := os.Open(path)
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
