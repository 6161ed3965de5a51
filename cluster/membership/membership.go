// Package membership is Sibyl's failure detector and address book, a thin
// wrapper around hashicorp/memberlist (SWIM gossip; Das, Gupta and
// Motivala, DSN 2002). It is memberlist's only importer.
//
// Each member advertises its node id, HTTP address and Raft address in
// memberlist's node metadata. The package keeps its own view of every
// member it has seen, with the state (alive, suspect, failed, left) and
// when that state began, because memberlist forgets dead nodes after a
// while and the meta leader's reconciler needs "failed since when" to apply
// its grace period. A node never decides placement from this view; it only
// feeds the reconciler and the router's address lookups.
package membership

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/sibylhq/sibyl/cluster/reconcile"
	"github.com/sibylhq/sibyl/internal/logbridge"
	"github.com/sibylhq/sibyl/internal/periodic"
)

// Meta is what a node advertises about itself.
type Meta struct {
	ID       string `json:"id"`
	HTTPAddr string `json:"http"`
	RaftAddr string `json:"raft"`
	// Draining asks the meta leader to move this node's replicas away.
	Draining bool `json:"drain,omitempty"`
	// Leaving is gossiped just before a graceful leave. memberlist's public
	// API does not say whether a node left or died (the state in the
	// callback's Node is never updated), so the leaver says it first.
	Leaving bool `json:"leave,omitempty"`
}

// GossipKeySize is the length of a gossip key (AES-256).
const GossipKeySize = 32

