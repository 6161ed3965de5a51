package periodic

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunCallsUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, time.Millisecond, func() {
			if calls.Add(1) == 5 {
				cancel()
			}
		})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if n := calls.Load(); n != 5 {
		t.Fatalf("%d calls, want exactly 5 (the fifth cancels; none after)", n)
	}
}

func TestRunWaitsOnePeriodFirst(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	Run(ctx, time.Hour, func() { called = true })
	if called {
		t.Fatal("fn called before the first period")
	}
}
