package schedule

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/bench/cputime"
)

// BenchmarkSchedulerIdle: 1,000 stores with hourly schedules on the real
// clock, none due for the next half hour, the Loop idle for two seconds
// per iteration. It reports the process' CPU time (user + system, from
// getrusage) per second of wall time as "cpu-%"; the target is under 1%.
// The figure includes the Go runtime and the test binary, so it is an
// upper bound of the scheduler's own use.
func BenchmarkSchedulerIdle(b *testing.B) {
	const stores = 1000
	l, err := NewLoop(DefaultConfig(), RealClock(), func(store string) {
		b.Errorf("%s started while the schedule is idle", store)
	})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	for i := range stores {
		// Each last ran 1-25 minutes ago in under a minute: due in 35-59
		// minutes.
		last := now.Add(-time.Duration(1+i%25) * time.Minute)
		l.Upsert(fmt.Sprintf("store-%04d", i), WhenNeeded(), State{LastStart: last, LastFinish: last.Add(time.Minute), LastDuration: time.Minute, Outcome: OutcomeSucceeded})
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); <-l.Done() }()
	if err := l.Run(ctx); err != nil {
		b.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let the loop arm its timer
	meter, err := cputime.Start()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		time.Sleep(2 * time.Second)
	}
	cpu, wall, err := meter.Elapsed()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "cpu-%")
	if l.Running() != 0 || l.Len() != stores {
		b.Fatalf("%d running, %d stores", l.Running(), l.Len())
	}
}

// BenchmarkSchedulerDue: one Due and one Finished (a store started and
// rescheduled) on a Scheduler of 1,000 and 100,000 stores.
func BenchmarkSchedulerDue(b *testing.B) {
	for _, stores := range []int{1000, 100000} {
		b.Run(fmt.Sprint(stores), func(b *testing.B) {
			s, err := New(Config{MaxConcurrent: 1})
			if err != nil {
				b.Fatal(err)
			}
			now := at("00:00")
			for i := range stores {
				s.Upsert(fmt.Sprintf("store-%06d", i), WhenNeeded(), State{}, now)
			}
			now = now.Add(MaxJitter) // every store due
			cycles := 0
			for b.Loop() {
				due := s.Due(now)
				if len(due) == 0 {
					// Everyone ran this hour: the next hour.
					now = now.Add(time.Hour)
					continue
				}
				s.Finished(due[0], State{LastStart: now, LastFinish: now, Outcome: OutcomeSucceeded}, now)
				cycles++
			}
			if cycles == 0 {
				b.Fatal("no store was ever due")
			}
		})
	}
}
