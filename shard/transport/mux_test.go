package transport

import (
	"errors"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/sibylhq/sibyl/cluster/tlsconf"
)

func listen(t *testing.T) *Mux {
	t.Helper()
	m, err := Listen("127.0.0.1:0", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func layer(t *testing.T, m *Mux, group string) *Layer {
	t.Helper()
	l, err := m.Layer(group)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestRoutesConnectionsByGroup(t *testing.T) {
	m1, m2 := listen(t), listen(t)
	a1, b1 := layer(t, m1, "a"), layer(t, m1, "shard-17")
	a2, b2 := layer(t, m2, "a"), layer(t, m2, "shard-17")
	addr := a2.Addr().String()
	if addr != m2.Addr().String() || b2.Addr().String() != addr {
		t.Fatalf("layers must advertise the shared address, got %s", addr)
	}

	for _, tc := range []struct {
		from, to *Layer
		msg      string
	}{{a1, a2, "to a"}, {b1, b2, "to shard-17"}} {
		c, err := tc.from.Dial(raftAddr(tc.to), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte(tc.msg)); err != nil {
			t.Fatal(err)
		}
		s, err := tc.to.Accept()
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, len(tc.msg))
		if _, err := io.ReadFull(s, buf); err != nil || string(buf) != tc.msg {
			t.Fatalf("group %s got %q, %v; want %q", tc.to.group, buf, err, tc.msg)
		}
		// The reply path works too.
		if _, err := s.Write([]byte("ok")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf[:2]); err != nil || string(buf[:2]) != "ok" {
			t.Fatalf("reply %q, %v", buf[:2], err)
		}
		c.Close()
	}
}

func TestUnknownGroupAndBadHeaderAreClosed(t *testing.T) {
	m1, m2 := listen(t), listen(t)
	ghost := layer(t, m1, "ghost")
	c, err := ghost.Dial(raft.ServerAddress(m2.Addr().String()), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("conn for unknown group: read err %v, want EOF", err)
	}
	raw, err := net.Dial("tcp", m2.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.Write([]byte("GET / HTTP/1.1\r\n"))
	raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	// EOF or reset (unread bytes), but not a timeout: the mux hung up.
	_, err = raw.Read(make([]byte, 1))
	var ne net.Error
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("conn with bad header: read err %v, want closed", err)
	}
}

func TestLayerCloseUnregistersAndClosesConns(t *testing.T) {
	m1, m2 := listen(t), listen(t)
	from := layer(t, m1, "g")
	to, err := m2.Layer("g")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m2.Layer("g"); !errors.Is(err, ErrGroupRegistered) {
		t.Fatalf("second registration err = %v", err)
	}
	c, err := from.Dial(raft.ServerAddress(m2.Addr().String()), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := to.Accept(); err != nil {
		t.Fatal(err)
	}
	to.Close()
	if _, err := to.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close = %v", err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("accepted conn not closed with its layer: %v", err)
	}
	// The id is free again.
	again, err := m2.Layer("g")
	if err != nil {
		t.Fatal(err)
	}
	again.Close()
}

func TestListenRejectsUnspecifiedAdvertise(t *testing.T) {
	if m, err := Listen("0.0.0.0:0", "", nil); err == nil {
		m.Close()
		t.Fatal("0.0.0.0 without advertise address accepted")
	}
	m, err := Listen("0.0.0.0:0", "127.0.0.1:9", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Addr().String() != "127.0.0.1:9" {
		t.Fatalf("advertise = %s", m.Addr())
	}
}

func raftAddr(l *Layer) raft.ServerAddress { return raft.ServerAddress(l.Addr().String()) }

// tlsMux makes a mux whose connections need the cluster CA's
// certificates, from a fresh CA in a temporary directory.
func tlsMux(t *testing.T, caDir, name string) *Mux {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := tlsconf.CreateNodeCert(caDir, tlsconf.NodeCert{Node: name}, dir); err != nil {
		t.Fatal(err)
	}
	b, err := tlsconf.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Listen("127.0.0.1:0", "", nil, WithTLS(b.ServerConfig(), b.ClientConfig()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func newCA(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ca")
	if err := tlsconf.CreateCA(dir, 0); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Cluster peers talk through TLS; a peer without a certificate, or with
// one of another CA, never reaches the group.
func TestTLSOnlyAdmitsClusterCertificates(t *testing.T) {
	ca := newCA(t)
	m1, m2 := tlsMux(t, ca, "n1"), tlsMux(t, ca, "n2")
	from, to := layer(t, m1, "g"), layer(t, m2, "g")
	c, err := from.Dial(raftAddr(to), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	s, err := to.Accept()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2)
	if _, err := io.ReadFull(s, buf); err != nil || string(buf) != "hi" {
		t.Fatalf("got %q, %v", buf, err)
	}

	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := to.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	plain := layer(t, listen(t), "g")
	foreign := layer(t, tlsMux(t, newCA(t), "n1"), "g")
	for name, l := range map[string]*Layer{"plain TCP": plain, "foreign CA": foreign} {
		c, err := l.Dial(raftAddr(to), time.Second)
		if err == nil {
			c.Write([]byte("AppendEntries"))
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = c.Read(make([]byte, 1))
			c.Close()
		}
		var ne net.Error
		if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
			t.Errorf("%s: connection not refused (err %v)", name, err)
		}
	}
	select {
	case c := <-accepted:
		t.Fatalf("a connection without the cluster certificate reached the group: %v", c.RemoteAddr())
	case <-time.After(200 * time.Millisecond):
	}
}
