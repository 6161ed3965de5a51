package compute

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
)

// EventKind is a visitor behaviour.
type EventKind uint8

const (
	EventView EventKind = iota
	EventClick
	EventCart
)

// Event is one behaviour event. Session groups a visitor's events (0 means
// use User); User is the customer index or -1.
type Event struct {
	User    int32
	Session uint64
	Item    int32
	Kind    EventKind
	Time    int64
}

// SnapshotOrder is one order with dense indices (User -1 for a guest).
// Model building only reads Items, so a caller may share them.
type SnapshotOrder struct {
	User  int32
	Time  int64
	Items []int32
	Qty   []float32
}

// Snapshot is the data a Model is built from: the store's state at one
// data version (e.g. the applied Raft index).
type Snapshot struct {
	Version uint64
	// Time (unix seconds) is the data version's timestamp, the "now" of
	// recency weighting; it travels with the data so replicas agree. 0
	// means the newest order's time.
	Time               int64
	NumUsers, NumItems int
	Orders             []SnapshotOrder
	Events             []Event
	// Items holds attributes per item, or nil.
	Items []ItemAttributes
}

// ModelConfig configures BuildModel.
type ModelConfig struct {
	// ALS: a zero Factors means DefaultALSConfig for the data size (with
	// ALS.Seed still applied).
	ALS         ALSConfig
	CoPurchase  CoPurchaseConfig
	Popularity  PopularityConfig
	Substitutes SubstituteConfig
	// ComplementFactorWeight blends factor cosine into Complementary
	// (see BlendComplementary). With the built signals below, 0.1 was
	// best on the basket protocol's validation window (docs/quality.md).
	ComplementFactorWeight float32
	// ComplementRecentWeight and ComplementCustomerWeight blend the
	// built complement signals (complements.go: recency-weighted
	// co-purchase with ComplementRecentHalfLife seconds, and customer
	// co-occurrence), each normalised by the item's best, into the ranked
	// Complementary; 0 turns a signal off. Without coverage, 1 and 1
	// (half-life 60 days) were best on the basket validation window:
	// HR@10 0.8004 vs 0.7951 for live co-purchase counts alone. With
	// coverage the customer term did not help (0.8084 at 0.5 vs 0.8106),
	// so it is off and its pass skipped.
	ComplementRecentWeight, ComplementCustomerWeight float32
	ComplementRecentHalfLife                         int64
	// ComplementCoverage (0..1, 0 = off) ranks an item's first
	// ComplementCandidates complements at build time by soft coverage of
	// the item's past baskets (coverage.go) instead of by score: each
	// pick found in a past basket takes this share of the basket's
	// remaining weight, so the next picks favour baskets not yet
	// covered. The gain term is the recency-weighted co-purchase
	// (ComplementRecentHalfLife) normalised by the item's best, plus
	// ComplementPopularityWeight x recent popularity,
	// ComplementCustomerWeight x customer co-occurrence and
	// ComplementFactorWeight x factor cosine. Complementary then serves
	// that list (co-purchases newer than the model count from the next
	// retrain; most_sold_with stays live) and fills what is left with
	// the ranked blend. On the basket validation window, coverage 0.3
	// with popularity 0.2 (14-day half-life), no customer term and
	// factor 0.1 gave HR@10 0.8106 against 0.8004 for the ranked blend
	// (docs/quality.md).
	ComplementCoverage float32
	// ComplementPopularityWeight adds this times the item's recent
	// popularity (orders weighted by 2^(-age/ComplementPopularityHalfLife),
	// normalised by the best seller) to the coverage ranking's score.
	ComplementPopularityWeight   float32
	ComplementPopularityHalfLife int64
	// ComplementCandidates is how many factor-cosine neighbours per item
	// BuildModel keeps for Complementary, which then scores only them and
	// the item's live co-purchases instead of the whole catalog (same
	// ranking while at least k non-excluded neighbours remain; 0 = always
	// scan the catalog).
	ComplementCandidates int
	// EventWeight is the interaction strength of a view, click and cart
	// event (orders count 1 per order line) in the factor model and in
	// session fold-in.
	EventWeight [3]float32
	// RecencyHalfLife (seconds, 0 = off) decays an order's strength in
	// the factor model by its age at Snapshot.Time: 2^(-age/halfLife).
	// On retail-temporal's validation window 15 days beat no decay by
	// 0.101 vs 0.089 NDCG@10 (docs/quality.md): recent baskets say more
	// about the next one.
	RecencyHalfLife int64
	// RecencyAlpha replaces the size-based default ALS alpha when recency
	// weighting is on (decayed strengths are <= 1, so confidence needs a
	// larger scale); ignored when ALS is set explicitly.
	RecencyAlpha float32
	// Workers bounds training parallelism; 0 means GOMAXPROCS.
	Workers int
}

