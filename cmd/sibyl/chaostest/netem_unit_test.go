package chaostest

import (
	"bufio"
	"net"
	"os"
	"testing"
	"time"
)

// The proxy network on its own (fast; part of `make test`): the test
// process plays node 0 (its pid is node 0's), an echo server plays node
// 1's Raft port, UDP sockets play the gossip ports.
func TestNetemPartitionAndHeal(t *testing.T) {
	e := newNetem(2, func(i int) int {
		if i == 0 {
			return os.Getpid()
		}
		return 0
	})
	defer e.close()

	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	got := make(chan string, 10) // lines node 1 received
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() {
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					got <- line
					c.Write([]byte(line))
				}
			}()
		}
	}()
	public := freeAddr(t)
	if err := e.proxyTCP(1, public, echo.Addr().String()); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", public)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	roundTrip := func(line string, wantDelivered, wantEcho bool) {
		t.Helper()
		if _, err := c.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
		select {
		case l := <-got:
			if !wantDelivered || l != line {
				t.Fatalf("node 1 received %q (want delivered: %v)", l, wantDelivered)
			}
		case <-time.After(300 * time.Millisecond):
			if wantDelivered {
				t.Fatalf("%q not delivered", line)
			}
		}
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		l, err := r.ReadString('\n')
		if wantEcho && (err != nil || l != line) {
			t.Fatalf("echo of %q: %q %v", line, l, err)
		}
		if !wantEcho && err == nil {
			t.Fatalf("echo %q arrived through a blocked link", l)
		}
	}
	roundTrip("a\n", true, true)
	// The origin was found: blocking 0 -> 1 holds what node 0 sends.
	e.block(0, 1)
	roundTrip("b\n", false, false)
	e.heal()
	// Held bytes are delivered after healing, in order.
	select {
	case l := <-got:
		if l != "b\n" {
			t.Fatalf("after heal node 1 received %q", l)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("held bytes not delivered after heal")
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if l, err := r.ReadString('\n'); err != nil || l != "b\n" {
		t.Fatalf("echo after heal: %q %v", l, err)
	}
	// One direction only: node 1 hears node 0 but its answer is held.
	e.block(1, 0)
	roundTrip("c\n", true, false)
	e.heal()
	if n := e.unknown.Load(); n != 0 {
		t.Fatalf("%d connections of unknown origin", n)
	}

	// UDP: node 0's gossip socket sends to node 1's proxy.
	g0, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer g0.Close()
	g1, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer g1.Close()
	e.gossipPort[g0.LocalAddr().(*net.UDPAddr).Port] = 0
	e.gossipPort[g1.LocalAddr().(*net.UDPAddr).Port] = 1
	pub := freeAddr(t)
	if err := e.proxyUDP(1, pub, g1.LocalAddr().String()); err != nil {
		t.Fatal(err)
	}
	dst, _ := net.ResolveUDPAddr("udp", pub)
	udp := func(msg string, want bool) {
		t.Helper()
		g0.WriteTo([]byte(msg), dst)
		g1.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		buf := make([]byte, 100)
		n, _, err := g1.ReadFrom(buf)
		if want && (err != nil || string(buf[:n]) != msg) {
			t.Fatalf("UDP %q: got %q %v", msg, buf[:n], err)
		}
		if !want && err == nil {
			t.Fatalf("UDP %q crossed a partition", buf[:n])
		}
	}
	udp("ping1", true)
	e.isolate(1)
	udp("ping2", false)
	e.heal()
	udp("ping3", true)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
