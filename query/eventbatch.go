package query

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/sibylhq/sibyl/shard/engine"
)

// eventBatcher merges concurrent tracking calls of a store into one
// replicated command: a shop's front end sends many small events, and one
// command per event spends more on per-command work (encoding, the
// command-id dedup, an apply call) than on the event. Every caller still
// waits until its batch is committed and applied, so an acknowledged
// event is never lost.
type eventBatcher struct {
	propose func(ctx context.Context, store string, body []byte) (any, error)
	linger  time.Duration
	max     int

	mu      sync.Mutex
	pending map[string]*eventBatch
	wg      sync.WaitGroup
}

type eventBatch struct {
	events []engine.Event
	done   chan struct{}
	res    any
	err    error
}

func newEventBatcher(propose func(context.Context, string, []byte) (any, error), linger time.Duration, max int) *eventBatcher {
	return &eventBatcher{propose: propose, linger: linger, max: max, pending: make(map[string]*eventBatch)}
}

// add queues e for store and waits for its batch's result.
func (b *eventBatcher) add(ctx context.Context, store string, e engine.Event) (any, error) {
	b.mu.Lock()
	batch := b.pending[store]
	if batch == nil {
		batch = &eventBatch{done: make(chan struct{})}
		b.pending[store] = batch
		b.wg.Add(1)
		go b.flushAfter(store, batch)
	}
	batch.events = append(batch.events, e)
	if len(batch.events) >= b.max {
		delete(b.pending, store) // the flusher sends what it holds
	}
	b.mu.Unlock()
	select {
	case <-batch.done:
		return batch.res, batch.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// flushAfter sends a store's batch once it has lingered (or filled up).
func (b *eventBatcher) flushAfter(store string, batch *eventBatch) {
	defer b.wg.Done()
	time.Sleep(b.linger)
	b.mu.Lock()
	if b.pending[store] == batch {
		delete(b.pending, store)
	}
	events := batch.events
	b.mu.Unlock()
	body, _ := json.Marshal(events)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	batch.res, batch.err = b.propose(ctx, store, body)
	close(batch.done)
}

// wait returns once every batch in flight is flushed.
func (b *eventBatcher) wait() { b.wg.Wait() }
