package schedule

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, -1, MaxConcurrentLimit + 1} {
		if err := (Config{MaxConcurrent: n}).Validate(); err == nil || !strings.Contains(err.Error(), "max concurrent") {
			t.Fatalf("MaxConcurrent %d: %v", n, err)
		}
		if _, err := New(Config{MaxConcurrent: n}); err == nil {
			t.Fatalf("New accepted MaxConcurrent %d", n)
		}
	}
}

// modelStore is the naive model's view of a store.
type modelStore struct {
	sch     Schedule
	st      State
	due     time.Time
	hasDue  bool
	running bool
	removed bool
}

// TestSchedulerModel drives a Scheduler and a naive model (a map scanned
// and sorted on every call) with the same random operations and checks
// that Due returns exactly what the model says, that no store is returned
// while it runs, and that no more than MaxConcurrent run at once.
func TestSchedulerModel(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
		max := 1 + rng.IntN(5)
		s, err := New(Config{MaxConcurrent: max})
		if err != nil {
			t.Fatal(err)
		}
		model := map[string]*modelStore{}
		now := at("00:00")
		schedules := []Schedule{WhenNeeded(), Manual(), Every(5 * time.Minute), Every(3 * time.Hour), Windows(1<<2 | 1<<14)}
		for step := range 3000 {
			store := fmt.Sprintf("s%d", rng.IntN(40))
			where := fmt.Sprintf("seed %d step %d", seed, step)
			switch op := rng.IntN(10); {
			case op < 3: // upsert
				sch := schedules[rng.IntN(len(schedules))]
				var st State
				if rng.IntN(2) == 0 {
					st = State{LastStart: now.Add(-time.Duration(rng.IntN(300)) * time.Minute), Outcome: Outcome(1 + rng.IntN(3)), Failures: rng.IntN(4)}
					st.LastDuration = time.Duration(rng.IntN(20)) * time.Minute
					st.LastFinish = st.LastStart.Add(st.LastDuration)
				}
				s.Upsert(store, sch, st, now)
				m := model[store]
				if m == nil {
					m = &modelStore{}
					model[store] = m
				} else if !m.removed && m.sch == sch && m.st.equal(st) {
					break
				}
				m.sch, m.st, m.removed = sch, st, false
				if !m.running {
					m.due, m.hasDue = Next(store, sch, st, now)
				}
			case op < 4: // remove
				s.Remove(store)
				if m := model[store]; m != nil {
					if m.running {
						m.removed, m.hasDue = true, false
					} else {
						delete(model, store)
					}
				}
			case op < 6: // finish a running store
				m := model[store]
				st := State{LastStart: now.Add(-time.Minute), LastFinish: now, LastDuration: time.Minute, Outcome: Outcome(1 + rng.IntN(3)), Failures: 1}
				got := s.Finished(store, st, now)
				if want := m != nil && m.running; got != want {
					t.Fatalf("%s: Finished(%s) = %v, want %v", where, store, got, want)
				}
				if m != nil && m.running {
					m.running = false
					if m.removed {
						delete(model, store)
					} else {
						m.st = st
						m.due, m.hasDue = Next(store, m.sch, st, now)
					}
				}
			case op < 7: // trigger
				m := model[store]
				want := m != nil && !m.running && !m.removed
				if got := s.Trigger(store, now); got != want {
					t.Fatalf("%s: Trigger(%s) = %v, want %v", where, store, got, want)
				}
				if want {
					m.due, m.hasDue = now, true
				}
			default: // time passes, Due
				now = now.Add(time.Duration(rng.IntN(40)) * time.Minute)
				got := s.Due(now)
				want := modelDue(model, now, max)
				if !slices.Equal(got, want) {
					t.Fatalf("%s: Due(%s) = %v, want %v", where, now.Format("15:04"), got, want)
				}
				for _, store := range got {
					model[store].running = true
					model[store].hasDue = false
				}
			}
			running := 0
			for _, m := range model {
				if m.running {
					running++
				}
			}
			if s.Running() != running || running > max || s.Len() != len(model) {
				t.Fatalf("%s: running %d (model %d, max %d), len %d (model %d)", where, s.Running(), running, max, s.Len(), len(model))
			}
			wake, ok := s.NextWake()
			wantWake, wantOK := modelWake(model, max)
			if ok != wantOK || !wake.Equal(wantWake) {
				t.Fatalf("%s: NextWake %s %v, want %s %v", where, wake, ok, wantWake, wantOK)
			}
		}
	}
}

// modelDue is Due the slow way: every queued store due by now, sorted by
// time then id, as many as there are free slots.
func modelDue(model map[string]*modelStore, now time.Time, max int) []string {
	running := 0
	var due []string
	for store, m := range model {
		if m.running {
			running++
		} else if m.hasDue && !m.due.After(now) {
			due = append(due, store)
		}
	}
	slices.SortFunc(due, func(a, b string) int {
		if c := model[a].due.Compare(model[b].due); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	return due[:min(len(due), max-running)]
}

func modelWake(model map[string]*modelStore, max int) (time.Time, bool) {
	running := 0
	var first time.Time
	found := false
	for _, m := range model {
		if m.running {
			running++
		} else if m.hasDue && (!found || m.due.Before(first)) {
			first, found = m.due, true
		}
	}
	if running >= max || !found {
		return time.Time{}, false
	}
	return first, true
}
