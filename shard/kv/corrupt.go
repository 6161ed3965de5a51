package kv

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
)

// ErrCorrupt is matched (errors.Is) by every CorruptError.
var ErrCorrupt = errors.New("database is damaged")

// CorruptError says that a Badger database failed its integrity checks
// when it was opened: a table or manifest checksum mismatch, a table that
// cannot be parsed, or a table the manifest lists but the directory lacks.
type CorruptError struct {
	// Dir is the database directory.
	Dir string
	// File is the damaged file when Badger named it ("" when it did not).
	File string
	// Err is Badger's own error.
	Err error
}

func (e *CorruptError) Error() string {
	what := "a file"
	if e.File != "" {
		what = e.File
	}
	return fmt.Sprintf("database %s is damaged (%s failed its integrity check): %v", e.Dir, what, e.Err)
}

func (e *CorruptError) Unwrap() []error { return []error{ErrCorrupt, e.Err} }

// corruptSignatures are the parts of Badger's open errors that mean damaged
// data rather than a busy lock, a permission or a full disk. Badger formats
// its wrapped errors with %+v (github.com/dgraph-io/badger/v4/y.Wrap), so
// errors.Is cannot see y.ErrChecksumMismatch through them: the text is all
// there is.
var corruptSignatures = []string{
	"checksum",                   // table, block, manifest and value-log checksums
	"Opening table",              // a table that cannot be parsed
	"failed to initialize table", // a table index that cannot be parsed
	"file does not exist for table",
	"manifest has bad magic",
	"Manifest file might be corrupted",
	"MANIFEST invalid",
	"MANIFEST file has invalid",
	"corrupt",
}

// fileInError finds the first Badger data file an error message names.
var fileInError = regexp.MustCompile(`[^\s"':,]*(?:\d+\.(?:sst|vlog|mem)|MANIFEST)`)

// asCorrupt returns a *CorruptError when err (from badger.Open on dir)
// reports damaged data, else nil.
func asCorrupt(dir string, err error) error {
	msg := err.Error()
	hit := false
	for _, sig := range corruptSignatures {
		if strings.Contains(msg, sig) {
			hit = true
			break
		}
	}
	if !hit {
		return nil
	}
	file := fileInError.FindString(msg)
	if file != "" && !filepath.IsAbs(file) {
		file = filepath.Join(dir, file)
	}
	return &CorruptError{Dir: dir, File: file, Err: err}
}
