// Package bench is Sibyl's whole-system load generator: it drives a running
// deployment over HTTP with fasthttp's client, in an open-loop mode (fixed
// arrival rate, latency measured from each request's intended send time, so
// queueing inside the server or the client shows up instead of being hidden
// by coordinated omission) or a closed-loop mode (N connections as fast as
// possible), and summarises latency with HdrHistogram.
//
// Every run can also measure a do-nothing fasthttp handler on the same
// machine with the same settings (the ceiling, see NullServer) and report the
// result as a ratio to it, so that numbers from different machines compare.
//
// Reports (JSON, markdown and gonum/plot PNGs) are written by WriteReport.
// Recommendation quality lives in bench/quality, not here.
package bench
