package browsertest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// MaxRecordedBody caps how much of one request body the proxy keeps (the rest still reaches the
// handler). It is above the largest note the scenarios send.
const MaxRecordedBody = 64 << 20

// ProxyRecord is one request that reached the proxy.
type ProxyRecord struct {
	Method string
	Host   string // as asked for, port included for CONNECT
	URL    string // absolute for proxied requests; path for requests inside a tunnel
	Header http.Header
	Body   []byte
	// Refused is set for every request the proxy did not hand to the app: any host that is not
	// the fake onion, and CONNECT to port 443 (refused so that the browser falls back to http,
	// as it must for an http .onion).
	Refused bool
	// Cut is set for the request whose answer the proxy broke off (CutNext).
	Cut  bool
	Time time.Time // when its header had arrived
	// End is when the last byte of its answer went to the browser, as far as the proxy can
	// tell: the last write on the connection during the request, or the handler's return when
	// nothing was written yet (net/http then flushes right after). Zero while it runs (a
	// WebSocket) or when it was refused.
	End time.Time
	// Conn numbers the browser's connection to the proxy that carried the request (from 1, in
	// the order the proxy accepted them; a CONNECT tunnel keeps its connection's number), and
	// ConnOpened is when the proxy accepted it. Over Tor each such connection is a new stream.
	Conn       uint64
	ConnOpened time.Time
}

// ProxyConn is one connection the browser opened to the proxy.
type ProxyConn struct {
	ID     uint64
	Opened time.Time
}

// FakeOnionProxy is an HTTP proxy on 127.0.0.1 that serves one fake .onion host from an
// http.Handler and refuses everything else, recording every request.
type FakeOnionProxy struct {
	host    string
	handler atomic.Pointer[http.Handler]
	ln      net.Listener
	srv     *http.Server
	tunnel  *http.Server
	tunnels *connListener

	mu      sync.Mutex
	records []ProxyRecord
	conns   []ProxyConn
	cut     *cutRule
	latency atomic.Int64 // time.Duration each request waits before it reaches the app
}

// trackedConn is a browser connection as the proxy accepted it: it keeps its number and the
// time of its last write, so that a request's End is when its answer went out even when the
// app takes the connection over (internal/web/hijack.go writes ciphertext straight to it and
// closes it). It has no NetConn method on purpose: the app would unwrap it and write past it.
type trackedConn struct {
	net.Conn
	id        uint64
	opened    time.Time
	lastWrite atomic.Int64 // unix nanoseconds
}

func (c *trackedConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if n > 0 {
		c.lastWrite.Store(time.Now().UnixNano())
	}
	return n, err
}

// CloseWrite keeps the app's half-close (rstAvoidance) working through the wrapper.
func (c *trackedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.New("browsertest: no half-close")
}

// trackingListener numbers the connections it accepts and records when.
type trackingListener struct {
	net.Listener
	p *FakeOnionProxy
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	l.p.mu.Lock()
	id := uint64(len(l.p.conns) + 1)
	l.p.conns = append(l.p.conns, ProxyConn{ID: id, Opened: now})
	l.p.mu.Unlock()
	return &trackedConn{Conn: c, id: id, opened: now}, nil
}

type connKey struct{}

// connOf is the tracked connection a request arrived on (nil for one made up in a test).
func connOf(r *http.Request) *trackedConn {
	c, _ := r.Context().Value(connKey{}).(*trackedConn)
	return c
}

// cutRule breaks the answer to the next matching request after a number of bytes.
type cutRule struct {
	match func(*http.Request) bool
	after int64
}

const base32Lower = "abcdefghijklmnopqrstuvwxyz234567"

// RandomOnionHost returns a host name shaped like a v3 onion address (56 base32 characters).
// It is not a valid address (no checksum): the browser never resolves it.
func RandomOnionHost() string {
	b := make([]byte, 56)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	for i := range b {
		b[i] = base32Lower[b[i]%32]
	}
	return string(b) + ".onion"
}

// NewFakeOnionProxy listens on 127.0.0.1 and serves host (a name ending in .onion; "" picks a
// random one) from h.
func NewFakeOnionProxy(host string, h http.Handler) (*FakeOnionProxy, error) {
	if host == "" {
		host = RandomOnionHost()
	}
	if !strings.HasSuffix(host, ".onion") {
		return nil, fmt.Errorf("browsertest: %q is not an .onion host", host)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("browsertest: proxy listen: %w", err)
	}
	p := &FakeOnionProxy{host: host, ln: ln, tunnels: newConnListener()}
	p.SetHandler(h)
	p.srv = &http.Server{Handler: http.HandlerFunc(p.serveProxy), ReadHeaderTimeout: 30 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, c)
		}}
	p.tunnel = &http.Server{Handler: http.HandlerFunc(p.serveTunnel), ReadHeaderTimeout: 30 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if bc, ok := c.(*bufferedConn); ok {
				return context.WithValue(ctx, connKey{}, bc.Conn)
			}
			return ctx
		}}
	p.srv.ErrorLog = discardLogger()
	p.tunnel.ErrorLog = discardLogger()
	go func() { _ = p.srv.Serve(&trackingListener{Listener: ln, p: p}) }()
	go func() { _ = p.tunnel.Serve(p.tunnels) }()
	return p, nil
}

