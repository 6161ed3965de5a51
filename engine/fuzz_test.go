package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/shard/statemachine"
)

// Fuzz targets for the command decoders the state machine runs on every
// replica; each runs with `go test -run XXX -fuzz '^FuzzName$' -fuzztime
// 30s ./engine`. Seeds stay small so the corpus runs in the normal
// test suite in milliseconds.

// FuzzDecodeEvents: an events.log body never panics the decoder, never
// yields more products or labels per event than ApplyLimits allow, and a
// decoded batch survives a re-encoding unchanged.
func FuzzDecodeEvents(f *testing.F) {
	f.Add(EncodeEvents([]Event{{Kind: EventClick, Visitor: "v", Products: []ingest.ID{"a", "b"}, Labels: []string{"l"}, API: "x", Position: 3, Time: 9}}))
	f.Add(EncodeEvents([]Event{{Kind: EventSale, Sale: "s", Email: "a@b.c", Time: -1}, {Kind: EventEmail}}))
	f.Add([]byte(`[{"kind":"product","visitor":"v","products":["a"],"time":1}]`))
	f.Add([]byte{1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, err := DecodeEvents(b)
		if err != nil {
			if !errors.Is(err, errCorruptEvents) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		for i := range evs {
			if len(b) > 0 && b[0] != '[' && (len(evs[i].Products) > ApplyLimits.MaxEventProducts || len(evs[i].Labels) > ApplyLimits.MaxEventLabels) {
				t.Fatalf("event %d decoded past the limits: %d products, %d labels", i, len(evs[i].Products), len(evs[i].Labels))
			}
			_ = ValidateEvent(&evs[i], ApplyLimits)
		}
		canon := EncodeEvents(evs)
		again, err := DecodeEvents(canon)
		if err != nil || !bytes.Equal(EncodeEvents(again), canon) {
			t.Fatalf("re-encoded events differ: %v", err)
		}
	})
}

// FuzzDecodeSession: a stored session never panics the decoder, and what
// decodes re-encodes to a value that decodes to the same session.
func FuzzDecodeSession(f *testing.F) {
	f.Add((&session{Last: 5, Email: "e", Cart: []ingest.ID{"c"}, Recent: []sessionItem{{"r", 1, 2}},
		Clicked: map[ingest.ID][]string{"x": {"l"}}}).encode())
	f.Add([]byte{1, 0, 0, 0, 0, 0})
	f.Add([]byte{1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		sess, err := decodeSession(b)
		if err != nil {
			return
		}
		canon := sess.encode()
		again, err := decodeSession(canon)
		if err != nil || !bytes.Equal(again.encode(), canon) {
			t.Fatalf("re-encoded session differs: %v", err)
		}
	})
}

// FuzzApply drives Engine.Apply with any op and body, as a command
// proposed straight into Raft could: it never panics, and a rejected
// command writes nothing (the FSM would discard the writes, and memory
// must not have moved ahead of them). Whatever was accepted must come
// back identical after a Load from the written keys.
func FuzzApply(f *testing.F) {
	f.Add("events.log", EncodeEvents([]Event{{Kind: EventCartAdd, Visitor: "v", Products: []ingest.ID{"a"}, Time: 1}}))
	f.Add("products.upsert", []byte(`[{"id":"p","name":"n","price":1}]`))
	f.Add("products.patch", []byte(`[{"id":"p","name":"m"}]`))
	f.Add("products.delete", []byte(`["p"]`))
	f.Add("orders.upsert", EncodeOrders([]ingest.Order{{ID: "o", Time: 5, Products: []ingest.OrderLine{{ID: "p", Quantity: 1, Price: 1}}}}))
	f.Add("customers.upsert", []byte(`[{"id":"c","email":"a@b.c"}]`))
	f.Fuzz(func(t *testing.T, op string, body []byte) {
		e := New(DefaultConfig())
		kv := memKV{}
		// A little state first, so patches and deletes find records.
		e.Apply(kv, &statemachine.Command{ID: "0", Store: "s", Op: "products.upsert", Time: 1, Body: []byte(`[{"id":"p","name":"n","price":1}]`)})
		e.Apply(kv, &statemachine.Command{ID: "1", Store: "s", Op: OpEvents, Time: 1, Body: EncodeEvents([]Event{{Kind: EventClick, Visitor: "v", Products: []ingest.ID{"p"}, Labels: []string{"l"}, Time: 1}})})
		before := fmt.Sprint(kv)
		res := e.Apply(kv, &statemachine.Command{ID: "2", Store: "s", Op: op, Time: 2, Body: body})
		if err, ok := res.(error); ok {
			if !errors.Is(err, ErrRejected) {
				t.Fatalf("a rejection that is not ErrRejected: %v", err)
			}
			if after := fmt.Sprint(kv); after != before {
				t.Fatalf("rejected %s wrote to the state: %v", op, err)
			}
			if len(err.Error()) > 1000 && !strings.Contains(err.Error(), "malformed") {
				t.Fatalf("error of %d bytes", len(err.Error()))
			}
		}
		// Memory must be what the keys say.
		fresh := New(DefaultConfig())
		if err := fresh.Load(kv); err != nil {
			t.Fatalf("state written by %s does not load: %v", op, err)
		}
		a, b := e.Store("s"), fresh.Store("s")
		if a.Version() != b.Version() || !reflect.DeepEqual(a.Counts(), b.Counts()) {
			t.Fatalf("memory and the stored state differ after %s: %+v vs %+v", op, a.Counts(), b.Counts())
		}
		ja, _ := json.Marshal(a.sessions.byVisitor)
		jb, _ := json.Marshal(b.sessions.byVisitor)
		if !bytes.Equal(ja, jb) {
			t.Fatalf("sessions differ after %s:\n%s\n%s", op, ja, jb)
		}
	})
}
