package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/ingest"
)

// The kill -9 test runs the real binary: a node process is killed with
// SIGKILL while a writer streams order batches into it, several times.
// After each restart every acknowledged batch must be there; after the
// import is re-run, the node must answer exactly like a node that imported
// the same data without a crash.

const crashAdminToken = "crash-test-admin-token-0123456789"

func sibylBinary(t *testing.T) string {
	if b := os.Getenv("SIBYL_BIN"); b != "" {
		return b
	}
	bin := filepath.Join(t.TempDir(), "sibyl")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freePort picks a loopback port for a child process to listen on. Not
// port 0's pick: that comes from the ephemeral range (32768-60999 here),
// from which every outgoing connection of the tests running beside this
// one also takes its local port, so between this check and the child's
// bind another socket could take it. A random port under the range, free
// now, is taken by nothing but another explicit pick.
func freePort(t *testing.T) string {
	t.Helper()
	for range 100 {
		addr := fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(12000))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		l.Close()
		// Gossip binds the same port for UDP as well.
		u, err := net.ListenPacket("udp", addr)
		if err != nil {
			continue
		}
		u.Close()
		return addr
	}
	t.Fatal("no free loopback port between 20000 and 32000")
	return ""
}

// proc is one `sibyl serve` process.
type proc struct {
	t       *testing.T
	bin     string
	dir     string
	http    string
	raft    string
	cmd     *exec.Cmd
	logPath string
}

func startProc(t *testing.T, bin, dir string) *proc {
	p := &proc{t: t, bin: bin, dir: dir, http: freePort(t), raft: freePort(t), logPath: filepath.Join(dir, "..", filepath.Base(dir)+".log")}
	p.start()
	t.Cleanup(func() { p.kill() })
	return p
}

