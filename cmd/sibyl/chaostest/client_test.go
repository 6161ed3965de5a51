package chaostest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// outcome is what the client knows about one operation.
type outcome uint8

const (
	ok      outcome = iota // answered: the result is known
	failed                 // refused before it could change anything
	unknown                // may or may not have been applied
)

func (o outcome) String() string { return [...]string{"ok", "failed", "unknown"}[o] }

// MarshalText names the outcome in history.jsonl.
func (o outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// record is one operation of the history.
type record struct {
	Worker  int       `json:"worker"`
	Input   regInput  `json:"input"`
	Output  regOutput `json:"output"`
	Outcome outcome   `json:"outcome"`
	Call    int64     `json:"call_ns"`
	Return  int64     `json:"return_ns"`
	Status  int       `json:"status"`
	Err     string    `json:"err,omitempty"`
	Order   string    `json:"order,omitempty"` // probes: the order id
}

// staleRead is a GET served by one node's replica.
type staleRead struct {
	Key          regKey
	Node         int
	Call, Return int64
	Present      bool
	Value        int64
}

type storeKeys struct{ ID, Public, Private string }

func (k storeKeys) q() string {
	return "?key=" + url.QueryEscape(k.Public) + "&private_key=" + url.QueryEscape(k.Private)
}

// history collects what the workers did.
type history struct {
	start time.Time
	mu    sync.Mutex
	ops   []record
	reads []staleRead
	// orders sent per store: id -> outcome (ok: acknowledged).
	orders []map[string]outcome
	// unexpected answers worth reporting (a 400 to a valid put, a 500).
	odd []string
}

func (h *history) now() int64 { return time.Since(h.start).Nanoseconds() }

func (h *history) add(r record) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, r)
	if r.Input.Kind == opProbe && r.Order != "" {
		h.orders[r.Input.Key.Store][r.Order] = r.Outcome
	}
}

func (h *history) noteOdd(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.odd) < 50 {
		h.odd = append(h.odd, fmt.Sprintf(format, args...))
	}
}

// client sends one store's operations to the nodes' real HTTP ports (the
// client is outside the partitions).
type client struct {
	nodes   []*node
	stores  []storeKeys
	keys    int // products per store
	h       *history
	values  atomic.Int64 // every put and patch writes a value never written before
	http    *http.Client
	orderTS atomic.Int64 // order times, increasing

	genMu sync.Mutex
	gens  map[[2]int]int // (store, product slot) -> register generation
}

func newClient(nodes []*node, stores []storeKeys, keysPerStore int, h *history) *client {
	return &client{nodes: nodes, stores: stores, keys: keysPerStore, h: h, gens: map[[2]int]int{}, http: &http.Client{
		// Longer than the server's own bound (write timeout 10 s, plus
		// 5 s when forwarded): the client hears the server's verdict
		// unless the node died or is paused for longer.
		Timeout: 20 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 0,
			IdleConnTimeout: 30 * time.Second},
	}}
}

func productID(k int) string { return fmt.Sprintf("p%d", k) }

// Registers retire after an unknown outcome. An operation whose outcome is
// unknown stays pending to the end of the history (it may take effect at
// any time after its call, or never), so it is concurrent with every later
// operation on its register; a register collecting dozens of them made
// porcupine's search explode (22 GiB in one 8-minute run). So after an
// unknown outcome the (store, product) slot moves on to a fresh product id,
// a new register, and each register keeps only the few operations that
// were in flight when it retired. Every generation is read at the end.
func genProductID(k, gen int) string {
	if gen == 0 {
		return productID(k)
	}
	return fmt.Sprintf("p%d.g%d", k, gen)
}

// slot returns the current register of (store s, product k) and its
// generation.
func (c *client) slot(s, k int) (regKey, int) {
	c.genMu.Lock()
	defer c.genMu.Unlock()
	g := c.gens[[2]int{s, k}]
	return regKey{Store: s, Product: genProductID(k, g)}, g
}

// retire moves (s, k) past generation gen, once.
func (c *client) retire(s, k, gen int) {
	c.genMu.Lock()
	defer c.genMu.Unlock()
	if c.gens[[2]int{s, k}] == gen {
		c.gens[[2]int{s, k}] = gen + 1
	}
}

// registers lists every product id store s used, all generations.
func (c *client) registers(s int) []string {
	c.genMu.Lock()
	defer c.genMu.Unlock()
	var out []string
	for k := range c.keys {
		for g := 0; g <= c.gens[[2]int{s, k}]; g++ {
			out = append(out, genProductID(k, g))
		}
	}
	return out
}

