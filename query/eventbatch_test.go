package query

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/shard/engine"
)

func TestEventBatcherMergesAndAnswersEveryCaller(t *testing.T) {
	var proposals, events atomic.Int64
	b := newEventBatcher(func(_ context.Context, store string, body []byte) (any, error) {
		var evs []engine.Event
		if err := json.Unmarshal(body, &evs); err != nil {
			return nil, err
		}
		proposals.Add(1)
		events.Add(int64(len(evs)))
		if store == "bad" {
			return nil, errors.New("no quorum")
		}
		return engine.Result{Applied: len(evs)}, nil
	}, 5*time.Millisecond, 64)
	var wg sync.WaitGroup
	var ok, failed atomic.Int64
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			store := "s"
			if i%10 == 0 {
				store = "bad"
			}
			res, err := b.add(context.Background(), store, engine.Event{Kind: engine.EventProduct, Visitor: "v"})
			switch {
			case store == "bad" && err != nil:
				failed.Add(1)
			case store == "s" && err == nil && res.(engine.Result).Applied > 0:
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	b.wait()
	if ok.Load() != 180 || failed.Load() != 20 {
		t.Fatalf("%d callers got their result and %d their error; want 180 and 20", ok.Load(), failed.Load())
	}
	if events.Load() != 200 {
		t.Fatalf("%d events proposed, want 200 (none lost, none twice)", events.Load())
	}
	if proposals.Load() >= 100 {
		t.Fatalf("%d proposals for 200 concurrent events: not batched", proposals.Load())
	}
}
