package schedule

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// at parses a UTC time of day on 2026-03-10 (a Tuesday), "+1d" shifting a
// day: at("03:02"), at("+1d 23:00").
func at(s string) time.Time {
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	if len(s) > 4 && s[0] == '+' {
		var n int
		fmt.Sscanf(s, "+%dd", &n)
		day = day.AddDate(0, 0, n)
		s = s[len(s)-5:]
	}
	tod, err := time.Parse("15:04", s)
	if err != nil {
		panic(err)
	}
	return day.Add(time.Duration(tod.Hour())*time.Hour + time.Duration(tod.Minute())*time.Minute)
}

func ok(start, finish string, outcome Outcome, failures int) State {
	st := State{LastStart: at(start), LastFinish: at(finish), Outcome: outcome, Failures: failures}
	st.LastDuration = st.LastFinish.Sub(st.LastStart)
	return st
}

func TestJitterBounds(t *testing.T) {
	f := func(period, bound time.Duration) {
		t.Helper()
		seconds := map[time.Duration]bool{}
		var largest time.Duration
		for i := range 1000 {
			j := Jitter(fmt.Sprintf("store-%d", i), period)
			if j < 0 || j >= bound {
				t.Fatalf("period %s: jitter %s outside [0, %s)", period, j, bound)
			}
			seconds[j.Truncate(time.Second)] = true
			largest = max(largest, j)
		}
		// 1,000 stores must spread over the bound, not bunch up.
		slots := min(int(bound/time.Second), 1000)
		if len(seconds) < slots/2 {
			t.Fatalf("period %s: 1,000 stores start in only %d distinct seconds of %d", period, len(seconds), slots)
		}
		if largest < bound*9/10 {
			t.Fatalf("period %s: largest jitter %s uses little of %s", period, largest, bound)
		}
	}
	f(5*time.Minute, 30*time.Second)
	f(20*time.Minute, 2*time.Minute)
	f(time.Hour, MaxJitter)
	f(24*time.Hour, MaxJitter)
	if Jitter("a", time.Hour) != Jitter("a", time.Hour) {
		t.Fatal("jitter is not deterministic")
	}
	if Jitter("a", 0) != 0 {
		t.Fatal("jitter of a zero period")
	}
}

func TestBackoff(t *testing.T) {
	f := func(failures int, limit, want time.Duration) {
		t.Helper()
		if got := Backoff(failures, limit); got != want {
			t.Fatalf("Backoff(%d, %s) = %s, want %s", failures, limit, got, want)
		}
	}
	f(0, time.Hour, 5*time.Minute)
	f(1, time.Hour, 5*time.Minute)
	f(2, time.Hour, 10*time.Minute)
	f(3, time.Hour, 20*time.Minute)
	f(4, time.Hour, 40*time.Minute)
	f(5, time.Hour, time.Hour)
	f(1<<62, time.Hour, time.Hour)
	f(9, 24*time.Hour, 1280*time.Minute)
	f(10, 24*time.Hour, 24*time.Hour)
	f(3, 5*time.Minute, 5*time.Minute)
}

