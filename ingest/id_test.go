package ingest

import (
	"encoding/json"
	"testing"
)

func TestIDUnmarshal(t *testing.T) {
	good := map[string]ID{
		`"abc"`:                   "abc",
		`42`:                      "42",
		`-7`:                      "-7",
		`12345678901234567890123`: "12345678901234567890123",
		`1e3`:                     "1000",
		`12.0`:                    "12",
		`null`:                    "",
		`""`:                      "",
	}
	for in, want := range good {
		var id ID
		if err := json.Unmarshal([]byte(in), &id); err != nil || id != want {
			t.Errorf("%s: got %q, %v; want %q", in, id, err, want)
		}
	}
	for _, in := range []string{`1.5`, `1e300`, `true`, `{}`, `[]`} {
		var id ID
		if err := json.Unmarshal([]byte(in), &id); err == nil {
			t.Errorf("%s: accepted as %q", in, id)
		}
	}
}
