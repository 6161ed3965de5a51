package cputime

import (
	"testing"
	"time"
)

func TestMeterCountsBusyNotSleep(t *testing.T) {
	m, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	cpu, wall, err := m.Elapsed()
	if err != nil {
		t.Fatal(err)
	}
	if wall < 50*time.Millisecond {
		t.Fatalf("wall %v after a 50 ms sleep", wall)
	}
	if cpu > 40*time.Millisecond {
		t.Fatalf("cpu %v while sleeping 50 ms, want little", cpu)
	}
	// Busy work must show up as CPU time (the machine may be shared, so
	// wait for it rather than expect a share of the wall time).
	m, _ = Start()
	x := 1.0
	for {
		for i := 0; i < 100000; i++ {
			x = x*1.0000001 + 1e-9
		}
		cpu, wall, err := m.Elapsed()
		if err != nil {
			t.Fatal(err)
		}
		if cpu >= 30*time.Millisecond {
			return
		}
		if wall > 20*time.Second {
			t.Fatalf("cpu %v after %v of busy loop (x=%v), want >= 30 ms", cpu, wall, x)
		}
	}
}
