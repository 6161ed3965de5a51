package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// ID is a record identifier. Clerk feeds send ids as JSON numbers or
// strings; both become the same string so that 42 and "42" name one record.
type ID string

// UnmarshalJSON accepts a JSON string or an integral JSON number.
func (id *ID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return fmt.Errorf("empty id")
	}
	switch b[0] {
	case '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*id = ID(s)
		return nil
	case 'n':
		*id = ""
		return nil
	default:
		// A number: keep integers exact, reject fractions, which are
		// almost always a broken export (1.5 is not an id).
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("id must be a string or an integer, got %s", truncate(string(b), 40))
		}
		if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
			*id = ID(strconv.FormatInt(i, 10))
			return nil
		}
		if f, err := n.Float64(); err == nil && f == float64(int64(f)) {
			*id = ID(strconv.FormatInt(int64(f), 10))
			return nil
		}
		return fmt.Errorf("id must be a string or an integer, got %s", n)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
