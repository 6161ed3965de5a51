// Package transport lets every Raft group of a node share one TCP port. The
// dialer writes a small header naming the group on each new connection; the
// listener reads it and hands the connection to that group's
// raft.NetworkTransport through a per-group raft.StreamLayer.
//
// Header: magic byte 0xB5, version 1, length byte, group id (1..255 bytes).
//
// With TLS (WithTLS, the cluster's default), every connection is a mutual
// TLS 1.3 session before the header is sent: the listener completes the
// handshake (the peer must present a certificate of the cluster CA) and
// only then reads the header, so a peer without the credentials cannot
// reach any group or the control calls.
package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// DefaultRaftAddr is the address a single node binds for Raft when none is
// configured. 7946 is memberlist's default gossip port, so Raft takes 7947.
const DefaultRaftAddr = "127.0.0.1:7947"

const (
	headerMagic   = 0xB5
	headerVersion = 1
	// maxPending bounds connections that have not finished their TLS
	// handshake and header: every network input is hostile, and each
	// pending connection holds a goroutine and a handshake's memory.
	maxPending = 512
)

var (
	// ErrClosed is returned by Accept and Layer after Close.
	ErrClosed = fmt.Errorf("raft stream layer closed: %w", net.ErrClosed)
	// ErrGroupRegistered is returned when a group already has a layer.
	ErrGroupRegistered = errors.New("raft group already registered on this port")
)

// Mux is one node's shared Raft listener.
type Mux struct {
	ln            net.Listener
	advertise     net.Addr
	logger        *slog.Logger
	headerTimeout time.Duration
	serverTLS     *tls.Config // nil: plain TCP
	clientTLS     *tls.Config

	mu      sync.Mutex
	groups  map[string]*Layer
	pending map[net.Conn]struct{} // connections whose header is being read
	closed  bool
	done    chan struct{}
	wg      sync.WaitGroup
}

// Option configures a Mux.
type Option func(*Mux)

// WithTLS makes every connection a TLS session: server for accepted
// connections, client for dialled ones (both from cluster/tlsconf, which
// requires and verifies certificates of the cluster CA both ways).
func WithTLS(server, client *tls.Config) Option {
	return func(m *Mux) { m.serverTLS, m.clientTLS = server, client }
}

// Listen binds addr. advertise is the address peers dial ("" = the bound
// address, which must then be a specific IP, not 0.0.0.0).
func Listen(addr, advertise string, logger *slog.Logger, opts ...Option) (*Mux, error) {
	if logger == nil {
		logger = slog.Default()
	}
	probe := &Mux{}
	for _, o := range opts {
		o(probe)
	}
	if (probe.serverTLS == nil) != (probe.clientTLS == nil) {
		return nil, errors.New("raft TLS needs both the server and the client configuration")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen for raft on %s: %w", addr, err)
	}
	var adv net.Addr = ln.Addr()
	if advertise != "" {
		a, err := net.ResolveTCPAddr("tcp", advertise)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("bad raft advertise address %q: %w", advertise, err)
		}
		adv = a
	}
	if ta, ok := adv.(*net.TCPAddr); !ok || ta.IP == nil || ta.IP.IsUnspecified() {
		ln.Close()
		return nil, fmt.Errorf("raft advertise address %v is not dialable: set an advertise address", adv)
	}
	m := &Mux{
		ln:            ln,
		advertise:     adv,
		logger:        logger.With("raft_addr", adv.String()),
		headerTimeout: 5 * time.Second,
		serverTLS:     probe.serverTLS,
		clientTLS:     probe.clientTLS,
		groups:        make(map[string]*Layer),
		pending:       make(map[net.Conn]struct{}),
		done:          make(chan struct{}),
	}
	m.wg.Add(1)
	go m.acceptLoop()
	return m, nil
}

// Addr is the advertised address.
func (m *Mux) Addr() net.Addr { return m.advertise }

func (m *Mux) acceptLoop() {
	defer m.wg.Done()
	for {
		conn, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.done:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			m.logger.Error("raft accept failed", "err", err)
			select {
			case <-m.done:
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			conn.Close()
			return
		}
		if len(m.pending) >= maxPending {
			m.mu.Unlock()
			m.logger.Warn("too many raft connections still in their handshake; dropping one", "remote", conn.RemoteAddr().String())
			conn.Close()
			continue
		}
		m.pending[conn] = struct{}{}
		m.wg.Add(1)
		m.mu.Unlock()
		go m.route(conn)
	}
}

// route reads the header and hands conn to its group, off the accept loop
// so that one slow peer cannot stall the others.
func (m *Mux) route(raw net.Conn) {
	defer m.wg.Done()
	conn, err := m.secure(raw)
	var group string
	if err == nil {
		group, err = readHeader(conn, m.headerTimeout)
	}
	m.mu.Lock()
	delete(m.pending, raw)
	l := m.groups[group]
	m.mu.Unlock()
	if err != nil {
		m.logger.Warn("refused raft connection", "remote", raw.RemoteAddr().String(), "err", err)
		conn.Close()
		return
	}
	if l == nil {
		// The group may not be started yet; the peer's transport retries.
		m.logger.Debug("raft connection for unknown group", "group", group)
		conn.Close()
		return
	}
	l.deliver(conn, m.done)
}

