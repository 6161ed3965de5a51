package compute

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/mat"
)

// ALSConfig holds the hyper-parameters of implicit-feedback ALS.
//
// The model is Hu, Koren and Volinsky, "Collaborative Filtering for Implicit
// Feedback Datasets", ICDM 2008: preference p_ui = 1 for every observed
// pair, confidence c_ui = 1 + Alpha*w_ui, and the loss
//
//	sum_{u,i} c_ui (p_ui - x_u.y_i)^2 + Regularization (|X|^2 + |Y|^2)
//
// over all pairs, observed or not. Each half-step solves every user's (or
// item's) normal equations approximately with a few conjugate-gradient
// steps warm-started from the previous solution, after Takács, Pilászy and
// Tikk, "Applications of the conjugate gradient method for implicit feedback
// collaborative filtering", RecSys 2011.
type ALSConfig struct {
	// Factors is the dimension of the latent space.
	Factors int
	// Iterations is the number of full (users then items) sweeps.
	Iterations int
	// Regularization is the L2 penalty on every factor vector.
	Regularization float32
	// Alpha scales the confidence of an observed pair: c = 1 + Alpha*w.
	Alpha float32
	// CGSteps is the number of conjugate-gradient steps per vector in the
	// first sweep; 2-4 is enough with warm starts (Takács et al. 2011).
	CGSteps int
	// WarmCGSteps is the number of steps per vector in every later sweep,
	// warm-started from the previous sweep's solution, which is already
	// close; 0 means CGSteps. Off by default: 2 warm steps make a sweep
	// ~25% cheaper but cost 0.0002-0.0005 validation NDCG@10 at 12 sweeps
	// (retail 0.0886 vs 0.0888, ml100k 0.2890 vs 0.2895), and the 14
	// sweeps that recover it save only ~10% (docs/quality.md).
	WarmCGSteps int
	// InitStdDev is the standard deviation of the random initial factors.
	InitStdDev float32
	// Seed makes training deterministic: the same data, config and seed
	// give bit-identical factors whatever the number of workers.
	Seed uint64
	// Workers is the number of goroutines; 0 means GOMAXPROCS.
	Workers int
}

// DefaultALSConfig returns hyper-parameters suited to a data set of the
// given size. They were chosen on the Online Retail and MovieLens 100K
// validation splits (see docs/quality.md).
func DefaultALSConfig(numUsers, numItems, nnz int) ALSConfig {
	c := ALSConfig{
		Factors:        64,
		Iterations:     12,
		Regularization: 32,
		Alpha:          2,
		CGSteps:        3,
		InitStdDev:     0.01,
		Seed:           1,
	}
	// A validation grid on both data sets preferred low confidence (2)
	// and strong regularisation (32) over the textbook alpha=40, lambda~1;
	// tiny data sets get less regularisation and fewer factors.
	switch {
	case nnz < 20_000:
		c.Factors = 16
		c.Regularization = 4
	case nnz < 200_000:
		c.Factors = 48
	case nnz > 5_000_000:
		c.Factors = 128
	}
	return c
}

// Validate checks the config.
func (c ALSConfig) Validate() error {
	var errs []error
	if c.Factors <= 0 || c.Factors > 1024 {
		errs = append(errs, fmt.Errorf("factors must be in 1..1024, got %d", c.Factors))
	}
	if c.Iterations <= 0 {
		errs = append(errs, fmt.Errorf("iterations must be positive, got %d", c.Iterations))
	}
	if c.Regularization < 0 || math.IsNaN(float64(c.Regularization)) {
		errs = append(errs, fmt.Errorf("regularization must be >= 0, got %v", c.Regularization))
	}
	if c.Alpha < 0 || math.IsNaN(float64(c.Alpha)) {
		errs = append(errs, fmt.Errorf("alpha must be >= 0, got %v", c.Alpha))
	}
	if c.CGSteps <= 0 {
		errs = append(errs, fmt.Errorf("cg steps must be positive, got %d", c.CGSteps))
	}
	if c.WarmCGSteps < 0 {
		errs = append(errs, fmt.Errorf("warm cg steps must be >= 0, got %d", c.WarmCGSteps))
	}
	if c.InitStdDev <= 0 {
		errs = append(errs, fmt.Errorf("init std dev must be positive, got %v", c.InitStdDev))
	}
	if c.Workers < 0 {
		errs = append(errs, fmt.Errorf("workers must be >= 0, got %d", c.Workers))
	}
	return errors.Join(errs...)
}

