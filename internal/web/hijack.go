package web

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Ciphertext must live only in the vault's locked memory. net/http reads every connection
// through a pooled 4 KiB bufio.Reader and writes through pooled bufio.Writers, which would keep
// the first bytes of an append body, or of a download, in ordinary heap memory until reused.
// So the two ciphertext routes take the connection from net/http (Hijack): the body is read
// from what net/http already buffered and then straight from the socket into the vault, the
// download goes straight from the vault to the socket, every buffer net/http used for the
// connection is zeroed, and the connection is closed (Connection: close).

// rstAvoidance is how long a connection whose request body was refused (413, gone, ...)
// stays half-open after the answer, so the client reads the answer before the close resets
// the connection; net/http waits the same.
const rstAvoidance = 500 * time.Millisecond

// hijacked is a connection taken from net/http for one request, and the ResponseWriter that
// answers on it.
type hijacked struct {
	conn     net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	proto11  bool
	header   http.Header
	wrote    bool
	head     *[]byte // the status line and header, held until the first body bytes or finish
	left     int64   // declared body bytes not read yet; -1: unknown (no Content-Length)
	expect   bool    // the client waits for "100 Continue" before it sends the body
	bodyless bool    // a HEAD request: the answer's body is not sent
	read     time.Duration
	write    time.Duration
	writeErr error
}

// hijack takes the connection of r, whose body has unread bytes still to come (-1: unknown).
// It fails where there is no connection to take (tests driving the handler with a
// ResponseRecorder, HTTP/2); the caller then answers through w.
func hijack(w http.ResponseWriter, r *http.Request, unread int64) (*hijacked, bool) {
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, false
	}
	if u, ok := conn.(interface{ NetConn() net.Conn }); ok {
		conn = u.NetConn() // Listener's wrapper: ciphertext goes to the socket itself
	}
	h := &hijacked{
		conn: conn, br: brw.Reader, bw: brw.Writer, proto11: r.ProtoAtLeast(1, 1),
		header: http.Header{}, left: unread, read: ReadTimeout, write: WriteTimeout,
		bodyless: r.Method == http.MethodHead,
		expect:   r.ProtoAtLeast(1, 1) && strings.EqualFold(strings.TrimSpace(r.Header.Get("Expect")), "100-continue"),
	}
	// Hijack clears the deadlines net/http set; the server's own timeouts apply again.
	if srv, ok := r.Context().Value(http.ServerContextKey).(*http.Server); ok {
		if srv.ReadTimeout > 0 {
			h.read = srv.ReadTimeout
		}
		if srv.WriteTimeout > 0 {
			h.write = srv.WriteTimeout
		}
	}
	now := time.Now()
	_ = conn.SetReadDeadline(now.Add(h.read))
	_ = conn.SetWriteDeadline(now.Add(h.write))
	return h, true
}

func (h *hijacked) Header() http.Header { return h.header }

// headPool holds the buffers a hijacked answer's status line, header and small JSON body are
// built in. Ciphertext is never copied into them (sendCiphertext writes it to the socket after
// sendHead); they are zeroed before going back all the same.
var headPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxCoalesce is the largest body sent in the same write as the header.
const maxCoalesce = 4 << 10

// WriteHeader builds the status line and header exactly as net/http would for a request that
// asked for Connection: close: the header sorted by name, then "Connection: close". They are
// sent with a small body (or by sendHead or finish), so that a JSON answer leaves in one write.
func (h *hijacked) WriteHeader(code int) {
	if h.wrote {
		return
	}
	h.wrote = true
	delete(h.header, "Connection")
	bp := headPool.Get().(*[]byte)
	b := (*bp)[:0]
	if h.proto11 {
		b = append(b, "HTTP/1.1 "...)
	} else {
		b = append(b, "HTTP/1.0 "...)
	}
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(code)...)
	b = append(b, "\r\n"...)
	*bp = b
	_ = h.header.Write(headWriter{bp})
	b = *bp
	if h.proto11 {
		b = append(b, "Connection: close\r\n"...)
	}
	b = append(b, "\r\n"...)
	*bp = b
	h.head = bp
}

