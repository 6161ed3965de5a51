package kv

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// benchDB writes a closed state database of about 300k keys (record-like
// values) once per benchmark and returns its directory and SSTable bytes.
func benchDB(b *testing.B) (string, int64) {
	b.Helper()
	dir := b.TempDir()
	db, err := Open(dir, StateSizing(), nil)
	if err != nil {
		b.Fatal(err)
	}
	wb := db.NewWriteBatch()
	for i := range 300_000 {
		k := fmt.Appendf(nil, "s/store-%03d/orders/%09d", i%100, i)
		v := fmt.Appendf(nil, `{"id":"%d","customer":"c%d","lines":[{"p":"p%d","q":%d,"price":%d.%02d}]}`, i, i%5000, i%3659, i%7+1, i%97, i%100)
		if err := wb.Set(k, v); err != nil {
			b.Fatal(err)
		}
	}
	if err := wb.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	var size int64
	for _, p := range paths {
		st, _ := os.Stat(p)
		size += st.Size()
	}
	return dir, size
}

// BenchmarkVerifyTables is the check every Open now runs before Badger
// opens: its MB/s gives the added start time per GB of SSTables.
func BenchmarkVerifyTables(b *testing.B) {
	dir, size := benchDB(b)
	opts := badger.DefaultOptions(dir)
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		if err := verifyTables(dir, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFullScan reads every key and value, as StateMachine.Load does
// at start, with block checksums verified on read (the setting now) and
// without (Badger's default, before issue 11). The block cache is 1 MiB,
// so nearly every block is read (and checked) again on each scan.
func BenchmarkFullScan(b *testing.B) {
	dir, size := benchDB(b)
	for _, mode := range []struct {
		name string
		m    options.ChecksumVerificationMode
	}{{"no-verification", options.NoVerification}, {"verify-blocks", options.OnBlockRead}} {
		b.Run(mode.name, func(b *testing.B) {
			db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil).
				WithBlockCacheSize(1 << 20).WithChecksumVerificationMode(mode.m).WithVerifyValueChecksum(true))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			b.SetBytes(size)
			b.ResetTimer()
			for range b.N {
				n := 0
				if err := db.View(func(txn *badger.Txn) error {
					it := txn.NewIterator(badger.DefaultIteratorOptions)
					defer it.Close()
					for it.Rewind(); it.Valid(); it.Next() {
						if err := it.Item().Value(func([]byte) error { return nil }); err != nil {
							return err
						}
						n++
					}
					return nil
				}); err != nil {
					b.Fatal(err)
				}
				if n != 300_000 {
					b.Fatalf("scanned %d keys", n)
				}
			}
		})
	}
}
