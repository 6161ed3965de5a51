package schedule

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// startLog collects the Start calls of a Loop with the clock's time.
type startLog struct {
	clock *FakeClock
	ch    chan startCall
}

type startCall struct {
	store string
	at    time.Time
}

func newStartLog(clock *FakeClock) *startLog {
	return &startLog{clock: clock, ch: make(chan startCall, 1000)}
}

func (s *startLog) start(store string) { s.ch <- startCall{store, s.clock.Now()} }

// drain returns the calls made so far.
func (s *startLog) drain() []startCall {
	var out []startCall
	for {
		select {
		case c := <-s.ch:
			out = append(out, c)
		default:
			return out
		}
	}
}

// settle waits until the Loop's goroutine is idle: no Start call under way,
// no kick pending, and the
// timer it armed is the Scheduler's NextWake (or none is armed and there
// is none). It returns that time. Polled, never slept on.
func settle(t *testing.T, l *Loop, clock *FakeClock) (time.Time, bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		wake, wakeOK := l.sched.NextWake()
		starting := l.starting
		l.mu.Unlock()
		armed, armedOK := clock.NextDeadline()
		if starting == 0 && len(l.kick) == 0 && armedOK == wakeOK && (!wakeOK || armed.Equal(wake)) {
			return wake, wakeOK
		}
		time.Sleep(100 * time.Microsecond)
	}
	t.Fatal("the loop did not settle")
	return time.Time{}, false
}

func startLoop(t *testing.T, max int, clock *FakeClock, start func(string)) *Loop {
	t.Helper()
	l, err := NewLoop(Config{MaxConcurrent: max}, clock, start)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := l.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Run(ctx); err == nil {
		t.Fatal("a second Run was accepted")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-l.Done():
		case <-time.After(5 * time.Second):
			t.Error("the loop did not stop on cancel")
		}
	})
	return l
}

func TestNewLoopErrors(t *testing.T) {
	clock := NewFakeClock(at("10:00"))
	if _, err := NewLoop(Config{}, clock, func(string) {}); err == nil {
		t.Fatal("zero config accepted")
	}
	if _, err := NewLoop(DefaultConfig(), nil, func(string) {}); err == nil {
		t.Fatal("nil clock accepted")
	}
	if _, err := NewLoop(DefaultConfig(), clock, nil); err == nil {
		t.Fatal("nil start accepted")
	}
}

// TestLoopScenario walks one Loop through re-arming, the concurrency cap,
// a freed slot, Remove and Trigger.
func TestLoopScenario(t *testing.T) {
	clock := NewFakeClock(at("10:00"))
	log := newStartLog(clock)
	l := startLoop(t, 2, clock, log.start)
	fast := func(start string) State { return ok(start, start, OutcomeSucceeded, 0) }
	l.Upsert("a", WhenNeeded(), fast("09:30"))
	l.Upsert("b", WhenNeeded(), fast("09:40"))
	l.Upsert("c", WhenNeeded(), fast("09:50"))
	dueA, _ := l.NextRun("a")
	if wake, _ := settle(t, l, clock); !wake.Equal(dueA) {
		t.Fatalf("armed for %s, want a's %s", wake, dueA)
	}
	// A store due earlier re-arms the timer.
	l.Upsert("d", Every(time.Hour), fast("09:20"))
	dueD, _ := l.NextRun("d")
	if wake, _ := settle(t, l, clock); !wake.Equal(dueD) || !dueD.Before(dueA) {
		t.Fatalf("armed for %s, want d's %s (before a's %s)", wake, dueD, dueA)
	}
	clock.Set(dueD)
	settle(t, l, clock)
	clock.Set(dueA)
	settle(t, l, clock)
	if got := log.drain(); !slices.Equal(got, []startCall{{"d", dueD}, {"a", dueA}}) {
		t.Fatalf("starts %v, want d at %s, a at %s", got, dueD, dueA)
	}
	// Both slots are busy: b and c fall due and wait, no timer armed.
	if _, armed := settle(t, l, clock); armed {
		t.Fatal("a timer is armed with every slot busy")
	}
	clock.Set(at("11:30"))
	settle(t, l, clock)
	if got := log.drain(); len(got) != 0 || l.Running() != 2 {
		t.Fatalf("started %v with both slots busy (%d running)", got, l.Running())
	}
	// c is removed while queued; a finishes and frees a slot for b at once.
	l.Remove("c")
	if !l.Finished("a", fast(dueA.Format("15:04"))) {
		t.Fatal("a was not running")
	}
	settle(t, l, clock)
	if got := log.drain(); !slices.Equal(got, []startCall{{"b", at("11:30")}}) {
		t.Fatalf("starts %v, want b at 11:30", got)
	}
	if l.Finished("c", State{}) || l.Len() != 3 {
		t.Fatalf("c removed: Finished accepted or Len %d", l.Len())
	}
	// Trigger a store: it starts when a slot is free.
	if l.Trigger("b") {
		t.Fatal("triggered a running store")
	}
	l.Finished("d", fast("11:30"))
	if !l.Trigger("d") {
		t.Fatal("trigger of an idle store refused")
	}
	settle(t, l, clock)
	if got := log.drain(); !slices.Equal(got, []startCall{{"d", at("11:30")}}) {
		t.Fatalf("starts %v, want d at 11:30 (triggered)", got)
	}
}

