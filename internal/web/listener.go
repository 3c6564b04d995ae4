package web

import (
	"bytes"
	"net"
)

// Listener wraps ln so that no answer on its connections carries a Date header, not even
// those net/http writes itself before any handler runs: an Expect header other than
// 100-continue gets net/http's own 417, stamped with the server's clock, and an onion
// service's clock is a fingerprint (clock skew). Serve with it:
//
//	srv.Serve(web.Listener(ln))
//
// Only a Date line inside a status line's header block is removed; nothing else changes.
// The ciphertext routes write to the unwrapped connection.
func Listener(ln net.Listener) net.Listener { return dateless{ln} }

type dateless struct{ net.Listener }

func (l dateless) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &datelessConn{c}, nil
}

type datelessConn struct{ net.Conn }

// NetConn returns the wrapped connection (the hijacked routes write to it directly).
func (c *datelessConn) NetConn() net.Conn { return c.Conn }

var (
	statusPrefix = []byte("HTTP/1.")
	dateLine     = []byte("\r\nDate: ")
	crlf         = []byte("\r\n")
	headEnd      = []byte("\r\n\r\n")
)

func (c *datelessConn) Write(p []byte) (int, error) {
	if bytes.HasPrefix(p, statusPrefix) { // audit:ok the answer's own status line, not a secret
		if i := bytes.Index(p, dateLine); i >= 0 {
			end := bytes.Index(p, headEnd)
			if j := bytes.Index(p[i+2:], crlf); (end < 0 || i < end) && j >= 0 {
				q := make([]byte, 0, len(p))
				q = append(append(q, p[:i]...), p[i+2+j:]...)
				if _, err := c.Conn.Write(q); err != nil {
					return 0, err
				}
				return len(p), nil
			}
		}
	}
	return c.Conn.Write(p)
}
