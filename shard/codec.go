package shard

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/sibylhq/sibyl/internal/wire"
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
// where str is a uvarint length followed by the bytes (package wire).
func EncodeBatch(cmds []*statemachine.Command) []byte {
	n := 1 + binary.MaxVarintLen64
	for _, c := range cmds {
		n += encodedSize(c)
	}
	b := make([]byte, 0, n)
	b = append(b, batchVersion)
	b = binary.AppendUvarint(b, uint64(len(cmds)))
	for _, c := range cmds {
		b = wire.AppendString(b, c.ID)
		b = wire.AppendString(b, c.Store)
		b = wire.AppendString(b, c.Op)
		b = binary.AppendVarint(b, c.Time)
		b = wire.AppendBytes(b, c.Body)
	}
	return b
}

// encodedSize is an upper bound of a command's share of EncodeBatch.
func encodedSize(c *statemachine.Command) int {
	return len(c.ID) + len(c.Store) + len(c.Op) + len(c.Body) + 5*binary.MaxVarintLen64
}

// DecodeBatch is the inverse of EncodeBatch. Bodies are copied, so the
// commands do not alias b.
func DecodeBatch(b []byte) ([]*statemachine.Command, error) {
	if len(b) == 0 || b[0] != batchVersion {
		return nil, fmt.Errorf("%w: unknown version", ErrBadBatch)
	}
	d := wire.NewDecoder(b[1:])
	n := d.Uvarint()
	// Each command takes at least 5 bytes, which bounds a corrupt count.
	if d.Err() != nil || n > uint64(d.Len())/5 {
		return nil, fmt.Errorf("%w: bad count", ErrBadBatch)
	}
	cmds := make([]*statemachine.Command, 0, n)
	for range n {
		c := &statemachine.Command{ID: d.Str(), Store: d.Str(), Op: d.Str(), Time: d.Varint()}
		if body := d.Bytes(); len(body) > 0 {
			c.Body = append([]byte(nil), body...)
		}
		if err := d.Err(); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadBatch, err)
		}
		cmds = append(cmds, c)
	}
	if d.Len() != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrBadBatch, d.Len())
	}
	return cmds, nil
}
