// Package cputime measures the CPU time of the whole process (user + system,
// all threads, from getrusage) beside wall time, for benchmarks whose target
// is per core-second: on a shared machine wall time x GOMAXPROCS counts the
// time other processes held the cores, CPU time does not.
package cputime

import (
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// Process returns the CPU time the process has used so far.
func Process() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("cannot read process cpu time: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// Meter is a running measurement of CPU and wall time.
type Meter struct {
	cpu  time.Duration
	wall time.Time
}

// Start begins a measurement.
func Start() (Meter, error) {
	c, err := Process()
	if err != nil {
		return Meter{}, err
	}
	return Meter{cpu: c, wall: time.Now()}, nil
}

// Elapsed returns the process CPU time and the wall time since Start.
func (m Meter) Elapsed() (cpu, wall time.Duration, err error) {
	c, err := Process()
	if err != nil {
		return 0, 0, err
	}
	return c - m.cpu, time.Since(m.wall), nil
}

// Reporter is what ReportPerCoreSecond needs of a *testing.B.
type Reporter interface {
	ReportMetric(n float64, unit string)
}

// ReportPerCoreSecond reports work (e.g. non-zeros processed) per
// core-second twice: per second of process CPU time (unit+"/cpu-s"), and per
// second of wall time times cores (unit+"/wall-core-s", cores =
// GOMAXPROCS). On a quiet machine the two agree when every core is busy;
// the wall figure is lower when the work leaves cores idle or other
// processes take them.
func ReportPerCoreSecond(r Reporter, work float64, unit string, cpu, wall time.Duration, cores int) {
	if cpu > 0 {
		r.ReportMetric(work/cpu.Seconds(), unit+"/cpu-s")
	}
	if wall > 0 && cores > 0 {
		r.ReportMetric(work/(wall.Seconds()*float64(cores)), unit+"/wall-core-s")
	}
}

// Loop runs op once per b.Loop iteration and reports work per
// core-second (ReportPerCoreSecond) for workPerOp units of work per op;
// warm-up belongs before the call.
func Loop(b *testing.B, workPerOp float64, unit string, op func()) {
	meter, err := Start()
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for b.Loop() {
		op()
		n++
	}
	cpu, wall, err := meter.Elapsed()
	if err != nil {
		b.Fatal(err)
	}
	ReportPerCoreSecond(b, workPerOp*float64(n), unit, cpu, wall, runtime.GOMAXPROCS(0))
}
