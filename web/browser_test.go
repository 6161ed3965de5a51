//go:build browser

package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sibylhq/sibyl/internal/apitest"
	"github.com/sibylhq/sibyl/node"
	"github.com/sibylhq/sibyl/shard"
)

// The data health page in a real browser: `make test-browser` runs this
// file (build tag browser) with chromedp driving Chromium. It is the one
// test that may skip: when no Chromium binary is installed.

const adminToken = "test-admin-token-0123456789"

// chromium finds a Chromium (or Chrome) binary: $SIBYL_CHROMIUM, else the
// usual names on the PATH.
func chromium() (string, bool) {
	if p := os.Getenv("SIBYL_CHROMIUM"); p != "" {
		return p, true
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, true
		}
	}
	return "", false
}

// startNode starts a real single node on random loopback ports, stopped
// at cleanup.
func startNode(t *testing.T) *node.Node {
	t.Helper()
	cfg := node.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.RaftAddr = "127.0.0.1:0"
	cfg.Shards = 2
	cfg.AdminToken = adminToken
	cfg.Group.Timers = shard.FastRaftTimers()
	n, err := node.Open(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBrowserDashboard loads a store with known problems (products
// without images, a price of 0, an order naming an unknown product, no
// sale tracked), opens its dashboard in Chromium and checks what the
// page shows: the red checks with their counts, the green ones, and the
// charts drawn with a bar for each day and a visible bar for today.
func TestBrowserDashboard(t *testing.T) {
	bin, ok := chromium()
	if !ok {
		t.Skip("no Chromium binary found (chromium, chromium-browser, google-chrome or $SIBYL_CHROMIUM): apt-get install -y chromium")
	}
	n := startNode(t)
	c := apitest.NewClient(t, n.HTTPAddr())
	st := c.CreateStore("browser shop", adminToken)
	now := time.Now().Unix()
	apitest.Expect(t, c.Do("POST", "/v2/products"+apitest.Q(st, true), `[
		{"id":"a","name":"Lamp <b>bold</b>","price":10,"url":"/a","image":"a.jpg","categories":["k"],"created_at":1},
		{"id":"b","name":"Bulb","price":0,"url":"/b","categories":["k"],"created_at":1},
		{"id":"c","name":"Cup","price":5,"url":"/c","categories":["k"],"created_at":1}]`), 200, "")
	apitest.Expect(t, c.Do("POST", "/v2/orders"+apitest.Q(st, true), fmt.Sprintf(`[
		{"id":"o1","time":%d,"customer":"u1","products":[{"id":"a","quantity":1,"price":10},{"id":"ghost","quantity":1,"price":1}]},
		{"id":"o2","time":%d,"customer":"u2","products":[{"id":"b","quantity":1,"price":1},{"id":"c","quantity":1,"price":5}]},
		{"id":"o3","time":%d,"customer":"u2","products":[{"id":"c","quantity":1,"price":5}]}]`, now, now, now-86400)), 200, "")
	for _, v := range []string{"v1", "v2"} {
		apitest.Expect(t, c.Do("POST", "/v2/log/click", map[string]any{"key": st.Public, "visitor": v, "product": "a", "labels": []string{"home"}}), 200, "")
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	defer cancel()

	url := "http://" + n.HTTPAddr() + "/dashboard/" + st.ID + "?private_key=" + st.Private
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("#checks"))); err != nil {
		t.Fatalf("browser: %v", err)
	}
	// read runs one action and fails the test on an error.
	read := func(what string, a func() error) {
		t.Helper()
		if err := a(); err != nil {
			t.Fatalf("browser: %s: %v", what, err)
		}
	}
	var (
		title, store string
		red, green   []string
		messages     map[string]string
		bars         int
		svgHeights   []float64
		todayBar     float64
		redRowColour string
		syncNote     string
	)
	eval := func(expr string, dst any) func() error {
		return func() error {
			v, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](expr))
			if err != nil {
				return err
			}
			return json.Unmarshal(v, dst)
		}
	}
	read("title", func() (err error) { title, err = chromedp.Run(ctx, chromedp.Title()); return })
	read("store", func() (err error) { store, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#store"))); return })
	read("red checks", eval(`Array.from(document.querySelectorAll('tr.check[data-state="red"]')).map(r => r.dataset.name)`, &red))
	read("green checks", eval(`Array.from(document.querySelectorAll('tr.check[data-state="green"]')).map(r => r.dataset.name)`, &green))
	read("messages", eval(`Object.fromEntries(Array.from(document.querySelectorAll('tr.check')).map(r => [r.dataset.name, r.querySelector('.message').textContent]))`, &messages))
	read("bars", eval(`document.querySelectorAll('svg.chart rect.bar').length`, &bars))
	read("chart sizes", eval(`Array.from(document.querySelectorAll('svg.chart')).map(s => s.getBoundingClientRect().height)`, &svgHeights))
	// The orders chart's last bar is today's: drawn with a height (or
	// the one before, should midnight UTC fall between the import and
	// the page).
	read("today's bar", eval(`(() => { const r = document.querySelectorAll('svg.chart')[0].querySelectorAll('rect.bar'); return Math.max(r[r.length-1].getBBox().height, r[r.length-2].getBBox().height) })()`, &todayBar))
	read("red row colour", eval(`getComputedStyle(document.querySelector('tr.check.red td')).backgroundColor`, &redRowColour))
	read("syncs", func() (err error) {
		syncNote, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#syncs-none")))
		return
	})
	t.Logf("page of %s: red %v, green %v, %d bars, charts %v px high, today's order bar %.1f, red row %s", store, red, green, bars, svgHeights, todayBar, redRowColour)
	if store != st.ID || !strings.Contains(title, st.ID) {
		t.Errorf("page of %q titled %q, want store %s", store, title, st.ID)
	}
	for _, want := range []string{"product_image", "prices", "unknown_products", "tracking_sales"} {
		if !contains(red, want) {
			t.Errorf("check %s is not red; red: %v", want, red)
		}
	}
	for _, want := range []string{"product_name", "orders_without_customer", "tracking_clicks", "sync_last"} {
		if !contains(green, want) {
			t.Errorf("check %s is not green; green: %v", want, green)
		}
	}
	for name, want := range map[string]string{
		"product_image":    "2 of 3 products have no image",
		"prices":           "1 of 3 products are priced 0 or below",
		"unknown_products": "1 of 5 order lines name products not in the catalog",
		"tracking_sales":   "no log/sale seen yet",
	} {
		if !strings.Contains(messages[name], want) {
			t.Errorf("%s says %q, want %q", name, messages[name], want)
		}
	}
	if bars != 90 {
		t.Errorf("%d bars drawn, want 3 charts of 30 days", bars)
	}
	if len(svgHeights) != 3 || svgHeights[0] <= 0 {
		t.Errorf("chart heights %v: the SVG charts did not render", svgHeights)
	}
	if todayBar <= 0 {
		t.Errorf("today's order bar has height %v, want > 0", todayBar)
	}
	if redRowColour != "rgb(253, 240, 239)" {
		t.Errorf("a red check's row is %q: the stylesheet did not apply", redRowColour)
	}
	if !strings.Contains(syncNote, "no sync configured") {
		t.Errorf("syncs section says %q", syncNote)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
