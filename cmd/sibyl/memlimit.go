package main

import (
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
	"strconv"
	"strings"
)

// applyMemoryLimit sets the runtime's soft memory limit from --memory-limit;
// empty leaves the runtime's own (GOMEMLIMIT, or none).
func applyMemoryLimit(flag string, log *slog.Logger) error {
	if flag != "" {
		n, err := parseBytes(flag)
		if err != nil {
			return fmt.Errorf("--memory-limit: %w", err)
		}
		debug.SetMemoryLimit(n)
	}
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		log.Info("memory limit", "bytes", l, "MiB", l>>20)
	}
	return nil
}

// parseBytes reads a size: a number with an optional unit, binary (KiB,
// MiB, GiB, TiB) or decimal (kB, MB, GB, TB), B or none for bytes. Written
// here rather than taken from a library: a dozen lines, one call site.
func parseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	num, mult := strings.TrimSpace(s), 1.0
	for _, u := range units {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || !(v > 0) || v*mult >= math.MaxInt64 { // !(v > 0) also rejects NaN
		return 0, fmt.Errorf("%q is not a size like 4GiB, 512MiB or 2000000000", s)
	}
	return int64(v * mult), nil
}
