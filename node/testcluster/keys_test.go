package testcluster

import (
	"fmt"
	"testing"
	"time"
)

// TestNewKeysWorkOnEveryNodeAtOnce: a store created through one node is
// written through another immediately after POST /v2/stores answers, with
// no retry on 401 (before, 26 of 36 such pairs got 401 for 60-100 ms).
// Rotated keys likewise.
func TestNewKeysWorkOnEveryNodeAtOnce(t *testing.T) {
	c := Start(t, 3, DefaultOptions())
	firstTry := func(addr string, st store, id string) {
		t.Helper()
		body := fmt.Sprintf(`{"orders":[{"id":%q,"time":1700000000,"customer":"c1","products":[{"id":"p","quantity":1,"price":3}]}]}`, id)
		deadline := time.Now().Add(20 * time.Second)
		for {
			a := do(t, "POST", addr, "/v2/orders"+q(st, true), body)
			switch {
			case a.Status == 200:
				return
			case a.Status == 401 || a.Status == 403:
				t.Fatalf("write %s through %s right after the key was issued: %d %s", id, addr, a.Status, a.Raw)
			case time.Now().After(deadline):
				t.Fatalf("write %s through %s: %d %s", id, addr, a.Status, a.Raw)
			}
			// 503 while a shard elects: not what this test is about.
			time.Sleep(20 * time.Millisecond)
		}
	}
	for i := range 18 {
		from, to := c.Members[i%3].HTTP, c.Members[(i+1)%3].HTTP
		st := createStore(t, from, fmt.Sprintf("shop-%d", i))
		firstTry(to, st, fmt.Sprintf("o%d", i))
	}
	st := createStore(t, c.Members[0].HTTP, "rotating")
	for i := range 6 {
		a := do(t, "POST", c.Members[i%3].HTTP, "/v2/stores/"+st.ID+"/rotate-keys", map[string]string{"overlap": "0s"}, "Authorization", "Bearer "+AdminToken)
		if a.Status != 200 {
			t.Fatalf("rotate through node %d: %d %s", i%3, a.Status, a.Raw)
		}
		st = store{st.ID, fmt.Sprint(a.Body["public_key"]), fmt.Sprint(a.Body["private_key"])}
		firstTry(c.Members[(i+1)%3].HTTP, st, fmt.Sprintf("r%d", i))
	}
	// An invalid key waits at most briefly on any node (a follower
	// allows the meta group a moment to catch up), then 401.
	for _, m := range c.Members {
		start := time.Now()
		bad := store{st.ID, "pk_00000000000000000000000000000000", ""}
		a := do(t, "GET", m.HTTP, "/v2/recommendations/popular"+q(bad, false), nil)
		if a.Status != 401 || time.Since(start) > time.Second {
			t.Fatalf("invalid key via node %d: %d after %v", m.Index, a.Status, time.Since(start))
		}
	}
}
