package compute

import (
	"fmt"
	"math"
	"slices"
	"sync"
)

// CoPurchase: the config, counting (AddBasket, AddPairs) and the queries
// over the counts, alone (MostSoldWith, Complementary) or blended with the
// factor model (BlendComplementary, blendWithNeighbours). How a row is
// stored is corow.go's.

// CoPurchaseConfig tunes CoPurchase.
type CoPurchaseConfig struct {
	// MaxBasket caps the distinct items of one basket that are paired
	// (the first MaxBasket), so a huge wholesale order costs O(MaxBasket^2)
	// and does not swamp the counts.
	MaxBasket int
	// Damping is the exponent on the candidate's basket count in the
	// complementary score c_ij / n_j^Damping: 0 ranks by raw co-count
	// (favours best-sellers), 1 by lift-like conditional probability
	// (favours rarities); in between is the usual compromise.
	Damping float64
	// MinCount drops pairs seen fewer times from Complementary (noise).
	MinCount float32
}

// DefaultCoPurchaseConfig returns the defaults. On the basket protocol's
// validation window (docs/quality.md) damping hurt: HR@10 0.624 at 0,
// 0.604 at 0.25, 0.552 at 0.5, 0.219 at 1; the popularity of a complement
// is itself predictive of it being in the basket. So Complementary's
// default is the raw count, and the factor blend (ModelConfig) adds
// the distinction from MostSoldWith.
func DefaultCoPurchaseConfig() CoPurchaseConfig {
	return CoPurchaseConfig{MaxBasket: 100, Damping: 0, MinCount: 1}
}

// Validate checks the config.
func (c CoPurchaseConfig) Validate() error {
	if c.MaxBasket < 2 {
		return fmt.Errorf("max basket must be at least 2, got %d", c.MaxBasket)
	}
	if c.Damping < 0 || c.Damping > 2 || math.IsNaN(c.Damping) {
		return fmt.Errorf("damping must be in [0, 2], got %v", c.Damping)
	}
	if c.MinCount < 0 {
		return fmt.Errorf("min count must be >= 0, got %v", c.MinCount)
	}
	return nil
}

// CoPurchase holds item-item co-occurrence counts over baskets (orders). It
// is updated incrementally as orders arrive and queried concurrently: all
// methods are safe for concurrent use. Queries scan one item's neighbour
// row, so they cost O(row length), independent of the catalog size. Rows
// are compact sorted arrays (coRow); counts only grow (a deleted or
// changed order makes the owner rebuild from scratch).
type CoPurchase struct {
	cfg CoPurchaseConfig

	mu      sync.RWMutex
	rows    []coRow
	wide    bool               // rows hold int32 indices (see coRow)
	spill   map[uint64]float32 // counts of coSpill and more, by spillKey
	count   []float32          // baskets containing the item
	rowMax  []float32          // largest co-count in each row (counts only grow)
	baskets int64
	fresh   []int32 // AddBasket's scratch, under mu
}

// NewCoPurchase returns an empty structure for numItems items (it grows as
// larger indices arrive).
func NewCoPurchase(numItems int, cfg CoPurchaseConfig) (*CoPurchase, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("cannot create co-purchase counts: %w", err)
	}
	c := &CoPurchase{cfg: cfg}
	c.grow(numItems)
	return c, nil
}

func (c *CoPurchase) grow(n int) {
	if n > len(c.rows) {
		c.rows = append(c.rows, make([]coRow, n-len(c.rows))...)
		c.count = append(c.count, make([]float32, n-len(c.count))...)
		c.rowMax = append(c.rowMax, make([]float32, n-len(c.rowMax))...)
	}
	if n > narrowLimit && !c.wide {
		c.widen()
	}
}

// AddBasket counts one order's items. Duplicates and negative indices are
// ignored.
func (c *CoPurchase) AddBasket(items []int32) {
	uniq := make([]int32, 0, min(len(items), c.cfg.MaxBasket))
	for _, it := range items {
		if it >= 0 && !slices.Contains(uniq, it) {
			uniq = append(uniq, it)
			if len(uniq) == c.cfg.MaxBasket {
				break
			}
		}
	}
	if len(uniq) == 0 {
		return
	}
	// Sorted, each row's new neighbours come out ascending, ready for
	// one merge per row.
	slices.Sort(uniq)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.grow(int(uniq[len(uniq)-1]) + 1)
	c.baskets++
	for _, a := range uniq {
		c.count[a]++
		if len(uniq) == 1 {
			continue
		}
		r := &c.rows[a]
		fresh := c.fresh[:0]
		for _, b := range uniq {
			if b == a {
				continue
			}
			if k, ok := c.find(r, b); ok {
				c.rowMax[a] = max(c.rowMax[a], c.incrementAt(a, r, k))
			} else {
				fresh = append(fresh, b)
			}
		}
		if len(fresh) > 0 {
			c.insertNew(r, fresh)
			c.rowMax[a] = max(c.rowMax[a], 1)
		}
		c.fresh = fresh
	}
}