// DefaultModelConfig returns the defaults.
func DefaultModelConfig() ModelConfig {
	return ModelConfig{
		CoPurchase:                   DefaultCoPurchaseConfig(),
		Popularity:                   DefaultPopularityConfig(),
		Substitutes:                  DefaultSubstituteConfig(),
		ComplementFactorWeight:       0.1,
		ComplementRecentWeight:       1,
		ComplementCustomerWeight:     0,
		ComplementRecentHalfLife:     60 * 24 * 3600,
		ComplementCandidates:         64,
		ComplementCoverage:           0.3,
		ComplementPopularityWeight:   0.2,
		ComplementPopularityHalfLife: 14 * 24 * 3600,
		EventWeight:                  [3]float32{0.1, 0.2, 0.5},
		RecencyHalfLife:              15 * 24 * 3600,
		RecencyAlpha:                 8,
	}
}

// Validate checks the config.
func (c ModelConfig) Validate() error {
	if c.ALS.Factors != 0 {
		if err := c.ALS.Validate(); err != nil {
			return err
		}
	}
	if err := c.CoPurchase.Validate(); err != nil {
		return err
	}
	if err := c.Popularity.Validate(); err != nil {
		return err
	}
	if err := c.Substitutes.Validate(); err != nil {
		return err
	}
	if c.RecencyHalfLife < 0 || c.RecencyAlpha < 0 {
		return fmt.Errorf("recency half-life and alpha must be >= 0, got %d, %v", c.RecencyHalfLife, c.RecencyAlpha)
	}
	if !(c.ComplementCoverage >= 0 && c.ComplementCoverage <= 1) {
		return fmt.Errorf("complement coverage must be in [0, 1], got %v", c.ComplementCoverage)
	}
	if c.ComplementPopularityWeight < 0 || (c.ComplementPopularityWeight > 0 && c.ComplementPopularityHalfLife <= 0) {
		return fmt.Errorf("complement popularity weight must be >= 0 and its half-life > 0, got %v, %d", c.ComplementPopularityWeight, c.ComplementPopularityHalfLife)
	}
	if c.ComplementCandidates < 0 {
		return fmt.Errorf("complement candidates must be >= 0, got %d", c.ComplementCandidates)
	}
	if c.ComplementFactorWeight < 0 || c.ComplementRecentWeight < 0 || c.ComplementCustomerWeight < 0 || c.ComplementRecentHalfLife < 0 {
		return fmt.Errorf("complement weights and half-life must be >= 0, got factor %v, recent %v, customer %v, half-life %d",
			c.ComplementFactorWeight, c.ComplementRecentWeight, c.ComplementCustomerWeight, c.ComplementRecentHalfLife)
	}
	return nil
}

// Stats are the live, incrementally updated statistics: co-purchase counts,
// co-view counts and popularity. Orders and events update them at once
// (no retrain); they are safe for concurrent use.
type Stats struct {
	CoBought   *CoPurchase
	CoViewed   *CoPurchase
	Popularity *Popularity
}

// NewStats returns empty statistics.
func NewStats(numItems int, cfg ModelConfig) (*Stats, error) {
	cb, err := NewCoPurchase(numItems, cfg.CoPurchase)
	if err != nil {
		return nil, err
	}
	cv, err := NewCoPurchase(numItems, cfg.CoPurchase)
	if err != nil {
		return nil, err
	}
	p, err := NewPopularity(numItems, cfg.Popularity)
	if err != nil {
		return nil, err
	}
	return &Stats{CoBought: cb, CoViewed: cv, Popularity: p}, nil
}

// AddOrder counts one order.
func (s *Stats) AddOrder(o SnapshotOrder) {
	s.CoBought.AddBasket(o.Items)
	for j, it := range o.Items {
		q := float64(1)
		if o.Qty != nil && o.Qty[j] > 0 {
			q = float64(o.Qty[j])
		}
		s.Popularity.AddSale(it, q, o.Time)
	}
}

