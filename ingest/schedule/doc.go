// Package schedule decides when each store's Data Sync runs next, and
// starts at most a configured number of syncs at once on a node.
//
// It is three layers, each usable alone:
//
//   - Schedule and Next are pure functions of a store's schedule (parsed
//     from the API's JSON: "when_needed", "manual", {"every": "2h"},
//     {"windows": [3, 4]}), the outcome of its last run, and the time now.
//   - Scheduler is a pure core driven by its caller, in the style of etcd
//     raft's RawNode: no clock, no goroutines, no I/O. The caller passes
//     the time to every call, asks which stores are Due, and reports when
//     each Finished. Tests are tables of inputs and expected stores.
//   - Loop is the one goroutine per node that drives a Scheduler with a
//     (fake or real) clock and calls a Start callback for each due store.
//
// Why a heap: a node may carry thousands of stores, nearly all of them
// idle. The Scheduler keeps the stores not running in a min-heap keyed by
// their next due time, so finding the due ones costs O(log n) per store
// started and nothing per store waiting, and the Loop sleeps on one timer
// until the earliest due time instead of scanning every store on a tick.
// Idle, the node's scheduler does no work at all (BenchmarkSchedulerIdle).
//
// Why the jitter: stores created together (an import of 1,000 stores, a
// leader change that finds them all overdue) would otherwise all fall due
// in the same second and hammer their shops and the node at once. Each
// store's start is moved later by a fixed amount derived from a hash of its
// id: up to 10% of its interval and never more than MaxJitter. Being
// deterministic, a store keeps the same slot from run to run and across
// nodes, and tests can predict it.
//
// Why a running store is never returned twice: a store's sync must run
// exactly once at a time. Due moves a store out of the heap and marks it
// running; only Finished puts it back. A store removed while running is
// forgotten when it finishes, not rescheduled.
package schedule
