package schedule

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSchedulerScripts runs the scripts in testdata/*.txt against a
// Scheduler, one command a line (etcd raft's data-driven style):
//
//	config max=2
//	upsert a "when_needed" [start=10:00 finish=10:02 outcome=succeeded failures=0] at=10:02
//	remove a
//	due 11:10 -> a b          (the stores Due returns, in order; nothing after -> for none)
//	finished a start=11:06 finish=11:08 outcome=failed failures=1 -> true
//	trigger a at=11:09 -> true
//	wake -> ~11:00            (NextWake in [11:00, 11:00+MaxJitter)); wake -> none
//	next a -> ~12:00 | none   (NextRun)
//	running -> 1
//	len -> 2
//
// Times are at(): "10:02", "+1d03:00". Blank lines and # comments are
// skipped.
func TestSchedulerScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) { runScript(t, file) })
	}
}

func runScript(t *testing.T, file string) {
	fh, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var s *Scheduler
	mustNew := func(max int) {
		var err error
		if s, err = New(Config{MaxConcurrent: max}); err != nil {
			t.Fatal(err)
		}
	}
	mustNew(DefaultConfig().MaxConcurrent)
	sc := bufio.NewScanner(fh)
	for lineNo := 1; sc.Scan(); lineNo++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		where := fmt.Sprintf("%s:%d: %s", file, lineNo, line)
		cmd, want, hasWant := strings.Cut(line, "->")
		want = strings.TrimSpace(want)
		fields := strings.Fields(cmd)
		args := map[string]string{}
		var words []string
		for _, f := range fields[1:] {
			if k, v, ok := strings.Cut(f, "="); ok && !strings.HasPrefix(f, `"`) && !strings.HasPrefix(f, "{") {
				args[k] = v
			} else {
				words = append(words, f)
			}
		}
		var got string
		switch fields[0] {
		case "config":
			n, _ := strconv.Atoi(args["max"])
			mustNew(n)
		case "upsert":
			var sch Schedule
			if err := json.Unmarshal([]byte(strings.Join(words[1:], " ")), &sch); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			s.Upsert(words[0], sch, scriptState(args), at(args["at"]))
		case "remove":
			s.Remove(words[0])
		case "due":
			got = strings.Join(s.Due(at(words[0])), " ")
		case "finished":
			st := scriptState(args)
			got = strconv.FormatBool(s.Finished(words[0], st, st.LastFinish))
		case "trigger":
			got = strconv.FormatBool(s.Trigger(words[0], at(args["at"])))
		case "wake":
			when, ok := s.NextWake()
			got = scriptTime(when, ok, want)
		case "next":
			when, ok := s.NextRun(words[0])
			got = scriptTime(when, ok, want)
		case "running":
			got = strconv.Itoa(s.Running())
		case "len":
			got = strconv.Itoa(s.Len())
		default:
			t.Fatalf("%s: unknown command", where)
		}
		if s.Running() > s.cfg.MaxConcurrent {
			t.Fatalf("%s: %d running, more than %d", where, s.Running(), s.cfg.MaxConcurrent)
		}
		if (hasWant || fields[0] == "due") && got != want {
			t.Fatalf("%s\n got: %s\nwant: %s", where, got, want)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

// scriptState reads start=, finish=, outcome= and failures=.
func scriptState(args map[string]string) State {
	var st State
	if v := args["start"]; v != "" {
		st.LastStart = at(v)
	}
	if v := args["finish"]; v != "" {
		st.LastFinish = at(v)
		st.LastDuration = st.LastFinish.Sub(st.LastStart)
	}
	switch args["outcome"] {
	case "succeeded":
		st.Outcome = OutcomeSucceeded
	case "failed":
		st.Outcome = OutcomeFailed
	case "refused":
		st.Outcome = OutcomeRefused
	}
	st.Failures, _ = strconv.Atoi(args["failures"])
	return st
}

// scriptTime prints when as the expectation asks: "none", "~HH:MM" when
// when lies in [HH:MM, HH:MM+MaxJitter), or the exact "HH:MM:SS".
func scriptTime(when time.Time, ok bool, want string) string {
	if !ok {
		return "none"
	}
	if approx, found := strings.CutPrefix(want, "~"); found {
		if d := when.Sub(at(approx)); d >= 0 && d < MaxJitter {
			return want
		}
	}
	return when.UTC().Format("2006-01-02 15:04:05.000")
}
