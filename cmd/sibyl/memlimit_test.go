package main

import "testing"

func TestParseBytes(t *testing.T) {
	good := map[string]int64{"4GiB": 4 << 30, "512MiB": 512 << 20, "1.5GiB": 3 << 29, "2GB": 2e9, "100": 100, " 8 KiB ": 8192, "10B": 10}
	for s, want := range good {
		if got, err := parseBytes(s); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "GiB", "-1GiB", "0", "4 gigs", "1e30TiB", "NaN"} {
		if got, err := parseBytes(s); err == nil {
			t.Errorf("parseBytes(%q) = %d, want an error", s, got)
		}
	}
}
