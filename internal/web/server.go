package web

import (
	"container/list"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/sealdrop/sealdrop/internal/circuit"
)

// Server timeouts, sized for Tor: a round trip through an onion circuit takes around a second
// and a slow circuit moves a few tens of KiB per second.
const (
	// ReadHeaderTimeout bounds how long a client may take to send its headers (slowloris).
	ReadHeaderTimeout = 30 * time.Second
	// ReadTimeout bounds a whole request, body included: a 1 MiB append at 10 KiB/s.
	ReadTimeout = 120 * time.Second
	// WriteTimeout bounds every answer except a download, whose handler extends its own
	// deadline by one second per 64 KiB chunk on top of two minutes (a 64 MiB note: about
	// 19 minutes); a broken download resumes from its last chunk.
	WriteTimeout = 2 * time.Minute
	// IdleTimeout closes kept-alive connections nobody uses.
	IdleTimeout = 2 * time.Minute
	// MaxHeaderBytes caps request headers; sealdrop's own requests need well under 2 KiB.
	MaxHeaderBytes = 16 << 10
	// MaxConns caps the connections the server holds at once. Each costs about 20 KiB (a
	// goroutine and net/http's read and write buffers), so 1024 bound that to about 20 MiB.
	// Tor Browser opens a handful per visitor; when the cap is reached, the oldest connection
	// that is not in the middle of a request is closed to make room, so idle or slowloris
	// connections cannot lock out a real request. A connection taken over from net/http
	// (hijack.go) is not counted: its own deadlines end it (connCap).
	MaxConns = 1024
)

// ServerOption changes one setting of NewServer (tests use them to shorten timeouts).
type ServerOption func(*serverOptions)

type serverOptions struct {
	readHeader, read, write, idle time.Duration
	maxConns                      int
}

// WithTimeouts replaces the header, whole-request, write and idle timeouts; a zero value keeps
// that default.
func WithTimeouts(readHeader, read, write, idle time.Duration) ServerOption {
	return func(o *serverOptions) {
		if readHeader > 0 {
			o.readHeader = readHeader
		}
		if read > 0 {
			o.read = read
		}
		if write > 0 {
			o.write = write
		}
		if idle > 0 {
			o.idle = idle
		}
	}
}

// WithMaxConns replaces MaxConns; n <= 0 keeps the default.
func WithMaxConns(n int) ServerOption {
	return func(o *serverOptions) {
		if n > 0 {
			o.maxConns = n
		}
	}
}

// NewServer returns an http.Server for h with Tor-sized timeouts, small header limits, a cap on
// connections and a discarded error log: net/http must not print anything about a request
// either. Serve it on Listener(ln), which keeps net/http's own 417 free of a Date header.
func NewServer(h http.Handler, opts ...ServerOption) *http.Server {
	srv, _ := newServer(h, opts...)
	return srv
}

// newServer is NewServer's server and its connection cap (tests read its count).
func newServer(h http.Handler, opts ...ServerOption) (*http.Server, *connCap) {
	o := serverOptions{readHeader: ReadHeaderTimeout, read: ReadTimeout, write: WriteTimeout, idle: IdleTimeout, maxConns: MaxConns}
	for _, f := range opts {
		f(&o)
	}
	limit := newConnCap(o.maxConns)
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: o.readHeader,
		ReadTimeout:       o.read,
		WriteTimeout:      o.write,
		IdleTimeout:       o.idle,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          log.New(io.Discard, "", 0),
		// "OPTIONS *" would get net/http's own 200, with a Date header; the handler answers it.
		DisableGeneralOptionsHandler: true,
		ConnState:                    limit.track,
		// Connections from circuit.Listen carry their Tor circuit: the create routes ask it.
		ConnContext: circuit.ConnContext,
	}, limit
}

// connCap keeps at most max connections open by closing the oldest waiting one (new, not yet
// sent a request, or idle between requests) whenever a new connection goes over the cap.
// A connection taken over from net/http (a ciphertext route, hijack.go; the chat's WebSocket)
// is counted out when it is handed over: counted, a few stalled uploads or slowly read opens
// (one note's claim is enough) would fill the cap with connections that cannot be closed, and
// every new arrival would then close an honest one still waiting for its first request
// (TestStalledTakeoversCloseNoHonest). Taken-over connections end by their own read and
// write deadlines instead.
// A listener-side cap (netutil.LimitListener) was not chosen: it leaves the excess queued in
// the kernel behind idle connections, so one slowloris client delays every real request.
type connCap struct {
	max     int
	mu      sync.Mutex
	n       int                        // open connections we know of
	waiting *list.List                 // of net.Conn, oldest first
	elems   map[net.Conn]*list.Element // connections in waiting
}

func newConnCap(max int) *connCap {
	return &connCap{max: max, waiting: list.New(), elems: map[net.Conn]*list.Element{}}
}

// count is the number of connections counted now.
func (c *connCap) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func (c *connCap) track(conn net.Conn, st http.ConnState) {
	var evict net.Conn
	c.mu.Lock()
	switch st {
	case http.StateNew:
		c.n++
		c.wait(conn)
		if c.n > c.max {
			if front := c.waiting.Front(); front != nil && front.Value.(net.Conn) != conn {
				evict = front.Value.(net.Conn)
				c.unwait(evict)
			}
		}
	case http.StateIdle:
		c.wait(conn)
	case http.StateActive:
		c.unwait(conn)
	case http.StateHijacked, http.StateClosed:
		c.unwait(conn)
		c.n--
	}
	c.mu.Unlock()
	if evict != nil {
		// Its own goroutine sees the read fail and reports StateClosed, which counts it out.
		_ = evict.Close()
	}
}

func (c *connCap) wait(conn net.Conn) {
	if _, ok := c.elems[conn]; !ok {
		c.elems[conn] = c.waiting.PushBack(conn)
	}
}

func (c *connCap) unwait(conn net.Conn) {
	if e, ok := c.elems[conn]; ok {
		c.waiting.Remove(e)
		delete(c.elems, conn)
	}
}
