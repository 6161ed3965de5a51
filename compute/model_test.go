package compute

import (
	"context"
	"math"
	"slices"
	"testing"
)

// shopSnapshot: 3 mugs (0-2) and 3 saucers (3-5) for a tea-set need, and
// 3 notebooks (6-8) and 3 pens (9-11) for a stationery need. Users 0-39
// each buy one mug with one saucer; users 40-79 one notebook with one pen.
// Two mugs are never bought together: they are substitutes.
func shopSnapshot() *Snapshot {
	s := &Snapshot{Version: 42, NumUsers: 80, NumItems: 12}
	names := []string{"red tea mug", "blue tea mug", "green tea mug", "red saucer plate", "blue saucer plate", "green saucer plate",
		"lined notebook", "plain notebook", "dotted notebook", "black ink pen", "blue ink pen", "red ink pen"}
	for i, n := range names {
		s.Items = append(s.Items, ItemAttributes{Categories: []int32{int32(i / 3)}, Price: float64(5 + i/3), Text: n})
	}
	for u := int32(0); u < 80; u++ {
		base := int32(0)
		if u >= 40 {
			base = 6
		}
		a := base + u%3
		b := base + 3 + (u/3)%3
		s.Orders = append(s.Orders, SnapshotOrder{User: u, Time: 1_300_000_000 + int64(u)*3600, Items: []int32{a, b}, Qty: []float32{1, 1}})
	}
	return s
}

func buildShop(t *testing.T) (*Model, *Stats) {
	t.Helper()
	snap := shopSnapshot()
	cfg := DefaultModelConfig()
	cfg.ALS = ALSConfig{Factors: 2, Iterations: 10, Regularization: 2, Alpha: 2, CGSteps: 3, InitStdDev: 0.1, Seed: 3}
	m, st := buildTestModel(t, snap, cfg)
	return m, st
}

func TestModelSubstitutesAndComplements(t *testing.T) {
	m, st := buildShop(t)
	if m.Version != 42 {
		t.Fatalf("model version %d, want the snapshot's 42", m.Version)
	}
	subs := indices(m.Substitutes(0, 2, nil, nil))
	slices.Sort(subs)
	if !slices.Equal(subs, []int32{1, 2}) {
		t.Fatalf("substitutes of mug 0 = %v, want the other mugs [1 2]", subs)
	}
	scratch := make([]float32, m.NumItems())
	comp := indices(m.Complementary(st, 0, 3, nil, scratch, nil))
	for _, c := range comp {
		if c < 3 || c > 5 {
			t.Fatalf("complements of mug 0 = %v, want saucers 3-5", comp)
		}
	}
	cs := indices(m.SubstitutesFor([]int32{6}, 2, nil, nil))
	slices.Sort(cs)
	if !slices.Equal(cs, []int32{7, 8}) {
		t.Fatalf("customer substitutes for a notebook buyer = %v, want [7 8]", cs)
	}
}

func TestModelFoldInSession(t *testing.T) {
	m, _ := buildShop(t)
	// A visitor who looked at a notebook and a pen: stationery first.
	scratch := make([]float32, m.NumItems())
	for _, kinds := range [][]EventKind{nil, {EventClick, EventCart}} {
		v := m.FoldIn([]int32{6, 9}, kinds)
		rec := indices(m.Recommend(v, 4, []int32{6, 9}, scratch, nil))
		for _, it := range rec {
			if it < 6 {
				t.Fatalf("session of stationery (kinds %v) got %v, want stationery items only", kinds, rec)
			}
		}
	}
	if m.UserVector(3) == nil || m.UserVector(-1) != nil {
		t.Fatal("UserVector: known user missing or unknown user present")
	}
}

func TestModelAudience(t *testing.T) {
	m, _ := buildShop(t)
	scratch := make([]float32, m.Train.NumUsers)
	aud := m.Audience([]int32{7}, 20, math.MaxInt64, nil, scratch, nil)
	for _, s := range aud {
		if s.Index < 40 {
			t.Fatalf("audience for a notebook includes tea-set buyer %d: %v", s.Index, aud)
		}
	}
	// Excluding recent buyers of item 7: users 40-79 with u%3 == 1 bought it.
	aud = m.Audience([]int32{7}, 40, 0, nil, scratch, nil)
	for _, s := range aud {
		if s.Index >= 40 && (s.Index%3) == 1 {
			t.Fatalf("user %d bought item 7 and must be excluded", s.Index)
		}
	}
	if len(aud) == 0 {
		t.Fatal("empty audience")
	}
}