// secure completes the server side of the TLS handshake (a no-op without
// TLS). An error means the peer is not a cluster node (or too slow).
func (m *Mux) secure(raw net.Conn) (net.Conn, error) {
	if m.serverTLS == nil {
		return raw, nil
	}
	c := tls.Server(raw, m.serverTLS)
	ctx, cancel := context.WithTimeout(context.Background(), m.headerTimeout)
	defer cancel()
	if err := c.HandshakeContext(ctx); err != nil {
		return raw, fmt.Errorf("TLS handshake: %w", err)
	}
	return c, nil
}

func readHeader(conn net.Conn, timeout time.Duration) (string, error) {
	if err := conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return "", err
	}
	var h [3]byte
	if _, err := io.ReadFull(conn, h[:]); err != nil {
		return "", err
	}
	if h[0] != headerMagic || h[1] != headerVersion || h[2] == 0 {
		return "", fmt.Errorf("unexpected header %x", h)
	}
	id := make([]byte, h[2])
	if _, err := io.ReadFull(conn, id); err != nil {
		return "", err
	}
	return string(id), conn.SetReadDeadline(time.Time{})
}

// Layer returns the raft.StreamLayer of group, registering it. Closing the
// layer (raft's NetworkTransport does on Close) unregisters it.
func (m *Mux) Layer(group string) (*Layer, error) {
	if group == "" || len(group) > 255 {
		return nil, fmt.Errorf("raft group id %q must be 1..255 bytes", group)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	if _, ok := m.groups[group]; ok {
		return nil, fmt.Errorf("group %s: %w", group, ErrGroupRegistered)
	}
	l := &Layer{
		mux:      m,
		group:    group,
		acceptCh: make(chan net.Conn),
		closed:   make(chan struct{}),
		conns:    make(map[*trackedConn]struct{}),
	}
	m.groups[group] = l
	return l, nil
}

// Close stops accepting, closes connections still reading their header and
// waits for the mux's goroutines. Layers must be closed by their owners.
func (m *Mux) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	close(m.done)
	err := m.ln.Close()
	for c := range m.pending {
		c.Close()
	}
	m.mu.Unlock()
	m.wg.Wait()
	return err
}

// Layer is one group's raft.StreamLayer on the shared port.
type Layer struct {
	mux      *Mux
	group    string
	acceptCh chan net.Conn
	closed   chan struct{}
	once     sync.Once

	mu    sync.Mutex
	conns map[*trackedConn]struct{} // accepted, still open
}

var _ raft.StreamLayer = (*Layer)(nil)

func (l *Layer) deliver(conn net.Conn, muxDone <-chan struct{}) {
	tc := &trackedConn{Conn: conn, layer: l}
	l.mu.Lock()
	select {
	case <-l.closed:
		l.mu.Unlock()
		conn.Close()
		return
	default:
	}
	l.conns[tc] = struct{}{}
	l.mu.Unlock()
	select {
	case l.acceptCh <- tc:
	case <-l.closed:
		tc.Close()
	case <-muxDone:
		tc.Close()
	}
}

// Accept returns the next connection addressed to this group.
func (l *Layer) Accept() (net.Conn, error) {
	select {
	case c := <-l.acceptCh:
		return c, nil
	case <-l.closed:
		return nil, ErrClosed
	}
}

// Close unregisters the group and closes the connections it accepted, so
// the transport's per-connection goroutines end.
func (l *Layer) Close() error {
	l.once.Do(func() {
		l.mux.mu.Lock()
		if l.mux.groups[l.group] == l {
			delete(l.mux.groups, l.group)
		}
		l.mux.mu.Unlock()
		l.mu.Lock()
		close(l.closed)
		conns := make([]*trackedConn, 0, len(l.conns))
		for c := range l.conns {
			conns = append(conns, c)
		}
		l.mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return nil
}

// Addr is the node's advertised Raft address.
func (l *Layer) Addr() net.Addr { return l.mux.advertise }

// Dial connects to the same group on another node.
func (l *Layer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	conn, err := net.DialTimeout("tcp", string(address), timeout)
	if err != nil {
		return nil, err
	}
	if cfg := l.mux.clientTLS; cfg != nil {
		ctx, cancel := context.Background(), context.CancelFunc(func() {})
		if timeout > 0 {
			ctx, cancel = context.WithTimeout(ctx, timeout)
		}
		tc := tls.Client(conn, cfg)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("TLS handshake with raft peer %s: %w", address, err)
		}
		conn = tc
	}
	h := make([]byte, 0, 3+len(l.group))
	h = append(h, headerMagic, headerVersion, byte(len(l.group)))
	h = append(h, l.group...)
	if timeout > 0 {
		_ = conn.SetWriteDeadline(time.Now().Add(timeout))
	}
	if _, err := conn.Write(h); err != nil {
		conn.Close()
		return nil, fmt.Errorf("cannot send raft header to %s: %w", address, err)
	}
	_ = conn.SetWriteDeadline(time.Time{})
	return conn, nil
}

type trackedConn struct {
	net.Conn
	layer *Layer
	once  sync.Once
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.layer.mu.Lock()
		delete(c.layer.conns, c)
		c.layer.mu.Unlock()
	})
	return err
}

// DialAddr is Dial for callers that do not speak raft's types: the layer
// then carries any stream protocol (the node's control calls use HTTP).
func (l *Layer) DialAddr(address string, timeout time.Duration) (net.Conn, error) {
	return l.Dial(raft.ServerAddress(address), timeout)
}
