package schedule

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"strings"
	"time"

	"github.com/sibylhq/sibyl/ingest"
)

// Mode is the kind of a Schedule.
type Mode uint8

const (
	// ModeWhenNeeded runs a store hourly when its last sync took under
	// FastSync, daily otherwise. It is the zero value and the default.
	ModeWhenNeeded Mode = iota
	// ModeManual never runs a store on its own; only an explicit start
	// (POST /v2/sync/start, Scheduler.Trigger) does.
	ModeManual
	// ModeEvery runs a store at a fixed interval (Schedule.Every).
	ModeEvery
	// ModeWindows runs a store as ModeWhenNeeded would, but starts it
	// only inside the allowed UTC hours (Schedule.Hours).
	ModeWindows
)

// String returns the mode's name as the API spells it.
func (m Mode) String() string {
	switch m {
	case ModeWhenNeeded:
		return "when_needed"
	case ModeManual:
		return "manual"
	case ModeEvery:
		return "every"
	case ModeWindows:
		return "windows"
	}
	return fmt.Sprintf("mode(%d)", uint8(m))
}

// Bounds of a ModeEvery interval: shorter intervals would keep a shop's
// API busy for little gain, longer ones are better served by "manual".
const (
	MinEvery = 5 * time.Minute
	MaxEvery = 7 * 24 * time.Hour
)

// HourSet is a set of UTC hours 0-23, bit h standing for hour h.
type HourSet uint32

// allHours has a bit for every valid hour.
const allHours HourSet = 1<<24 - 1

// Has reports whether hour h is in the set.
func (h HourSet) Has(hour int) bool {
	return hour >= 0 && hour < 24 && h&(1<<hour) != 0
}

// Len is the number of hours in the set.
func (h HourSet) Len() int { return bits.OnesCount32(uint32(h)) }

// List returns the hours in ascending order.
func (h HourSet) List() []int {
	out := make([]int, 0, h.Len())
	for hour := 0; hour < 24; hour++ {
		if h.Has(hour) {
			out = append(out, hour)
		}
	}
	return out
}

// Hours builds a set from a list of hours, ignoring duplicates; an hour
// outside 0-23 is an error.
func Hours(hours ...int) (HourSet, error) {
	var set HourSet
	for _, hour := range hours {
		if hour < 0 || hour > 23 {
			return 0, fmt.Errorf("schedule: window hour %d is not a UTC hour 0-23", hour)
		}
		set |= 1 << hour
	}
	return set, nil
}

// Schedule says when a store syncs on its own. The zero value is
// "when_needed". Schedules are comparable with ==.
type Schedule struct {
	Mode Mode
	// Every is the interval of ModeEvery, between MinEvery and MaxEvery.
	Every time.Duration
	// Hours are the allowed start hours of ModeWindows (not empty).
	Hours HourSet
}

// WhenNeeded returns the default schedule.
func WhenNeeded() Schedule { return Schedule{} }

// Manual returns the schedule that never runs on its own.
func Manual() Schedule { return Schedule{Mode: ModeManual} }

// Every returns a fixed-interval schedule; Validate checks its bounds.
func Every(d time.Duration) Schedule { return Schedule{Mode: ModeEvery, Every: d} }

// Windows returns a schedule starting only in the given UTC hours;
// Validate checks it is not empty.
func Windows(h HourSet) Schedule { return Schedule{Mode: ModeWindows, Hours: h} }

// Validate reports a schedule that cannot run as asked.
func (s Schedule) Validate() error {
	switch s.Mode {
	case ModeWhenNeeded, ModeManual:
		if s.Every != 0 || s.Hours != 0 {
			return fmt.Errorf("schedule: %q takes no interval or hours", s.Mode)
		}
	case ModeEvery:
		if s.Hours != 0 {
			return errors.New("schedule: \"every\" takes no hours")
		}
		if s.Every < MinEvery {
			return fmt.Errorf("schedule: interval %s is shorter than the minimum %s", s.Every, formatDuration(MinEvery))
		}
		if s.Every > MaxEvery {
			return fmt.Errorf("schedule: interval %s is longer than the maximum %s (use \"manual\" for rarer syncs)", s.Every, formatDuration(MaxEvery))
		}
	case ModeWindows:
		if s.Every != 0 {
			return errors.New("schedule: \"windows\" takes no interval")
		}
		if s.Hours == 0 {
			return errors.New("schedule: windows must list at least one UTC hour 0-23")
		}
		if s.Hours&^allHours != 0 {
			return errors.New("schedule: window hours must be UTC hours 0-23")
		}
	default:
		return fmt.Errorf("schedule: unknown mode %d", uint8(s.Mode))
	}
	return nil
}