func (p *proc) start() {
	p.t.Helper()
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	p.cmd = exec.Command(p.bin, "serve", "--data-dir", p.dir, "--http-addr", p.http, "--raft-addr", p.raft, "--shards", "8")
	p.cmd.Env = append(os.Environ(), "SIBYL_ADMIN_TOKEN="+crashAdminToken)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	go func() { p.cmd.Wait(); logf.Close() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + p.http + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(p.logPath)
			p.t.Fatalf("node not ready after 30s: %v\n%s\n...\n%s", err, crashHead(log, 4000), tail(log, 3000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *proc) kill() {
	if p.cmd != nil && p.cmd.Process != nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		for p.cmd.ProcessState == nil {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// retailData reads the bundled demo file: products, customers and the
// first maxOrders orders.
func retailData(t *testing.T, maxOrders int) ([]*ingest.Product, []*ingest.Customer, []*ingest.Order) {
	f, err := os.Open("../../demo/online-retail.csv.gz")
	if err != nil {
		t.Fatalf("the bundled demo data is missing: %v", err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	s := &collectSink{max: maxOrders}
	if _, err := ingest.ReadOnlineRetail(gz, s); err != nil && !errors.Is(err, errEnough) {
		t.Fatal(err)
	}
	return s.products, s.customers, s.orders
}

var errEnough = fmt.Errorf("enough orders")

type collectSink struct {
	max       int
	products  []*ingest.Product
	customers []*ingest.Customer
	orders    []*ingest.Order
}

func (s *collectSink) Product(p *ingest.Product) error {
	s.products = append(s.products, p)
	return nil
}
func (s *collectSink) Customer(c *ingest.Customer) error {
	s.customers = append(s.customers, c)
	return nil
}
func (s *collectSink) Order(o *ingest.Order) error {
	if len(s.orders) >= s.max {
		return errEnough
	}
	s.orders = append(s.orders, o)
	return nil
}

type storeKeys struct{ public, private string }

func mustPost(t *testing.T, base, path string, body any) map[string]any {
	t.Helper()
	out, status, err := post(base, path, body, "")
	if err != nil || status != 200 {
		t.Fatalf("POST %s: %d %v %v", path, status, err, out)
	}
	return out
}

func post(base, path string, body any, bearer string) (map[string]any, int, error) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", base+path, bytes.NewReader(b))
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, resp.StatusCode, err
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, resp.StatusCode, fmt.Errorf("bad answer %q", raw)
	}
	return out, resp.StatusCode, nil
}

func get(t *testing.T, base, path string, v url.Values) map[string]any {
	t.Helper()
	resp, err := http.Get(base + path + "?" + v.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, raw)
	}
	return out
}

func createTestStore(t *testing.T, base string) storeKeys {
	out, status, err := post(base, "/v2/stores", map[string]string{"name": "crash"}, crashAdminToken)
	if err != nil || status != 200 {
		t.Fatalf("create store: %d %v %v", status, err, out)
	}
	return storeKeys{out["public_key"].(string), out["private_key"].(string)}
}

func (k storeKeys) q() string { return "?key=" + k.public + "&private_key=" + k.private }

func pushAll(t *testing.T, base string, k storeKeys, kind ingest.Kind, recs any, batch int) {
	t.Helper()
	switch rs := recs.(type) {
	case []*ingest.Product:
		for i := 0; i < len(rs); i += batch {
			mustPost(t, base, "/v2/products"+k.q(), map[string]any{"products": rs[i:min(i+batch, len(rs))]})
		}
	case []*ingest.Customer:
		for i := 0; i < len(rs); i += batch {
			mustPost(t, base, "/v2/customers"+k.q(), map[string]any{"customers": rs[i:min(i+batch, len(rs))]})
		}
	case []*ingest.Order:
		for i := 0; i < len(rs); i += batch {
			mustPost(t, base, "/v2/orders"+k.q(), map[string]any{"orders": rs[i:min(i+batch, len(rs))]})
		}
	}
}

// answers collects what the comparison covers.
func answers(t *testing.T, base string, k storeKeys, probes []string, customers []string) map[string]any {
	out := map[string]any{}
	v := func(kv ...string) url.Values {
		u := url.Values{"key": {k.public}, "private_key": {k.private}}
		for i := 0; i+1 < len(kv); i += 2 {
			u.Set(kv[i], kv[i+1])
		}
		return u
	}
	for _, logic := range []string{"popular", "trending", "recently_bought", "new"} {
		out[logic] = get(t, base, "/v2/recommendations/"+logic, v("limit", "50"))["result"]
	}
	for _, p := range probes {
		out["msw "+p] = get(t, base, "/v2/recommendations/most_sold_with", v("products", p, "limit", "20"))["result"]
		// complementary is left out: it blends in a factor model that the
		// node retrains in the background, at moments that differ between
		// the two nodes.
	}
	for _, c := range customers {
		out["hist "+c] = get(t, base, "/v2/recommendations/customer/history", v("customer", c, "limit", "50"))["result"]
	}
	out["orders total"] = get(t, base, "/v2/orders", v("limit", "1"))["total"]
	return out
}

func TestKill9DuringImport(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process crash test: skipped with -short")
	}
	bin := sibylBinary(t)
	products, customers, orders := retailData(t, 3000)
	a, b := orders[:1000], orders[1000:]
	root := t.TempDir()
	x := startProc(t, bin, filepath.Join(root, "x"))
	base := "http://" + x.http
	k := createTestStore(t, base)
	pushAll(t, base, k, ingest.KindProducts, products, 500)
	pushAll(t, base, k, ingest.KindCustomers, customers, 500)
	pushAll(t, base, k, ingest.KindOrders, a, 100)

	// Stream B in small batches from two writers; kill -9 at a random
	// moment, check, restart, continue where the acknowledgements end.
	var mu sync.Mutex
	acked := map[ingest.ID]bool{}
	ackedViews := map[string]string{} // visitor -> the product it viewed
	next := 0
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	for round := 0; round < 3 && next < len(b); round++ {
		stop := make(chan struct{})
		// The kill waits until this round has acknowledged orders and
		// tracking events: a kill before any acknowledgement would check
		// nothing.
		var roundOrders, roundViews int
		acksIn := make(chan struct{})
		var acksOnce sync.Once
		firstAcks := func() { // with mu held
			if roundOrders > 0 && roundViews > 0 {
				acksOnce.Do(func() { close(acksIn) })
			}
		}
		var wg sync.WaitGroup
		work := make(chan []*ingest.Order)
		for w := 0; w < 2; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for batch := range work {
					_, status, err := post(base, "/v2/orders"+k.q(), map[string]any{"orders": batch}, "")
					if err == nil && status == 200 {
						mu.Lock()
						for _, o := range batch {
							acked[o.ID] = true
						}
						roundOrders += len(batch)
						firstAcks()
						mu.Unlock()
					}
				}
			}()
		}
		// A tracker logs product views, one visitor per call, until the
		// kill: an acknowledged event must be in its visitor's history
		// after the restart.
		trackDone := make(chan struct{})
		go func() {
			defer close(trackDone)
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				visitor := fmt.Sprintf("crash-%d-%d", round, n)
				product := string(products[n%len(products)].ID)
				resp, err := http.Get(base + "/v2/log/product?key=" + k.public + "&visitor=" + visitor + "&product=" + url.QueryEscape(product))
				if err != nil {
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					mu.Lock()
					ackedViews[visitor] = product
					roundViews++
					firstAcks()
					mu.Unlock()
				}
			}
		}()
		killAfter := time.Duration(rng.IntN(400)) * time.Millisecond
		noAcks := make(chan struct{})
		go func() {
			select {
			case <-acksIn:
				time.Sleep(killAfter)
			case <-time.After(30 * time.Second):
				close(noAcks)
			}
			x.kill()
			close(stop)
		}()
	feed:
		for ; next < len(b); next += 20 {
			select {
			case work <- b[next:min(next+20, len(b))]:
			case <-stop:
				break feed
			}
		}
		close(work)
		wg.Wait()
		<-stop
		<-trackDone
		mu.Lock()
		n, ro, rv := len(acked), roundOrders, roundViews
		mu.Unlock()
		select {
		case <-noAcks:
			t.Fatalf("round %d: nothing to check: %d orders and %d tracking events acknowledged in 30 s before the kill", round, ro, rv)
		default:
		}
		if ro == 0 || rv == 0 {
			t.Fatalf("round %d: killed with %d orders and %d tracking events acknowledged in the round: want both > 0", round, ro, rv)
		}
		t.Logf("round %d: killed %v after the first acknowledgements, %d orders and %d tracking events acknowledged in the round, %d distinct orders of B so far", round, killAfter, ro, rv, n)
		x.start()
		// Every acknowledged order is there after the restart.
		var ids []string
		for id := range acked {
			ids = append(ids, string(id))
		}
		for i := 0; i < len(ids); i += 200 {
			chunk := ids[i:min(i+200, len(ids))]
			list, _ := json.Marshal(chunk)
			res := get(t, base, "/v2/orders", url.Values{"key": {k.public}, "private_key": {k.private}, "orders": {string(list)}})["result"].([]any)
			if len(res) != len(chunk) {
				t.Fatalf("round %d: %d of %d acknowledged orders missing after kill -9", round, len(chunk)-len(res), len(chunk))
			}
		}
		mu.Lock()
		views := len(ackedViews)
		for visitor, product := range ackedViews {
			hist := get(t, base, "/v2/recommendations/visitor/history", url.Values{"key": {k.public}, "visitor": {visitor}})["result"].([]any)
			if len(hist) != 1 || hist[0] != product {
				mu.Unlock()
				t.Fatalf("round %d: acknowledged view of %s by %s lost after kill -9 (history %v)", round, product, visitor, hist)
			}
		}
		mu.Unlock()
		t.Logf("round %d: %d acknowledged tracking events (all rounds so far) all present", round, views)
		next = 0 // re-send from the start: upserts make that safe
	}

	// Re-run the whole import, as an operator would after a crash.
	pushAll(t, base, k, ingest.KindProducts, products, 500)
	pushAll(t, base, k, ingest.KindCustomers, customers, 500)
	pushAll(t, base, k, ingest.KindOrders, orders, 100)

	// A reference node that never crashed.
	y := startProc(t, bin, filepath.Join(root, "y"))
	ybase := "http://" + y.http
	ky := createTestStore(t, ybase)
	pushAll(t, ybase, ky, ingest.KindProducts, products, 500)
	pushAll(t, ybase, ky, ingest.KindCustomers, customers, 500)
	pushAll(t, ybase, ky, ingest.KindOrders, orders, 100)

	probes := []string{"85123A", "22423", "47566", "84879", "22720", "20725", "21212", "22086"}
	var custs []string
	for _, c := range customers[:10] {
		custs = append(custs, string(c.ID))
	}
	got, want := answers(t, base, k, probes, custs), answers(t, ybase, ky, probes, custs)
	if want["orders total"] != float64(len(orders)) {
		t.Fatalf("reference holds %v orders, want %d", want["orders total"], len(orders))
	}
	for key, w := range want {
		gb, _ := json.Marshal(got[key])
		wb, _ := json.Marshal(w)
		if string(gb) != string(wb) {
			t.Errorf("%s differs after crashes:\n got  %s\n want %s", key, gb, wb)
		}
	}
	if l, ok := want["popular"].([]any); !ok || len(l) < 10 {
		t.Fatalf("reference popular list too short to mean anything: %v", want["popular"])
	}
	if !slices.ContainsFunc(probes, func(p string) bool {
		l, _ := want["msw "+p].([]any)
		return len(l) > 5
	}) {
		t.Fatal("no probe has co-purchases: the comparison would be empty")
	}

}
