package compute

import "fmt"

// RetrainPolicy decides when the trained model is stale. Counts and
// popularity are always fresh (Stats); this is about the factor model.
type RetrainPolicy struct {
	// MinChanges: retrain once this many orders/events arrived since the
	// last training started.
	MinChanges int64
	// MaxAge (seconds): retrain once the model is this old and anything
	// changed at all.
	MaxAge int64
	// MinInterval (seconds) between two trainings, to bound CPU use under
	// heavy write load.
	MinInterval int64
}

// DefaultRetrainPolicy retrains after 1,000 changes or 6 hours, at most
// every 5 minutes.
func DefaultRetrainPolicy() RetrainPolicy {
	return RetrainPolicy{MinChanges: 1000, MaxAge: 6 * 3600, MinInterval: 300}
}

// Validate checks the policy.
func (p RetrainPolicy) Validate() error {
	if p.MinChanges <= 0 || p.MaxAge <= 0 || p.MinInterval < 0 {
		return fmt.Errorf("retrain policy needs positive min changes and max age and min interval >= 0, got %+v", p)
	}
	return nil
}

// Due reports whether a model trained at trainedAt (unix seconds, 0 =
// never) with changes since then should be rebuilt at now.
func (p RetrainPolicy) Due(changes int64, trainedAt, now int64) bool {
	if trainedAt == 0 {
		return changes > 0
	}
	if changes == 0 || now-trainedAt < p.MinInterval {
		return false
	}
	return changes >= p.MinChanges || now-trainedAt >= p.MaxAge
}
