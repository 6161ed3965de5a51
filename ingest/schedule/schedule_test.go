package schedule

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestScheduleJSON(t *testing.T) {
	f := func(in string, want Schedule, canonical string) {
		t.Helper()
		var got Schedule
		if err := json.Unmarshal([]byte(in), &got); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if got != want {
			t.Fatalf("%s: got %+v, want %+v", in, got, want)
		}
		out, err := json.Marshal(got)
		if err != nil {
			t.Fatalf("%s: marshal: %v", in, err)
		}
		if string(out) != canonical {
			t.Fatalf("%s: marshalled %s, want %s", in, out, canonical)
		}
		var again Schedule
		if err := json.Unmarshal(out, &again); err != nil || again != got {
			t.Fatalf("%s: round trip gave %+v, %v", in, again, err)
		}
	}
	f(`"when_needed"`, WhenNeeded(), `"when_needed"`)
	f(`"manual"`, Manual(), `"manual"`)
	f(`{"every": "2h"}`, Every(2*time.Hour), `{"every":"2h"}`)
	f(`{"every":"90m"}`, Every(90*time.Minute), `{"every":"1h30m"}`)
	f(`{"every":"5m"}`, Every(5*time.Minute), `{"every":"5m"}`)
	f(`{"every":"168h"}`, Every(7*24*time.Hour), `{"every":"168h"}`)
	f(`{"every":"1h0m30s"}`, Every(time.Hour+30*time.Second), `{"every":"1h0m30s"}`)
	f(`{"windows": [3, 4]}`, Windows(1<<3|1<<4), `{"windows":[3,4]}`)
	f(`{"windows":[4,3,4,3]}`, Windows(1<<3|1<<4), `{"windows":[3,4]}`)
	f(`{"windows":[0,23]}`, Windows(1|1<<23), `{"windows":[0,23]}`)
	f(` "manual" `, Manual(), `"manual"`)
}

func TestScheduleJSONErrors(t *testing.T) {
	f := func(in, wantErr string) {
		t.Helper()
		s := Every(time.Hour) // must stay untouched on error
		err := json.Unmarshal([]byte(in), &s)
		if err == nil {
			t.Fatalf("%s: accepted as %+v", in, s)
		}
		if !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("%s: error %q does not mention %q", in, err, wantErr)
		}
		if s != Every(time.Hour) {
			t.Fatalf("%s: schedule changed to %+v on error", in, s)
		}
	}
	f(`"hourly"`, `unknown schedule "hourly"`)
	f(`""`, `unknown schedule`)
	f(`null`, `must be a string`)
	f(`42`, `must be a string`)
	f(`["manual"]`, `must be a string`)
	f(`{}`, `exactly one`)
	f(`{"every":"2h","windows":[3]}`, `exactly one`)
	f(`{"cron":"* * * * *"}`, `unknown key "cron"`)
	f(`{"every":7200}`, `duration string`)
	f(`{"every":null}`, `must be a duration`)
	f(`{"every":"2 hours"}`, `must be a duration`)
	f(`{"every":"-1h"}`, `shorter than the minimum 5m`)
	f(`{"every":"0s"}`, `shorter than the minimum`)
	f(`{"every":"30s"}`, `shorter than the minimum`)
	f(`{"every":"169h"}`, `longer than the maximum 168h`)
	f(`{"windows":[]}`, `at least one`)
	f(`{"windows":null}`, `list of UTC hours`)
	f(`{"windows":"3"}`, `list of UTC hours`)
	f(`{"windows":[24]}`, `hour "24" is not a UTC hour`)
	f(`{"windows":[-1]}`, `is not a UTC hour`)
	f(`{"windows":[3.5]}`, `is not a UTC hour`)
	f(`{"windows":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,0,1]}`, `at most 24`)
	f(`"`+strings.Repeat("x", 2000)+`"`, `too long`)
}

func TestScheduleValidate(t *testing.T) {
	f := func(s Schedule, wantErr string) {
		t.Helper()
		err := s.Validate()
		if wantErr == "" {
			if err != nil {
				t.Fatalf("%+v: %v", s, err)
			}
			return
		}
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("%+v: error %v, want one mentioning %q", s, err, wantErr)
		}
		if _, merr := s.MarshalJSON(); merr == nil {
			t.Fatalf("%+v: an invalid schedule marshalled", s)
		}
	}
	f(Schedule{}, "")
	f(Every(MinEvery), "")
	f(Every(MaxEvery), "")
	f(Every(MinEvery-1), "shorter")
	f(Every(-time.Hour), "shorter")
	f(Every(MaxEvery+1), "longer")
	f(Windows(0), "at least one")
	f(Windows(1<<24), "0-23")
	f(Schedule{Mode: ModeWindows, Hours: 1, Every: time.Hour}, "no interval")
	f(Schedule{Mode: ModeManual, Every: time.Hour}, "takes no interval")
	f(Schedule{Mode: ModeEvery, Every: time.Hour, Hours: 1}, "no hours")
	f(Schedule{Mode: 9}, "unknown mode")
}

func TestHours(t *testing.T) {
	h, err := Hours(23, 0, 5, 5)
	if err != nil || h.Len() != 3 || !h.Has(0) || !h.Has(5) || !h.Has(23) || h.Has(1) || h.Has(24) || h.Has(-1) {
		t.Fatalf("Hours(23,0,5,5) = %b, %v", h, err)
	}
	if got := h.List(); len(got) != 3 || got[0] != 0 || got[1] != 5 || got[2] != 23 {
		t.Fatalf("List = %v", got)
	}
	if _, err := Hours(24); err == nil {
		t.Fatal("hour 24 accepted")
	}
}

// FuzzScheduleJSON: any input is rejected or accepted as a valid schedule
// whose canonical form reads back to the same schedule; nothing panics.
func FuzzScheduleJSON(f *testing.F) {
	for _, seed := range []string{`"when_needed"`, `"manual"`, `{"every":"2h"}`, `{"windows":[3,4]}`, `{"windows":[24]}`, `{"every":1}`, `[]`, `{`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var s Schedule
		if err := json.Unmarshal([]byte(in), &s); err != nil {
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("%q accepted as invalid %+v: %v", in, s, err)
		}
		out, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("%q: marshal: %v", in, err)
		}
		var again Schedule
		if err := json.Unmarshal(out, &again); err != nil || again != s {
			t.Fatalf("%q -> %s -> %+v, %v", in, out, again, err)
		}
	})
}