// AddSession counts the items one session viewed together.
func (s *Stats) AddSession(items []int32) { s.CoViewed.AddBasket(items) }

// StatsFromSnapshot replays a snapshot's orders and sessions into new Stats.
func StatsFromSnapshot(snap *Snapshot, cfg ModelConfig) (*Stats, error) {
	st, err := NewStats(snap.NumItems, cfg)
	if err != nil {
		return nil, err
	}
	for _, o := range snap.Orders {
		st.AddOrder(o)
	}
	for _, items := range sessions(snap.Events) {
		st.AddSession(items)
	}
	return st, nil
}

// sessions groups events by session (or user) into distinct item lists.
func sessions(events []Event) [][]int32 {
	type key struct {
		s uint64
		u int32
	}
	idx := map[key]int{}
	var out [][]int32
	for _, e := range events {
		k := key{e.Session, -1}
		if e.Session == 0 {
			k = key{0, e.User}
			if e.User < 0 {
				continue
			}
		}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, nil)
		}
		if !slices.Contains(out[i], e.Item) {
			out[i] = append(out[i], e.Item)
		}
	}
	return out
}

// Model is the trained, immutable part of a store's intent models at one
// data version. Build it with BuildModel in the background and publish it
// with an atomic pointer swap; every method is safe for concurrent use.
type Model struct {
	// Version is the data version (snapshot) the model was trained at.
	Version uint64
	// Factors is nil when there was nothing to train on.
	Factors *Factors
	// Train is the user x item matrix the factors were trained on.
	Train *Interactions
	// lastBought[p] is the time of the user's last purchase of Train.Items[p].
	lastBought  []int64
	substitutes [][]Scored
	// complementCos[i] is item i's best factor-cosine neighbours (best
	// first), or nil when ComplementCandidates is 0.
	complementCos [][]Scored
	// complementBuilt[i] is item i's built complement scores (recent
	// co-purchase + customer co-occurrence) sorted by index, or nil.
	complementBuilt [][]Scored
	// complementTop[i] is item i's Complementary ranking at build time
	// (ComplementCandidates entries), or nil.
	complementTop [][]Scored
	cfg           ModelConfig
}

// BuildModel trains the factor model and the substitute lists from snap.
// stats (from StatsFromSnapshot, possibly updated since) supplies the
// co-purchase and co-view counts for substitutes; it may be nil.
func BuildModel(ctx context.Context, snap *Snapshot, stats *Stats, cfg ModelConfig, progress func(iter int, loss float64)) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("cannot build model at version %d: %w", snap.Version, err)
	}
	ref := snapshotTime(snap)
	train, last, err := trainingMatrix(snap, cfg, ref)
	if err != nil {
		return nil, fmt.Errorf("cannot build model at version %d: %w", snap.Version, err)
	}
	m := &Model{Version: snap.Version, Train: train, cfg: cfg, lastBought: last}
	workers := cfg.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if train.NNZ() > 0 {
		ac := cfg.FactorConfig(train)
		ac.Workers = workers
		f, err := TrainALS(ctx, train, ac, progress)
		if err != nil {
			return nil, fmt.Errorf("cannot build model at version %d: %w", snap.Version, err)
		}
		m.Factors = f
	}
	var cb, cv *CoPurchase
	if stats != nil {
		cb, cv = stats.CoBought, stats.CoViewed
	}
	cosKeep := 0
	if cfg.ComplementFactorWeight > 0 {
		cosKeep = cfg.ComplementCandidates
	}
	// Each item's complements are ranked once, in the substitutes pass,
	// from the factor-cosine row that pass computes anyway: by coverage
	// (complementBuilder) or by the ranked blend.
	var rankTop func(w int, i int32, cos []float32, nb []Scored)
	var cbuild *complementBuilder
	if cfg.ComplementCoverage > 0 && m.Factors != nil {
		if cbuild = newComplementBuilder(snap, cfg, ref, workers, true); cbuild != nil {
			rankTop = cbuild.item
		}
	} else {
		m.complementBuilt = buildComplementLists(snap, cfg, ref, workers, nil, nil).built
		if cb != nil && m.Factors != nil && cfg.ComplementCandidates > 0 {
			m.complementTop = make([][]Scored, m.Factors.NumItems)
			rankTop = func(_ int, i int32, cos []float32, _ []Scored) {
				var built []Scored
				if int(i) < len(m.complementBuilt) {
					built = m.complementBuilt[i]
				}
				m.complementTop[i] = m.rankComplements(cb, i, built, cfg.ComplementCandidates, nil, cos, nil)
			}
		}
	}
	subs, cos, err := buildItemLists(snap.NumItems, m.Factors, snap.Items, cb, cv, cfg.Substitutes, workers, cosKeep, rankTop)
	if err != nil {
		return nil, fmt.Errorf("cannot build model at version %d: %w", snap.Version, err)
	}
	m.substitutes, m.complementCos = subs, cos
	if cbuild != nil {
		m.complementBuilt, m.complementTop = cbuild.out.built, cbuild.out.top
	}
	return m, nil
}