func TestNext(t *testing.T) {
	const store = "shop-1"
	j := func(period time.Duration) time.Duration { return Jitter(store, period) }
	f := func(name string, s Schedule, st State, now, want time.Time) {
		t.Helper()
		got, due := Next(store, s, st, now)
		if !due {
			t.Fatalf("%s: never due, want %s", name, want)
		}
		if !got.Equal(want) {
			t.Fatalf("%s: next %s, want %s", name, got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
		}
		if got.Before(now) {
			t.Fatalf("%s: next %s before now %s", name, got, now)
		}
	}
	never := State{}
	wn := WhenNeeded()

	// when_needed
	f("never synced starts now plus jitter", wn, never, at("10:00"), at("10:00").Add(j(time.Hour)))
	f("fast sync runs hourly", wn, ok("10:00", "10:02", OutcomeSucceeded, 0), at("10:02"), at("11:00").Add(j(time.Hour)))
	f("9m59s is still fast", wn, State{LastStart: at("10:00"), LastFinish: at("10:10"), LastDuration: FastSync - time.Second, Outcome: OutcomeSucceeded}, at("10:10"), at("11:00").Add(j(time.Hour)))
	f("slow sync runs daily", wn, ok("10:00", "10:30", OutcomeSucceeded, 0), at("10:30"), at("+1d 10:00").Add(j(24*time.Hour)))
	f("overdue starts now plus jitter", wn, ok("01:00", "01:02", OutcomeSucceeded, 0), at("09:00"), at("09:00").Add(j(time.Hour)))
	f("refused keeps the normal interval", wn, ok("10:00", "10:02", OutcomeRefused, 0), at("10:02"), at("11:00").Add(j(time.Hour)))

	// failures back off from the last finish, doubling, capped at the interval
	f("1st failure: 5m", wn, ok("10:00", "10:01", OutcomeFailed, 1), at("10:01"), at("10:06").Add(j(5*time.Minute)))
	f("2nd failure: 10m", wn, ok("10:00", "10:01", OutcomeFailed, 2), at("10:01"), at("10:11").Add(j(10*time.Minute)))
	f("3rd failure: 20m", wn, ok("10:00", "10:01", OutcomeFailed, 3), at("10:01"), at("10:21").Add(j(20*time.Minute)))
	f("5th failure: capped hourly", wn, ok("10:00", "10:01", OutcomeFailed, 5), at("10:01"), at("11:01").Add(j(time.Hour)))
	f("failure count 0 reads as 1", wn, ok("10:00", "10:01", OutcomeFailed, 0), at("10:01"), at("10:06").Add(j(5*time.Minute)))
	f("slow store's 10th failure: capped daily", wn, ok("10:00", "10:40", OutcomeFailed, 10), at("10:40"), at("+1d 10:40").Add(j(24*time.Hour)))

	// every
	f("every 2h", Every(2*time.Hour), ok("10:00", "10:30", OutcomeSucceeded, 0), at("10:30"), at("12:00").Add(j(2*time.Hour)))
	f("every 5m: jitter under 30s", Every(5*time.Minute), ok("10:00", "10:01", OutcomeSucceeded, 0), at("10:01"), at("10:05").Add(j(5*time.Minute)))
	f("every 2h, sync longer than interval", Every(2*time.Hour), ok("10:00", "13:00", OutcomeSucceeded, 0), at("13:00"), at("13:00").Add(j(2*time.Hour)))
	f("every 5m failing: capped at 5m", Every(5*time.Minute), ok("10:00", "10:01", OutcomeFailed, 4), at("10:01"), at("10:06").Add(j(5*time.Minute)))

	// windows
	w34 := Windows(1<<3 | 1<<4)
	f("windows: next allowed hour", w34, ok("03:02", "03:04", OutcomeSucceeded, 0), at("03:04"), at("04:02").Add(j(time.Hour)))
	f("windows: after the last hour, next day", w34, ok("04:02", "04:04", OutcomeSucceeded, 0), at("04:04"), at("+1d 03:00").Add(j(time.Hour)))
	f("windows: never synced outside the window", w34, never, at("10:00"), at("+1d 03:00").Add(j(time.Hour)))
	f("windows: never synced inside the window", w34, never, at("03:20"), at("03:20").Add(j(time.Hour)))
	f("windows: slow sync, next day", w34, ok("03:00", "03:50", OutcomeSucceeded, 0), at("03:50"), at("+1d 03:00").Add(j(24*time.Hour)))
	f("windows: failure retried inside the window", w34, ok("03:00", "03:10", OutcomeFailed, 1), at("03:10"), at("03:15").Add(j(5*time.Minute)))
	f("windows: failure retried in the next window", Windows(1<<3), ok("03:00", "03:58", OutcomeFailed, 1), at("03:58"), at("+1d 03:00").Add(j(time.Hour)))
	wMidnight := Windows(1<<23 | 1)
	f("windows across midnight: 23h to 0h", wMidnight, ok("23:01", "23:03", OutcomeSucceeded, 0), at("23:03"), at("+1d 00:01").Add(j(time.Hour)))
	f("windows across midnight: 0h to 23h", wMidnight, ok("00:01", "00:03", OutcomeSucceeded, 0), at("00:03"), at("23:00").Add(j(time.Hour)))
	f("windows: 22h seen at 23:30", Windows(1<<22), never, at("23:30"), at("+1d 22:00").Add(j(time.Hour)))
}

func TestNextNeverDue(t *testing.T) {
	f := func(s Schedule) {
		t.Helper()
		if got, due := Next("s", s, State{}, at("10:00")); due {
			t.Fatalf("%+v: due at %s", s, got)
		}
	}
	f(Manual())
	f(Every(time.Second)) // invalid
	f(Windows(0))         // invalid
	f(Schedule{Mode: 42})
}

// TestNextProperties: for random schedules, states and times the next
// start is never before now, a windows start is inside an allowed hour,
// and otherwise the start is the unjittered due time (or now) plus less
// than MaxJitter.
func TestNextProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := at("00:00")
	for i := range 20000 {
		store := fmt.Sprintf("store-%d", rng.IntN(5000))
		var s Schedule
		switch rng.IntN(3) {
		case 0:
			s = WhenNeeded()
		case 1:
			s = Every(MinEvery + time.Duration(rng.Int64N(int64(MaxEvery-MinEvery))))
		case 2:
			s = Windows(HourSet(1 + rng.IntN(int(allHours))))
		}
		var st State
		if rng.IntN(5) > 0 {
			st.LastStart = base.Add(time.Duration(rng.Int64N(int64(48 * time.Hour))))
			st.LastDuration = time.Duration(rng.Int64N(int64(3 * time.Hour)))
			st.LastFinish = st.LastStart.Add(st.LastDuration)
			st.Outcome = Outcome(1 + rng.IntN(3))
			if st.Outcome == OutcomeFailed {
				st.Failures = 1 + rng.IntN(20)
			}
		}
		now := base.Add(time.Duration(rng.Int64N(int64(72 * time.Hour))))
		if !st.LastFinish.IsZero() && now.Before(st.LastFinish) {
			now = st.LastFinish
		}
		got, due := Next(store, s, st, now)
		if !due {
			t.Fatalf("case %d: %+v never due", i, s)
		}
		if got.Before(now) {
			t.Fatalf("case %d: %s before now %s", i, got, now)
		}
		if s.Mode == ModeWindows {
			if !s.Hours.Has(got.UTC().Hour()) {
				t.Fatalf("case %d: %s outside the windows %v", i, got, s.Hours.List())
			}
			continue
		}
		var unjittered time.Time
		switch {
		case st.LastStart.IsZero():
			unjittered = now
		case st.Outcome == OutcomeFailed:
			unjittered = st.LastFinish.Add(Backoff(st.Failures, Interval(s, st)))
		default:
			unjittered = st.LastStart.Add(Interval(s, st))
		}
		unjittered = later(unjittered, now)
		if d := got.Sub(unjittered); d < 0 || d >= MaxJitter {
			t.Fatalf("case %d: %s is %s after the due time %s", i, got, d, unjittered)
		}
	}
}
