package query

import (
	"net/netip"
	"testing"

	"github.com/sibylhq/sibyl/cluster/meta"
)

// BenchmarkEdgeAllow is the rate check every public-key request pays:
// the client's bucket and the store's, both far from their limits.
func BenchmarkEdgeAllow(b *testing.B) {
	cfg := DefaultRateLimits()
	cfg.IPRate, cfg.IPBurst, cfg.StoreRate, cfg.StoreBurst = 1e9, 1e9, 1e9, 1e9
	e := newEdge(cfg)
	ip := netip.MustParseAddr("192.0.2.7")
	b.ReportAllocs()
	for b.Loop() {
		if err := e.allow(ip, "st_1", meta.RateLimit{}, false); err != nil {
			b.Fatal(err)
		}
	}
}