// String renders the schedule as its JSON form.
func (s Schedule) String() string {
	b, err := s.MarshalJSON()
	if err != nil {
		return fmt.Sprintf("invalid schedule (%v)", err)
	}
	return string(b)
}

// MarshalJSON writes the API form: "when_needed", "manual",
// {"every":"2h"} or {"windows":[3,4]}. An invalid schedule is an error.
func (s Schedule) MarshalJSON() ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	switch s.Mode {
	case ModeEvery:
		return json.Marshal(map[string]string{"every": formatDuration(s.Every)})
	case ModeWindows:
		return json.Marshal(map[string][]int{"windows": s.Hours.List()})
	default:
		return json.Marshal(s.Mode.String())
	}
}

// maxScheduleJSON bounds the text UnmarshalJSON looks at: the longest
// valid form ({"windows":[0,1,...,23]} with generous spacing) is far
// shorter.
const maxScheduleJSON = 1024

// UnmarshalJSON reads the API form (see MarshalJSON) and validates it.
// Duplicated window hours are merged; an empty body, null, an unknown
// name, an object with unknown or several keys, or a value of the wrong
// JSON type is an error.
func (s *Schedule) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > maxScheduleJSON {
		return fmt.Errorf("schedule: %d bytes is too long for a schedule", len(b))
	}
	if len(b) == 0 {
		return errors.New("schedule: empty")
	}
	var out Schedule
	switch b[0] {
	case '"':
		var name string
		if err := json.Unmarshal(b, &name); err != nil {
			return fmt.Errorf("schedule: %v", err)
		}
		switch name {
		case "when_needed":
			out = WhenNeeded()
		case "manual":
			out = Manual()
		default:
			return fmt.Errorf("schedule: unknown schedule %s (want \"when_needed\", \"manual\", {\"every\": \"2h\"} or {\"windows\": [3, 4]})", ingest.Quote(name))
		}
	case '{':
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(b, &obj); err != nil {
			return fmt.Errorf("schedule: %v", err)
		}
		if len(obj) != 1 {
			return fmt.Errorf("schedule: an object schedule needs exactly one of \"every\" or \"windows\", got %d keys", len(obj))
		}
		var err error
		switch {
		case obj["every"] != nil:
			out, err = parseEvery(obj["every"])
		case obj["windows"] != nil:
			out, err = parseWindows(obj["windows"])
		default:
			for k := range obj {
				err = fmt.Errorf("schedule: unknown key %s (want \"every\" or \"windows\")", ingest.Quote(k))
			}
		}
		if err != nil {
			return err
		}
	default:
		return errors.New("schedule: must be a string (\"when_needed\", \"manual\") or an object ({\"every\": \"2h\"}, {\"windows\": [3, 4]})")
	}
	if err := out.Validate(); err != nil {
		return err
	}
	*s = out
	return nil
}

func parseEvery(raw json.RawMessage) (Schedule, error) {
	var text string
	if err := json.Unmarshal(raw, &text); err != nil {
		return Schedule{}, fmt.Errorf("schedule: \"every\" must be a duration string such as \"2h\" or \"90m\", got %s", ingest.Quote(string(raw)))
	}
	d, err := time.ParseDuration(text)
	if err != nil {
		return Schedule{}, fmt.Errorf("schedule: \"every\" must be a duration such as \"2h\" or \"90m\", got %s", ingest.Quote(text))
	}
	return Every(d), nil
}

func parseWindows(raw json.RawMessage) (Schedule, error) {
	var hours []json.Number
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&hours); err != nil || hours == nil {
		return Schedule{}, fmt.Errorf("schedule: \"windows\" must be a list of UTC hours such as [3, 4], got %s", ingest.Quote(string(raw)))
	}
	if len(hours) > 24 {
		return Schedule{}, fmt.Errorf("schedule: \"windows\" lists %d hours, at most 24", len(hours))
	}
	var set HourSet
	for _, n := range hours {
		hour, err := n.Int64()
		if err != nil || hour < 0 || hour > 23 {
			return Schedule{}, fmt.Errorf("schedule: window hour %s is not a UTC hour 0-23", ingest.Quote(string(n)))
		}
		set |= 1 << hour
	}
	return Windows(set), nil
}

// formatDuration writes d without trailing zero units: 2h, 90m -> 1h30m,
// 5m, 1h0m30s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
