package query

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/engine"
	"github.com/sibylhq/sibyl/ingest"
)

func TestEventBatcherMergesAndAnswersEveryCaller(t *testing.T) {
	var proposals, events, inFlight, maxInFlight atomic.Int64
	b := newEventBatcher(func(_ context.Context, store string, body []byte) (any, error) {
		evs, err := engine.DecodeEvents(body)
		if err != nil {
			return nil, err
		}
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := maxInFlight.Load(); n > m && !maxInFlight.CompareAndSwap(m, n); m = maxInFlight.Load() {
		}
		time.Sleep(2 * time.Millisecond) // a commit's fsync
		proposals.Add(1)
		events.Add(int64(len(evs)))
		if store == "bad" {
			return nil, errors.New("no quorum")
		}
		return engine.Result{Applied: len(evs)}, nil
	}, eventBatcherConfig{Timeout: time.Second, MaxCount: 64, MaxBytes: 1 << 20, InFlight: 2})
	var wg sync.WaitGroup
	var ok, failed atomic.Int64
	for i := 0; i < 400; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			store := "s"
			if i%10 == 0 {
				store = "bad"
			}
			res, err := b.add(store, &engine.Event{Kind: engine.EventProduct, Visitor: "v"})
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
	if ok.Load() != 360 || failed.Load() != 40 {
		t.Fatalf("%d callers got their result and %d their error; want 360 and 40", ok.Load(), failed.Load())
	}
	if events.Load() != 400 {
		t.Fatalf("%d events proposed, want 400 (none lost, none twice)", events.Load())
	}
	if proposals.Load() >= 100 {
		t.Fatalf("%d proposals for 400 concurrent events: not batched", proposals.Load())
	}
	// Two stores, at most two batches each.
	if maxInFlight.Load() > 4 {
		t.Fatalf("%d batches proposed at once; want at most 2 per store", maxInFlight.Load())
	}
	if len(b.stores) != 0 {
		t.Fatalf("%d idle stores still tracked", len(b.stores))
	}
}

// A lone event is proposed at once, not after a linger.
func TestEventBatcherSendsALoneEventAtOnce(t *testing.T) {
	b := newEventBatcher(func(_ context.Context, _ string, body []byte) (any, error) {
		evs, err := engine.DecodeEvents(body)
		return engine.Result{Applied: len(evs)}, err
	}, eventBatcherConfig{Timeout: time.Second, MaxCount: 64, MaxBytes: 1 << 20, InFlight: 1})
	for i := range 3 {
		res, err := b.add("s", &engine.Event{Kind: engine.EventProduct, Visitor: "v", Time: int64(i)})
		if err != nil || res.(engine.Result).Applied != 1 {
			t.Fatalf("call %d: %v, %v; want 1 event applied", i, res, err)
		}
	}
}

// A batch queued behind a slow commit fails with ErrUnavailable at its
// write timeout instead of waiting for the commit ahead of it.
func TestEventBatcherBoundsTheWaitForASlot(t *testing.T) {
	release := make(chan struct{})
	b := newEventBatcher(func(_ context.Context, _ string, body []byte) (any, error) {
		<-release // a commit that overruns the write timeout
		evs, err := engine.DecodeEvents(body)
		return engine.Result{Applied: len(evs)}, err
	}, eventBatcherConfig{Timeout: 100 * time.Millisecond, MaxCount: 64, MaxBytes: 1 << 20, InFlight: 1})
	first := make(chan error, 1)
	go func() {
		_, err := b.add("s", &engine.Event{Kind: engine.EventProduct, Visitor: "v"})
		first <- err
	}()
	for { // the first batch holds the store's only slot
		b.mu.Lock()
		busy := b.stores["s"] != nil && len(b.stores["s"].slots) == 1
		b.mu.Unlock()
		if busy {
			break
		}
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	_, err := b.add("s", &engine.Event{Kind: engine.EventProduct, Visitor: "w"})
	waited := time.Since(start)
	close(release)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("queued batch: %v, want ErrUnavailable", err)
	}
	if waited > time.Second {
		t.Fatalf("queued batch waited %v with a 100ms write timeout", waited)
	}
	<-first
	b.wait()
}

// BenchmarkEventBatcher is the batcher's own cost per event with 128
// concurrent callers and a propose that only decodes.
func BenchmarkEventBatcher(b *testing.B) {
	bt := newEventBatcher(func(_ context.Context, _ string, body []byte) (any, error) {
		evs, err := engine.DecodeEvents(body)
		return engine.Result{Applied: len(evs)}, err
	}, eventBatcherConfig{Timeout: time.Second, MaxCount: 1024, MaxBytes: 256 << 10, InFlight: 2})
	b.SetParallelism(64)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		e := engine.Event{Kind: engine.EventProduct, Visitor: "v12345", Products: []ingest.ID{"85123A"}, Time: 1700000000000}
		for pb.Next() {
			if _, err := bt.add("s", &e); err != nil {
				b.Fatal(err)
			}
		}
	})
}
