package query

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/engine"
)

// followerBackend is a replica that is not its shard's leader: it serves
// reads from the shared engine, and its writes belong to the node at
// leader (its own proposals fail, as a follower's do).
type followerBackend struct {
	*engineBackend
	leader string
}

func (f *followerBackend) Route(_ string, write bool) (string, error) {
	if write {
		return f.leader, nil
	}
	return "", nil
}

func (f *followerBackend) Propose(context.Context, string, string, []byte) (any, error) {
	return nil, errors.New("not the leader")
}

func startSignedServer(t *testing.T, b Backend, key []byte) apiServer {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.Forward.Keys = [][]byte{key}
	s, err := New(cfg, b, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return apiServer{s, s.Addr()}
}

// TestSearchRecordedFromFollower: a search answered with labels by a
// replica that is not the leader reaches the leader's tracking batches
// (a signed /v2/log/search), while a client cannot call log/search.
func TestSearchRecordedFromFollower(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	b := newEngineBackend()
	leader := startSignedServer(t, b, key)
	follower := startSignedServer(t, &followerBackend{b, leader.addr}, key)
	lc, fc := newAPIClient(t, leader.addr), newAPIClient(t, follower.addr)
	st := createStore(lc, "cluster-search")
	seedShop(t, lc, st)
	expect(t, fc.Do("GET", "/v2/search/search"+q(st, false, "query", "desk lamp", "labels", `["s"]`, "visitor", "v1"), nil), 200, "")
	s := pollSearchStats(t, lc, st, func(s searchStatsAnswer) bool { return s.Total == 1 })
	if r, _ := rowOf(s.Top, "desk lamp"); r.Searches != 1 || r.Hits != 1 {
		t.Fatalf("the follower's search: %+v", s.Top)
	}
	// The visitor's session holds the search: a click counts for it.
	expect(t, lc.Do("POST", "/v2/log/click", map[string]any{"key": st.Public, "visitor": "v1", "product": "lamp", "api": "search/search"}), 200, "")
	if r, _ := rowOf(getSearchStats(t, lc, st).Top, "desk lamp"); r.Clicks != 1 {
		t.Fatalf("click after the follower's search: %+v", r)
	}
	// A client's log/search is refused, with no proof, a forged one, or
	// a forwarding node's proof (a follower forwards the client's call to
	// the leader, signed as forwarded: that proves nothing of its origin).
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	for _, c := range []*apiClient{lc, fc} {
		expect(t, c.Do("POST", "/v2/log/search"+q(st, false, "query", "spam", "api", "search/search", "hits", "9"), nil), 403, "forbidden")
		expect(t, c.Do("POST", "/v2/log/search"+q(st, false, "query", "spam", "api", "search/search", "hits", "9", "ts", now, "sig", "AAAA"), nil), 403, "forbidden")
	}
	if got := getSearchStats(t, lc, st).Total; got != 1 {
		t.Fatalf("%d queries after refused calls, want 1", got)
	}
	// A node's proof covers the fields: changed hits are refused.
	e := engine.Event{Query: "signed", API: "search/search", Hits: 1}
	ts := time.Now().UnixMilli()
	sig := base64.RawURLEncoding.EncodeToString(searchLogMAC(key, st.ID, &e, ts))
	signed := func(hits string) string {
		return "/v2/log/search" + q(st, false, "query", "signed", "api", "search/search", "hits", hits, "ts", strconv.FormatInt(ts, 10), "sig", sig)
	}
	expect(t, lc.Do("POST", signed("9"), nil), 403, "forbidden")
	expect(t, lc.Do("POST", signed("1"), nil), 200, "")
	if r, _ := rowOf(getSearchStats(t, lc, st).Top, "signed"); r.Searches != 1 || r.Hits != 1 {
		t.Fatalf("a node's call: %+v", r)
	}
}
