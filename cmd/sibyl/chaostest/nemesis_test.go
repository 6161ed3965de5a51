package chaostest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"syscall"
	"time"
)

// faultEvent is one injected fault, for the log and the visualization.
type faultEvent struct {
	Kind       string
	Desc       string
	Start, End int64 // history time (ns)
}

// nemesis injects one fault at a time, chosen by its seeded generator:
// SIGKILL and restart of one node or two (quorum lost), SIGSTOP/SIGCONT,
// a node isolated from the other two, one link cut both ways (the third
// node still hears both), one direction of a link cut. Between faults the
// cluster gets a quiet spell to recover.
type nemesis struct {
	c      *cluster
	h      *history
	rng    *rand.Rand
	logf   func(string, ...any)
	mu     sync.Mutex
	events []faultEvent
	counts map[string]int
}

func newNemesis(c *cluster, h *history, seed uint64, logf func(string, ...any)) *nemesis {
	return &nemesis{c: c, h: h, rng: rand.New(rand.NewPCG(seed, 0x6e656d65)), logf: logf, counts: map[string]int{}}
}

func (m *nemesis) dur(min, max time.Duration) time.Duration {
	return min + time.Duration(m.rng.Int64N(int64(max-min)+1))
}

// wait sleeps d or until ctx ends; it reports whether to go on.
func wait(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// run injects faults until ctx ends, then heals everything.
func (m *nemesis) run(ctx context.Context) {
	defer m.healAll()
	n := len(m.c.nodes)
	for {
		if !wait(ctx, m.dur(time.Second, 4*time.Second)) {
			return
		}
		m.restartCrashed()
		v := m.rng.IntN(n)
		w := (v + 1 + m.rng.IntN(n-1)) % n // another node
		ev := faultEvent{Start: m.h.now()}
		// The decisions (kind, nodes, durations) come from the generator
		// before anything runs, so a seed replays the same schedule.
		switch k := m.rng.IntN(10); {
		case k < 3:
			down := m.dur(0, 4*time.Second)
			ev.Kind, ev.Desc = "kill", fmt.Sprintf("SIGKILL %s, restart after %v", m.c.nodes[v].id, down.Round(time.Millisecond))
			m.begin(ev)
			m.c.kill(v)
			wait(ctx, down)
			m.start(v)
		case k < 4:
			down := m.dur(0, 4*time.Second)
			ev.Kind, ev.Desc = "kill2", fmt.Sprintf("SIGKILL %s and %s (no quorum), restart after %v", m.c.nodes[v].id, m.c.nodes[w].id, down.Round(time.Millisecond))
			m.begin(ev)
			m.c.kill(v)
			m.c.kill(w)
			wait(ctx, down)
			m.start(v)
			m.start(w)
		case k < 6:
			d := m.dur(time.Second, 8*time.Second)
			ev.Kind, ev.Desc = "pause", fmt.Sprintf("SIGSTOP %s for %v", m.c.nodes[v].id, d.Round(time.Millisecond))
			m.begin(ev)
			m.c.signal(v, syscall.SIGSTOP)
			wait(ctx, d)
			m.c.signal(v, syscall.SIGCONT)
		case k < 8:
			d := m.dur(2*time.Second, 15*time.Second)
			ev.Kind, ev.Desc = "isolate", fmt.Sprintf("isolate %s for %v", m.c.nodes[v].id, d.Round(time.Millisecond))
			m.begin(ev)
			m.c.net.isolate(v)
			wait(ctx, d)
			m.c.net.heal()
		case k < 9:
			d := m.dur(2*time.Second, 15*time.Second)
			ev.Kind, ev.Desc = "cut-link", fmt.Sprintf("cut %s <-> %s for %v", m.c.nodes[v].id, m.c.nodes[w].id, d.Round(time.Millisecond))
			m.begin(ev)
			m.c.net.block(v, w)
			m.c.net.block(w, v)
			wait(ctx, d)
			m.c.net.heal()
		default:
			d := m.dur(2*time.Second, 10*time.Second)
			ev.Kind, ev.Desc = "one-way", fmt.Sprintf("drop %s -> %s for %v", m.c.nodes[v].id, m.c.nodes[w].id, d.Round(time.Millisecond))
			m.begin(ev)
			m.c.net.block(v, w)
			wait(ctx, d)
			m.c.net.heal()
		}
		m.end()
	}
}

func (m *nemesis) begin(ev faultEvent) {
	m.logf("%7.1fs fault: %s (%s)", float64(ev.Start)/1e9, ev.Desc, time.Now().Format("15:04:05.000"))
	m.mu.Lock()
	m.events = append(m.events, ev)
	m.counts[ev.Kind]++
	m.mu.Unlock()
}

// end closes the current fault and logs what the client saw meanwhile
// (operations called during the fault, by outcome).
func (m *nemesis) end() {
	m.mu.Lock()
	ev := &m.events[len(m.events)-1]
	ev.End = m.h.now()
	start, end := ev.Start, ev.End
	m.mu.Unlock()
	var n [3]int
	m.h.mu.Lock()
	for i := len(m.h.ops) - 1; i >= 0 && m.h.ops[i].Return >= start; i-- {
		if r := m.h.ops[i]; r.Call >= start && r.Call <= end {
			n[r.Outcome]++
		}
	}
	m.h.mu.Unlock()
	m.logf("%7.1fs   end: %d ok, %d failed, %d unknown among operations called during it", float64(end)/1e9, n[ok], n[failed], n[unknown])
}

func (m *nemesis) start(i int) {
	if err := m.c.start(i); err != nil {
		m.logf("cannot restart %s: %v", m.c.nodes[i].id, err)
	}
}

// restartCrashed starts again a node that exited by itself (a crash the
// final check reports), so that the run goes on.
func (m *nemesis) restartCrashed() {
	for i := range m.c.nodes {
		if !m.c.running(i) {
			m.logf("%s is not running (crashed): restarting it", m.c.nodes[i].id)
			m.start(i)
		}
	}
}

// healAll ends every fault: links unblocked, paused nodes continued,
// stopped ones started.
func (m *nemesis) healAll() {
	m.c.net.heal()
	for i := range m.c.nodes {
		m.c.signal(i, syscall.SIGCONT)
	}
	m.restartCrashed()
	m.logf("%7.1fs healed: every link open, every node running", float64(m.h.now())/1e9)
}
