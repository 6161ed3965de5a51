package shard

import (
	"errors"
	"reflect"
	"testing"

	"github.com/sibylhq/sibyl/shard/statemachine"
)

func TestBatchRoundTrip(t *testing.T) {
	cmds := []*statemachine.Command{
		{ID: "a", Store: "s", Op: "products.upsert", Time: 1_700_000_000_123, Body: []byte(`{"id":1}`)},
		{ID: "", Store: "", Op: "store.create", Time: -5},
		{ID: "ü\x00", Op: "x", Body: make([]byte, 300)},
	}
	b := EncodeBatch(cmds)
	got, err := DecodeBatch(b)
	if err != nil {
		t.Fatal(err)
	}
	cmds[2].Body = make([]byte, 300)
	if !reflect.DeepEqual(got, cmds) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, cmds)
	}
	if string(EncodeBatch(got)) != string(b) {
		t.Fatal("encoding is not deterministic")
	}
	if empty, err := DecodeBatch(EncodeBatch(nil)); err != nil || len(empty) != 0 {
		t.Fatalf("empty batch = %v, %v", empty, err)
	}
	for _, bad := range [][]byte{nil, {9}, b[:len(b)-1], append(append([]byte{}, b...), 1), {1, 200, 1}} {
		if _, err := DecodeBatch(bad); !errors.Is(err, ErrBadBatch) {
			t.Fatalf("DecodeBatch(%x) err = %v, want ErrBadBatch", bad, err)
		}
	}
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add(EncodeBatch([]*statemachine.Command{{ID: "a", Op: "b", Time: 3, Body: []byte("x")}}))
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		cmds, err := DecodeBatch(b)
		if err != nil {
			return
		}
		if again, err := DecodeBatch(EncodeBatch(cmds)); err != nil || !reflect.DeepEqual(again, cmds) {
			t.Fatalf("re-encoding a decoded batch changed it: %v", err)
		}
	})
}
