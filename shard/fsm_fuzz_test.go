package shard

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"

	"github.com/hashicorp/raft"
)

// FuzzRestore feeds arbitrary snapshot streams to FSM.Restore: a stream
// from a peer must be refused with an error or restored, never panic, and
// a length prefix alone must not make it allocate (readChunk grows with
// the bytes that arrive). After a refused stream the FSM still applies.
func FuzzRestore(f *testing.F) {
	valid := func(records ...[2]string) []byte {
		b := append([]byte(snapshotMagic), u64(7)...)
		for _, kv := range records {
			b = binary.AppendUvarint(b, uint64(len(kv[0])))
			b = append(b, kv[0]...)
			b = binary.AppendUvarint(b, uint64(len(kv[1])))
			b = append(b, kv[1]...)
		}
		return append(b, 0)
	}
	f.Add(valid())
	f.Add(valid([2]string{"dkv/a", "1"}, [2]string{"mapplied", string(u64(7))}))
	f.Add(append([]byte(snapshotMagic), 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0x03))
	f.Add([]byte("garbage"))
	// A time-index key too short to hold a time, before an expired valid
	// one: load skips it, and the next apply's prune deletes it (both
	// once read it as a time and panicked).
	f.Add(valid([2]string{"t\x01", ""}, [2]string{"t" + string(u64(sortableTime(5))) + "old", ""},
		[2]string{"iold", string(u64(5))}, [2]string{"mclock", string(u64(1 << 40))}, [2]string{"mapplied", string(u64(7))}))

	db := openStateDB(f, f.TempDir())
	sm := newKV()
	fsm, err := NewFSM(db, "fz", sm, DefaultDedupWindow, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, stream []byte) {
		_ = fsm.Restore(io.NopCloser(bytes.NewReader(stream)))
		// Whatever the stream did, the group still applies its next entry.
		next := fsm.AppliedIndex() + 1
		res := fsm.ApplyBatch([]*raft.Log{entryOf(next, setCmd("", "probe", "x", 1))})
		if v, ok := sm.get("probe"); !ok || v != "x" {
			t.Fatalf("after restore, entry %d applied %v but probe = %q, %v", next, res, v, ok)
		}
	})
}
