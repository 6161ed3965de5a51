package compute

import (
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/lapack64"
	"gonum.org/v1/gonum/mat"
)

// Fold-in solves (G + reg I + Y_u^T D Y_u) x = Y_u^T c, where G is the item
// Gram matrix, Y_u the m vectors of the visitor's items, D = diag(alpha w)
// and c = 1 + alpha w. G + reg I is the same for every visitor, so its
// inverse P is computed once per model (setFoldInInverse) and each call
// applies the Woodbury identity
//
//	x = z - V (D^-1 + Y_u^T V)^-1 Y_u^T z,  V = P Y_u^T,  z = P Y_u^T c = V c
//
// which costs m symmetric k x k products and an m x m Cholesky solve
// instead of a k x k factorisation: O(m k^2 + m^3) rather than O(k^3).
// Above foldInMaxWoodbury(k) items the direct solve is cheaper.

// foldInMaxWoodbury is the largest item count solved with Woodbury.
func foldInMaxWoodbury(k int) int { return max(k/2, 4) }

// foldInScratch is one call's working memory, pooled so fold-in does not
// allocate beyond its result.
type foldInScratch struct {
	v    []float32 // m x k: rows P y_j
	cz   []float32 // k
	s    []float64 // m x m: D^-1 + Y_u^T V
	t    []float64 // m
	live []int     // indices into items of the low-rank terms
}

var foldInPool = sync.Pool{New: func() any { return new(foldInScratch) }}

// setFoldInInverse stores P = (G + reg I)^-1 (float32, both triangles, so
// the general matrix-vector product, which gonum vectorises, applies it),
// computed in float64. It leaves P nil if the matrix is not positive
// definite (reg = 0 with a rank-deficient G), and fold-in then uses the
// direct solve.
func (f *Factors) setFoldInInverse() {
	k := f.K
	a := mat.NewSymDense(k, nil)
	for r := 0; r < k; r++ {
		for c := r; c < k; c++ {
			v := float64(f.gram[r*k+c])
			if r == c {
				v += float64(f.reg)
			}
			a.SetSym(r, c, v)
		}
	}
	var ch mat.Cholesky
	if !ch.Factorize(a) {
		return
	}
	var inv mat.SymDense
	if err := ch.InverseTo(&inv); err != nil {
		return
	}
	f.foldInv = make([]float32, k*k)
	for r := 0; r < k; r++ {
		for c := 0; c < k; c++ {
			f.foldInv[r*k+c] = float32(inv.At(r, c))
		}
	}
}

// foldInTerm is the weight of the j-th item of a fold-in (1 when weights
// is nil); false for an item index outside the model, which folds in as
// nothing.
func (f *Factors) foldInTerm(item int32, weights []float32, j int) (float32, bool) {
	if item < 0 || int(item) >= f.NumItems {
		return 0, false
	}
	if weights == nil {
		return 1, true
	}
	return weights[j], true
}

// foldInWoodbury solves fold-in with the precomputed inverse into out. It
// returns false (out untouched) when it does not apply: no inverse, too
// many items, a negative weight, or a numerically singular inner system.
func (f *Factors) foldInWoodbury(items []int32, weights []float32, out []float32) bool {
	k := f.K
	if f.foldInv == nil || len(items) > foldInMaxWoodbury(k) {
		return false
	}
	sc := foldInPool.Get().(*foldInScratch)
	defer foldInPool.Put(sc)
	sc.live = sc.live[:0]
	sc.v = grow32(sc.v, len(items)*k)
	sc.cz = grow32(sc.cz, k)
	clear(sc.cz)
	// z = sum_j c_j P y_j, and V's rows for the terms with d_j > 0.
	for j, it := range items {
		w, ok := f.foldInTerm(it, weights, j)
		if !ok {
			continue
		}
		d := f.alpha * w
		if d < 0 {
			return false
		}
		row := sc.v[len(sc.live)*k : (len(sc.live)+1)*k]
		bl.Sgemv(blas.NoTrans, k, k, 1, f.foldInv, k, f.ItemVector(it), 1, 0, row, 1)
		bl.Saxpy(k, 1+d, row, 1, sc.cz, 1)
		if d > 0 {
			sc.live = append(sc.live, j)
		}
	}
	m := len(sc.live)
	copy(out, sc.cz)
	if m == 0 {
		return true
	}
	// S = D^-1 + Y^T V over the live terms; t = Y^T z.
	sc.s = grow64(sc.s, m*m)
	sc.t = grow64(sc.t, m)
	for a, ja := range sc.live {
		ya := f.ItemVector(items[ja])
		wa := float32(1)
		if weights != nil {
			wa = weights[ja]
		}
		sc.t[a] = float64(bl.Sdot(k, ya, 1, sc.cz, 1))
		for b := a; b < m; b++ {
			sc.s[a*m+b] = float64(bl.Sdot(k, ya, 1, sc.v[b*k:(b+1)*k], 1))
		}
		sc.s[a*m+a] += 1 / float64(f.alpha*wa)
	}
	tri, ok := lapack64.Potrf(blas64.Symmetric{N: m, Stride: m, Data: sc.s[:m*m], Uplo: blas.Upper})
	if !ok {
		return false
	}
	lapack64.Potrs(tri, blas64.General{Rows: m, Cols: 1, Stride: 1, Data: sc.t[:m]})
	for a := range sc.live {
		bl.Saxpy(k, -float32(sc.t[a]), sc.v[a*k:(a+1)*k], 1, out, 1)
	}
	return true
}

func grow32(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

func grow64(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}