// ParseKeys reads gossip keys: base64 (standard encoding) of 32 bytes
// each, comma-separated, the primary first.
func ParseKeys(s string) ([][]byte, error) {
	var keys [][]byte
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, err := base64.StdEncoding.DecodeString(part)
		if err != nil {
			return nil, fmt.Errorf("gossip key %d is not base64: %w", i+1, err)
		}
		if len(k) != GossipKeySize {
			return nil, fmt.Errorf("gossip key %d is %d bytes, want %d (make one with `sibyl tls gossip-key`)", i+1, len(k), GossipKeySize)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// NewKey returns a new random gossip key, base64-encoded.
func NewKey() (string, error) {
	k := make([]byte, GossipKeySize)
	if _, err := rand.Read(k); err != nil {
		return "", fmt.Errorf("cannot draw a gossip key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(k), nil
}

// metaLimit is memberlist's cap on node metadata (memberlist.MetaMaxSize).
const metaLimit = memberlist.MetaMaxSize

// Member is one node in the local view.
type Member struct {
	Meta
	// GossipAddr is the member's memberlist address (host:port).
	GossipAddr string
	// State is never Suspect: memberlist keeps suspicion internal (its
	// exported Node.State is not maintained), so a member goes from Alive
	// straight to Failed (node/peercheck.go reports unverified members as
	// Suspect on top).
	State reconcile.MemberState
	// Since is when this node observed the member enter State.
	Since time.Time
}

// Errors callers branch on.
var (
	ErrBadConfig = errors.New("invalid membership config")
	ErrStopped   = errors.New("membership stopped")
)

// Config configures a member.
type Config struct {
	// NodeID names the node; unique in the cluster and stable across restarts.
	NodeID string
	// BindAddr is the gossip listen address (UDP and TCP, host:port). Port 0
	// picks a free port; Addr reports it.
	BindAddr string
	// AdvertiseAddr is the gossip address other members dial (host:port);
	// empty means derive it from BindAddr.
	AdvertiseAddr string
	// HTTPAddr and RaftAddr are advertised in the node metadata.
	HTTPAddr string
	RaftAddr string
	// Seeds are gossip addresses to join at start and whenever this node
	// finds itself alone (its own address is skipped).
	Seeds []string
	// RejoinInterval is how often the rejoin loop runs.
	RejoinInterval time.Duration
	// ReconnectTimeout is how long the rejoin loop keeps dialling failed
	// members, so that both sides of a healed partition merge again.
	ReconnectTimeout time.Duration
	// TombstoneTTL is how long failed and left members stay in the view.
	TombstoneTTL time.Duration

	// Failure-detector timing, passed to memberlist. The defaults are
	// memberlist's LAN profile.
	ProbeInterval    time.Duration
	ProbeTimeout     time.Duration
	GossipInterval   time.Duration
	PushPullInterval time.Duration
	SuspicionMult    int
	TCPTimeout       time.Duration
	// Keys encrypt and authenticate all gossip (AES-GCM, memberlist's
	// keyring): Keys[0] encrypts, every key decrypts, so a rotation can
	// add a key everywhere before it becomes the primary. Without keys
	// gossip is plain and anyone reaching the port can join.
	Keys [][]byte

	// DeadNodeReclaimTime lets a restarted node reuse its id from a new
	// address (a rescheduled container) after this long.
	DeadNodeReclaimTime time.Duration

	Logger *slog.Logger
}

// DefaultConfig returns a config for a LAN cluster on the default gossip
// port 7946. NodeID, HTTPAddr and RaftAddr must still be set.
func DefaultConfig() Config {
	lan := memberlist.DefaultLANConfig()
	return Config{
		BindAddr:            "0.0.0.0:7946",
		RejoinInterval:      5 * time.Second,
		ReconnectTimeout:    24 * time.Hour,
		TombstoneTTL:        72 * time.Hour,
		ProbeInterval:       lan.ProbeInterval,
		ProbeTimeout:        lan.ProbeTimeout,
		GossipInterval:      lan.GossipInterval,
		PushPullInterval:    lan.PushPullInterval,
		SuspicionMult:       lan.SuspicionMult,
		TCPTimeout:          lan.TCPTimeout,
		DeadNodeReclaimTime: 30 * time.Second,
	}
}

// Validate checks the config.
func (c Config) Validate() error {
	if c.NodeID == "" {
		return fmt.Errorf("%w: node id is required", ErrBadConfig)
	}
	if _, _, err := splitHostPort(c.BindAddr); err != nil {
		return fmt.Errorf("%w: bind address: %v", ErrBadConfig, err)
	}
	if c.AdvertiseAddr != "" {
		if _, _, err := splitHostPort(c.AdvertiseAddr); err != nil {
			return fmt.Errorf("%w: advertise address: %v", ErrBadConfig, err)
		}
	}
	for _, s := range c.Seeds {
		if _, _, err := net.SplitHostPort(s); err != nil {
			return fmt.Errorf("%w: seed %q: %v", ErrBadConfig, s, err)
		}
	}
	if c.RejoinInterval <= 0 || c.ProbeInterval <= 0 || c.ProbeTimeout <= 0 || c.GossipInterval <= 0 ||
		c.PushPullInterval <= 0 || c.TCPTimeout <= 0 {
		return fmt.Errorf("%w: intervals and timeouts must be positive", ErrBadConfig)
	}
	if c.ProbeTimeout >= c.ProbeInterval {
		return fmt.Errorf("%w: probe timeout %v must be shorter than the probe interval %v", ErrBadConfig, c.ProbeTimeout, c.ProbeInterval)
	}
	if c.SuspicionMult < 1 {
		return fmt.Errorf("%w: suspicion multiplier must be at least 1", ErrBadConfig)
	}
	if c.ReconnectTimeout < 0 || c.TombstoneTTL < 0 || c.DeadNodeReclaimTime < 0 {
		return fmt.Errorf("%w: durations must not be negative", ErrBadConfig)
	}
	for i, k := range c.Keys {
		if len(k) != GossipKeySize {
			return fmt.Errorf("%w: gossip key %d is %d bytes, want %d", ErrBadConfig, i+1, len(k), GossipKeySize)
		}
	}
	if n := len(encodeMeta(c.meta(true, true))); n > metaLimit {
		return fmt.Errorf("%w: node metadata is %d bytes, memberlist allows %d", ErrBadConfig, n, metaLimit)
	}
	return nil
}

func (c Config) meta(draining, leaving bool) Meta {
	return Meta{ID: c.NodeID, HTTPAddr: c.HTTPAddr, RaftAddr: c.RaftAddr, Draining: draining, Leaving: leaving}
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	return host, port, nil
}

func encodeMeta(m Meta) []byte {
	b, _ := json.Marshal(m) // a struct of strings and a bool cannot fail
	return b
}

// Membership is a running member. Its methods are safe for concurrent use.
type Membership struct {
	cfg  Config
	log  *slog.Logger
	list *memberlist.Memberlist

	mu       sync.Mutex
	draining bool
	leaving  bool
	members  map[string]*Member
	subs     map[int]chan struct{}
	nextSub  int
	stopped  bool
	reconRR  int // round-robin cursor over failed members to redial
	cancel   context.CancelFunc
	loopDone chan struct{}
	stopOnce sync.Once
}

// New starts a member: it binds the gossip port, tries the seeds once (a
// seed that is not up yet is not an error) and starts the rejoin loop,
// which runs until Leave or Shutdown.
func New(cfg Config) (*Membership, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	lg := cfg.Logger
	if lg == nil {
		lg = slog.Default()
	}
	m := &Membership{
		cfg:      cfg,
		log:      lg.With("component", "membership", "node", cfg.NodeID),
		members:  make(map[string]*Member),
		subs:     make(map[int]chan struct{}),
		loopDone: make(chan struct{}),
	}
	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.NodeID
	host, port, _ := splitHostPort(cfg.BindAddr)
	mc.BindAddr, mc.BindPort = host, port
	if cfg.AdvertiseAddr != "" {
		mc.AdvertiseAddr, mc.AdvertisePort, _ = splitHostPort(cfg.AdvertiseAddr)
	} else if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
		// Advertise the bound address; with port 0 memberlist fills in
		// the port it got.
		mc.AdvertiseAddr, mc.AdvertisePort = host, port
	}
	mc.ProbeInterval = cfg.ProbeInterval
	mc.ProbeTimeout = cfg.ProbeTimeout
	mc.GossipInterval = cfg.GossipInterval
	mc.PushPullInterval = cfg.PushPullInterval
	mc.SuspicionMult = cfg.SuspicionMult
	mc.TCPTimeout = cfg.TCPTimeout
	mc.DeadNodeReclaimTime = cfg.DeadNodeReclaimTime
	if len(cfg.Keys) > 0 {
		ring, err := memberlist.NewKeyring(cfg.Keys, cfg.Keys[0])
		if err != nil {
			return nil, fmt.Errorf("%w: gossip keys: %v", ErrBadConfig, err)
		}
		// Verify both ways (memberlist's defaults, stated here because
		// they are the point): unencrypted gossip is dropped.
		mc.Keyring, mc.GossipVerifyIncoming, mc.GossipVerifyOutgoing = ring, true, true
	}
	mc.Events = (*events)(m)
	mc.Delegate = (*delegate)(m)
	mc.Logger = logbridge.StandardLogger(m.log, logbridge.Options{Name: "memberlist"})
	list, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("cannot start gossip on %s: %w", cfg.BindAddr, err)
	}
	m.list = list
	m.log.Debug("gossip started", "addr", m.Addr())
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	if len(m.seeds()) > 0 {
		m.joinSeeds()
	}
	go m.rejoinLoop(ctx)
	return m, nil
}

// Addr returns the gossip address other members should use as a seed.
func (m *Membership) Addr() string {
	n := m.list.LocalNode()
	return net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
}

// Local returns this node's own entry.
func (m *Membership) Local() Member {
	// Addr takes memberlist's lock, which memberlist holds while calling
	// our callbacks (which take m.mu): never hold m.mu across it.
	addr := m.Addr()
	m.mu.Lock()
	defer m.mu.Unlock()
	return Member{Meta: m.cfg.meta(m.draining, m.leaving), GossipAddr: addr, State: reconcile.Alive}
}

// Members returns the view, sorted by id: every member seen alive,
// failed or left (until TombstoneTTL), this node included.
func (m *Membership) Members() []Member {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Member, 0, len(m.members))
	for _, rec := range m.members {
		out = append(out, *rec)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Member returns one member of the view by id.
func (m *Membership) Member(id string) (Member, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, ok := m.members[id]
	if !ok {
		return Member{}, false
	}
	return *rec, true
}

// Subscribe returns a channel that receives a value after view changes
// (coalesced: one pending signal at most) and a function that ends the
// subscription. Subscribers re-read Members; suspect transitions are only
// seen by reading, not signalled.
func (m *Membership) Subscribe() (<-chan struct{}, func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := m.nextSub
	m.nextSub++
	ch := make(chan struct{}, 1)
	m.subs[id] = ch
	return ch, func() {
		m.mu.Lock()
		delete(m.subs, id)
		m.mu.Unlock()
	}
}

func (m *Membership) notifyLocked() {
	for _, ch := range m.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Join contacts the given gossip addresses and returns how many answered.
func (m *Membership) Join(addrs []string) (int, error) {
	n, err := m.list.Join(addrs)
	if err != nil && n == 0 {
		return 0, fmt.Errorf("cannot join %v: %w", addrs, err)
	}
	return n, nil
}

// SetDraining flips the draining flag in this node's metadata and gossips
// it; the meta leader then moves this node's replicas away.
func (m *Membership) SetDraining(draining bool) error {
	m.mu.Lock()
	if m.stopped {
		m.mu.Unlock()
		return ErrStopped
	}
	m.draining = draining
	m.mu.Unlock()
	if err := m.list.UpdateNode(m.cfg.TCPTimeout); err != nil {
		return fmt.Errorf("cannot gossip draining=%v: %w", draining, err)
	}
	return nil
}

// Leave announces a graceful leave (others see Left, not Failed), waits up
// to timeout for the announcement to spread, and shuts down.
func (m *Membership) Leave(timeout time.Duration) error {
	if !m.stop() {
		return ErrStopped
	}
	m.mu.Lock()
	m.leaving = true
	m.mu.Unlock()
	// Say "leaving" in the metadata first so that others record Left, not
	// Failed, when the leave itself arrives.
	err := m.list.UpdateNode(timeout / 2)
	if lerr := m.list.Leave(timeout / 2); err == nil {
		err = lerr
	}
	if serr := m.list.Shutdown(); err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("cannot leave the cluster: %w", err)
	}
	return nil
}

// Shutdown stops gossiping without a leave announcement: others will see
// this node fail. Use it for crash-like stops in tests; Leave otherwise.
// Leave and Shutdown wait for the rejoin loop, which may be inside a dial
// of an unreachable peer: at most TCPTimeout.
func (m *Membership) Shutdown() error {
	if !m.stop() {
		return nil
	}
	if err := m.list.Shutdown(); err != nil {
		return fmt.Errorf("cannot stop gossip: %w", err)
	}
	return nil
}

// stop ends the rejoin loop and waits for it; it reports whether this call
// did the stopping.
func (m *Membership) stop() bool {
	first := false
	m.stopOnce.Do(func() {
		first = true
		m.mu.Lock()
		m.stopped = true
		m.mu.Unlock()
		m.cancel()
		<-m.loopDone
	})
	return first
}

func (m *Membership) seeds() []string {
	self := m.Addr()
	var out []string
	for _, s := range m.cfg.Seeds {
		if s != self && s != m.cfg.AdvertiseAddr && s != m.cfg.BindAddr {
			out = append(out, s)
		}
	}
	return out
}

func (m *Membership) joinSeeds() {
	seeds := m.seeds()
	n, err := m.list.Join(seeds)
	if err != nil && n == 0 {
		m.log.Warn("cannot reach any seed", "seeds", seeds, "err", err)
		return
	}
	m.log.Info("joined cluster", "seeds_answered", n)
}

// rejoinLoop keeps a node that lost everyone trying its seeds, redials
// failed members (partition healing) and drops old tombstones.
func (m *Membership) rejoinLoop(ctx context.Context) {
	defer close(m.loopDone)
	periodic.Run(ctx, m.cfg.RejoinInterval, func() {
		if m.list.NumMembers() <= 1 && len(m.seeds()) > 0 {
			m.joinSeeds()
			return
		}
		if addr := m.nextFailedAddr(time.Now()); addr != "" {
			// An error is the normal case: the member is still down.
			if _, err := m.list.Join([]string{addr}); err == nil {
				m.log.Debug("redialled failed member", "addr", addr)
			}
		}
	})
}

// nextFailedAddr picks the next failed member to redial, round robin, and
// prunes expired tombstones.
func (m *Membership) nextFailedAddr(now time.Time) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var failed []string
	for id, rec := range m.members {
		age := now.Sub(rec.Since)
		if (rec.State == reconcile.Failed || rec.State == reconcile.Left) && age > m.cfg.TombstoneTTL {
			delete(m.members, id)
			m.notifyLocked()
			continue
		}
		if rec.State == reconcile.Failed && age <= m.cfg.ReconnectTimeout {
			failed = append(failed, rec.GossipAddr)
		}
	}
	if len(failed) == 0 {
		return ""
	}
	sort.Strings(failed)
	m.reconRR++
	return failed[m.reconRR%len(failed)]
}

// events receives memberlist's callbacks. They run on memberlist's
// goroutines and must not block.
type events Membership

func (e *events) NotifyJoin(n *memberlist.Node)   { (*Membership)(e).observe(n, reconcile.Alive) }
func (e *events) NotifyUpdate(n *memberlist.Node) { (*Membership)(e).observe(n, reconcile.Alive) }
func (e *events) NotifyLeave(n *memberlist.Node)  { (*Membership)(e).observe(n, reconcile.Failed) }

func (m *Membership) observe(n *memberlist.Node, st reconcile.MemberState) {
	meta := Meta{ID: n.Name}
	if len(n.Meta) > 0 {
		if err := json.Unmarshal(n.Meta, &meta); err != nil {
			m.log.Warn("bad node metadata", "member", n.Name, "err", err)
		}
		if meta.ID != n.Name {
			m.log.Warn("metadata id differs from gossip name; using the name", "member", n.Name, "meta_id", meta.ID)
			meta.ID = n.Name
		}
	}
	addr := net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, ok := m.members[n.Name]
	if !ok {
		rec = &Member{State: st, Since: now}
		m.members[n.Name] = rec
	}
	if st == reconcile.Failed && (meta.Leaving || rec.Leaving) {
		st = reconcile.Left
	}
	if rec.State != st {
		rec.State, rec.Since = st, now
	}
	if len(n.Meta) > 0 {
		rec.Meta = meta
	}
	rec.GossipAddr = addr
	m.log.Debug("member", "member", n.Name, "state", st.String(), "addr", addr)
	m.notifyLocked()
}

// delegate serves this node's metadata to memberlist.
type delegate Membership

func (d *delegate) NodeMeta(limit int) []byte {
	m := (*Membership)(d)
	m.mu.Lock()
	b := encodeMeta(m.cfg.meta(m.draining, m.leaving))
	m.mu.Unlock()
	if len(b) > limit {
		// Validate checked the size; only a memberlist change lands here.
		panic(fmt.Sprintf("node metadata is %d bytes, limit %d", len(b), limit))
	}
	return b
}
func (d *delegate) NotifyMsg([]byte)                {}
func (d *delegate) GetBroadcasts(int, int) [][]byte { return nil }
func (d *delegate) LocalState(bool) []byte          { return nil }
func (d *delegate) MergeRemoteState([]byte, bool)   {}
