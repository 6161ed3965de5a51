package shard

import "github.com/cespare/xxhash/v2"

// JumpHash maps key to a bucket in [0, buckets) so that growing the bucket
// count from n to n+1 moves only 1/(n+1) of the keys, all to the new bucket.
// Algorithm from J. Lamping and E. Veach, "A Fast, Minimal Memory,
// Consistent Hash Algorithm", 2014, arXiv:1406.2294: a linear congruential
// generator keyed by the hash decides the jumps.
func JumpHash(key uint64, buckets int) int {
	if buckets <= 0 {
		panic("shard: JumpHash needs at least one bucket")
	}
	b, j := int64(-1), int64(0)
	for j < int64(buckets) {
		b = j
		key = key*2862933555777941757 + 1
		j = int64(float64(b+1) * (float64(int64(1)<<31) / float64((key>>33)+1)))
	}
	return int(b)
}

// ShardFor returns the shard of a store: jump hash of the store id's 64-bit
// xxHash over the shard count.
func ShardFor(storeID string, shards int) int {
	return JumpHash(xxhash.Sum64String(storeID), shards)
}