// SetHandler replaces the app behind the onion, so one proxy (and the browsers pointed at it)
// can serve a fresh app to each test.
func (p *FakeOnionProxy) SetHandler(h http.Handler) {
	if h == nil {
		h = http.NotFoundHandler()
	}
	p.handler.Store(&h)
}

// Addr is the proxy's host:port, for Options.ProxyAddr.
func (p *FakeOnionProxy) Addr() string { return p.ln.Addr().String() }

// Host is the fake onion host name.
func (p *FakeOnionProxy) Host() string { return p.host }

// Origin is http://<host>.
func (p *FakeOnionProxy) Origin() string { return "http://" + p.host }

// Records returns every request so far.
func (p *FakeOnionProxy) Records() []ProxyRecord {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]ProxyRecord(nil), p.records...)
}

// Conns returns every connection the browsers opened to the proxy so far.
func (p *FakeOnionProxy) Conns() []ProxyConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]ProxyConn(nil), p.conns...)
}

// SetLatency makes every request wait d after its header arrived before it reaches the app
// (0, the default, turns it off), as a request waits for its trip through Tor. A page's
// answer then comes at least d after its request, which keeps a request the page sends after
// showing a result apart from the requests it showed the result after (CriticalPath).
func (p *FakeOnionProxy) SetLatency(d time.Duration) { p.latency.Store(int64(d)) }

// Mark returns a position in the record list, for RecordsSince.
func (p *FakeOnionProxy) Mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.records)
}

// RecordsSince returns the requests after a Mark.
func (p *FakeOnionProxy) RecordsSince(mark int) []ProxyRecord {
	p.mu.Lock()
	defer p.mu.Unlock()
	if mark > len(p.records) {
		mark = len(p.records)
	}
	return append([]ProxyRecord(nil), p.records[mark:]...)
}

// Foreign returns the records of every request for another host than the fake onion.
func Foreign(recs []ProxyRecord, onionHost string) []ProxyRecord {
	var out []ProxyRecord
	for _, r := range recs {
		h := r.Host
		if hh, _, err := net.SplitHostPort(h); err == nil {
			h = hh
		}
		if !strings.EqualFold(h, onionHost) {
			out = append(out, r)
		}
	}
	return out
}

// Close stops the proxy and every tunnel.
func (p *FakeOnionProxy) Close() error {
	err := p.srv.Close()
	_ = p.tunnel.Close()
	_ = p.tunnels.Close()
	return err
}

func (p *FakeOnionProxy) add(r ProxyRecord) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.records = append(p.records, r)
	return len(p.records) - 1
}

func (p *FakeOnionProxy) setBody(i int, b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.records[i].Body = b
}

// setEnd records when record i's answer went out: the last write on c since the request
// arrived, else now.
func (p *FakeOnionProxy) setEnd(i int, c *trackedConn) {
	end := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if c != nil {
		if w := time.Unix(0, c.lastWrite.Load()); w.After(p.records[i].Time) && w.Before(end) {
			end = w
		}
	}
	p.records[i].End = end
}

// newRecord starts the record of a request.
func newRecord(r *http.Request) ProxyRecord {
	rec := ProxyRecord{Method: r.Method, Host: r.Host, URL: r.URL.String(), Header: r.Header.Clone(), Time: time.Now()}
	if c := connOf(r); c != nil {
		rec.Conn, rec.ConnOpened = c.id, c.opened
	}
	return rec
}

func (p *FakeOnionProxy) isOnion(hostport string) (port string, ok bool) {
	h, port, err := net.SplitHostPort(hostport)
	if err != nil {
		h, port = hostport, "80"
	}
	return port, strings.EqualFold(h, p.host)
}

