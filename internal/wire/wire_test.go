package wire

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func TestAppendBytesOnDisk(t *testing.T) {
	// The bytes are in Raft logs and Badger: they must never change.
	b := AppendString(nil, "ab")
	b = AppendBytes(b, []byte{0xff})
	b = AppendString(b, "")
	b = binary.AppendVarint(b, -3)
	b = binary.LittleEndian.AppendUint64(b, 1)
	want := []byte{2, 'a', 'b', 1, 0xff, 0, 5, 1, 0, 0, 0, 0, 0, 0, 0}
	if !bytes.Equal(b, want) {
		t.Fatalf("encoded % x, want % x", b, want)
	}
	d := NewDecoder(b)
	if s, p, e, v, u := d.Str(), d.Bytes(), d.Str(), d.Varint(), d.Uint64(); s != "ab" || !bytes.Equal(p, []byte{0xff}) || e != "" || v != -3 || u != 1 {
		t.Fatalf("decoded %q %x %q %d %d", s, p, e, v, u)
	}
	if d.Err() != nil || d.Len() != 0 {
		t.Fatalf("err %v, %d bytes left", d.Err(), d.Len())
	}
}

func TestDecoderErrorsStick(t *testing.T) {
	f := func(name string, in []byte, read func(d *Decoder), wantErr string) {
		t.Helper()
		d := NewDecoder(in)
		read(&d)
		if d.Err() == nil || d.Err().Error() != wantErr {
			t.Errorf("%s: err %v, want %q", name, d.Err(), wantErr)
		}
		// Every later read is the zero value and the first error stays.
		if d.Len() != 0 || d.Byte() != 0 || d.Uvarint() != 0 || d.Str() != "" || d.Err().Error() != wantErr {
			t.Errorf("%s: reads after the error are not empty", name)
		}
	}
	f("byte", nil, func(d *Decoder) { d.Byte() }, "input ends inside a field")
	f("uvarint", []byte{0x80}, func(d *Decoder) { d.Uvarint() }, "bad uvarint")
	f("varint", []byte{0x80, 0x80}, func(d *Decoder) { d.Varint() }, "bad varint")
	f("uint64", []byte{1, 2, 3}, func(d *Decoder) { d.Uint64() }, "input ends inside a field")
	f("string", []byte{5, 'a'}, func(d *Decoder) { d.Str() }, "length 5 past end")
	f("second field", []byte{1, 'a', 9}, func(d *Decoder) { d.Str(); d.Str() }, "length 9 past end")
}
