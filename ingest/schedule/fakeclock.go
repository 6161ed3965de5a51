package schedule

import (
	"sync"
	"time"
)

// FakeClock is a Clock for tests: time moves only when Advance is called,
// and timers fire when it passes their deadline. It plays the role of
// hashicorp/raft's testing.go helpers for callers of this package too.
type FakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers map[*fakeTimer]struct{}
}

// NewFakeClock returns a clock standing at now.
func NewFakeClock(now time.Time) *FakeClock {
	return &FakeClock{now: now, timers: map[*fakeTimer]struct{}{}}
}

// Now returns the clock's time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer returns a timer firing once the clock reaches now+d.
func (c *FakeClock) NewTimer(d time.Duration) Timer {
	t := &fakeTimer{clock: c, ch: make(chan time.Time, 1)}
	t.Reset(d)
	return t
}

// Advance moves the clock forward by d and fires every timer due by then.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for t := range c.timers {
		if !t.deadline.After(c.now) {
			c.fireLocked(t)
		}
	}
}

// Set moves the clock to t (forward only) and fires timers due by then.
func (c *FakeClock) Set(t time.Time) {
	if d := t.Sub(c.Now()); d > 0 {
		c.Advance(d)
	}
}

// NextDeadline returns the earliest deadline of an armed timer, and false
// if none is armed: a test waits for the code under test to arm its timer
// before it advances the clock.
func (c *FakeClock) NextDeadline() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var first time.Time
	found := false
	for t := range c.timers {
		if !found || t.deadline.Before(first) {
			first, found = t.deadline, true
		}
	}
	return first, found
}

func (c *FakeClock) fireLocked(t *fakeTimer) {
	delete(c.timers, t)
	select {
	case t.ch <- c.now:
	default:
	}
}

type fakeTimer struct {
	clock    *FakeClock
	ch       chan time.Time
	deadline time.Time
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

// Stop disarms the timer and drains a fired, unreceived time, as
// time.Timer does since Go 1.23.
func (t *fakeTimer) Stop() bool {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	_, armed := c.timers[t]
	delete(c.timers, t)
	select {
	case <-t.ch:
	default:
	}
	return armed
}

// Reset re-arms the timer for d from the clock's now; d <= 0 fires it at
// once.
func (t *fakeTimer) Reset(d time.Duration) bool {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	_, armed := c.timers[t]
	select {
	case <-t.ch:
	default:
	}
	t.deadline = c.now.Add(d)
	c.timers[t] = struct{}{}
	if d <= 0 {
		c.fireLocked(t)
	}
	return armed
}