func (p *FakeOnionProxy) serveProxy(w http.ResponseWriter, r *http.Request) {
	rec := newRecord(r)
	if r.Method == http.MethodConnect {
		port, ok := p.isOnion(r.Host)
		if !ok || port != "80" {
			rec.Refused = true
			p.add(rec)
			refuse(w)
			return
		}
		i := p.add(rec)
		hj, ok := w.(http.Hijacker)
		if !ok {
			http.Error(w, "no hijack", http.StatusInternalServerError)
			return
		}
		conn, bufrw, err := hj.Hijack()
		if err != nil {
			return
		}
		if _, err := bufrw.WriteString("HTTP/1.1 200 Connection established\r\n\r\n"); err != nil || bufrw.Flush() != nil {
			_ = conn.Close()
			return
		}
		p.setEnd(i, connOf(r))
		// Bytes the browser sent after the CONNECT line may already sit in the reader.
		p.tunnels.push(&bufferedConn{Conn: conn, r: bufrw.Reader})
		return
	}
	if _, ok := p.isOnion(r.Host); !ok || r.URL.Scheme != "http" {
		rec.Refused = true
		p.add(rec)
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		refuse(w)
		return
	}
	// Absolute-form request: turn it into the origin-form request the app would get from tor.
	r2 := r.Clone(r.Context())
	r2.URL = &url.URL{Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	r2.RequestURI = r2.URL.RequestURI()
	r2.Header.Del("Proxy-Connection")
	r2.Header.Del("Proxy-Authorization")
	r2.Body = r.Body
	p.serveRecorded(w, r2, rec)
}

// serveTunnel answers requests that arrive inside a CONNECT tunnel to the onion's port 80
// (Firefox tunnels WebSockets so).
func (p *FakeOnionProxy) serveTunnel(w http.ResponseWriter, r *http.Request) {
	rec := newRecord(r)
	if _, ok := p.isOnion(r.Host); !ok {
		rec.Refused = true
		p.add(rec)
		refuse(w)
		return
	}
	p.serveRecorded(w, r, rec)
}

// CutNext makes the proxy break the connection of the next request that match accepts once
// `after` bytes of its answer have gone out (counted on the wire, status line and headers
// included, when the app hijacks the connection as it does for ciphertext; body bytes
// otherwise), as a broken Tor circuit does: the client gets a truncated body. It applies once.
func (p *FakeOnionProxy) CutNext(match func(*http.Request) bool, after int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = &cutRule{match: match, after: after}
}

// takeCut returns the cut rule when r matches it, and disarms it.
func (p *FakeOnionProxy) takeCut(r *http.Request) *cutRule {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.cut
	if c == nil || !c.match(r) {
		return nil
	}
	p.cut = nil
	return c
}

func (p *FakeOnionProxy) serveRecorded(w http.ResponseWriter, r *http.Request, rec ProxyRecord) {
	if c := p.takeCut(r); c != nil {
		rec.Cut = true
		w = &cutWriter{ResponseWriter: w, left: c.after}
	}
	i := p.add(rec)
	if d := time.Duration(p.latency.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
		}
	}
	defer p.setEnd(i, connOf(r))
	h := *p.handler.Load()
	if r.Body == nil || r.Body == http.NoBody {
		h.ServeHTTP(w, r)
		return
	}
	cb := &capBuffer{max: MaxRecordedBody}
	r.Body = &teeBody{ReadCloser: r.Body, w: cb}
	h.ServeHTTP(w, r)
	p.setBody(i, cb.Bytes())
}

type capBuffer struct {
	bytes.Buffer
	max int
}

func (c *capBuffer) Write(b []byte) (int, error) {
	if room := c.max - c.Len(); room > 0 {
		if len(b) > room {
			c.Buffer.Write(b[:room])
		} else {
			c.Buffer.Write(b)
		}
	}
	return len(b), nil
}

type teeBody struct {
	io.ReadCloser
	w io.Writer
}

func (t *teeBody) Read(b []byte) (int, error) {
	n, err := t.ReadCloser.Read(b)
	if n > 0 {
		_, _ = t.w.Write(b[:n])
	}
	return n, err
}

type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// connListener hands hijacked tunnel connections to an http.Server.
type connListener struct {
	ch        chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

func newConnListener() *connListener {
	return &connListener{ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *connListener) push(c net.Conn) {
	select {
	case l.ch <- c:
	case <-l.done:
		_ = c.Close()
	}
}

var errListenerClosed = errors.New("browsertest: tunnel listener closed")

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, errListenerClosed
	}
}

func (l *connListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return nil
}

func (l *connListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

func refuse(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	http.Error(w, "refused by the test proxy", http.StatusForbidden)
}

// cutWriter lets `left` bytes of an answer through and then drops the connection. The app
// streams ciphertext on a hijacked connection (internal/web/hijack.go), so the cut is done on
// the connection it hijacks; a plain answer is cut through the ResponseWriter.
type cutWriter struct {
	http.ResponseWriter
	left int64
}

func (c *cutWriter) Write(b []byte) (int, error) {
	if int64(len(b)) <= c.left {
		c.left -= int64(len(b))
		return c.ResponseWriter.Write(b)
	}
	_, _ = c.ResponseWriter.Write(b[:c.left])
	c.left = 0
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
	panic(http.ErrAbortHandler) // net/http closes the connection without logging
}

func (c *cutWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (c *cutWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(c.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	cc := &cutConn{Conn: conn, left: c.left}
	return cc, bufio.NewReadWriter(brw.Reader, bufio.NewWriter(cc)), nil
}

// cutConn is a hijacked connection that closes itself after `left` written bytes. It has no
// NetConn method on purpose: the app would unwrap it and write past the cut.
type cutConn struct {
	net.Conn
	mu   sync.Mutex
	left int64
}

var errCut = errors.New("browsertest: connection cut by the test proxy")

func (c *cutConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left <= 0 {
		return 0, errCut
	}
	if int64(len(b)) <= c.left {
		n, err := c.Conn.Write(b)
		c.left -= int64(n)
		return n, err
	}
	n, _ := c.Conn.Write(b[:c.left])
	c.left = 0
	_ = c.Conn.Close()
	return n, errCut
}
