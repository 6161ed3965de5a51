package query

import (
	"bufio"
	"bytes"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// forwardOverWire signs a forwarded copy of a client request the way
// Server.forward does, sends it through fasthttp's wire format and returns
// the receiving node's view of it.
func forwardOverWire(t *testing.T, signer ForwardConfig, method, uri string, hops int, at time.Time, tamper func(*fasthttp.Request)) *fasthttp.RequestCtx {
	t.Helper()
	var orig fasthttp.RequestCtx
	orig.Request.Header.SetMethod(method)
	orig.Request.SetRequestURI(uri)
	orig.Request.SetHost("client-facing:8080")
	out := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(out)
	orig.Request.CopyTo(out)
	out.SetHost("127.0.0.1:9")
	out.URI().SetScheme("http")
	signer.signForward(out, &orig, hops, at)
	if tamper != nil {
		tamper(out)
	}
	var wire bytes.Buffer
	w := bufio.NewWriter(&wire)
	if err := out.Write(w); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	recv := &fasthttp.RequestCtx{}
	if err := recv.Request.Read(bufio.NewReader(&wire)); err != nil {
		t.Fatal(err)
	}
	return recv
}

func TestForwardProof(t *testing.T) {
	now := time.Now()
	oldKey, newKey := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	node := ForwardConfig{Keys: [][]byte{oldKey}}
	const uri = `/v2/recommendations/popular?key=pk_1&products=%5B%22a+b%22%5D&limit=5`
	f := func(name string, signer, receiver ForwardConfig, method string, hops int, at time.Time, tamper func(*fasthttp.Request), wantHops int, wantErr bool) {
		t.Helper()
		got, err := receiver.forwardedHops(forwardOverWire(t, signer, method, uri, hops, at, tamper), now)
		if got != wantHops || (err != nil) != wantErr {
			t.Errorf("%s: hops %d, err %v; want %d, error %v", name, got, err, wantHops, wantErr)
		}
	}
	f("peer", node, node, "GET", 1, now, nil, 1, false)
	f("second hop", node, node, "POST", 2, now, nil, 2, false)
	f("clock a little behind", node, node, "GET", 1, now.Add(-20*time.Second), nil, 1, false)
	// Rotation: a node signing with the new key is accepted by one that
	// knows both, and the reverse.
	rotated := ForwardConfig{Keys: [][]byte{newKey, oldKey}}
	f("new primary, old secondary", rotated, node, "GET", 1, now, nil, 0, true)
	f("receiver knows both", rotated, ForwardConfig{Keys: [][]byte{oldKey, newKey}}, "GET", 1, now, nil, 1, false)

	f("another cluster's key", ForwardConfig{Keys: [][]byte{newKey}}, node, "GET", 1, now, nil, 0, true)
	f("too old (replay)", node, node, "GET", 1, now.Add(-time.Minute), nil, 0, true)
	f("from the future", node, node, "GET", 1, now.Add(time.Minute), nil, 0, true)
	f("no proof", ForwardConfig{}, node, "GET", 1, now, nil, 0, true)
	f("path changed", node, node, "GET", 1, now, func(r *fasthttp.Request) { r.URI().SetPath("/v2/orders") }, 0, true)
	f("query changed", node, node, "GET", 1, now, func(r *fasthttp.Request) { r.URI().SetQueryString("key=pk_2") }, 0, true)
	f("method changed", node, node, "GET", 1, now, func(r *fasthttp.Request) { r.Header.SetMethod("DELETE") }, 0, true)
	f("hops raised", node, node, "GET", 1, now, func(r *fasthttp.Request) { r.Header.Set(ForwardedHeader, "2") }, 0, true)
	f("garbage proof", node, node, "GET", 1, now, func(r *fasthttp.Request) {
		r.Header.Set(ForwardProofHeader, "x:"+string(bytes.Repeat([]byte("A"), 2000)))
	}, 0, true)
	// A single node has no keys: it ignores the mark (and never forwards).
	f("single node", node, ForwardConfig{}, "GET", 1, now, nil, 0, false)

	var client fasthttp.RequestCtx
	client.Request.SetRequestURI(uri)
	if hops, err := node.forwardedHops(&client, now); hops != 0 || err != nil {
		t.Fatalf("unmarked client request: %d, %v", hops, err)
	}
}