func TestRetrainPolicy(t *testing.T) {
	p := RetrainPolicy{MinChanges: 10, MaxAge: 100, MinInterval: 5}
	cases := []struct {
		changes, trained, now int64
		want                  bool
	}{
		{0, 0, 50, false},
		{1, 0, 50, true},
		{9, 1000, 1050, false},
		{10, 1000, 1050, true},
		{10, 1000, 1002, false},
		{1, 1000, 1100, true},
		{0, 1000, 5000, false},
	}
	for _, c := range cases {
		if got := p.Due(c.changes, c.trained, c.now); got != c.want {
			t.Errorf("Due(%d, %d, %d) = %v, want %v", c.changes, c.trained, c.now, got, c.want)
		}
	}
}

func BenchmarkModelQueries(b *testing.B) {
	m := randomInteractions(11, 3000, 4000, 25)
	snap := &Snapshot{NumUsers: 3000, NumItems: 4000}
	for u := 0; u < 3000; u++ {
		items, _ := m.Row(int32(u))
		snap.Orders = append(snap.Orders, SnapshotOrder{User: int32(u), Time: int64(u), Items: items})
	}
	cfg := DefaultModelConfig()
	cfg.ALS = DefaultALSConfig(3000, 4000, m.NNZ())
	cfg.ALS.Factors = 64
	cfg.ALS.Iterations = 3
	st, _ := StatsFromSnapshot(snap, cfg)
	model, err := BuildModel(context.Background(), snap, st, cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	scratch := make([]float32, 4000)
	dst := make([]Scored, 0, 10)
	b.Run("complementary", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			dst = model.Complementary(st, int32(i%4000), 10, nil, scratch, dst[:0])
		}
	})
	b.Run("complementary_precomputed", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			dst = model.ComplementaryPrecomputed(int32(i%4000), 10, nil, dst[:0])
		}
	})
	b.Run("complementary_catalog_scan", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			dst = BlendComplementary(st.CoBought, model.Factors, int32(i%4000), 10, cfg.ComplementFactorWeight, nil, scratch, dst[:0])
		}
	})
	b.Run("most_sold_with", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			dst = st.CoBought.MostSoldWith(int32(i%4000), 10, nil, dst[:0])
		}
	})
	b.Run("substitutes", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			dst = model.Substitutes(int32(i%4000), 10, nil, dst[:0])
		}
	})
	b.Run("session_foldin_recommend", func(b *testing.B) {
		b.ReportAllocs()
		items := []int32{1, 50, 300, 2000}
		for b.Loop() {
			v := model.FoldIn(items, nil)
			dst = model.Recommend(v, 10, items, scratch, dst[:0])
		}
	})
	b.Run("popular", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			dst = st.Popularity.Popular(10, nil, dst[:0])
		}
	})
	b.Run("trending", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			dst = st.Popularity.Trending(5000, 10, nil, dst[:0])
		}
	})
}

func TestBuildModelRecencyWeights(t *testing.T) {
	const day = 86400
	snap := &Snapshot{NumUsers: 1, NumItems: 2, Orders: []SnapshotOrder{
		{User: 0, Time: 100 * day, Items: []int32{0}},
		{User: 0, Time: 130 * day, Items: []int32{1}},
	}}
	cfg := DefaultModelConfig()
	cfg.RecencyHalfLife = 15 * day
	for _, tm := range []int64{0, 130 * day} {
		snap.Time = tm // 0 falls back to the newest order
		m, err := BuildModel(context.Background(), snap, nil, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, ws := m.Train.Row(0)
		if ws[1] != 1 || math.Abs(float64(ws[0])-0.25) > 1e-6 {
			t.Fatalf("snapshot time %d: weights %v, want [0.25 1] (two half-lives old, new)", tm, ws)
		}
	}
}
