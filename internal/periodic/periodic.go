// Package periodic runs the node's background chores (model retraining
// checks, value-log GC, free-space measurement, rejoining seeds) on a
// ticker until their context ends: one loop instead of a copy in each.
package periodic

import (
	"context"
	"time"
)

// Run calls fn every period until ctx ends; the first call is one period
// after Run starts. A call that takes longer than the period delays the
// next (ticks are dropped, never queued). Run returns when ctx ends, after
// the call in progress, if any, returns.
func Run(ctx context.Context, period time.Duration, fn func()) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// select picks at random when both are ready: a tick that
			// races the cancellation must not run fn once more.
			if ctx.Err() != nil {
				return
			}
			fn()
		}
	}
}
