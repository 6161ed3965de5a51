// Package wire writes and reads the fields of Sibyl's binary formats: the
// stored Raft log entry (shard/raftstore), the entry's command batch
// (shard), and orders, tracking events and sessions (engine). Integers
// are varints (encoding/binary), strings and byte slices a uvarint length
// followed by the bytes, and Uint64 is little-endian (raftstore's
// big-endian header is read by hand). These bytes are in Raft logs,
// snapshots and Badger on disk: a change here is a format change.
//
// The package is a leaf (the standard library only), so that the engine
// can share it with shard without linking the replication stack.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// AppendString appends s with its uvarint length.
func AppendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// AppendBytes appends p with its uvarint length (the same bytes as
// AppendString(b, string(p))).
func AppendBytes(b, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

var (
	errUvarint = errors.New("bad uvarint")
	errVarint  = errors.New("bad varint")
	errShort   = errors.New("input ends inside a field")
)

// Decoder reads fields from the front of a byte slice. The first field it
// cannot read records an error and empties the input; every later read
// returns the zero value, so a format decoder reads its fields in a row
// and checks Err once (or at a loop's head).
type Decoder struct {
	b   []byte
	err error
}

// NewDecoder reads b (not copied: Bytes aliases it).
func NewDecoder(b []byte) Decoder { return Decoder{b: b} }

// Err describes the first field that could not be read, or is nil. The
// caller wraps it in its format's own error (shard.ErrBadBatch, ...).
func (d *Decoder) Err() error { return d.err }

// Len is the number of bytes not read yet (0 after an error).
func (d *Decoder) Len() int { return len(d.b) }

func (d *Decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

// Byte reads one byte.
func (d *Decoder) Byte() byte { return read(d, firstByte, errShort) }

// Uvarint reads an unsigned varint.
func (d *Decoder) Uvarint() uint64 { return read(d, binary.Uvarint, errUvarint) }

// Varint reads a signed varint.
func (d *Decoder) Varint() int64 { return read(d, binary.Varint, errVarint) }

// Uint64 reads a little-endian 64-bit value.
func (d *Decoder) Uint64() uint64 { return read(d, littleEndian64, errShort) }

// read takes the field that decode finds at the front of the input
// (decode returns it and its length, or a length <= 0 when it cannot),
// or records err.
func read[T any](d *Decoder, decode func([]byte) (T, int), err error) T {
	v, n := decode(d.b)
	if n <= 0 {
		d.fail(err)
		var zero T
		return zero
	}
	d.b = d.b[n:]
	return v
}

func firstByte(b []byte) (byte, int) {
	if len(b) < 1 {
		return 0, 0
	}
	return b[0], 1
}

func littleEndian64(b []byte) (uint64, int) {
	if len(b) < 8 {
		return 0, 0
	}
	return binary.LittleEndian.Uint64(b), 8
}

// Bytes reads a length-prefixed byte slice. It aliases the input: copy
// what must outlive it.
func (d *Decoder) Bytes() []byte {
	n := d.Uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail(fmt.Errorf("length %d past end", n))
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// Str reads a length-prefixed string (a copy). (Not String: that would
// make a Decoder a fmt.Stringer that consumes its input when printed.)
func (d *Decoder) Str() string { return string(d.Bytes()) }