// snapshotTime is the "now" of recency weighting: the snapshot's time, or
// its newest order's when it has none, so the weighting never silently
// turns off.
func snapshotTime(snap *Snapshot) int64 {
	ref := snap.Time
	if ref == 0 {
		for _, o := range snap.Orders {
			ref = max(ref, o.Time)
		}
	}
	return ref
}

// TrainingMatrix returns the user x item matrix BuildModel trains the
// factors on: each customer order line with its recency weight, plus each
// customer event with its EventWeight.
func TrainingMatrix(snap *Snapshot, cfg ModelConfig) (*Interactions, error) {
	m, _, err := trainingMatrix(snap, cfg, snapshotTime(snap))
	return m, err
}

// trainingMatrix is TrainingMatrix that also returns, per stored pair, the
// time of the user's last purchase of the item (0 if never bought).
func trainingMatrix(snap *Snapshot, cfg ModelConfig, ref int64) (*Interactions, []int64, error) {
	b := NewInteractionsBuilder(snap.NumUsers, snap.NumItems)
	lines := len(snap.Events)
	for _, o := range snap.Orders {
		lines += len(o.Items)
	}
	b.grow(lines)
	for _, o := range snap.Orders {
		if o.User < 0 {
			continue
		}
		w := RecencyWeight(ref-o.Time, cfg.RecencyHalfLife)
		for _, it := range o.Items {
			if err := b.Add(o.User, it, w); err != nil {
				return nil, nil, err
			}
		}
	}
	for _, e := range snap.Events {
		if e.User >= 0 && int(e.Kind) < len(cfg.EventWeight) {
			if err := b.Add(e.User, e.Item, cfg.EventWeight[e.Kind]); err != nil {
				return nil, nil, err
			}
		}
	}
	train := b.Build(nil)
	// Every order line is in its (sorted) user row: find it there rather
	// than keep a map of all pairs.
	lastBought := make([]int64, train.NNZ())
	for _, o := range snap.Orders {
		if o.User < 0 {
			continue
		}
		row, _ := train.Row(o.User)
		base := train.Indptr[o.User]
		for _, it := range o.Items {
			if p, ok := slices.BinarySearch(row, it); ok {
				lastBought[base+int64(p)] = max(lastBought[base+int64(p)], o.Time)
			}
		}
	}
	return train, lastBought, nil
}

// FactorConfig is the ALS configuration BuildModel trains train with: c.ALS
// when set, else DefaultALSConfig for its size (with c.ALS.Seed, and
// RecencyAlpha when recency weighting is on). Workers is left to the
// caller.
func (c ModelConfig) FactorConfig(train *Interactions) ALSConfig {
	ac := c.ALS
	if ac.Factors == 0 {
		seed := ac.Seed
		ac = DefaultALSConfig(train.NumUsers, train.NumItems, train.NNZ())
		ac.Seed = seed
		if c.RecencyHalfLife > 0 && c.RecencyAlpha > 0 {
			ac.Alpha = c.RecencyAlpha
		}
	}
	return ac
}

// RecencyWeight is 2^(-age/halfLife), the strength of an interaction of
// the given age; 1 when halfLife is 0 (off) or age <= 0.
func RecencyWeight(age, halfLife int64) float32 {
	if halfLife <= 0 || age <= 0 {
		return 1
	}
	return float32(math.Exp2(-float64(age) / float64(halfLife)))
}

// NumItems is the catalog size the model knows.
func (m *Model) NumItems() int { return m.Train.NumItems }

// UserVector returns a trained user's factors, or nil if the user is
// unknown to the model (fold them in with FoldIn).
func (m *Model) UserVector(u int32) []float32 {
	if m.Factors == nil || u < 0 || int(u) >= m.Factors.NumUsers || m.Train.Indptr[u] == m.Train.Indptr[u+1] {
		return nil
	}
	return m.Factors.UserVector(u)
}