// Factors is a trained factor model. It is immutable once returned by
// TrainALS; every method is safe for concurrent use. Memory: float32
// vectors, 4K bytes per user and per item (256 B at K = 64), plus an item
// norm (4 B per item) and two K x K matrices (32 KiB at K = 64).
type Factors struct {
	K                  int
	NumUsers, NumItems int
	// User and Item are row-major NumUsers x K and NumItems x K matrices.
	User, Item []float32
	// ItemNorm holds the Euclidean norm of every item vector.
	ItemNorm []float32
	// gram is Item^T Item (K x K, both triangles), kept for fold-in.
	gram  []float32
	reg   float32
	alpha float32
	// foldInv is (gram + reg I)^-1 for the Woodbury fold-in, or nil.
	foldInv []float32
}

var bl = blas32.Implementation()

// UserVector returns user u's factors (shared, do not modify).
func (f *Factors) UserVector(u int32) []float32 { return f.User[int(u)*f.K : int(u+1)*f.K] }

// ItemVector returns item i's factors (shared, do not modify).
func (f *Factors) ItemVector(i int32) []float32 { return f.Item[int(i)*f.K : int(i+1)*f.K] }

// ScoreItems writes the score of every item for the vector v (its dot
// product with each item vector) into dst, which must hold NumItems values.
func (f *Factors) ScoreItems(v []float32, dst []float32) {
	bl.Sgemv(blas.NoTrans, f.NumItems, f.K, 1, f.Item, f.K, v, 1, 0, dst[:f.NumItems], 1)
}

// ScoreUsers writes every user's score for the vector v into dst (NumUsers).
func (f *Factors) ScoreUsers(v []float32, dst []float32) {
	bl.Sgemv(blas.NoTrans, f.NumUsers, f.K, 1, f.User, f.K, v, 1, 0, dst[:f.NumUsers], 1)
}

// ItemCosine writes into dst the cosine similarity, in factor space, of
// item to every item (NumItems values). Items with a zero vector get 0.
func (f *Factors) ItemCosine(item int32, dst []float32) {
	f.ScoreItems(f.ItemVector(item), dst)
	ni := f.ItemNorm[item]
	for j := range dst[:f.NumItems] {
		if d := ni * f.ItemNorm[j]; d > 0 {
			dst[j] /= d
		} else {
			dst[j] = 0
		}
	}
}

// FoldInUser returns the factor vector of a user (a new customer, or a
// visitor's session) who interacted with items with the given strengths
// (nil weights mean 1 each), holding the item factors fixed: the exact
// least-squares solve of the ALS user step. No retraining is needed.
// Up to K/2 items it uses the per-model inverse (Woodbury, float32, a few
// microseconds); beyond, or with negative weights, the direct float64
// Cholesky solve (FoldInUserExact).
func (f *Factors) FoldInUser(items []int32, weights []float32) []float32 {
	out := make([]float32, f.K)
	if f.foldInWoodbury(items, weights, out) {
		return out
	}
	return f.FoldInUserExact(items, weights)
}