// headWriter appends to a header buffer (http.Header.Write needs an io.Writer).
type headWriter struct{ b *[]byte }

func (w headWriter) Write(p []byte) (int, error) { *w.b = append(*w.b, p...); return len(p), nil }
func (w headWriter) WriteString(s string) (int, error) {
	*w.b = append(*w.b, s...)
	return len(s), nil
}

// sendHead sends the header held back, followed by body, which must not be ciphertext (it is
// copied into the header buffer). It reports how many bytes of body were written.
func (h *hijacked) sendHead(body []byte) (int, error) {
	bp := h.head
	if bp == nil {
		return 0, h.writeErr
	}
	h.head = nil
	b := append(*bp, body...)
	n, err := h.conn.Write(b)
	clear(b[:cap(b)])
	*bp = b[:0]
	headPool.Put(bp)
	if err != nil {
		h.writeErr = err
		return max(n-(len(b)-len(body)), 0), err
	}
	return len(body), nil
}

// Write sends p, with the header if it is still held back. Only the JSON answers of the
// ciphertext routes pass through here; ciphertext goes to h.conn itself.
func (h *hijacked) Write(p []byte) (int, error) {
	if !h.wrote {
		h.WriteHeader(http.StatusOK)
	}
	if h.writeErr != nil {
		return 0, h.writeErr
	}
	if h.bodyless {
		_, err := h.sendHead(nil)
		return len(p), err
	}
	if h.head != nil {
		if len(p) <= maxCoalesce {
			return h.sendHead(p)
		}
		if _, err := h.sendHead(nil); err != nil {
			return 0, err
		}
	}
	return h.conn.Write(p)
}

// cipherWriter sends ciphertext straight from the caller's memory (the vault's locked blocks)
// to the socket. The header held back goes out in the same writev, so that a small answer
// leaves in one write, as net/http's would; nothing is copied.
type cipherWriter struct{ h *hijacked }

func (c cipherWriter) Write(p []byte) (int, error) {
	h := c.h
	if h.writeErr != nil {
		return 0, h.writeErr
	}
	if h.head == nil {
		return h.conn.Write(p)
	}
	bp := h.head
	h.head = nil
	hl := int64(len(*bp))
	bufs := net.Buffers{*bp, p}
	n, err := bufs.WriteTo(h.conn)
	clear((*bp)[:cap(*bp)])
	*bp = (*bp)[:0]
	headPool.Put(bp)
	if err != nil {
		h.writeErr = err
		return int(max(n-hl, 0)), err
	}
	return len(p), nil
}