// FoldIn solves the factor vector of a visitor or new customer from the
// items they viewed, clicked, carted or bought (kinds, nil = bought) in
// real time, without retraining.
func (m *Model) FoldIn(items []int32, kinds []EventKind) []float32 {
	if m.Factors == nil || len(items) == 0 {
		return nil
	}
	var w []float32
	if kinds != nil {
		w = make([]float32, len(items))
		for j, k := range kinds {
			w[j] = 1
			if int(k) < len(m.cfg.EventWeight) {
				w[j] = m.cfg.EventWeight[k]
			}
		}
	}
	return m.Factors.FoldInUser(items, w)
}

// Recommend appends the k best items for a user or session vector v,
// skipping exclude (e.g. what the customer already bought). scratch must
// hold NumItems values.
func (m *Model) Recommend(v []float32, k int, exclude []int32, scratch []float32, dst []Scored) []Scored {
	if m.Factors == nil || v == nil {
		return dst
	}
	s := scratch[:m.Factors.NumItems]
	m.Factors.ScoreItems(v, s)
	return TopK(s, k, exclude, dst)
}

// Complementary appends the k best complements of item. With
// ComplementCoverage on, they are the coverage list chosen at build time,
// then the ranked blend below for the rest (scaled under the list's last
// score, so scores fall along the answer). The ranked blend is live
// co-purchase counts (normalised by the item's best), plus the built
// recent co-purchase and customer co-occurrence scores, plus
// ComplementFactorWeight x factor cosine; it scores only the item's
// co-purchases, built partners and precomputed factor neighbours when
// they suffice (the same ranking as scoring the catalog), else scans the
// catalog. scratch must hold NumItems values.
func (m *Model) Complementary(st *Stats, item int32, k int, exclude []int32, scratch []float32, dst []Scored) []Scored {
	if m.cfg.ComplementCoverage == 0 || item < 0 || int(item) >= len(m.complementTop) || len(m.complementTop[item]) == 0 {
		return m.complementaryRanked(st, item, k, exclude, scratch, dst)
	}
	start := len(dst)
	dst = m.ComplementaryPrecomputed(item, k, exclude, dst)
	if got := len(dst) - start; got < k {
		list := m.complementTop[item]
		skip := slices.Concat(exclude, indicesOf(list))
		last := list[len(list)-1].Score
		if got > 0 {
			last = dst[len(dst)-1].Score
		}
		tail := len(dst)
		dst = m.complementaryRanked(st, item, k-got, skip, scratch, dst)
		if len(dst) > tail && dst[tail].Score > last && dst[tail].Score > 0 {
			scale := last / dst[tail].Score
			for j := tail; j < len(dst); j++ {
				dst[j].Score = min(dst[j].Score*scale, last) // rounding
			}
		}
	}
	return dst
}

func indicesOf(s []Scored) []int32 {
	out := make([]int32, len(s))
	for i, x := range s {
		out[i] = x.Index
	}
	return out
}

// complementaryRanked is Complementary without the coverage list.
func (m *Model) complementaryRanked(st *Stats, item int32, k int, exclude []int32, scratch []float32, dst []Scored) []Scored {
	w := m.cfg.ComplementFactorWeight
	if m.Factors == nil || item < 0 || int(item) >= m.Factors.NumItems {
		return BlendComplementary(st.CoBought, m.Factors, item, k, w, exclude, scratch, dst)
	}
	var built []Scored
	if int(item) < len(m.complementBuilt) {
		built = m.complementBuilt[item]
	}
	if int(item) < len(m.complementCos) {
		if out, ok := st.CoBought.blendWithNeighbours(m.Factors, item, m.complementCos[item], built, k, w, exclude, dst); ok {
			return out
		}
	}
	return m.complementaryScan(st.CoBought, item, built, k, exclude, scratch, dst)
}

// ComplementaryPrecomputed appends up to k of item's complements as
// Complementary ranked them when the model was built (co-purchases since
// then are not seen until the next build): a slice copy, for the hot
// path. It returns fewer than k when exclusions empty the stored list
// (ModelConfig.ComplementCandidates long) or the model has none; call
// Complementary then.
func (m *Model) ComplementaryPrecomputed(item int32, k int, exclude []int32, dst []Scored) []Scored {
	if item < 0 || int(item) >= len(m.complementTop) {
		return dst
	}
	n := 0
	for _, s := range m.complementTop[item] {
		if n >= k {
			break
		}
		if !slices.Contains(exclude, s.Index) {
			dst = append(dst, s)
			n++
		}
	}
	return dst
}