// FoldInUserExact is FoldInUser by a direct float64 Cholesky factorisation
// of the k x k system (O(k^3), allocates): the reference solve.
func (f *Factors) FoldInUserExact(items []int32, weights []float32) []float32 {
	k := f.K
	a := mat.NewSymDense(k, nil)
	b := make([]float64, k)
	for r := 0; r < k; r++ {
		for c := r; c < k; c++ {
			a.SetSym(r, c, float64(f.gram[r*k+c]))
		}
		a.SetSym(r, r, a.At(r, r)+float64(f.reg))
	}
	raw := a.RawSymmetric()
	for j, it := range items {
		w, ok := f.foldInTerm(it, weights, j)
		if !ok {
			continue
		}
		c := 1 + f.alpha*w
		y := f.ItemVector(it)
		for r := 0; r < k; r++ {
			b[r] += float64(c) * float64(y[r])
			cr := float64(c-1) * float64(y[r])
			for cc := r; cc < k; cc++ {
				raw.Data[r*raw.Stride+cc] += cr * float64(y[cc])
			}
		}
	}
	out := make([]float32, k)
	var ch mat.Cholesky
	if !ch.Factorize(a) {
		return out
	}
	var x mat.VecDense
	if err := ch.SolveVecTo(&x, mat.NewVecDense(k, b)); err != nil {
		return out
	}
	for r := 0; r < k; r++ {
		out[r] = float32(x.AtVec(r))
	}
	return out
}

// TrainALS factorises m. progress, when not nil, is called after every
// sweep with the sweep number (1-based) and the full training loss; it costs
// one extra pass over the data. Training stops early with ctx's error when
// ctx is cancelled.
func TrainALS(ctx context.Context, m *Interactions, cfg ALSConfig, progress func(iter int, loss float64)) (*Factors, error) {
	t, err := NewALSTrainer(m, cfg)
	if err != nil {
		return nil, err
	}
	for it := 1; it <= cfg.Iterations; it++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("cannot train ALS: %w", err)
		}
		t.Iterate()
		if progress != nil {
			progress(it, alsLoss(m, t.f, cfg, t.workers))
		}
	}
	return t.Finish(), nil
}

// ALSTrainer runs TrainALS one sweep at a time, for callers that time or
// inspect single iterations (benchmarks). TrainALS is NewALSTrainer, then
// cfg.Iterations calls of Iterate, then Finish. Not safe for concurrent
// use.
type ALSTrainer struct {
	m, mt   *Interactions
	cfg     ALSConfig
	f       *Factors
	gram    []float32
	partial []float32 // computeGramParallel's per-block sums
	scratch []cgScratch
	workers int
	sweeps  int
}

// NewALSTrainer validates cfg and initialises the factors from cfg.Seed.
func NewALSTrainer(m *Interactions, cfg ALSConfig) (*ALSTrainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("cannot train ALS: %w", err)
	}
	if m == nil || m.NNZ() == 0 {
		return nil, fmt.Errorf("cannot train ALS: %w", ErrEmpty)
	}
	k := cfg.Factors
	f := &Factors{K: k, NumUsers: m.NumUsers, NumItems: m.NumItems, reg: cfg.Regularization, alpha: cfg.Alpha}
	f.User = make([]float32, m.NumUsers*k)
	f.Item = make([]float32, m.NumItems*k)
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed_a15))
	for i := range f.User {
		f.User[i] = float32(rng.NormFloat64()) * cfg.InitStdDev
	}
	for i := range f.Item {
		f.Item[i] = float32(rng.NormFloat64()) * cfg.InitStdDev
	}
	workers := cfg.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	return &ALSTrainer{m: m, mt: m.Transpose(), cfg: cfg, f: f, gram: make([]float32, k*k), partial: make([]float32, gramBlocks*k*k), scratch: newCGScratches(workers, k), workers: workers}, nil
}

