package platform

// Value parsing shared by the mappers: money amounts, timestamps, URLs.

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sibylhq/sibyl/ingest"
)

// amount is a money value that platforms send as a JSON string ("19.99",
// Shopify and WooCommerce) or number (Magento, WooCommerce line items).
// Set is false for null, "" and a missing field.
type amount struct {
	Value float64
	Set   bool
}

// UnmarshalJSON accepts a string or number holding a finite decimal.
func (a *amount) UnmarshalJSON(b []byte) error {
	*a = amount{}
	s := strings.TrimSpace(string(b))
	if s == "null" {
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
		if s == "" {
			return nil
		}
	}
	f, err := parseDecimal(s)
	if err != nil {
		return err
	}
	*a = amount{Value: f, Set: true}
	return nil
}

// parseDecimal reads a plain decimal number; strconv.ParseFloat alone
// would also take "NaN", "Inf", hex floats and underscores.
func parseDecimal(s string) (float64, error) {
	if len(s) == 0 || len(s) > 64 {
		return 0, fmt.Errorf("not a decimal number: %s", ingest.Quote(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E') {
			return 0, fmt.Errorf("not a decimal number: %s", ingest.Quote(s))
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, fmt.Errorf("not a decimal number: %s", ingest.Quote(s))
	}
	return f, nil
}

// unixTime parses a platform timestamp: RFC 3339 (Shopify), or a zone-less
// "2006-01-02T15:04:05" (WooCommerce's *_gmt fields) or
// "2006-01-02 15:04:05" (Magento), both UTC. "" is 0 (unknown).
func unixTime(field, s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Unix(), nil
		}
	}
	return 0, &mapError{field: field, kind: ingest.ErrInvalidValue, reason: "not a timestamp: " + ingest.Quote(s)}
}

// joinURL joins a store's base URL and a path part; "" when either is
// missing, so that a product without a handle gets no URL rather than the
// shop's home page.
func joinURL(base, path string) string {
	if base == "" || path == "" {
		return ""
	}
	return strings.TrimRight(base, "/") + "/" + strings.TrimLeft(path, "/")
}

// clipText cuts s to the limit on a rune boundary: a long description is
// shortened rather than costing the whole product.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut]
}