// AddPairs counts a two-item basket {o, a} for each o in others, as
// AddBasket([]int32{o, a}) would one by one, under one lock and without
// allocating: a tracked view pairs with up to 20 recent items of its
// session, and one AddBasket per pair was 15% of a tracking call's CPU.
func (c *CoPurchase) AddPairs(a int32, others []int32) {
	if a < 0 || len(others) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.grow(int(max(a, slices.Max(others))) + 1)
	for _, o := range others {
		c.baskets++
		c.count[a]++
		if o < 0 || o == a { // AddBasket's basket of one
			continue
		}
		c.count[o]++
		c.addPair(o, a)
		c.addPair(a, o)
	}
}

func (c *CoPurchase) addPair(a, b int32) {
	r := &c.rows[a]
	v := float32(1)
	if k, ok := c.find(r, b); ok {
		v = c.incrementAt(a, r, k)
	} else {
		c.insertNew(r, []int32{b})
	}
	c.rowMax[a] = max(c.rowMax[a], v)
}

// Count returns how many baskets held both a and b.
func (c *CoPurchase) Count(a, b int32) float32 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if a < 0 || int(a) >= len(c.rows) {
		return 0
	}
	return c.lookupLocked(a, &c.rows[a], b)
}

// ItemCount returns how many baskets held item.
func (c *CoPurchase) ItemCount(item int32) float32 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if item < 0 || int(item) >= len(c.count) {
		return 0
	}
	return c.count[item]
}

// Baskets returns the number of baskets added.
func (c *CoPurchase) Baskets() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.baskets
}

// MostSoldWith appends to dst the k items most often bought together with
// item (raw counts), best first, skipping exclude (a short list).
func (c *CoPurchase) MostSoldWith(item int32, k int, exclude []int32, dst []Scored) []Scored {
	return c.top(item, k, exclude, dst, 0, 0)
}

// Complementary appends to dst the k best complements of item by the
// normalised score c_ij / n_j^Damping, skipping exclude.
func (c *CoPurchase) Complementary(item int32, k int, exclude []int32, dst []Scored) []Scored {
	return c.top(item, k, exclude, dst, c.cfg.Damping, c.cfg.MinCount)
}

// ComplementaryScores calls fn for every co-purchased neighbour of item
// with its normalised score, for blending with other signals.
func (c *CoPurchase) ComplementaryScores(item int32, fn func(j int32, score float32)) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	c.eachLocked(item, func(j int32, n float32) {
		if n >= c.cfg.MinCount {
			fn(j, c.normalise(n, j, c.cfg.Damping))
		}
	})
}

// addNormalisedScores adds to scores[j] (for j < len(scores)) item's
// ComplementaryScores divided by the best of them, under one read lock.
// Undamped, the best is the row's largest count, kept by AddBasket, so
// the row is iterated once.
func (c *CoPurchase) addNormalisedScores(item int32, scores []float32) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if item < 0 || int(item) >= len(c.rows) {
		return
	}
	best := c.bestLocked(item)
	if best <= 0 {
		return
	}
	c.eachLocked(item, func(j int32, n float32) {
		if n >= c.cfg.MinCount && int(j) < len(scores) {
			scores[j] += c.normalise(n, j, c.cfg.Damping) / best
		}
	})
}

// bestLocked is the largest normalised score in item's row (counts below
// MinCount left out), 0 for none; c.mu must be held. Undamped it is the
// row's largest count, kept up to date as counts grow, so the row is not
// iterated.
func (c *CoPurchase) bestLocked(item int32) float32 {
	if item < 0 || int(item) >= len(c.rows) {
		return 0
	}
	if c.cfg.Damping == 0 {
		if c.rowMax[item] >= c.cfg.MinCount {
			return c.rowMax[item]
		}
		return 0
	}
	var best float32
	c.eachLocked(item, func(j int32, n float32) {
		if n >= c.cfg.MinCount {
			best = max(best, c.normalise(n, j, c.cfg.Damping))
		}
	})
	return best
}

func (c *CoPurchase) normalise(n float32, j int32, damping float64) float32 {
	if damping == 0 {
		return n
	}
	return n / float32(math.Pow(float64(c.count[j]), damping))
}

func (c *CoPurchase) top(item int32, k int, exclude []int32, dst []Scored, damping float64, minCount float32) []Scored {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if item < 0 || int(item) >= len(c.rows) {
		return dst
	}
	var col TopKCollector
	var hbuf [32]Scored
	col.resetWith(k, hbuf[:])
	c.eachLocked(item, func(j int32, n float32) {
		if n >= minCount && !slices.Contains(exclude, j) {
			col.Offer(j, c.normalise(n, j, damping))
		}
	})
	return col.AppendSorted(dst)
}

