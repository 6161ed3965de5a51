// Package logbridge routes the logs of the hashicorp libraries Sibyl runs
// into slog: hashicorp/raft logs through hclog, memberlist through a
// standard *log.Logger. Both go through hclog's intercept logger, whose
// sink receives each message with its level, logger name and arguments,
// so no formatted line is parsed back (a memberlist line's "[WARN]"-style
// tag is read by hclog's standard-logger adapter).
package logbridge

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Options configures New.
type Options struct {
	// Name is the hclog logger's name; every slog message starts with it
	// ("raft: failed to appendEntries to").
	Name string
	// Level is the least hclog level passed on; NoLevel (the zero value)
	// passes every level and leaves the choice to the slog handler.
	Level hclog.Level
	// Throttle, when positive, lets each distinct warning or error (its
	// level, name and message, not its arguments) through at most once
	// per period, with the number suppressed in between as "suppressed":
	// raft repeats the same error many times a second while a peer is down.
	Throttle time.Duration
}

// New returns an hclog logger whose messages go to l.
func New(l *slog.Logger, o Options) hclog.InterceptLogger {
	return newLogger(l, o, time.Now)
}

// StandardLogger returns a *log.Logger (what memberlist takes) whose lines
// go to l at the level of their "[ERR]", "[WARN]", "[INFO]", "[DEBUG]"
// or "[TRACE]" tag (info when untagged).
func StandardLogger(l *slog.Logger, o Options) *log.Logger {
	return New(l, o).StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true})
}

func newLogger(l *slog.Logger, o Options, now func() time.Time) hclog.InterceptLogger {
	level := o.Level
	if level == hclog.NoLevel {
		level = hclog.Trace
	}
	// The intercept logger's own output is discarded: the sink is the
	// output. Its level is still set, so IsDebug and the like tell the
	// truth and lines below it are not formatted.
	il := hclog.NewInterceptLogger(&hclog.LoggerOptions{Name: o.Name, Level: level, Output: io.Discard})
	s := &sink{l: l, level: level}
	if o.Throttle > 0 {
		s.throttle = &throttle{period: o.Throttle, now: now, keys: make(map[string]*throttled)}
	}
	il.RegisterSink(s)
	return il
}

type sink struct {
	l        *slog.Logger
	level    hclog.Level
	throttle *throttle
}

// Accept implements hclog.SinkAdapter. The intercept logger hands every
// message to its sinks whatever its own level, so the sink filters.
func (s *sink) Accept(name string, level hclog.Level, msg string, args ...any) {
	if level < s.level || level == hclog.Off {
		return
	}
	if name != "" {
		// A standard logger's line names its library already
		// ("memberlist: ..."): say it once.
		msg = name + ": " + strings.TrimPrefix(msg, name+": ")
	}
	lv := slogLevel(level)
	attrs := make([]slog.Attr, 0, len(args)/2+1)
	for i := 0; i < len(args); i += 2 {
		if i+1 == len(args) {
			attrs = append(attrs, slog.Any("EXTRA_VALUE_AT_END", args[i]))
			break
		}
		attrs = append(attrs, slog.Any(fmt.Sprint(args[i]), args[i+1]))
	}
	if s.throttle != nil && lv >= slog.LevelWarn {
		ok, suppressed := s.throttle.allow(lv.String() + " " + msg)
		if !ok {
			return
		}
		if suppressed > 0 {
			attrs = append(attrs, slog.Int("suppressed", suppressed))
		}
	}
	s.l.LogAttrs(context.Background(), lv, msg, attrs...)
}

func slogLevel(l hclog.Level) slog.Level {
	switch l {
	case hclog.Trace, hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	}
	return slog.LevelInfo
}

// throttle lets each key through once per period.
type throttle struct {
	period time.Duration
	now    func() time.Time

	mu   sync.Mutex
	keys map[string]*throttled
}

type throttled struct {
	last       time.Time
	suppressed int
}

// allow reports whether key may be logged now and how many lines were
// suppressed since it last was.
func (t *throttle) allow(key string) (bool, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	e := t.keys[key]
	if e == nil {
		if len(t.keys) > 1024 { // bound memory against unbounded distinct keys
			clear(t.keys)
		}
		t.keys[key] = &throttled{last: now}
		return true, 0
	}
	if now.Sub(e.last) < t.period {
		e.suppressed++
		return false, 0
	}
	n := e.suppressed
	e.last, e.suppressed = now, 0
	return true, n
}
