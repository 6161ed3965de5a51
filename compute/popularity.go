package compute

import (
	"fmt"
	"math"
	"slices"
	"sync"
)

// PopularityConfig tunes Popularity. Times are unix seconds.
type PopularityConfig struct {
	// HalfLife is the half-life, in seconds, of a sale's weight in the
	// popularity score.
	HalfLife int64
	// TrendShort and TrendLong are the half-lives of the recent and the
	// baseline sales rates that Trending compares.
	TrendShort, TrendLong int64
	// TrendSmoothing, in sales per day, is added to both rates so that an
	// item going from 0 to 1 sale does not top the list.
	TrendSmoothing float64
}

// DefaultPopularityConfig returns 30-day popularity and a 3-day versus
// 30-day trend.
func DefaultPopularityConfig() PopularityConfig {
	const day = 24 * 3600
	return PopularityConfig{HalfLife: 30 * day, TrendShort: 3 * day, TrendLong: 30 * day, TrendSmoothing: 1}
}

// Validate checks the config.
func (c PopularityConfig) Validate() error {
	if c.HalfLife <= 0 || c.TrendShort <= 0 || c.TrendLong <= 0 {
		return fmt.Errorf("half-lives must be positive, got %d, %d, %d", c.HalfLife, c.TrendShort, c.TrendLong)
	}
	if c.TrendShort >= c.TrendLong {
		return fmt.Errorf("trend short half-life %d must be below the long one %d", c.TrendShort, c.TrendLong)
	}
	if c.TrendSmoothing <= 0 {
		return fmt.Errorf("trend smoothing must be positive, got %v", c.TrendSmoothing)
	}
	return nil
}

// Popularity keeps exponentially time-decayed sales per item. Each score
// is stored as log2(sum_s q_s 2^(t_s/h)): decay is the same for every
// item, so ranking needs no clock and the value never overflows; the
// decayed value at time now is 2^(L - now/h). Deterministic: time is
// always an argument. Safe for concurrent use.
type Popularity struct {
	cfg PopularityConfig

	mu               sync.RWMutex
	pop, short, long []float64 // log-domain sums, -Inf when empty
	lastSale         int64
	version          uint64 // bumped by every sale; keys the trend cache

	// The trending list is O(catalog) exps to compute and is asked for
	// with the same "now" (the newest sale) until the next sale, so the
	// top trendCacheLen are cached per (version, now).
	cacheMu sync.Mutex
	cache   trendCache
}

const trendCacheLen = 100

type trendCache struct {
	version uint64
	now     int64
	top     []Scored
	valid   bool
}

// NewPopularity returns empty popularity for numItems items (it grows).
func NewPopularity(numItems int, cfg PopularityConfig) (*Popularity, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("cannot create popularity: %w", err)
	}
	p := &Popularity{cfg: cfg}
	p.grow(numItems)
	return p, nil
}

func (p *Popularity) grow(n int) {
	for len(p.pop) < n {
		p.pop = append(p.pop, math.Inf(-1))
		p.short = append(p.short, math.Inf(-1))
		p.long = append(p.long, math.Inf(-1))
	}
}

// logAdd2 returns log2(2^a + 2^b).
func logAdd2(a, b float64) float64 {
	if a < b {
		a, b = b, a
	}
	if math.IsInf(b, -1) {
		return a
	}
	return a + math.Log2(1+math.Exp2(b-a))
}

// AddSale records qty units (or 1 for an order line) of item sold at time t.
func (p *Popularity) AddSale(item int32, qty float64, t int64) {
	if item < 0 || qty <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.grow(int(item) + 1)
	lq := math.Log2(qty)
	p.pop[item] = logAdd2(p.pop[item], lq+float64(t)/float64(p.cfg.HalfLife))
	p.short[item] = logAdd2(p.short[item], lq+float64(t)/float64(p.cfg.TrendShort))
	p.long[item] = logAdd2(p.long[item], lq+float64(t)/float64(p.cfg.TrendLong))
	p.lastSale = max(p.lastSale, t)
	p.version++
}

// Score returns item's decayed sales at time now.
func (p *Popularity) Score(item int32, now int64) float64 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if item < 0 || int(item) >= len(p.pop) {
		return 0
	}
	return math.Exp2(p.pop[item] - float64(now)/float64(p.cfg.HalfLife))
}

// Popular appends to dst the k most popular items, best first, skipping
// exclude (a short list). The order does not depend on the query time.
func (p *Popularity) Popular(k int, exclude []int32, dst []Scored) []Scored {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var col TopKCollector
	var hbuf [32]Scored
	col.resetWith(k, hbuf[:])
	// Rank in the log domain (monotonic, no exp per item), relative to
	// the last sale so values fit float32; convert only the winners.
	ref := float64(p.lastSale) / float64(p.cfg.HalfLife)
	for i, l := range p.pop {
		if !math.IsInf(l, -1) && !slices.Contains(exclude, int32(i)) {
			col.Offer(int32(i), float32(l-ref))
		}
	}
	start := len(dst)
	dst = col.AppendSorted(dst)
	for j := start; j < len(dst); j++ {
		dst[j].Score = float32(math.Exp2(float64(dst[j].Score)))
	}
	return dst
}

// rate converts a log-domain decayed sum to a per-day rate at time now: a
// constant rate r sales/day gives about r.
func rate(l float64, now, halfLife int64) float64 {
	if math.IsInf(l, -1) {
		return 0
	}
	return math.Exp2(l-float64(now)/float64(halfLife)) * math.Ln2 * 86400 / float64(halfLife)
}

// TrendScore returns item's growth at now: (short rate + s) / (long rate
// + s), s the smoothing. Above 1 means selling faster lately.
func (p *Popularity) TrendScore(item int32, now int64) float64 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if item < 0 || int(item) >= len(p.pop) {
		return 0
	}
	return p.trend(item, now)
}

func (p *Popularity) trend(item int32, now int64) float64 {
	s := p.cfg.TrendSmoothing
	return (rate(p.short[item], now, p.cfg.TrendShort) + s) / (rate(p.long[item], now, p.cfg.TrendLong) + s)
}

// Trending appends to dst the k items whose sales grew most at time now
// (recent versus baseline rate, smoothed), best first, skipping exclude.
// Items with no sale at all are never trending. O(catalog) on a cache
// miss; repeated calls with the same now and no sale in between are served
// from a cached top list.
func (p *Popularity) Trending(now int64, k int, exclude []int32, dst []Scored) []Scored {
	p.mu.RLock()
	defer p.mu.RUnlock()
	p.cacheMu.Lock()
	defer p.cacheMu.Unlock()
	c := &p.cache
	complete := c.valid && len(c.top) < trendCacheLen // every sold item is in the list
	if !c.valid || c.version != p.version || c.now != now || (!complete && k+len(exclude) > len(c.top)) {
		n := max(trendCacheLen, k+len(exclude))
		var col TopKCollector
		col.Reset(n)
		for i := range p.pop {
			if !math.IsInf(p.pop[i], -1) {
				col.Offer(int32(i), float32(p.trend(int32(i), now)))
			}
		}
		*c = trendCache{version: p.version, now: now, top: col.AppendSorted(c.top[:0]), valid: true}
	}
	added := 0
	for _, s := range c.top {
		if added == k {
			break
		}
		if !slices.Contains(exclude, s.Index) {
			dst = append(dst, s)
			added++
		}
	}
	return dst
}