// complementaryScan is Complementary's ranking by scoring every item.
func (m *Model) complementaryScan(cp *CoPurchase, item int32, built []Scored, k int, exclude []int32, scratch []float32, dst []Scored) []Scored {
	scores := scratch[:m.Factors.NumItems]
	m.Factors.ItemCosine(item, scores)
	return m.rankComplements(cp, item, built, k, exclude, scores, dst)
}

// rankComplements is complementaryScan given item's factor-cosine row
// (f.ItemCosine), which it overwrites with the scores.
func (m *Model) rankComplements(cp *CoPurchase, item int32, built []Scored, k int, exclude []int32, scores []float32, dst []Scored) []Scored {
	w := m.cfg.ComplementFactorWeight
	scores = scores[:m.Factors.NumItems]
	for j := range scores {
		scores[j] *= w
	}
	for _, s := range built {
		if int(s.Index) < len(scores) {
			scores[s.Index] += s.Score
		}
	}
	cp.addNormalisedScores(item, scores)
	scores[item] = float32(math.Inf(-1))
	return TopK(scores, k, exclude, dst)
}

// Substitutes appends up to k precomputed substitutes of item.
func (m *Model) Substitutes(item int32, k int, exclude []int32, dst []Scored) []Scored {
	if item < 0 || int(item) >= len(m.substitutes) {
		return dst
	}
	for _, s := range m.substitutes[item] {
		if len(dst) >= k {
			break
		}
		if !slices.Contains(exclude, s.Index) {
			dst = append(dst, s)
		}
	}
	return dst
}

// SubstitutesFor merges the substitute lists of several items (a customer's
// purchases, a cart) by summed score: customer/substituting. The items
// themselves are excluded.
func (m *Model) SubstitutesFor(items []int32, k int, exclude []int32, dst []Scored) []Scored {
	acc := map[int32]float32{}
	for _, it := range items {
		if it < 0 || int(it) >= len(m.substitutes) {
			continue
		}
		for _, s := range m.substitutes[it] {
			acc[s.Index] += s.Score
		}
	}
	var col TopKCollector
	var hbuf [32]Scored
	col.resetWith(k, hbuf[:])
	for j, s := range acc {
		if !slices.Contains(items, j) && !slices.Contains(exclude, j) {
			col.Offer(j, s)
		}
	}
	return col.AppendSorted(dst)
}

// Audience appends the k customers most interested in the product set
// items (score: x_u . sum of the items' vectors), skipping customers who
// bought any of the items at or after boughtSince (use math.MaxInt64 to
// skip nobody) and those for which exclude (may be nil) returns true, e.g.
// buyers since the model was built. scratch must hold NumUsers values.
func (m *Model) Audience(items []int32, k int, boughtSince int64, exclude func(user int32) bool, scratch []float32, dst []Scored) []Scored {
	if m.Factors == nil {
		return dst
	}
	f := m.Factors
	q := make([]float32, f.K)
	for _, it := range items {
		if it >= 0 && int(it) < f.NumItems {
			bl.Saxpy(f.K, 1, f.ItemVector(it), 1, q, 1)
		}
	}
	s := scratch[:f.NumUsers]
	f.ScoreUsers(q, s)
	var col TopKCollector
	var hbuf [32]Scored
	col.resetWith(k, hbuf[:])
	for u := range s {
		lo, hi := m.Train.Indptr[u], m.Train.Indptr[u+1]
		if lo == hi {
			continue
		}
		if boughtSince != math.MaxInt64 && m.boughtSince(int32(u), items, boughtSince) {
			continue
		}
		if exclude != nil && exclude(int32(u)) {
			continue
		}
		col.Offer(int32(u), s[u])
	}
	return col.AppendSorted(dst)
}

func (m *Model) boughtSince(u int32, items []int32, since int64) bool {
	row, _ := m.Train.Row(u)
	base := m.Train.Indptr[u]
	for _, it := range items {
		if p, ok := slices.BinarySearch(row, it); ok && m.lastBought[base+int64(p)] >= since && m.lastBought[base+int64(p)] > 0 {
			return true
		}
	}
	return false
}