// Read reads the declared body: first what net/http already buffered, then straight from the
// socket into p, never more than declared.
func (h *hijacked) Read(p []byte) (int, error) {
	if h.left <= 0 {
		return 0, io.EOF
	}
	if h.expect {
		h.expect = false
		if _, err := io.WriteString(h.conn, "HTTP/1.1 100 Continue\r\n\r\n"); err != nil {
			return 0, err
		}
	}
	p = p[:min(int64(len(p)), h.left)]
	var n int
	var err error
	if b := h.br.Buffered(); b > 0 {
		n, err = h.br.Read(p[:min(len(p), b)])
	} else {
		n, err = h.conn.Read(p)
	}
	h.left -= int64(n)
	if err == io.EOF && h.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// peekBody waits at most wait for the body's first byte to be in the read buffer (at once
// when it came with the headers), without consuming it; the connection's read deadline is
// the server's again afterwards.
func (h *hijacked) peekBody(wait time.Duration) (int, error) {
	if h.left <= 0 || h.br.Buffered() > 0 {
		return h.br.Buffered(), nil
	}
	if h.expect {
		h.expect = false
		if _, err := io.WriteString(h.conn, "HTTP/1.1 100 Continue\r\n\r\n"); err != nil {
			return 0, err
		}
	}
	_ = h.conn.SetReadDeadline(time.Now().Add(wait))
	defer func() { _ = h.conn.SetReadDeadline(time.Now().Add(h.read)) }()
	if _, err := h.br.Peek(1); err != nil {
		return 0, err
	}
	return h.br.Buffered(), nil
}

// renew starts the connection's read and write deadlines again: a piece that waited for its
// turn (supersede.go) gets the whole read timeout for its body, and the write timeout for its
// answer, from when it goes on.
func (h *hijacked) renew() {
	now := time.Now()
	_ = h.conn.SetReadDeadline(now.Add(h.read))
	_ = h.conn.SetWriteDeadline(now.Add(h.write))
}

// finish zeroes every buffer net/http used for the connection and closes it.
func (h *hijacked) finish() {
	if h.head != nil && h.writeErr == nil {
		_, _ = h.sendHead(nil) // an answer without a body
	}
	wipeReader(h.br)
	wipeWriter(h.bw)
	// A refused body may still be on its way: closing with it unread would reset the
	// connection, and the client could lose the answer. Half-close and let it arrive unread.
	if h.left != 0 && !h.expect {
		if cw, ok := h.conn.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
			time.Sleep(rstAvoidance)
		}
	}
	_ = h.conn.Close()
}

// serve runs fn with a ResponseWriter on the hijacked connection that keeps the header
// contract, answers the uniform 500 if fn panics before answering, and finishes the
// connection. Nothing is printed either way.
func (s *server) serveHijacked(h *hijacked, isAPI bool, fn func(w http.ResponseWriter)) {
	rec := &recorder{ResponseWriter: h}
	resetHeaders(h.header)
	defer func() {
		if v := recover(); v != nil && !rec.wrote {
			resetHeaders(h.header)
			if isAPI {
				s.writeJSON(rec, http.StatusInternalServerError, s.internalBody)
			} else {
				s.writeHTML(rec, http.StatusInternalServerError, s.errorPage)
			}
		}
		h.finish()
	}()
	fn(rec)
}

// refuseTaken answers a refusal made before any route takes the connection over (a Tor2web
// relay, a cross-origin request, the router's 404 and 405, the uniform 500) with answer. A
// request that carries a body is answered on its connection taken from net/http, which is then
// wiped and closed like a ciphertext route's: answered through net/http, the body (perhaps an
// upload's ciphertext) would be drained, up to 256 KiB, through net/http's pooled buffers and
// the connection kept for another request.
func (s *server) refuseTaken(w http.ResponseWriter, r *http.Request, answer func(w http.ResponseWriter)) {
	if r.ContentLength != 0 { // -1: chunked, length unknown
		if h, ok := hijack(w, r, r.ContentLength); ok {
			s.serveHijacked(h, isAPI(r), answer)
			return
		}
	}
	answer(w)
}

// taken is refuseTaken for a refusing handler.
func (s *server) taken(refusal http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.refuseTaken(w, r, func(w http.ResponseWriter) { refusal(w, r) })
	}
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// wipeReader overwrites the whole internal buffer of br, not only its unread part: the
// request line, headers and body prefix it held earlier are in the same array. Reset keeps
// the array; filling it from zeros overwrites every byte.
func wipeReader(br *bufio.Reader) {
	if br == nil {
		return
	}
	if n := br.Buffered(); n > 0 {
		p, _ := br.Peek(n)
		clear(p)
	}
	br.Reset(zeros{})
	_, _ = br.Peek(br.Size())
	br.Reset(zeros{})
}

// wipeWriter overwrites the whole internal buffer of bw, which held earlier answers on the
// same connection.
func wipeWriter(bw *bufio.Writer) {
	if bw == nil {
		return
	}
	bw.Reset(io.Discard)
	clear(bw.AvailableBuffer()[:bw.Available()])
}
