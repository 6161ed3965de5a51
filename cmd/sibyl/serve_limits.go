package main

import (
	"github.com/sibylhq/sibyl/query"
	"github.com/spf13/pflag"
)

// addLimitFlags registers serve's edge-limit flags (each also
// SIBYL_<NAME>, as every serve flag) on the HTTP configuration.
func addLimitFlags(f *pflag.FlagSet, c *query.Config) {
	f.Float64Var(&c.Rate.StoreRate, "rate-per-store", c.Rate.StoreRate, "public-key requests per second of one store on this node (0: unlimited); a store may override it with sibyl store limits")
	f.IntVar(&c.Rate.StoreBurst, "burst-per-store", c.Rate.StoreBurst, "bucket size of --rate-per-store")
	f.Float64Var(&c.Rate.IPRate, "rate-per-ip", c.Rate.IPRate, "public-key requests per second of one client IP (IPv6: one /64) on this node (0: unlimited; load generators on one host need 0)")
	f.IntVar(&c.Rate.IPBurst, "burst-per-ip", c.Rate.IPBurst, "bucket size of --rate-per-ip")
	f.IntVar(&c.Rate.Buckets, "rate-buckets", c.Rate.Buckets, "most rate buckets kept per kind (stores, IPs); the least recently used are evicted")
	f.StringSliceVar(&c.Rate.TrustedProxies, "trusted-proxies", c.Rate.TrustedProxies, "addresses or CIDRs of reverse proxies whose X-Forwarded-For names the client (default: none, the TCP peer is the client)")
	f.IntVar(&c.Rate.MaxConnsPerIP, "max-conns-per-ip", c.Rate.MaxConnsPerIP, "concurrent HTTP connections from one IP (0: unlimited)")
	f.IntVar(&c.Rate.MaxInFlight, "max-in-flight", c.Rate.MaxInFlight, "requests served at once; more are answered 503 overloaded (0: unlimited; health probes and /metrics are exempt)")
	f.IntVar(&c.MaxHeaderBytes, "max-header-bytes", c.MaxHeaderBytes, "request line and headers, in bytes (per-connection read buffer); over it: 431")
	f.IntVar(&c.MaxURIBytes, "max-uri-bytes", c.MaxURIBytes, "request URI, in bytes; over it: 414")
	f.IntVar(&c.SearchCacheEntries, "search-cache", c.SearchCacheEntries, "search answers kept per store for identical requests (each at most 8 KiB, 4 MiB a store), valid while what they were computed from is unchanged and for at most a minute (0: off, every search computed)")
}
