package schedule

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Clock is the time source of a Loop; tests pass a fake one.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer is what a Loop needs of a timer (time.Timer's semantics: after
// Stop or Reset returns, no stale time is received).
type Timer interface {
	C() <-chan time.Time
	Stop() bool
	Reset(d time.Duration) bool
}

// RealClock returns the wall clock.
func RealClock() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ *time.Timer }

func (t realTimer) C() <-chan time.Time { return t.Timer.C }

// Loop drives a Scheduler for a node: one goroutine sleeps on a timer
// until the earliest due time, then calls Start for each due store. Start
// must not block for the sync (it launches it); the sync reports its end
// with Finished. All methods are safe for concurrent use.
type Loop struct {
	mu    sync.Mutex
	sched *Scheduler
	clock Clock
	start func(store string)
	// kick wakes the goroutine when a call changed the earliest due
	// time or freed a slot, so it re-arms its timer; capacity 1, sends
	// never block.
	kick    chan struct{}
	started bool
	done    chan struct{}
	// starting counts stores handed out by Due whose Start call has not
	// returned yet (tests wait for it to reach zero).
	starting int
}

// NewLoop returns a Loop that is not running yet; start is called (from
// the Loop's goroutine, without the Loop's lock held, so it may call
// Finished) once for each store that falls due.
func NewLoop(cfg Config, clock Clock, start func(store string)) (*Loop, error) {
	sched, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if clock == nil || start == nil {
		return nil, errors.New("schedule: a loop needs a clock and a start function")
	}
	return &Loop{sched: sched, clock: clock, start: start, kick: make(chan struct{}, 1), done: make(chan struct{})}, nil
}

// Run starts the Loop's goroutine; it stops when ctx is cancelled (Done
// is then closed). Run may be called once.
func (l *Loop) Run(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.started {
		return errors.New("schedule: loop already started")
	}
	l.started = true
	go l.run(ctx)
	return nil
}

// Done is closed when the Loop's goroutine has returned.
func (l *Loop) Done() <-chan struct{} { return l.done }

func (l *Loop) run(ctx context.Context) {
	defer close(l.done)
	timer := l.clock.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		l.mu.Lock()
		now := l.clock.Now()
		due := l.sched.Due(now)
		wake, ok := l.sched.NextWake()
		l.starting = len(due)
		l.mu.Unlock()
		for _, store := range due {
			l.start(store)
			l.mu.Lock()
			l.starting--
			l.mu.Unlock()
		}
		var fire <-chan time.Time
		if ok {
			timer.Reset(max(wake.Sub(now), 0))
			fire = timer.C()
		}
		select {
		case <-ctx.Done():
			return
		case <-l.kick:
			timer.Stop()
		case <-fire:
		}
	}
}

// change runs f on the Scheduler and wakes the goroutine if the time it
// should wake at changed.
func (l *Loop) change(f func(now time.Time)) {
	l.mu.Lock()
	before, okBefore := l.sched.NextWake()
	f(l.clock.Now())
	after, okAfter := l.sched.NextWake()
	l.mu.Unlock()
	if okBefore != okAfter || !before.Equal(after) {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
}

// Upsert adds or updates a store (Scheduler.Upsert at the clock's now).
func (l *Loop) Upsert(store string, s Schedule, st State) {
	l.change(func(now time.Time) { l.sched.Upsert(store, s, st, now) })
}

// Remove forgets a store (Scheduler.Remove).
func (l *Loop) Remove(store string) {
	l.change(func(time.Time) { l.sched.Remove(store) })
}

// Finished records the end of a store's run (Scheduler.Finished at the
// clock's now); false if it was not running.
func (l *Loop) Finished(store string, st State) bool {
	var ok bool
	l.change(func(now time.Time) { ok = l.sched.Finished(store, st, now) })
	return ok
}

// Trigger starts a store as soon as a slot is free (Scheduler.Trigger);
// false if it is unknown or running.
func (l *Loop) Trigger(store string) bool {
	var ok bool
	l.change(func(now time.Time) { ok = l.sched.Trigger(store, now) })
	return ok
}

// NextRun returns a store's due time (Scheduler.NextRun).
func (l *Loop) NextRun(store string) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sched.NextRun(store)
}

// Running is the number of stores running.
func (l *Loop) Running() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sched.Running()
}

// Len is the number of stores known.
func (l *Loop) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sched.Len()
}