// Iterate runs one full sweep: every user vector solved against the item
// factors, then every item vector against the new user factors. One
// sweep reads each of the matrix's NNZ non-zeros once per half.
func (t *ALSTrainer) Iterate() {
	m, f, k := t.m, t.f, t.cfg.Factors
	cfg := t.cfg
	if t.sweeps > 0 && cfg.WarmCGSteps > 0 {
		cfg.CGSteps = cfg.WarmCGSteps
	}
	computeGramParallel(f.Item, m.NumItems, k, t.gram, t.partial, t.workers)
	solveSideWith(m, f.User, f.Item, t.gram, cfg, t.scratch)
	computeGramParallel(f.User, m.NumUsers, k, t.gram, t.partial, t.workers)
	solveSideWith(t.mt, f.Item, f.User, t.gram, cfg, t.scratch)
	t.sweeps++
}

// Finish computes what queries need (item Gram matrix, fold-in inverse,
// item norms) and returns the factors; the trainer must not be used
// after.
func (t *ALSTrainer) Finish() *Factors {
	f, k := t.f, t.cfg.Factors
	f.gram = make([]float32, k*k)
	computeGramParallel(f.Item, f.NumItems, k, f.gram, t.partial, t.workers)
	f.setFoldInInverse()
	f.ItemNorm = make([]float32, f.NumItems)
	for i := range f.ItemNorm {
		f.ItemNorm[i] = bl.Snrm2(k, f.ItemVector(int32(i)), 1)
	}
	return f
}

// computeGram fills g (k x k, both triangles) with A^T A for the n x k
// row-major matrix a.
func computeGram(a []float32, n, k int, g []float32) {
	clear(g)
	bl.Ssyrk(blas.Upper, blas.Trans, k, n, 1, a, k, 0, g, k)
	for r := 0; r < k; r++ {
		for c := r + 1; c < k; c++ {
			g[c*k+r] = g[r*k+c]
		}
	}
}

// gramBlocks and gramMinRows fix how computeGramParallel splits the rows:
// by the row count only, never by the worker count, so the float sums and
// hence the factors are the same whatever the parallelism.
const (
	gramBlocks  = 16
	gramMinRows = 256
)

// computeGramParallel is computeGram with the rows split into at most
// gramBlocks fixed blocks, each block's A_b^T A_b computed by one worker
// into partial (gramBlocks*k*k values), then summed in block order.
func computeGramParallel(a []float32, n, k int, g, partial []float32, workers int) {
	nb := max(1, min(gramBlocks, n/gramMinRows))
	if nb == 1 {
		computeGram(a, n, k, g)
		return
	}
	rows := (n + nb - 1) / nb
	parallelChunks(nb, 1, workers, func(_, lo, hi int) {
		for b := lo; b < hi; b++ {
			r0, r1 := b*rows, min((b+1)*rows, n)
			pb := partial[b*k*k : (b+1)*k*k]
			clear(pb)
			if r1 > r0 {
				bl.Ssyrk(blas.Upper, blas.Trans, k, r1-r0, 1, a[r0*k:r1*k], k, 0, pb, k)
			}
		}
	})
	clear(g)
	for b := 0; b < nb; b++ {
		pb := partial[b*k*k : (b+1)*k*k]
		for r := 0; r < k; r++ {
			for c := r; c < k; c++ {
				g[r*k+c] += pb[r*k+c]
			}
		}
	}
	for r := 0; r < k; r++ {
		for c := r + 1; c < k; c++ {
			g[c*k+r] = g[r*k+c]
		}
	}
}

// rowChunk is the number of rows a worker claims at a time.
const rowChunk = 32

// parallelRows runs fn over [0, n) in chunks on the given number of
// goroutines and waits for them. Each chunk is handled by exactly one
// goroutine, so results written per row are independent of scheduling.
func parallelRows(n, workers int, fn func(w, lo, hi int)) {
	parallelChunks(n, rowChunk, workers, fn)
}

// parallelChunks is parallelRows with chunks of the given size.
func parallelChunks(n, chunk, workers int, fn func(w, lo, hi int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				lo := int(next.Add(int64(chunk))) - chunk
				if lo >= n {
					return
				}
				fn(w, lo, min(lo+chunk, n))
			}
		}(w)
	}
	wg.Wait()
}

