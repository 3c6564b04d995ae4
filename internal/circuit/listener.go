package circuit

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"time"
)

// HeaderTimeout bounds the wait for tor's header. tor writes it as soon as it connects,
// before any byte of the visitor's, so it is there at once unless something is wrong.
const HeaderTimeout = 10 * time.Second

// headerTimeout is HeaderTimeout; a variable only so that tests wait less.
var headerTimeout = HeaderTimeout

// Listen wraps ln, whose connections come from a tor that exports circuit ids
// (HiddenServiceExportCircuitID haproxy): each must begin with tor's PROXY line. The line is
// read on the connection's first Read (in the HTTP server's goroutine for that connection, so
// a slow one holds up no other), within HeaderTimeout and MaxHeader bytes; a connection
// without a valid one gets an error on that Read, which makes the HTTP server close it. One
// that starts with an HTTP request instead is answered first with a plain 400 saying that
// tor sends no circuit ids, so that the operator who forgot the torrc line sees why every
// page fails. A valid line counts the connection for its circuit in lim until it closes.
// Serve with ConnContext set (web.NewServer does), so that handlers find the circuit. With a
// nil lim the header is still required, and nothing is limited.
func Listen(ln net.Listener, lim *Limiter) net.Listener {
	return &listener{Listener: ln, lim: lim}
}

type listener struct {
	net.Listener
	lim *Limiter
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &Conn{Conn: c, lim: l.lim}, nil
}

// Conn is a connection from Listen. It passes everything through once tor's header has been
// read; its circuit id is not exposed (Allow uses it), and it has no String method.
type Conn struct {
	net.Conn
	lim *Limiter

	header sync.Once
	err    error // why the header was refused; set inside header

	mu       sync.Mutex
	id       uint32 // valid once opened is set
	opened   bool   // counted in lim (closed not yet called)
	closed   bool
	deadline time.Time // the read deadline the HTTP server set last
}

// NetConn returns the wrapped connection. Handlers that take over a connection may write to
// it directly; reads must go through Conn until the header has been read (the HTTP server
// reads the request, and so the header, before any handler runs).
func (c *Conn) NetConn() net.Conn { return c.Conn }

func (c *Conn) Read(p []byte) (int, error) {
	c.header.Do(c.readHeader)
	if c.err != nil {
		return 0, c.err
	}
	return c.Conn.Read(p)
}

func (c *Conn) readHeader() {
	c.mu.Lock()
	dl := time.Now().Add(headerTimeout)
	if !c.deadline.IsZero() && c.deadline.Before(dl) {
		dl = c.deadline
	}
	c.mu.Unlock()
	_ = c.Conn.SetReadDeadline(dl)
	id, looksHTTP, err := readHeader(c.Conn)
	if err != nil {
		// A read error, so that net/http closes the connection without answering it itself.
		c.err = &net.OpError{Op: "read", Net: "circuit", Err: err}
		if looksHTTP {
			_ = c.Conn.SetWriteDeadline(time.Now().Add(headerTimeout))
			_, _ = c.Conn.Write(noHeaderAnswer)
		}
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.Conn.SetReadDeadline(c.deadline)
	if c.closed { // closed (the server's connection cap) while tor's header was on its way
		c.err = net.ErrClosed
		return
	}
	c.id, c.opened = id, true
	if c.lim != nil {
		c.lim.opened(id)
	}
}

// noHeaderAnswer is what an HTTP request gets when it arrives without tor's header: the
// operator started sealdrop expecting circuit ids from a tor that does not send them.
var noHeaderAnswer = func() []byte {
	const text = "This server expects tor to pass on circuit ids (sealdrop serve --circuit-ids), but its tor sends none.\n" +
		"Operator: add \"HiddenServiceExportCircuitID haproxy\" to this onion service's lines in the torrc\n" +
		"and reload tor, or start sealdrop without --circuit-ids.\n"
	return []byte("HTTP/1.1 400 Bad Request\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"X-Content-Type-Options: nosniff\r\n" +
		"Cache-Control: no-store\r\n" +
		"Connection: close\r\n" +
		"Content-Length: " + strconv.Itoa(len(text)) + "\r\n\r\n" + text)
}()

func (c *Conn) Close() error {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		if c.opened && c.lim != nil {
			c.lim.closed(c.id)
		}
	}
	c.mu.Unlock()
	return c.Conn.Close()
}

// CloseWrite half-closes the wrapped connection when it can (a unix or TCP socket): a server
// that refuses a request body half-closes and lets the body arrive unread, so that the client
// gets the answer instead of a reset.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errNoHalfClose
}

var errNoHalfClose = errors.New("circuit: the connection cannot half-close")

// SetDeadline and SetReadDeadline pass through, and remember the read deadline so that the
// header's own deadline can be lifted to it afterwards.
func (c *Conn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

// circuit returns the connection's circuit id once its header has been read.
func (c *Conn) circuit() (uint32, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.id, c.opened
}

type ctxKey struct{}

// ConnContext is for http.Server.ConnContext: it puts c's Conn (found under any wrappers that
// have a NetConn method) into the connection's context, for Allow. Connections from another
// listener leave ctx as it is.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	for range 8 { // wrappers are few; never loop on a cycle
		if cc, ok := c.(*Conn); ok {
			return context.WithValue(ctx, ctxKey{}, cc)
		}
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			return ctx
		}
		c = u.NetConn()
	}
	return ctx
}

// Allow spends one create from the circuit of the request whose context is ctx. It returns
// true for a request that came without a circuit id (a listener without Listen: listen mode
// without --circuit-ids, attach and ephemeral modes, tests); for one with a circuit id it
// returns false, and how long until the circuit may create again, when the circuit has used
// up its creates.
func Allow(ctx context.Context) (bool, time.Duration) {
	c, _ := ctx.Value(ctxKey{}).(*Conn)
	if c == nil || c.lim == nil {
		return true, 0
	}
	id, ok := c.circuit()
	if !ok {
		// No request reaches a handler before its connection's header was read: fail closed.
		return false, headerTimeout
	}
	return c.lim.allow(id)
}
