package chaostest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// netem is the network between the nodes: a proxy the test owns in front
// of every node's Raft port (TCP), gossip port (TCP and UDP: memberlist
// probes over UDP and pushes state over TCP) and HTTP port (nodes forward
// requests to each other over HTTP). Nodes advertise the proxy addresses,
// so every byte one node sends another passes through here, and a
// partition is a set of blocked ordered pairs (from, to).
//
// Why proxies and not network namespaces: they need no root, no iptables
// and leave nothing behind on the host when the test dies; the test client
// talks to the nodes' real HTTP ports and is never partitioned.
//
// On loopback every connection comes from 127.0.0.1, so the proxy finds
// which node dialed by the dialer's socket: the accepted connection's
// remote port is the dialer's local port, /proc/net/tcp maps it to a socket
// inode, and the node whose /proc/<pid>/fd holds that inode is the origin
// (Linux only, like SIGSTOP). UDP needs no lookup: memberlist sends every
// packet from its bound gossip socket, so the source port is the sending
// node's real gossip port, and it answers pings at the pinger's advertised
// address (the SourceAddr of the ping), not at the packet's source.
//
// A blocked direction stops forwarding: TCP bytes read from the sender are
// held (no more are read, so the sender's buffers fill as they would on a
// dead link) and delivered after healing, as TCP retransmission would;
// the applications' own timeouts usually close the connection first. New
// connections are accepted but carry nothing while blocked. UDP packets
// are dropped.
type netem struct {
	mu      sync.Mutex
	blocked map[[2]int]bool
	healed  chan struct{} // closed (and replaced) whenever links are unblocked
	// pidOf returns the current process id of node i (0 when not running).
	pidOf func(i int) int
	// gossipPort maps a node's real gossip port to its index.
	gossipPort map[int]int
	n          int

	listeners []io.Closer
	unknown   atomic.Int64 // TCP connections whose origin was not found
	unknownAt []string     // when and where the first of them came (under mu)
	wg        sync.WaitGroup
}

func newNetem(n int, pidOf func(int) int) *netem {
	return &netem{blocked: map[[2]int]bool{}, healed: make(chan struct{}), pidOf: pidOf, gossipPort: map[int]int{}, n: n}
}

// gate returns nil when traffic from -> to may flow, else a channel closed
// at the next heal.
func (e *netem) gate(from, to int) <-chan struct{} {
	if from < 0 || to < 0 || from == to {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.blocked[[2]int{from, to}] {
		return nil
	}
	return e.healed
}

// block cuts traffic from -> to (one direction).
func (e *netem) block(from, to int) {
	e.mu.Lock()
	e.blocked[[2]int{from, to}] = true
	e.mu.Unlock()
}

// isolate cuts node i from every other node, both ways.
func (e *netem) isolate(i int) {
	for j := range e.n {
		if j != i {
			e.block(i, j)
			e.block(j, i)
		}
	}
}

// heal unblocks every link and wakes the held connections.
func (e *netem) heal() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.blocked) == 0 {
		return
	}
	e.blocked = map[[2]int]bool{}
	close(e.healed)
	e.healed = make(chan struct{})
}

// proxyTCP forwards connections accepted on public to real, the port of
// node `to`.
func (e *netem) proxyTCP(to int, public, real string) error {
	l, err := net.Listen("tcp", public)
	if err != nil {
		return fmt.Errorf("cannot listen on proxy address %s: %w", public, err)
	}
	e.listeners = append(e.listeners, l)
	port := l.Addr().(*net.TCPAddr).Port
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go e.serveTCP(c, to, port, real)
		}
	}()
	return nil
}

