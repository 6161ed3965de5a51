package main

import (
	"testing"

	"github.com/sibylhq/sibyl/shard/kv"
)

func TestFloorFlag(t *testing.T) {
	f := func(in string, want kv.Floor, ok bool) {
		t.Helper()
		got := kv.Floor{Bytes: 7}
		err := floorFlag{&got}.Set(in)
		if (err == nil) != ok || (ok && got != want) {
			t.Fatalf("Set(%q) = %+v, %v; want %+v (ok %v)", in, got, err, want, ok)
		}
	}
	f("2GiB", kv.Floor{Bytes: 2 << 30}, true)
	f("10%", kv.Floor{Percent: 10}, true)
	f("1GiB,5%", kv.Floor{Bytes: 1 << 30, Percent: 5}, true)
	f("0", kv.Floor{}, true)
	f("off", kv.Floor{}, true)
	f("80%", kv.Floor{}, false)
	f("lots", kv.Floor{}, false)
	f("x%", kv.Floor{}, false)
}