// solveSide updates every row vector of x given the fixed other side y and
// its Gram matrix, with cfg.CGSteps steps of CG on
//
//	(G + reg I + Y_u^T (C_u - I) Y_u) x_u = Y_u^T C_u 1
//
// warm-started from the current x_u (Hu et al.'s Gram trick: the dense
// part G = Y^T Y is shared by every row, so a row costs O(k^2 + n_u k) per
// step, n_u its non-zeros). Each row is solved by one goroutine with its
// own scratch, so the result does not depend on the worker count.
func solveSide(m *Interactions, x, y, gram []float32, cfg ALSConfig, workers int) {
	solveSideWith(m, x, y, gram, cfg, newCGScratches(workers, cfg.Factors))
}

func newCGScratches(workers, k int) []cgScratch {
	scr := make([]cgScratch, workers)
	for w := range scr {
		scr[w] = newCGScratch(k)
	}
	return scr
}

// solveSideWith is solveSide with one scratch per worker, kept across
// sweeps by ALSTrainer so the gather buffers are allocated once.
func solveSideWith(m *Interactions, x, y, gram []float32, cfg ALSConfig, scr []cgScratch) {
	k := cfg.Factors
	// a0 = G + reg I, both triangles, so the dense product is one gemv.
	a0 := slices.Clone(gram[:k*k])
	for r := 0; r < k; r++ {
		a0[r*k+r] += cfg.Regularization
	}
	workers := len(scr)
	parallelRows(m.NumUsers, workers, func(w, lo, hi int) {
		s := &scr[w]
		for u := lo; u < hi; u++ {
			items, ws := m.Row(int32(u))
			xu := x[u*k : (u+1)*k]
			if len(items) == 0 {
				clear(xu)
				continue
			}
			s.solve(items, ws, xu, y, a0, cfg.Alpha, cfg.CGSteps)
		}
	})
}

// cgScratch is one worker's buffers for solveSide: the CG vectors and the
// row's other-side vectors gathered into one contiguous block, so the
// sparse part of every CG step is two gemv calls on memory that stays in
// cache instead of 2 n_u BLAS-1 calls on scattered rows.
type cgScratch struct {
	k         int
	r, p, ap  []float32
	cm1, q    []float32 // per non-zero: confidence - 1, and Y_u v
	yu        []float32 // gathered rows, up to gatherRows of them
	gatherMax int
}

// gatherBytes bounds a worker's gathered block (half a typical L2); a
// variable so tests can force the block-by-block path.
var gatherBytes = 512 << 10

func newCGScratch(k int) cgScratch {
	g := max(64, gatherBytes/(4*k))
	return cgScratch{k: k, r: make([]float32, k), p: make([]float32, k), ap: make([]float32, k), gatherMax: g}
}

// solve runs the CG steps for one row in place on xu.
func (s *cgScratch) solve(items []int32, ws, xu, y, a0 []float32, alpha float32, steps int) {
	k, n := s.k, len(items)
	if cap(s.cm1) < n {
		s.cm1 = make([]float32, n)
	}
	s.cm1 = s.cm1[:n]
	for j, w := range ws {
		s.cm1[j] = alpha * w
	}
	// Rows that fit are gathered once for all steps; longer rows (the
	// most popular items) are gathered block by block at every step.
	gathered := n <= s.gatherMax
	if gathered {
		s.gather(items, y)
	}
	r, p, ap := s.r, s.p, s.ap
	// r = b - A x = -(G + reg I) x + Y_u^T (c - (c-1) Y_u x)
	bl.Sgemv(blas.NoTrans, k, k, -1, a0, k, xu, 1, 0, r, 1)
	s.addSparse(items, y, xu, r, true, gathered)
	copy(p, r)
	rs := bl.Sdot(k, r, 1, r, 1)
	for step := 0; step < steps && rs > 1e-12; step++ {
		// ap = (G + reg I) p + Y_u^T (c-1) Y_u p
		bl.Sgemv(blas.NoTrans, k, k, 1, a0, k, p, 1, 0, ap, 1)
		s.addSparse(items, y, p, ap, false, gathered)
		pap := bl.Sdot(k, p, 1, ap, 1)
		if pap <= 0 {
			break
		}
		a := rs / pap
		bl.Saxpy(k, a, p, 1, xu, 1)
		bl.Saxpy(k, -a, ap, 1, r, 1)
		rsNew := bl.Sdot(k, r, 1, r, 1)
		beta := rsNew / rs
		for q := range p {
			p[q] = r[q] + beta*p[q]
		}
		rs = rsNew
	}
}