// cosineOf is the co-occurrence cosine c_ij / sqrt(n_i n_j) of a pair
// counted n times; c.mu must be held.
func (c *CoPurchase) cosineOf(n float32, i, j int32) float32 {
	if n == 0 {
		return 0
	}
	return n / float32(math.Sqrt(float64(c.count[i])*float64(c.count[j])))
}

// BlendComplementary ranks complements of item by co-purchase score
// (normalised so the item's best co-purchase is 1) plus factorWeight times
// the factor-space cosine. With factorWeight 0, or f nil, it is the pure
// co-purchase ranking; the factor term fills in for items with few orders.
// scratch must hold f.NumItems values (it avoids a per-call allocation);
// exclude is a short list; item itself is never returned.
func BlendComplementary(cp *CoPurchase, f *Factors, item int32, k int, factorWeight float32, exclude []int32, scratch []float32, dst []Scored) []Scored {
	if f == nil || factorWeight == 0 || int(item) >= f.NumItems || item < 0 {
		return cp.Complementary(item, k, append(exclude[:len(exclude):len(exclude)], item), dst)
	}
	scores := scratch[:f.NumItems]
	f.ItemCosine(item, scores)
	for j := range scores {
		scores[j] *= factorWeight
	}
	var best float32
	cp.ComplementaryScores(item, func(_ int32, s float32) { best = max(best, s) })
	if best > 0 {
		cp.ComplementaryScores(item, func(j int32, s float32) {
			if int(j) < len(scores) {
				scores[j] += s / best
			}
		})
	}
	scores[item] = float32(math.Inf(-1))
	return TopK(scores, k, exclude, dst)
}

// blendWithNeighbours is Model.complementaryScan restricted to item's
// co-purchases, its built partners (built, sorted by index, scores >= 0)
// and cosNb, its best factor-cosine neighbours (best first). Every other
// item scores factorWeight x a cosine no larger than cosNb's last, which
// any listed neighbour matches or beats, so the ranking is the full
// scan's whenever k listed neighbours survive exclude (or the list covers
// the catalog); ok is false otherwise.
func (c *CoPurchase) blendWithNeighbours(f *Factors, item int32, cosNb, built []Scored, k int, factorWeight float32, exclude []int32, dst []Scored) (out []Scored, ok bool) {
	if len(cosNb) < f.NumItems-1 {
		usable := 0
		for _, s := range cosNb {
			if !slices.Contains(exclude, s.Index) {
				usable++
			}
		}
		if usable < k {
			return dst, false
		}
	}
	var col TopKCollector
	var hbuf [32]Scored
	col.resetWith(k, hbuf[:])
	yi, ni := f.ItemVector(item), f.ItemNorm[item]
	cosine := func(j int32) float32 {
		if d := ni * f.ItemNorm[j]; d > 0 {
			return bl.Sdot(f.K, yi, 1, f.ItemVector(j), 1) / d
		}
		return 0
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	row := c.rowLocked(item)
	cosBound := factorWeight * 1.001
	best := c.bestLocked(item)
	var builtMax float32
	for _, s := range built {
		builtMax = max(builtMax, s.Score)
	}
	inRow := func(j int32) bool {
		n := c.lookupLocked(item, row, j)
		return n > 0 && n >= c.cfg.MinCount && best > 0
	}
	if best > 0 {
		c.eachLocked(item, func(j int32, n float32) {
			if n < c.cfg.MinCount || j == item || int(j) >= f.NumItems || slices.Contains(exclude, j) {
				return
			}
			live := c.normalise(n, j, c.cfg.Damping) / best
			// The cosine is at most 1 (slack for rounding): skip the
			// look-up and dot product when even the bounds cannot reach
			// the kept top k.
			fl, full := col.floor()
			if full && live+builtMax+cosBound < fl {
				return
			}
			rest := builtScore(built, j) + live
			if full && rest+cosBound < fl {
				return
			}
			col.Offer(j, factorWeight*cosine(j)+rest)
		})
	}
	for _, s := range built {
		if s.Index == item || int(s.Index) >= f.NumItems || inRow(s.Index) || slices.Contains(exclude, s.Index) {
			continue
		}
		if fl, full := col.floor(); full && s.Score+cosBound < fl {
			continue
		}
		col.Offer(s.Index, factorWeight*cosine(s.Index)+s.Score)
	}
	for _, s := range cosNb {
		if s.Index == item || inRow(s.Index) || builtScore(built, s.Index) > 0 || slices.Contains(exclude, s.Index) {
			continue
		}
		col.Offer(s.Index, factorWeight*s.Score)
	}
	return col.AppendSorted(dst), true
}
