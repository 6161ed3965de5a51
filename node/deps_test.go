package node

import (
	"os/exec"
	"strings"
	"testing"
)

// TestServingPathDeps keeps measurement out of the serving path: the node
// (and everything it links: query, engine, shard, cluster) never imports
// bench, so plotting (gonum/plot) and latency histograms (HdrHistogram)
// reach the sibyl binary only through the bench subcommand.
func TestServingPathDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/sibylhq/sibyl/node").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	for _, dep := range deps {
		for _, banned := range []string{"gonum.org/v1/plot", "HdrHistogram", "github.com/sibylhq/sibyl/bench"} {
			if strings.Contains(dep, banned) {
				t.Errorf("the serving path links %s", dep)
			}
		}
	}
	if len(deps) < 50 || !strings.Contains(string(out), "github.com/sibylhq/sibyl/query") {
		t.Fatalf("go list named %d packages without query; the check reads the wrong thing", len(deps))
	}
}