// gather copies the y rows of items[lo:] (at most gatherMax) into yu.
func (s *cgScratch) gather(items []int32, y []float32) {
	k := s.k
	n := min(len(items), s.gatherMax)
	if cap(s.yu) < n*k {
		s.yu = make([]float32, n*k)
	}
	s.yu = s.yu[:n*k]
	for j, it := range items[:n] {
		copy(s.yu[j*k:(j+1)*k], y[int(it)*k:int(it+1)*k])
	}
}

// addSparse adds Y_u^T f(Y_u v) to dst, with f(q)_j = c_j - (c_j-1) q_j
// for the residual and (c_j-1) q_j for a CG step. gathered says yu
// already holds every row.
func (s *cgScratch) addSparse(items []int32, y, v, dst []float32, residual, gathered bool) {
	k := s.k
	if cap(s.q) < len(items) {
		s.q = make([]float32, len(items))
	}
	for lo := 0; lo < len(items); lo += s.gatherMax {
		hi := min(lo+s.gatherMax, len(items))
		if !gathered {
			s.gather(items[lo:hi], y)
		}
		rows := hi - lo
		q := s.q[:rows]
		bl.Sgemv(blas.NoTrans, rows, k, 1, s.yu, k, v, 1, 0, q, 1)
		cm1 := s.cm1[lo:hi]
		if residual {
			for j, c := range cm1 {
				q[j] = 1 + c - c*q[j]
			}
		} else {
			for j, c := range cm1 {
				q[j] *= c
			}
		}
		bl.Sgemv(blas.Trans, rows, k, 1, s.yu, k, q, 1, 1, dst, 1)
	}
}

// alsLoss is the full objective, using tr(X^T X Y^T Y) for the sum of
// squared scores over all pairs so the cost is O(nnz k + (n+m) k^2).
func alsLoss(m *Interactions, f *Factors, cfg ALSConfig, workers int) float64 {
	k := f.K
	chunks := (m.NumUsers + rowChunk - 1) / rowChunk
	part := make([]float64, chunks)
	parallelRows(m.NumUsers, workers, func(_, lo, hi int) {
		var sum float64
		for u := lo; u < hi; u++ {
			items, ws := m.Row(int32(u))
			xu := f.UserVector(int32(u))
			for j, it := range items {
				s := float64(bl.Sdot(k, f.ItemVector(it), 1, xu, 1))
				c := 1 + float64(cfg.Alpha*ws[j])
				sum += c*(1-s)*(1-s) - s*s
			}
		}
		part[lo/rowChunk] = sum
	})
	var loss float64
	for _, p := range part {
		loss += p
	}
	gu := make([]float32, k*k)
	gi := make([]float32, k*k)
	computeGram(f.User, f.NumUsers, k, gu)
	computeGram(f.Item, f.NumItems, k, gi)
	var tr, nu, ni float64
	for i := range gu {
		tr += float64(gu[i]) * float64(gi[i])
	}
	for r := 0; r < k; r++ {
		nu += float64(gu[r*k+r])
		ni += float64(gi[r*k+r])
	}
	return loss + tr + float64(cfg.Regularization)*(nu+ni)
}
