package bench

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Machine records where a report was measured, so that its numbers (and
// their ratios to the ceiling) can be put next to another machine's.
type Machine struct {
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPUModel   string `json:"cpu_model,omitempty"`
	GOOS       string `json:"goos"`
	GOARCH     string `json:"goarch"`
	GoVersion  string `json:"go_version"`
	// Load1 is the 1-minute load average when the report started (Linux):
	// other work on the machine makes every number worse and noisier.
	Load1 float64 `json:"load1,omitempty"`
	// Shared says that the load generator ran on the same CPUs as the
	// server it measured: both numbers are then lower bounds.
	Shared bool `json:"loadgen_shares_cpus"`
}

// CurrentMachine describes this machine. shared says whether the target
// runs on it too (a loopback URL, or the ceiling alone).
func CurrentMachine(shared bool) Machine {
	return Machine{
		CPUs:       runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		CPUModel:   cpuModel(),
		GOOS:       runtime.GOOS,
		GOARCH:     runtime.GOARCH,
		GoVersion:  runtime.Version(),
		Load1:      loadAverage(),
		Shared:     shared,
	}
}

// loadAverage reads the 1-minute load average on Linux; 0 elsewhere.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	first, _, _ := strings.Cut(string(b), " ")
	v, err := strconv.ParseFloat(first, 64)
	if err != nil {
		return 0
	}
	return v
}

// cpuModel reads the model name on Linux; elsewhere it is left empty.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