// TestLoopSimulation runs 30 hourly stores with two slots for six hours of
// fake time, each run taking 2-4 minutes. Every start must happen exactly
// at the store's due time, or later only at the moment a busy slot freed;
// never more than two run at once; each store runs about hourly.
func TestLoopSimulation(t *testing.T) {
	const max, stores = 2, 30
	clock := NewFakeClock(at("00:00"))
	log := newStartLog(clock)
	l := startLoop(t, max, clock, log.start)
	due := map[string]time.Time{}
	for i := range stores {
		store := fmt.Sprintf("shop-%02d", i)
		l.Upsert(store, WhenNeeded(), State{})
		due[store], _ = l.NextRun(store)
	}
	type finish struct {
		store string
		st    State
	}
	var finishes []finish // ordered by finish time
	freed := map[time.Time]bool{}
	runs := map[string]int{}
	end := at("06:00")
	for clock.Now().Before(end) {
		wake, armed := settle(t, l, clock)
		for _, c := range log.drain() {
			want := due[c.store]
			if c.at.Before(want) || (c.at.After(want) && !freed[c.at]) {
				t.Fatalf("%s started at %s, due %s, no slot freed then", c.store, c.at.Format("15:04:05.000"), want.Format("15:04:05.000"))
			}
			runs[c.store]++
			took := time.Duration(2+len(c.store)%3+runs[c.store]%2) * time.Minute
			st := State{LastStart: c.at, LastFinish: c.at.Add(took), LastDuration: took, Outcome: OutcomeSucceeded}
			i, _ := slices.BinarySearchFunc(finishes, st.LastFinish, func(f finish, t time.Time) int { return f.st.LastFinish.Compare(t) })
			finishes = slices.Insert(finishes, i, finish{c.store, st})
			delete(due, c.store)
		}
		if l.Running() > max || len(finishes) != l.Running() {
			t.Fatalf("%d running (max %d), %d runs pending", l.Running(), max, len(finishes))
		}
		if len(finishes) > 0 && (!armed || !wake.Before(finishes[0].st.LastFinish)) {
			f := finishes[0]
			finishes = finishes[1:]
			clock.Set(f.st.LastFinish)
			freed[f.st.LastFinish] = true
			if !l.Finished(f.store, f.st) {
				t.Fatalf("%s finished but was not running", f.store)
			}
			due[f.store], _ = l.NextRun(f.store)
			continue
		}
		if !armed {
			t.Fatal("nothing running and no timer armed")
		}
		clock.Set(wake)
	}
	for i := range stores {
		store := fmt.Sprintf("shop-%02d", i)
		if n := runs[store]; n < 5 || n > 7 {
			t.Fatalf("%s ran %d times in 6 hours, want about hourly", store, n)
		}
	}
}
