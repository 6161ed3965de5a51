package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/sibylhq/sibyl/ingest"
)

func TestOrderCodecRoundTrip(t *testing.T) {
	in := []ingest.Order{
		{ID: "536365", Time: 1291191960, Customer: "17850", Products: []ingest.OrderLine{{ID: "85123A", Quantity: 6, Price: 2.55}, {ID: "71053", Quantity: 6, Price: 3.39}}},
		{ID: "é-ünïcode", Time: -5, Email: "a@b.c", Products: []ingest.OrderLine{{ID: "x", Quantity: 0.5, Price: 0}}},
	}
	var out []ingest.Order
	err := splitOrders(EncodeOrders(in), func(one []byte) error {
		o, err := decodeOrder(one)
		if err == nil {
			out = append(out, *o)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n in  %+v\n out %+v", in, out)
	}
}

func TestOrderCodecRejectsTruncation(t *testing.T) {
	b := EncodeOrders([]ingest.Order{{ID: "o", Time: 1, Products: []ingest.OrderLine{{ID: "p", Quantity: 1, Price: 1}}}})
	for n := 0; n < len(b); n++ {
		err := splitOrders(b[:n], func(one []byte) error { _, err := decodeOrder(one); return err })
		if err == nil {
			t.Fatalf("truncated to %d of %d bytes: no error", n, len(b))
		}
	}
}

func FuzzDecodeOrder(f *testing.F) {
	f.Add(appendOrder(nil, &ingest.Order{ID: "o", Time: 7, Customer: "c", Products: []ingest.OrderLine{{ID: "p", Quantity: 2, Price: 3}}}))
	f.Add([]byte{1, 0, 0, 0, 0, 255, 255, 255, 255, 15})
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := decodeOrder(b)
		if err != nil {
			if !errors.Is(err, errCorruptOrder) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		// Whatever decodes must survive a re-encoding unchanged (the
		// bytes may differ: varints have overlong forms).
		canon := appendOrder(nil, o)
		again, err := decodeOrder(canon)
		if err != nil || string(appendOrder(nil, again)) != string(canon) {
			t.Fatalf("re-encoded order differs: %v", err)
		}
	})
}

func TestSessionCodecRoundTrip(t *testing.T) {
	in := &session{Last: 1700000000123, Email: "a@b.c", Cart: []ingest.ID{"x", "y"},
		Recent:  []sessionItem{{"x", 0, 5}, {"ü", 2, -1}},
		Clicked: map[ingest.ID][]string{"x": {"home", "pdp"}, "z": nil}}
	out, err := decodeSession(in.encode())
	if err != nil {
		t.Fatal(err)
	}
	if out.Last != in.Last || out.Email != in.Email || !reflect.DeepEqual(out.Cart, in.Cart) || !reflect.DeepEqual(out.Recent, in.Recent) ||
		!reflect.DeepEqual(out.Clicked["x"], in.Clicked["x"]) || len(out.Clicked) != 2 {
		t.Fatalf("round trip:\n in  %+v\n out %+v", in, out)
	}
	b := in.encode()
	for n := 0; n < len(b); n++ {
		if _, err := decodeSession(b[:n]); err == nil {
			t.Fatalf("truncated session of %d/%d bytes decoded", n, len(b))
		}
	}
}

func TestEventCodecRoundTrip(t *testing.T) {
	evs := []Event{
		{Kind: EventProduct, Visitor: "v1", Products: []ingest.ID{"p1"}, Time: 1700000000123},
		{Kind: EventClick, Visitor: "v2", Customer: "c9", Email: "a@b.c", Products: []ingest.ID{"p1", "p2"},
			API: "recommendations/popular", Position: 3, Labels: []string{"home", "top"}, Time: -5},
		{Kind: EventCategory, Visitor: "v3", Category: "42", Time: 7},
		{Kind: EventSale, Sale: "o1", Products: []ingest.ID{"p3"}, Time: 8},
	}
	body := NewEventBody(nil)
	ends := map[int]int{len(body): 0} // body length -> events complete
	for i := range evs {
		body = AppendEvent(body, &evs[i])
		ends[len(body)] = i + 1
	}
	if !bytes.Equal(body, EncodeEvents(evs)) {
		t.Fatal("EncodeEvents differs from appending one by one")
	}
	got, err := DecodeEvents(body)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, evs) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, evs)
	}
	// Bodies proposed as JSON by older nodes (still in a Raft log) decode
	// to the same events.
	js, _ := json.Marshal(evs)
	got, err = DecodeEvents(js)
	if err != nil || !reflect.DeepEqual(got, evs) {
		t.Fatalf("json body: %v\n got %+v", err, got)
	}
	// A body cut inside an event is an error, never a shorter batch.
	for n := 1; n < len(body); n++ {
		got, err := DecodeEvents(body[:n])
		if k, boundary := ends[n]; boundary {
			if err != nil || len(got) != k {
				t.Fatalf("body cut after %d events: %d events, %v", k, len(got), err)
			}
		} else if err == nil {
			t.Fatalf("body cut at %d bytes (inside an event) decoded to %d events", n, len(got))
		}
	}
	if _, err := DecodeEvents([]byte{9, 1, 'x'}); err == nil {
		t.Fatal("unknown version decoded")
	}
}
