package schedule

import (
	"time"

	"github.com/cespare/xxhash/v2"
)

// Outcome is how a store's last sync ended.
type Outcome uint8

const (
	// OutcomeNone: the store has never synced.
	OutcomeNone Outcome = iota
	// OutcomeSucceeded: the last sync applied.
	OutcomeSucceeded
	// OutcomeFailed: the last sync failed (fetch error, timeout, node
	// lost) and applied nothing; it is retried with backoff.
	OutcomeFailed
	// OutcomeRefused: the last sync was refused by the mirror's safety
	// valve. Retrying sooner would read the same shop and be refused
	// again, so the next run keeps the normal interval.
	OutcomeRefused
)

// String returns the outcome as /v2/sync/runs spells run states.
func (o Outcome) String() string {
	switch o {
	case OutcomeNone:
		return "none"
	case OutcomeSucceeded:
		return "succeeded"
	case OutcomeFailed:
		return "failed"
	case OutcomeRefused:
		return "refused"
	}
	return "unknown"
}

// State is what the schedule needs to know of a store's last run.
type State struct {
	// LastStart and LastFinish are when the last run began and ended;
	// both zero if the store never synced.
	LastStart  time.Time
	LastFinish time.Time
	// LastDuration is how long the last run took; for ModeWhenNeeded
	// and ModeWindows it picks the hourly or daily interval.
	LastDuration time.Duration
	// Outcome is how the last run ended.
	Outcome Outcome
	// Failures counts consecutive failed runs (0 after a success).
	Failures int
}

// equal compares two states by instant, not by time.Time's location.
func (a State) equal(b State) bool {
	return a.LastStart.Equal(b.LastStart) && a.LastFinish.Equal(b.LastFinish) &&
		a.LastDuration == b.LastDuration && a.Outcome == b.Outcome && a.Failures == b.Failures
}

// Timing constants of the schedules.
const (
	// FastSync is the longest sync ModeWhenNeeded still runs hourly.
	FastSync = 10 * time.Minute
	// FastInterval and SlowInterval are ModeWhenNeeded's intervals for
	// syncs under and over FastSync.
	FastInterval = time.Hour
	SlowInterval = 24 * time.Hour
	// RetryBase is the delay after a first failure; it doubles with each
	// further failure, up to the schedule's normal interval.
	RetryBase = 5 * time.Minute
	// MaxJitter caps the jitter; JitterShare is the jitter's share of
	// the interval (1/10).
	MaxJitter   = 5 * time.Minute
	JitterShare = 10
)

// Interval is the normal time between two starts of a store under s,
// given its last run: Every for ModeEvery, FastInterval or SlowInterval
// for ModeWhenNeeded and ModeWindows, zero for ModeManual.
func Interval(s Schedule, st State) time.Duration {
	switch s.Mode {
	case ModeEvery:
		return s.Every
	case ModeWhenNeeded, ModeWindows:
		if st.LastDuration < FastSync {
			return FastInterval
		}
		return SlowInterval
	}
	return 0
}

// Backoff is the delay before retrying after failures consecutive
// failures: RetryBase doubling, never more than limit.
func Backoff(failures int, limit time.Duration) time.Duration {
	d := RetryBase
	for i := 1; i < failures && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// Jitter is store's fixed delay for a period: a hash of the store's id
// spread over a tenth of the period, at most MaxJitter.
func Jitter(store string, period time.Duration) time.Duration {
	spread := min(period/JitterShare, MaxJitter)
	if spread <= 0 {
		return 0
	}
	return time.Duration(xxhash.Sum64String(store) % uint64(spread))
}

// Next returns when store should next start under s, given its last run
// and the time now, and false when it never runs on its own (manual, or
// an invalid schedule).
//
// The time is never before now: a store that is overdue (never synced, or
// its time passed while no node ran it) starts at now plus its jitter, so
// that stores found overdue together do not start together.
//
//   - when_needed: the last start plus an hour if the last run took
//     under FastSync, a day otherwise.
//   - every: the last start plus the interval.
//   - windows: as when_needed, then moved to the first instant inside an
//     allowed UTC hour (an hour's start plus the jitter if it has to move).
//   - after a failure: the last finish plus Backoff(failures, interval).
//
// Each is delayed by Jitter(store, the interval or the backoff delay).
func Next(store string, s Schedule, st State, now time.Time) (time.Time, bool) {
	if s.Mode == ModeManual || s.Validate() != nil {
		return time.Time{}, false
	}
	interval := Interval(s, st)
	period := interval
	var due time.Time
	switch {
	case st.LastStart.IsZero() && st.LastFinish.IsZero():
		due = now
	case st.Outcome == OutcomeFailed:
		period = Backoff(st.Failures, interval)
		due = later(st.LastStart, st.LastFinish).Add(period)
	case st.LastStart.IsZero():
		due = st.LastFinish.Add(interval)
	default:
		due = st.LastStart.Add(interval)
	}
	if due.Before(now) {
		due = now
	}
	due = due.Add(Jitter(store, period))
	if s.Mode == ModeWindows {
		due = inWindow(store, s.Hours, due)
	}
	return due, true
}

// inWindow returns the first instant at or after t inside an allowed
// hour: t itself if its hour is allowed, otherwise the next allowed
// hour's start plus the store's jitter (which keeps it inside the hour).
func inWindow(store string, hours HourSet, t time.Time) time.Time {
	t = t.UTC()
	if hours.Has(t.Hour()) {
		return t
	}
	start := t.Truncate(time.Hour)
	for i := 1; i <= 24; i++ {
		next := start.Add(time.Duration(i) * time.Hour)
		if hours.Has(next.Hour()) {
			return next.Add(Jitter(store, time.Hour))
		}
	}
	return t // unreachable for a valid, non-empty set
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
