package shard

import (
	"fmt"
	"math"
	"testing"
)

func TestJumpHashDistribution(t *testing.T) {
	const buckets, keys = 64, 128_000
	counts := make([]int, buckets)
	for i := range keys {
		counts[ShardFor(fmt.Sprintf("store-%d", i), buckets)]++
	}
	// Chi-square with 63 degrees of freedom: 99.9th percentile is ~103.4.
	exp := float64(keys) / buckets
	chi := 0.0
	for _, c := range counts {
		chi += (float64(c) - exp) * (float64(c) - exp) / exp
	}
	if chi > 103.4 {
		t.Fatalf("shard load is uneven: chi-square %.1f, counts %v", chi, counts)
	}
}

func TestJumpHashStability(t *testing.T) {
	const keys = 20_000
	for _, n := range []int{1, 7, 64, 100} {
		moved := 0
		for i := range keys {
			id := fmt.Sprintf("store-%d", i)
			a, b := ShardFor(id, n), ShardFor(id, n+1)
			if a < 0 || a >= n {
				t.Fatalf("ShardFor(%q, %d) = %d out of range", id, n, a)
			}
			if a != b {
				if b != n {
					t.Fatalf("growing %d->%d moved %q from %d to old shard %d", n, n+1, id, a, b)
				}
				moved++
			}
			if ShardFor(id, n) != a {
				t.Fatal("ShardFor is not deterministic")
			}
		}
		want := float64(keys) / float64(n+1)
		if math.Abs(float64(moved)-want) > 5*math.Sqrt(want)+1 {
			t.Fatalf("growing %d->%d moved %d keys, want about %.0f", n, n+1, moved, want)
		}
	}
	if JumpHash(12345, 1) != 0 {
		t.Fatal("one bucket must map everything to 0")
	}
}
