package main

import (
	"bytes"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestImportBarRateAtStart: the first buffer read right after the bar
// appears must not be shown as an absurd rate (it once read "680 GB/s").
func TestImportBarRateAtStart(t *testing.T) {
	var out bytes.Buffer
	start := time.Now()
	bar := newImportBar(&out, 100<<20, "orders.csv.gz")
	if err := bar.Add(1 << 20); err != nil {
		t.Fatal(err)
	}
	time.Sleep(250 * time.Millisecond) // past the throttle
	if err := bar.Add(1 << 20); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start).Seconds()
	// The true average is at most 2 MiB over the time since the bar was
	// made; allow for rounding in the rendered figure.
	ceiling := float64(2<<20) / 0.25 * 1.1
	units := map[string]float64{"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "PB": 1e15}
	found := 0
	for _, m := range regexp.MustCompile(`([0-9.]+) ([kMGTP]?B)/s`).FindAllStringSubmatch(out.String(), -1) {
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatalf("rate %q: %v", m[0], err)
		}
		found++
		if rate := v * units[m[2]]; rate > ceiling {
			t.Errorf("bar showed %s after %.2fs for 2 MiB read", m[0], elapsed)
		}
	}
	if found == 0 {
		t.Fatalf("no rate rendered: %q", out.String())
	}
}
