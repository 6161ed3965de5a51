package shard

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/sibylhq/sibyl/shard/statemachine"
)

// ErrBadBatch is returned when a Raft entry does not hold a valid command
// batch.
var ErrBadBatch = errors.New("malformed command batch")

const batchVersion = 1

// EncodeBatch packs commands into one Raft entry payload. The encoding is
// deterministic and length-prefixed:
//
//	version(1) uvarint(count) { str(ID) str(Store) str(Op) varint(Time) str(Body) }...
//
// where str is a uvarint length followed by the bytes.
func EncodeBatch(cmds []*statemachine.Command) []byte {
	n := 1 + binary.MaxVarintLen64
	for _, c := range cmds {
		n += encodedSize(c)
	}
	b := make([]byte, 0, n)
	b = append(b, batchVersion)
	b = binary.AppendUvarint(b, uint64(len(cmds)))
	for _, c := range cmds {
		b = appendStr(b, c.ID)
		b = appendStr(b, c.Store)
		b = appendStr(b, c.Op)
		b = binary.AppendVarint(b, c.Time)
		b = binary.AppendUvarint(b, uint64(len(c.Body)))
		b = append(b, c.Body...)
	}
	return b
}

// encodedSize is an upper bound of a command's share of EncodeBatch.
func encodedSize(c *statemachine.Command) int {
	return len(c.ID) + len(c.Store) + len(c.Op) + len(c.Body) + 5*binary.MaxVarintLen64
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// DecodeBatch is the inverse of EncodeBatch. Bodies are copied, so the
// commands do not alias b.
func DecodeBatch(b []byte) ([]*statemachine.Command, error) {
	if len(b) == 0 || b[0] != batchVersion {
		return nil, fmt.Errorf("%w: unknown version", ErrBadBatch)
	}
	d := decoder{b: b[1:]}
	n := d.uvarint()
	// Each command takes at least 5 bytes, which bounds a corrupt count.
	if d.err != nil || n > uint64(len(d.b))/5 {
		return nil, fmt.Errorf("%w: bad count", ErrBadBatch)
	}
	cmds := make([]*statemachine.Command, 0, n)
	for range n {
		c := &statemachine.Command{ID: d.str(), Store: d.str(), Op: d.str(), Time: d.varint()}
		if body := d.bytes(); len(body) > 0 {
			c.Body = append([]byte(nil), body...)
		}
		if d.err != nil {
			return nil, d.err
		}
		cmds = append(cmds, c)
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrBadBatch, len(d.b))
	}
	return cmds, nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("%w: bad uvarint", ErrBadBatch)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("%w: bad varint", ErrBadBatch)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = fmt.Errorf("%w: length %d past end", ErrBadBatch, n)
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string { return string(d.bytes()) }
