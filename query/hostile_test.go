//go:build hostile

package query

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"testing"
)

// TestHostileManyClientIPs replays a flood from many addresses over real
// connections (Linux routes all of 127.0.0.0/8 to loopback): every
// address gets its own bucket until the map is full, after which the
// least recently used are evicted, so the map never exceeds its bound;
// an address that exceeds its own rate is refused regardless.
func TestHostileManyClientIPs(t *testing.T) {
	srv, _ := startEdgeServer(t, func(c *Config) {
		c.Rate.IPRate, c.Rate.IPBurst = 1, 2
		c.Rate.StoreRate = 0
		c.Rate.Buckets = 500
	})
	addr := srv.Addr()
	get := func(from net.IP) int {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: from}}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial from %s: %v", from, err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", popular)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("answer to %s: %v", from, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	const clients = 5000
	for i := range clients {
		ip := net.IPv4(127, 1+byte(i>>16), byte(i>>8), byte(i))
		if code := get(ip); code != 200 {
			t.Fatalf("first request from new client %s: %d", ip, code)
		}
	}
	if n := srv.edge.ips.len(); n > 500 {
		t.Fatalf("%d client buckets after %d clients, bound 500", n, clients)
	}
	// One address still cannot exceed its own rate.
	ip := net.IPv4(127, 9, 9, 9)
	codes := []int{get(ip), get(ip), get(ip)}
	if codes[2] != 429 {
		t.Fatalf("a third request within the burst of 2: %v", codes)
	}
}
