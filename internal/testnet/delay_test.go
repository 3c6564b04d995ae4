package testnet

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// echoServer answers every connection with what it reads, and half-closes at the end.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
				_ = c.(*net.TCPConn).CloseWrite()
			}()
		}
	}()
	return ln.Addr().String()
}

// The proxy holds each direction the delay (a round trip takes at least twice as long), passes
// bytes intact and in order, follows a half-close, counts what it carried, and applies a
// changed delay to a connection already open.
func TestDelayProxy(t *testing.T) {
	var delay atomic.Int64
	var stats hopStats
	const d = 60 * time.Millisecond
	delay.Store(int64(d))
	p, err := newDelayProxy(echoServer(t), &delay, &stats)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(p.port()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)

	start := time.Now()
	if _, err := io.WriteString(c, "ping\n"); err != nil {
		t.Fatal(err)
	}
	line, err := br.ReadString('\n')
	if err != nil || line != "ping\n" {
		t.Fatalf("echo %q, %v", line, err)
	}
	if rtt := time.Since(start); rtt < 2*d {
		t.Errorf("a round trip through a %v proxy took %v, less than twice the delay", d, rtt)
	}

	delay.Store(0) // the open connection follows the change
	data := make([]byte, 1<<20)
	_, _ = rand.Read(data)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		errc <- err
	}()
	got, err := io.ReadAll(br)
	if err != nil {
		t.Fatalf("read to the echo's half-close: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, got) {
		t.Fatalf("1 MiB through the proxy: %d bytes back, equal %v", len(got), bytes.Equal(data, got[:min(len(got), len(data))]))
	}
	p.close() // waits for the proxy's goroutines: the counts are final
	if links, n := stats.conns.Load(), stats.bytes.Load(); links != 1 || n != 2*int64(len(data)+5) {
		t.Errorf("stats: %d links, %d bytes; want 1 and %d", links, n, 2*(len(data)+5))
	}
}

func TestStartWithRefusesADelayWithoutProxies(t *testing.T) {
	for _, o := range []Options{{HopDelay: time.Millisecond}, {Delayed: true, HopDelay: -time.Millisecond}} {
		if _, err := StartWith(context.Background(), t.TempDir(), o); err == nil || !strings.Contains(err.Error(), "hop delay") {
			t.Errorf("StartWith(%+v) = %v, want a refusal of the hop delay", o, err)
		}
	}
	var n Network
	if err := n.SetHopDelay(time.Millisecond); err == nil {
		t.Error("SetHopDelay on an undelayed network must fail")
	}
	if links, b := n.HopTraffic(); links != 0 || b != 0 {
		t.Errorf("an undelayed network's hop traffic: %d, %d", links, b)
	}
}

// A delayed network's consensus lists every relay at its proxy's port, and the client's
// bootstrap crossed the proxies.
func TestDelayedNetwork(t *testing.T) {
	RequireOffline(t)
	dir, err := os.MkdirTemp("", "sealdrop-testnet-delayed-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	n, err := StartWith(ctx, dir, Options{Delayed: true, HopDelay: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if n.HopDelay() != 5*time.Millisecond {
		t.Errorf("HopDelay %v", n.HopDelay())
	}
	var proxied []int
	for _, p := range n.proxies {
		proxied = append(proxied, p.port())
	}
	cons, err := os.ReadFile(filepath.Join(dir, "client", "cached-microdesc-consensus"))
	if err != nil {
		t.Fatal(err)
	}
	var listed []int
	for line := range bytes.Lines(cons) {
		f := strings.Fields(string(line))
		if len(f) >= 8 && f[0] == "r" {
			port, err := strconv.Atoi(f[6])
			if err != nil {
				t.Fatalf("r line %q: %v", line, err)
			}
			listed = append(listed, port)
		}
	}
	slices.Sort(proxied)
	slices.Sort(listed)
	if len(proxied) != Authorities || !slices.Equal(proxied, listed) {
		t.Errorf("the consensus lists ORPorts %v, the proxies listen on %v", listed, proxied)
	}
	if links, b := n.HopTraffic(); links == 0 || b == 0 {
		t.Errorf("the client bootstrapped without crossing a proxy: %d links, %d bytes", links, b)
	}
	if err := n.SetHopDelay(0); err != nil {
		t.Error(err)
	}
}
