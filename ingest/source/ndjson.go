package source

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/sibylhq/sibyl/ingest"
)

// readNDJSON reads newline-delimited JSON (one record per line; blank
// lines skipped; "\r\n" accepted) into b. A line longer than maxLine is
// a record error, not a failed read: the rest of the line is skipped. It
// returns the number of records (lines) read.
func readNDJSON[T ingest.Record](r io.Reader, b *batcher[T], maxLine int) (int, error) {
	br := bufio.NewReaderSize(r, maxLine+2)
	n := 0
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// Too long: skip to the end of the line.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return n, err
			}
			n++
			if berr := b.bad(ingest.RecordError{Kind: ingest.ErrStringTooLong, Reason: fmt.Sprintf("line longer than %d bytes", maxLine)}); berr != nil {
				return n, berr
			}
			if err != nil {
				return n, nil
			}
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return n, err
		}
		if trimmed := bytes.TrimSpace(line); len(trimmed) > 0 {
			n++
			if berr := b.addJSON(trimmed); berr != nil {
				return n, berr
			}
		}
		if err != nil { // io.EOF
			return n, nil
		}
	}
}
