package source

import (
	"errors"
	"fmt"
	"io"
)

// errRecordTooLong is wrapped by the error of a read that found one row
// or record beyond its bound.
var errRecordTooLong = errors.New("record too long")

// sizeGuard fails a read that goes more than max bytes past the start of
// the current row or record (mark): a quote left open, or one record of
// gigabytes, must not be pulled into memory whole. Readers above it read
// ahead, so the bound is loose by readAhead.
type sizeGuard struct {
	r     io.Reader
	n     int64
	start int64
	max   int64
	// what names the unit in the error: "row" or "record".
	what string
}

const readAhead = 64 << 10

// mark starts a new row or record.
func (g *sizeGuard) mark() { g.start = g.n }

func (g *sizeGuard) Read(p []byte) (int, error) {
	if g.n-g.start > g.max+readAhead {
		return 0, fmt.Errorf("%w: more than %d bytes in one %s", errRecordTooLong, g.max, g.what)
	}
	if len(p) > readAhead {
		p = p[:readAhead]
	}
	n, err := g.r.Read(p)
	g.n += int64(n)
	return n, err
}