// run is one worker: random operations until ctx ends. Its choices come
// from its own seeded generator, so a seed replays the same operations
// (the interleaving with faults depends on timing).
func (c *client) run(ctx context.Context, worker int, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, uint64(worker)))
	seq := 0
	for ctx.Err() == nil {
		seq++
		// A worker stays with one node: while a node is paused or cut off
		// its workers wait on it, and the others keep the majority busy.
		s, k, n := rng.IntN(len(c.stores)), rng.IntN(c.keys), worker%len(c.nodes)
		key, gen := c.slot(s, k)
		var out outcome
		switch r := rng.IntN(100); {
		case r < 35:
			out = c.write(worker, n, key, opPut, "")
		case r < 50:
			out = c.write(worker, n, key, opPatch, "")
		case r < 60:
			out = c.write(worker, n, key, opDelete, "")
		case r < 85:
			out = c.write(worker, n, key, opProbe, fmt.Sprintf("w%d-%d", worker, seq))
		default:
			out = c.read(n, key)
		}
		if out == unknown {
			c.retire(s, k, gen)
		}
		if out != ok {
			// A node that is down refuses at once: do not spin on it.
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// write performs one write operation and records it.
func (c *client) write(worker, n int, key regKey, kind opKind, orderID string) outcome {
	st := c.stores[key.Store]
	base := "http://" + c.nodes[n].http
	in := regInput{Key: key, Kind: kind, Node: n}
	var method, u string
	var body any
	switch kind {
	case opPut:
		in.Value = c.values.Add(1)
		method, u = "POST", base+"/v2/products"+st.q()
		body = []map[string]any{{"id": key.Product, "name": "chaos " + key.Product, "price": in.Value}}
	case opPatch:
		in.Value = c.values.Add(1)
		method, u = "PATCH", base+"/v2/products"+st.q()
		body = []map[string]any{{"id": key.Product, "price": in.Value}}
	case opDelete:
		method, u = "DELETE", base+"/v2/products"+st.q()+"&products="+url.QueryEscape(`["`+key.Product+`"]`)
	case opProbe:
		method, u = "POST", base+"/v2/orders"+st.q()
		ts := c.orderTS.Add(1)
		body = map[string]any{"orders": []map[string]any{{"id": orderID, "time": 1700000000 + ts, "customer": fmt.Sprintf("c%d", worker),
			"products": []map[string]any{{"id": key.Product, "quantity": 1, "price": 1}}}}}
	}
	rec := record{Worker: worker, Input: in, Order: orderID, Call: c.h.now()}
	status, ans, err := c.do(method, u, body)
	rec.Return, rec.Status = c.h.now(), status
	switch {
	case err != nil:
		rec.Err = err.Error()
		rec.Outcome = unknown
		if errors.Is(err, syscall.ECONNREFUSED) {
			rec.Outcome = failed // never sent
		}
	case status == 200:
		rec.Outcome = ok
		switch kind {
		case opDelete:
			rec.Output.Present = num(ans["applied"]) == 1
		case opPatch:
			rec.Output.Present = true
		case opProbe:
			rec.Output.Present = num(ans["unknown_products"]) == 0
		}
	case status == 400 && kind == opPatch && strings.Contains(fmt.Sprint(ans["message"]), "does not exist"):
		rec.Outcome = ok // applied in log order and rejected: the record was absent
	case status >= 500:
		rec.Outcome = unknown
		rec.Err = fmt.Sprint(ans["message"])
		if status != 503 {
			c.h.noteOdd("%s %s on node %d: %d %v", kind, key.Product, n, status, ans)
		}
	default:
		// 401 (keys not yet known on a restarted node) and other refusals
		// happen before the command reaches Raft.
		rec.Outcome = failed
		rec.Err = fmt.Sprint(ans["message"])
		if status != 401 {
			c.h.noteOdd("%s %s on node %d: %d %v", kind, key.Product, n, status, ans)
		}
	}
	if rec.Outcome == unknown {
		rec.Output.Unknown = true
	}
	c.h.add(rec)
	return rec.Outcome
}

// read is a GET of one product from node n's replica (possibly stale).
func (c *client) read(n int, key regKey) outcome {
	st := c.stores[key.Store]
	call := c.h.now()
	u := "http://" + c.nodes[n].http + "/v2/products" + st.q() + "&products=" + url.QueryEscape(`["`+key.Product+`"]`)
	status, ans, err := c.do("GET", u, nil)
	if err != nil || status != 200 {
		return failed
	}
	r := staleRead{Key: key, Node: n, Call: call, Return: c.h.now()}
	if res, _ := ans["result"].([]any); len(res) == 1 {
		p, _ := res[0].(map[string]any)
		r.Present, r.Value = true, int64(num(p["price"]))
	}
	c.h.mu.Lock()
	c.h.reads = append(c.h.reads, r)
	c.h.mu.Unlock()
	return ok
}

// do sends one request; a body that is not JSON is an error only for a
// 200 (other statuses may come from a proxy or a dying node).
func (c *client) do(method, u string, body any) (int, map[string]any, error) {
	return c.doBearer(method, u, body, "")
}

// doBearer is do with an Authorization header (the admin token) if given.
func (c *client) doBearer(method, u string, body any, bearer string) (int, map[string]any, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return 0, nil, err
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		if resp.StatusCode == 200 {
			return 0, nil, fmt.Errorf("reading the answer: %w", err)
		}
		return resp.StatusCode, nil, nil
	}
	var ans map[string]any
	if err := json.Unmarshal(raw, &ans); err != nil && resp.StatusCode == 200 {
		return 0, nil, fmt.Errorf("bad answer %.200q: %w", raw, err)
	}
	return resp.StatusCode, ans, nil
}

func num(v any) float64 {
	f, _ := v.(float64)
	return f
}
