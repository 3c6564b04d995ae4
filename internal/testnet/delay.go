package testnet

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// delayProxy stands in front of one relay's ORPort: the relay advertises the proxy's port
// (ORPort ... NoListen) and listens on another, unadvertised one (ORPort ... NoAdvertise), so
// that every connection to the relay, from a client or from another relay, crosses it. Each
// byte waits the network's hop delay in each direction before it goes on; the bytes are
// pipelined, not stopped and started, so a link keeps its bandwidth and gains only latency.
type delayProxy struct {
	ln     net.Listener
	target string
	delay  *atomic.Int64 // time.Duration, shared by the network's proxies
	stats  *hopStats

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// hopStats counts what the proxies of a network carried.
type hopStats struct {
	conns atomic.Int64
	bytes atomic.Int64
}

// chunkQueue bounds what one direction holds in flight: beyond it the reader stops, and TCP
// pushes back on the sender as it would on a slow link.
const chunkQueue = 256

// newDelayProxy listens on a free loopback port and forwards to target.
func newDelayProxy(target string, delay *atomic.Int64, stats *hopStats) (*delayProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &delayProxy{ln: ln, target: target, delay: delay, stats: stats, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// port is the port the relay advertises.
func (p *delayProxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func (p *delayProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.handle(c)
		}()
	}
}

// track adds c to the open connections; false once the proxy is closing.
func (p *delayProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *delayProxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *delayProxy) handle(c net.Conn) {
	defer c.Close()
	if !p.track(c) {
		return
	}
	defer p.untrack(c)
	up, err := net.DialTimeout("tcp", p.target, 10*time.Second)
	if err != nil {
		return
	}
	defer up.Close()
	if !p.track(up) {
		return
	}
	defer p.untrack(up)
	p.stats.conns.Add(1)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pipe(up, c) }()
	go func() { defer wg.Done(); p.pipe(c, up) }()
	wg.Wait()
}

type chunk struct {
	b   []byte
	due time.Time
}

// pipe copies src to dst, each chunk delivered the hop delay after it was read; at the end of
// src it half-closes dst, and on an error it closes both.
func (p *delayProxy) pipe(dst, src net.Conn) {
	q := make(chan chunk, chunkQueue)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ch := range q {
			if d := time.Until(ch.due); d > 0 {
				time.Sleep(d)
			}
			if _, err := dst.Write(ch.b); err != nil {
				_ = dst.Close()
				_ = src.Close()
				for range q { // drain so the reader never blocks
				}
				return
			}
			p.stats.bytes.Add(int64(len(ch.b)))
		}
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			q <- chunk{b: append([]byte(nil), buf[:n]...), due: time.Now().Add(time.Duration(p.delay.Load()))}
		}
		if err != nil { // EOF: the writer half-closes dst; else the connection is gone
			break
		}
	}
	close(q)
	<-done
}

// close stops accepting, cuts every connection and waits for the goroutines.
func (p *delayProxy) close() {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	_ = p.ln.Close()
	p.wg.Wait()
}