func (e *netem) serveTCP(c net.Conn, to, proxyPort int, real string) {
	dialer := c.RemoteAddr().(*net.TCPAddr).Port
	from := e.originOf(dialer, proxyPort)
	if from < 0 {
		// Seen when the dialing node was killed meanwhile: its socket
		// is gone, and so is the connection. Recorded for the report.
		e.unknown.Add(1)
		e.mu.Lock()
		if len(e.unknownAt) < 20 {
			e.unknownAt = append(e.unknownAt, fmt.Sprintf("%s to node %d (port %d)", time.Now().Format("15:04:05.000"), to, proxyPort))
		}
		e.mu.Unlock()
	}
	// The dial itself is not gated: a blocked connection is accepted and
	// then carries nothing, like a link that drops every segment.
	s, err := net.Dial("tcp", real)
	if err != nil {
		c.Close() // the node is down: the dialer sees a reset, as it would
		return
	}
	var once sync.Once
	closeBoth := func() { once.Do(func() { c.Close(); s.Close() }) }
	go e.pump(c, s, from, to, closeBoth)
	go e.pump(s, c, to, from, closeBoth)
}

// pump copies src to dst while traffic from -> to flows.
func (e *netem) pump(src, dst net.Conn, from, to int, closeBoth func()) {
	defer closeBoth()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			for g := e.gate(from, to); g != nil; g = e.gate(from, to) {
				<-g
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// proxyUDP forwards datagrams arriving on public to real (node `to`'s
// gossip port), dropping those whose direction is blocked.
func (e *netem) proxyUDP(to int, public, real string) error {
	pc, err := net.ListenPacket("udp", public)
	if err != nil {
		return fmt.Errorf("cannot listen on UDP proxy address %s: %w", public, err)
	}
	dst, err := net.ResolveUDPAddr("udp", real)
	if err != nil {
		return fmt.Errorf("bad gossip address %s: %w", real, err)
	}
	e.listeners = append(e.listeners, pc)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		buf := make([]byte, 64<<10)
		for {
			n, src, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			from, ok := e.gossipOrigin(src.(*net.UDPAddr).Port)
			if !ok {
				from = -1
			}
			if e.gate(from, to) != nil {
				continue // dropped: UDP may be lost
			}
			pc.WriteTo(buf[:n], dst)
		}
	}()
	return nil
}

func (e *netem) gossipOrigin(port int) (int, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	i, ok := e.gossipPort[port]
	return i, ok
}

func (e *netem) close() {
	e.heal()
	for _, l := range e.listeners {
		l.Close()
	}
	e.wg.Wait()
}

// originOf returns the node whose socket has local port dialerPort and is
// connected to proxyPort, or -1.
func (e *netem) originOf(dialerPort, proxyPort int) int {
	inode := socketInode(dialerPort, proxyPort)
	if inode == "" {
		return -1
	}
	want := "socket:[" + inode + "]"
	for i := range e.n {
		pid := e.pidOf(i)
		if pid == 0 {
			continue
		}
		dir := fmt.Sprintf("/proc/%d/fd", pid)
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, ent := range ents {
			if l, err := os.Readlink(dir + "/" + ent.Name()); err == nil && l == want {
				return i
			}
		}
	}
	return -1
}

// socketInode finds in /proc/net/tcp{,6} the inode of the socket with
// local port local and remote port remote ("" if none).
func socketInode(local, remote int) string {
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if ino, err := scanTCPTable(f, local, remote); err == nil && ino != "" {
			return ino
		}
	}
	return ""
}

func scanTCPTable(path string, local, remote int) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[0] == "sl" {
			continue
		}
		lp, err1 := hexPort(fields[1])
		rp, err2 := hexPort(fields[2])
		if err1 == nil && err2 == nil && lp == local && rp == remote {
			return fields[9], nil
		}
	}
	return "", sc.Err()
}

// hexPort reads the port of a /proc/net/tcp address ("0100007F:1F90").
func hexPort(addr string) (int, error) {
	_, p, ok := strings.Cut(addr, ":")
	if !ok {
		return 0, errors.New("no port")
	}
	v, err := strconv.ParseUint(p, 16, 16)
	return int(v), err
}
