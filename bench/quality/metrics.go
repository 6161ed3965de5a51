package quality

import "math"

// RankMetrics are top-N ranking metrics for one ranked list against a set
// of relevant items.
type RankMetrics struct {
	// Hit10 is 1 when any relevant item is in the top 10.
	Hit10 float64
	// Precision10 and Recall10 count relevant items in the top 10.
	Precision10, Recall10 float64
	// Recall20 counts relevant items in the top 20.
	Recall20 float64
	// NDCG10 is binary-relevance NDCG at 10; the ideal DCG puts
	// min(|relevant|, 10) relevant items first.
	NDCG10 float64
}

// Rank scores a ranked list (best first, at least 20 long when available)
// against relevant, a set given as a predicate.
func Rank(ranked []int32, numRelevant int, relevant func(int32) bool) RankMetrics {
	var m RankMetrics
	if numRelevant == 0 {
		return m
	}
	var hits10, hits20 int
	var dcg float64
	for pos, it := range ranked {
		if pos >= 20 {
			break
		}
		if !relevant(it) {
			continue
		}
		hits20++
		if pos < 10 {
			hits10++
			dcg += 1 / math.Log2(float64(pos)+2)
		}
	}
	var idcg float64
	for pos := 0; pos < min(numRelevant, 10); pos++ {
		idcg += 1 / math.Log2(float64(pos)+2)
	}
	if hits10 > 0 {
		m.Hit10 = 1
	}
	m.Precision10 = float64(hits10) / 10
	m.Recall10 = float64(hits10) / float64(numRelevant)
	m.Recall20 = float64(hits20) / float64(numRelevant)
	m.NDCG10 = dcg / idcg
	return m
}

// Add accumulates o into m (for averaging).
func (m *RankMetrics) Add(o RankMetrics) {
	m.Hit10 += o.Hit10
	m.Precision10 += o.Precision10
	m.Recall10 += o.Recall10
	m.Recall20 += o.Recall20
	m.NDCG10 += o.NDCG10
}

// Scale multiplies every metric by s.
func (m *RankMetrics) Scale(s float64) {
	m.Hit10 *= s
	m.Precision10 *= s
	m.Recall10 *= s
	m.Recall20 *= s
	m.NDCG10 *= s
}
