package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
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
		s, err := unquote(b)
		if err != nil {
			return err
		}
		*id = ID(s)
		return nil
	case 'n':
		*id = ""
		return nil
	default:
		// A number: keep integers exact, whatever their size, and reject
		// fractions, which are almost always a broken export (1.5 is
		// not an id).
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("id must be a string or an integer, got %s", truncate(string(b), 40))
		}
		if isIntegerLiteral(string(n)) {
			*id = ID(n)
			return nil
		}
		// 1e3 or 12.0: accept when exactly integral and within float64's
		// exact integer range (2^53).
		if f, err := n.Float64(); err == nil && f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
			*id = ID(strconv.FormatInt(int64(f), 10))
			return nil
		}
		return fmt.Errorf("id must be a string or an integer, got %s", truncate(string(n), 40))
	}
}

// isIntegerLiteral reports whether s is a JSON integer: an optional minus
// and digits (JSON forbids leading zeros, so the text is canonical).
func isIntegerLiteral(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
