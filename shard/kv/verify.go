package kv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/badger/v4/table"
	"github.com/dgraph-io/ristretto/v2/z"
)

// verifyTables reads every SSTable the MANIFEST of dir lists, once, and
// checks its index and block checksums, before Badger opens the database.
//
// Badger can do this itself (ChecksumVerificationMode OnTableRead), but in
// v4.9.6 a damaged block makes its Table.VerifyChecksum dereference a nil
// block, and damaged lengths make it index out of range or call
// log.Fatalf, in goroutines of badger.Open that nobody can recover: the
// node dies with a Go stack trace instead of naming the file. Here each
// table is checked on the caller's goroutine, with the footer lengths
// bounds-checked first (the reads Badger would log.Fatalf on) and any
// panic of the parsing turned into a CorruptError naming the table.
//
// Value-log files are not read here: their entries carry their own
// checksums, checked on every read (VerifyValueChecksum), and the state
// machine reads every value of its groups when it loads.
func verifyTables(dir string, opt badger.Options) error {
	fp, err := os.Open(filepath.Join(dir, badger.ManifestFilename))
	if errors.Is(err, os.ErrNotExist) {
		return nil // a new database
	}
	if err != nil {
		return fmt.Errorf("cannot read the manifest of %s: %w", dir, err)
	}
	m, _, err := badger.ReplayManifestFile(fp, opt.ExternalMagicVersion, opt)
	fp.Close()
	if err != nil {
		return &CorruptError{Dir: dir, File: fp.Name(), Err: err}
	}
	ids := make([]uint64, 0, len(m.Tables))
	for id := range m.Tables {
		ids = append(ids, id)
	}
	slices.Sort(ids) // damage is reported the same way on every run
	for _, id := range ids {
		path := table.NewFilename(id, dir)
		if err := verifyTable(path, m.Tables[id].Compression, opt); err != nil {
			return &CorruptError{Dir: dir, File: path, Err: err}
		}
	}
	return nil
}

// verifyTable checks one SSTable: footer bounds, index checksum, and the
// checksum of every block.
func verifyTable(path string, compression options.CompressionType, opt badger.Options) (err error) {
	mf, err := z.OpenMmapFile(path, os.O_RDONLY, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return errors.New("the manifest lists this table but the file is missing")
		}
		return err
	}
	// Close unmaps without truncating (-1). Never DecrRef the table: at
	// zero references Badger deletes the file.
	defer mf.Close(-1)
	if err := checkFooter(mf.Data); err != nil {
		return err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("its blocks do not read back intact (Badger failed while checking them: %v)", r)
		}
	}()
	t, err := table.OpenTable(mf, table.Options{
		ReadOnly:           true,
		ChkMode:            options.NoVerification, // VerifyChecksum below checks every block
		Compression:        compression,
		BlockSize:          opt.BlockSize,
		BloomFalsePositive: opt.BloomFalsePositive,
		TableSize:          uint64(opt.BaseTableSize),
	})
	if err != nil {
		return err
	}
	return t.VerifyChecksum()
}

// checkFooter bounds-checks the lengths at the end of a table (checksum
// length, index length) that Badger reads with log.Fatalf on failure.
func checkFooter(b []byte) error {
	n := len(b)
	if n < 8 {
		return fmt.Errorf("the table is %d bytes long, too short for its footer", n)
	}
	sumLen := int(binary.BigEndian.Uint32(b[n-4:]))
	if sumLen > n-8 {
		return fmt.Errorf("the footer's checksum length %d exceeds the table (%d bytes)", sumLen, n)
	}
	pos := n - 4 - sumLen
	idxLen := int(binary.BigEndian.Uint32(b[pos-4 : pos]))
	if idxLen > pos-4 {
		return fmt.Errorf("the footer's index length %d exceeds the table (%d bytes)", idxLen, n)
	}
	return nil
}
