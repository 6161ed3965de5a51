package web

import (
	"strings"
	"testing"
	"time"
)

// TestRenderEscapesStoreStrings: every store-provided string is escaped,
// the checks keep their states and each chart has one bar per day.
func TestRenderEscapesStoreStrings(t *testing.T) {
	evil := `<script>alert(1)</script>"'&`
	d := Dashboard{
		Store:     evil,
		Generated: time.Unix(0, 0),
		Checks:    []Check{{Name: "prices", State: "red", Value: "2 of 3", Message: evil}},
		Charts:    []Chart{NewChart("Orders per day", []string{"d1", "d2", "d3"}, []int64{1, 0, 4})},
		Syncs:     []SyncRun{{ID: "r1", State: "failed", Error: evil}},
	}
	var b strings.Builder
	if err := Render(&b, d); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if strings.Contains(page, "<script>") {
		t.Fatalf("unescaped store string in page:\n%s", page)
	}
	if n := strings.Count(page, "&lt;script&gt;"); n != 4 { // title, heading, message, sync error
		t.Errorf("escaped store string %d times, want 4", n)
	}
	if !strings.Contains(page, `data-name="prices" data-state="red"`) {
		t.Error("the red check is not marked")
	}
	if n := strings.Count(page, `<rect class="bar"`); n != 3 {
		t.Errorf("%d bars, want 3", n)
	}
	if !strings.Contains(page, `height="142.0" data-value="4"`) {
		t.Errorf("the tallest bar does not reach the top:\n%s", page)
	}
}

func TestNewChartScales(t *testing.T) {
	c := NewChart("x", []string{"a", "b"}, []int64{2, 4})
	if c.Max != 4 || c.Total != 6 || len(c.Bars) != 2 || c.Bars[0].H != c.Bars[1].H/2 || c.FirstLabel != "a" || c.LastLabel != "b" {
		t.Fatalf("chart %+v", c)
	}
	if z := NewChart("x", nil, nil); len(z.Bars) != 0 || z.Max != 0 {
		t.Fatalf("empty chart %+v", z)
	}
	if z := NewChart("x", []string{"a"}, []int64{0}); z.Bars[0].H != 0 {
		t.Fatalf("all-zero chart has a bar of height %v", z.Bars[0].H)
	}
}
