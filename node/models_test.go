package node

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestModelLoopTrainsInBackground: the node's model loop trains a store's
// model in the background once its data is quiet, and the model logics
// answer from it without a query waiting for training (the logics
// themselves are tested in query/models_test.go).
func TestModelLoopTrainsInBackground(t *testing.T) {
	n := testNode(t, "")
	c := newClient(t, n.HTTPAddr())
	st := createStore(c, "two needs")
	twoNeedShop(t, c, st)

	var subs []string
	checkFor(t, time.Minute, func() error {
		a := c.Do("GET", "/v2/recommendations/substituting"+q(st, false, "products", "m0", "limit", "2"), nil)
		expect(t, a, 200, "")
		subs = a.IDs()
		if len(subs) < 2 || !strings.HasPrefix(subs[0], "m") {
			return fmt.Errorf("substituting(m0) = %v, want the other mugs first", subs)
		}
		return nil
	})
	if !slices.Equal(slices.Sorted(slices.Values(subs)), []string{"m1", "m2"}) {
		t.Fatalf("substituting(m0) = %v, want m1 and m2", subs)
	}
}
