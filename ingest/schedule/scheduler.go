package schedule

import (
	"container/heap"
	"fmt"
	"time"
)

// Config tunes a Scheduler.
type Config struct {
	// MaxConcurrent is the most syncs that run at once on the node.
	MaxConcurrent int
}

// MaxConcurrentLimit bounds Config.MaxConcurrent: each sync holds
// connections, buffers and a share of the node's Raft bandwidth.
const MaxConcurrentLimit = 1024

// DefaultConfig runs at most 4 syncs at once: the machine they share also
// serves queries, and a sync is mostly waiting on the shop.
func DefaultConfig() Config { return Config{MaxConcurrent: 4} }

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.MaxConcurrent < 1 || c.MaxConcurrent > MaxConcurrentLimit {
		return fmt.Errorf("schedule: max concurrent syncs must be 1-%d, got %d", MaxConcurrentLimit, c.MaxConcurrent)
	}
	return nil
}

// Scheduler is the pure core: it knows each store's schedule, last run and
// next due time, and which stores are running. It has no clock and no
// goroutines; every call that needs the time takes it. It is not safe for
// concurrent use (Loop wraps it with a mutex).
//
// Stores not running and with a due time sit in a min-heap ordered by due
// time (then store id), so every operation is O(log n) and nothing scans
// all stores.
type Scheduler struct {
	cfg     Config
	stores  map[string]*entry
	queue   queue
	running int
}

// entry is one store. index is its place in the heap, -1 when it is not
// there (running, manual, or removed).
type entry struct {
	store    string
	schedule Schedule
	state    State
	due      time.Time
	index    int
	running  bool
	// removed marks a store removed while running: it is forgotten when
	// it finishes.
	removed bool
}

// New returns an empty Scheduler.
func New(cfg Config) (*Scheduler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Scheduler{cfg: cfg, stores: map[string]*entry{}}, nil
}

// Upsert adds a store or changes its schedule and last run, and
// recomputes its due time. An Upsert that changes neither keeps the due
// time it had, so a caller replaying its state does not keep pushing an
// overdue store's jittered start into the future. A running store keeps
// running; its due time is computed when it Finishes.
func (s *Scheduler) Upsert(store string, sch Schedule, st State, now time.Time) {
	e := s.stores[store]
	if e == nil {
		e = &entry{store: store, index: -1}
		s.stores[store] = e
	} else if !e.removed && e.schedule == sch && e.state.equal(st) {
		return
	}
	e.removed = false
	e.schedule, e.state = sch, st
	if !e.running {
		s.reschedule(e, now)
	}
}

// Remove forgets a store. A running store finishes its run (and counts
// against MaxConcurrent until it does) but is not rescheduled.
func (s *Scheduler) Remove(store string) {
	e := s.stores[store]
	if e == nil {
		return
	}
	s.unqueue(e)
	if e.running {
		e.removed = true
		return
	}
	delete(s.stores, store)
}

// Due returns the stores whose time has come at now, earliest first, at
// most MaxConcurrent minus the number running. They are running from now
// on and are not returned again until Finished.
func (s *Scheduler) Due(now time.Time) []string {
	var out []string
	for s.running < s.cfg.MaxConcurrent && len(s.queue) > 0 && !s.queue[0].due.After(now) {
		e := heap.Pop(&s.queue).(*entry)
		e.running = true
		s.running++
		out = append(out, e.store)
	}
	return out
}

// Finished records the end of a store's run (st is its new last run) and
// computes its next due time from now. A store removed while it ran is
// forgotten. Finished for a store that is not running does nothing and
// returns false.
func (s *Scheduler) Finished(store string, st State, now time.Time) bool {
	e := s.stores[store]
	if e == nil || !e.running {
		return false
	}
	e.running = false
	s.running--
	if e.removed {
		delete(s.stores, store)
		return true
	}
	e.state = st
	s.reschedule(e, now)
	return true
}

// Trigger makes a known store due at now, ahead of its schedule (an
// explicit start, also for manual stores). It returns false if the store
// is unknown or already running: a store never runs twice at once.
func (s *Scheduler) Trigger(store string, now time.Time) bool {
	e := s.stores[store]
	if e == nil || e.running || e.removed {
		return false
	}
	s.setDue(e, now)
	return true
}

// NextWake returns when Due should next be called: the earliest due time,
// or false if nothing is queued or every slot is busy (a Finished call
// is then what changes it).
func (s *Scheduler) NextWake() (time.Time, bool) {
	if len(s.queue) == 0 || s.running >= s.cfg.MaxConcurrent {
		return time.Time{}, false
	}
	return s.queue[0].due, true
}

// NextRun returns a store's due time, and false if it is unknown,
// running, or has none (manual).
func (s *Scheduler) NextRun(store string) (time.Time, bool) {
	e := s.stores[store]
	if e == nil || e.index < 0 {
		return time.Time{}, false
	}
	return e.due, true
}

// IsRunning reports whether a store is running.
func (s *Scheduler) IsRunning(store string) bool {
	e := s.stores[store]
	return e != nil && e.running
}

// Running is the number of stores running.
func (s *Scheduler) Running() int { return s.running }

// Len is the number of stores known, running ones removed but not yet
// finished included.
func (s *Scheduler) Len() int { return len(s.stores) }

// reschedule computes e's due time from its schedule and state.
func (s *Scheduler) reschedule(e *entry, now time.Time) {
	due, ok := Next(e.store, e.schedule, e.state, now)
	if !ok {
		s.unqueue(e)
		return
	}
	s.setDue(e, due)
}

func (s *Scheduler) setDue(e *entry, due time.Time) {
	e.due = due
	if e.index >= 0 {
		heap.Fix(&s.queue, e.index)
		return
	}
	heap.Push(&s.queue, e)
}

func (s *Scheduler) unqueue(e *entry) {
	if e.index >= 0 {
		heap.Remove(&s.queue, e.index)
	}
}

// queue is a container/heap of entries by due time, then store id so that
// equal times come out in a fixed order.
type queue []*entry

func (q queue) Len() int { return len(q) }

func (q queue) Less(i, j int) bool {
	if !q[i].due.Equal(q[j].due) {
		return q[i].due.Before(q[j].due)
	}
	return q[i].store < q[j].store
}

func (q queue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index = i
	q[j].index = j
}

func (q *queue) Push(x any) {
	e := x.(*entry)
	e.index = len(*q)
	*q = append(*q, e)
}

func (q *queue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	e.index = -1
	return e
}
