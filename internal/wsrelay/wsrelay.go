// Package wsrelay is the WebSocket both relays serve (the two-person chat, internal/chat, and
// the group room, internal/room): the upgrade that takes the connection over from net/http with
// its own buffers, the wiping of those buffers, the read and write deadlines and pings, and the
// two loops' lifetime. What a message means is the relay's.
//
// Records must live only in the vault's locked memory, also on their way through the socket.
// gorilla/websocket reads and writes through buffers: with ReadBufferSize and WriteBufferSize
// zero it uses the connection's own bufio.Reader and bufio.Writer, which it takes over from
// net/http (a hijacked connection's buffers never go back to net/http's pools), so that they
// are ours to wipe. A binary message is read straight into the vault (gorilla unmasks in the
// caller's buffer, which is the locked memory), so the unmasked record never touches the heap;
// the read buffer can hold a small record's masked bytes, and the write buffer the record last
// pushed: the write buffer is wiped after every record (Conn.Push), the read buffer after every
// message (WipeRead), and both when the socket closes (Serve). It never logs or prints.
package wsrelay

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sealdrop/sealdrop/internal/api"
)

// Socket timing: Tor round trips take about a second; a silent circuit is found by pings.
const (
	DefaultPingEvery   = 30 * time.Second
	DefaultReadTimeout = 90 * time.Second
	writeWait          = 30 * time.Second
	// MaxControl is the largest text message (a control message) a client may send.
	MaxControl = 1 << 10
)

// TokenFromSubprotocols finds the session token among the offered subprotocols (the value is
// base64url; decoding is the caller's). ok is false unless exactly the expected pair is offered:
// api.Subprotocol and api.SubprotocolPrefix + token.
func TokenFromSubprotocols(r *http.Request) (string, bool) {
	var tok string
	plain := false
	for _, p := range websocket.Subprotocols(r) {
		switch {
		case p == api.Subprotocol:
			plain = true
		case strings.HasPrefix(p, api.SubprotocolPrefix) && tok == "":
			tok = strings.TrimPrefix(p, api.SubprotocolPrefix)
		default:
			return "", false
		}
	}
	return tok, plain && tok != ""
}

// hijackable finds the underlying ResponseWriter that can hijack the connection (wrappers that
// only Unwrap are looked through).
func hijackable(w http.ResponseWriter) http.ResponseWriter {
	for {
		if _, ok := w.(http.Hijacker); ok {
			return w
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return w
		}
		w = u.Unwrap()
	}
}

// connBuffers are the hijacked connection and its buffers, recorded for wiping.
type connBuffers struct {
	http.ResponseWriter
	conn net.Conn
	brw  *bufio.ReadWriter
}

// Hijack takes the connection (for gorilla's Upgrade) and keeps what it hands over.
func (c *connBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := c.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("wsrelay: the connection cannot be taken over")
	}
	conn, brw, err := h.Hijack()
	if err == nil {
		c.conn, c.brw = conn, brw
	}
	return conn, brw, err
}

// wipeRead overwrites the whole read buffer, keeping the bytes not read yet (the start of the
// next frame, a pong after a record): they are fed back ahead of the connection from a copy
// that is zeroed as it is read. Only the reading goroutine calls it, between messages.
func (c *connBuffers) wipeRead() {
	if c.brw == nil {
		return
	}
	br := c.brw.Reader
	var saved []byte
	if n := br.Buffered(); n > 0 {
		p, _ := br.Peek(n)
		saved = make([]byte, n)
		copy(saved, p)
		clear(p)
	}
	br.Reset(zeros{})
	_, _ = br.Peek(br.Size())
	br.Reset(zeros{})
	_, _ = br.Discard(br.Buffered())
	if saved == nil {
		br.Reset(c.conn)
		return
	}
	br.Reset(io.MultiReader(&wipingReader{saved}, c.conn))
}

// wipeAll overwrites both buffers, whatever they hold (the rest of a message, a record being
// written when the socket broke). Called once both loops are done.
func (c *connBuffers) wipeAll() {
	if c.brw == nil {
		return
	}
	br := c.brw.Reader
	if n := br.Buffered(); n > 0 {
		p, _ := br.Peek(n)
		clear(p)
	}
	br.Reset(zeros{})
	_, _ = br.Peek(br.Size())
	br.Reset(zeros{})
	c.wipeWrite()
}

// wipingReader reads out b and zeroes what it handed over.
type wipingReader struct{ b []byte }

func (w *wipingReader) Read(p []byte) (int, error) {
	if len(w.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, w.b)
	clear(w.b[:n])
	w.b = w.b[n:]
	return n, nil
}

// wipeWrite overwrites the whole write buffer gorilla builds its frames in. Only the writing
// goroutine calls it, between messages.
func (c *connBuffers) wipeWrite() {
	if c.brw == nil {
		return
	}
	bw := c.brw.Writer
	clear(bw.AvailableBuffer()[:bw.Available()])
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// Conn is one relay socket: the WebSocket and the buffers it was taken over with.
type Conn struct {
	ws          *websocket.Conn
	bufs        *connBuffers
	readTimeout time.Duration
	inMessage   bool // only the reading goroutine touches it: gorilla calls the pong handler while reading
}

// Timing is a socket's ping period and how long it may stay silent, pongs included, before it
// is closed (ReadTimeout more than PingEvery).
type Timing struct {
	PingEvery, ReadTimeout time.Duration
}

// Serve upgrades an already checked request (Origin, token), then runs read and write until
// either returns, each under a recover; write's context ends when read returns. Once both are
// done the buffers are wiped and the connection closed. onError answers an upgrade the client
// got wrong; a failed upgrade calls neither loop. maxMessage is the largest message read.
func Serve(w http.ResponseWriter, r *http.Request, maxMessage int64, tm Timing, onError func(http.ResponseWriter, int),
	read func(*Conn), write func(context.Context, *Conn)) {
	bufs := &connBuffers{ResponseWriter: hijackable(w)}
	up := websocket.Upgrader{
		ReadBufferSize:  0, // use the connection's own buffers (above), ours to wipe
		WriteBufferSize: 0,
		Subprotocols:    []string{api.Subprotocol},
		CheckOrigin:     func(*http.Request) bool { return true }, // checked by the caller, before the token
		Error: func(w http.ResponseWriter, _ *http.Request, status int, _ error) {
			onError(w, status)
		},
	}
	ws, err := up.Upgrade(bufs, r, nil)
	if err != nil {
		return
	}
	// The HTTP server's deadlines stay on a hijacked connection: replace them with our own.
	_ = ws.NetConn().SetDeadline(time.Time{})
	c := &Conn{ws: ws, bufs: bufs, readTimeout: tm.ReadTimeout}
	ws.SetReadLimit(maxMessage)
	_ = ws.SetReadDeadline(time.Now().Add(tm.ReadTimeout))
	// A pong proves the circuit is alive between messages; inside a message it must not keep a
	// trickled record (and the blocks it took) waiting past the read timeout.
	ws.SetPongHandler(func(string) error {
		if c.inMessage {
			return nil
		}
		return ws.SetReadDeadline(time.Now().Add(c.readTimeout))
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer cancel()
		defer func() { _ = recover() }()
		read(c)
	}()
	func() {
		defer func() { _ = recover() }()
		write(ctx, c)
	}()
	cancel()
	_ = ws.Close()
	<-done
	// Both loops are done: whatever is left in the buffers is wiped now.
	bufs.wipeAll()
}

// Next waits for the next message and returns its type (websocket.BinaryMessage or
// websocket.TextMessage) and reader. Call WipeRead once the message is read.
func (c *Conn) Next() (int, io.Reader, error) {
	c.inMessage = false
	typ, rd, err := c.ws.NextReader()
	if err != nil {
		return 0, nil, err
	}
	c.inMessage = true
	_ = c.ws.SetReadDeadline(time.Now().Add(c.readTimeout))
	return typ, rd, nil
}

// WipeRead overwrites the read buffer between messages (the reading goroutine only).
func (c *Conn) WipeRead() { c.bufs.wipeRead() }

// Control reads a text message of at most MaxControl bytes into m and wipes the read buffer
// (a record read before may still sit in it). False: too long, broken or not a control.
func (c *Conn) Control(rd io.Reader, m *api.Control) bool {
	b, err := io.ReadAll(io.LimitReader(rd, MaxControl+1))
	c.bufs.wipeRead()
	return err == nil && len(b) <= MaxControl && json.Unmarshal(b, m) == nil
}

// Drain reads what is left of a refused record (busy, too large, the relay ended) through a
// small buffer that is cleared after every read, never io.Discard's pooled one.
func Drain(r io.Reader) error {
	var buf [1024]byte
	defer clear(buf[:])
	for {
		n, err := r.Read(buf[:])
		clear(buf[:n])
		switch {
		case err == io.EOF:
			return nil
		case err != nil:
			return err
		}
	}
}

// WriteJSON writes one text message (a JSON object and a newline). False: the socket broke.
func (c *Conn) WriteJSON(m any) bool {
	_ = c.ws.SetWriteDeadline(time.Now().Add(writeWait))
	return c.ws.WriteJSON(m) == nil
}

// Ping pings the client. False: the socket broke.
func (c *Conn) Ping() bool {
	return c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)) == nil
}

// Close says goodbye (a normal closure); the caller returns from its write loop after it.
func (c *Conn) Close() {
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
}

// ErrSkip is what a Push body returns when its record is no longer there (the vault wiped it
// meanwhile): the message is finished with the header alone and the socket goes on.
var ErrSkip = errors.New("wsrelay: record gone")

// Push writes header ‖ body into one binary message, body straight from the vault, and wipes
// the write buffer after it. ok is false when the socket broke; skipped when body returned
// ErrSkip (the receiver sees a short message).
func (c *Conn) Push(header []byte, body func(io.Writer) error) (ok, skipped bool) {
	defer c.bufs.wipeWrite()
	_ = c.ws.SetWriteDeadline(time.Now().Add(writeWait))
	w, err := c.ws.NextWriter(websocket.BinaryMessage)
	if err != nil {
		return false, false
	}
	if _, err := w.Write(header); err != nil {
		return false, false
	}
	if err := body(w); err != nil {
		_ = w.Close()
		return errors.Is(err, ErrSkip), errors.Is(err, ErrSkip)
	}
	return w.Close() == nil, false
}

// View is what one side of a relay looks like to its socket now.
type View struct {
	Ended string // the end's reason, once ended: told, then the socket closes
	// Presence is the message that says who else is there ({"t":"peer"}, a room's seats),
	// sent first and again whenever PresenceKey changes.
	Presence    any
	PresenceKey string
	// PresenceFrom is the first record stored under this Presence: a changed Presence is
	// sent after the records below it (a room member's bye goes out before the list without
	// it, and a record sent under the new list after it); 0: no such order.
	PresenceFrom uint64
	Pending      uint64 // the first record not yet acknowledged (where a new socket starts)
	Avail        bool   // a record is waiting
	Changed      <-chan struct{}
}

// Push is one record to push: its header (the relay's sequence number and more) and its body,
// written straight from the vault (ErrSkip when the vault no longer has it).
type Push struct {
	Seq    uint64
	Header []byte
	Body   func(io.Writer) error
}

// RecordPush is the Push of a record read straight from the vault by d (a chat's or a room's
// delivery): a record the vault no longer has is skipped (ErrSkip).
func RecordPush(seq uint64, header []byte, d io.WriterTo) Push {
	return Push{Seq: seq, Header: header, Body: func(w io.Writer) error {
		if _, err := d.WriteTo(w); err != nil {
			return ErrSkip
		}
		return nil
	}}
}

// Side is one side of a relay (a chat's side, a room's member), as its socket serves it.
type Side interface {
	// Store reads one record (a binary message) and returns the reply to send.
	Store(rd io.Reader) api.Control
	// Control acts on a client's text message; false closes the socket (not one it takes).
	Control(m api.Control) bool
	// View is the side's state now.
	View() View
	// Next is the first record numbered from or later, if any.
	Next(from uint64) (Push, bool)
	// Skip releases a record the vault no longer has (its push found it gone).
	Skip(seq uint64)
	// Connected counts a socket open (+1) or closed (-1). An open beyond MaxSockets of the
	// same session returns false and counts nothing: that socket is refused.
	Connected(delta int) bool
}

// MaxSockets is how many sockets one session may hold open at once: two, so that a reload's
// new socket is served while the old one is still closing. Every socket is a connection taken
// over from net/http (outside its connection cap) with its buffers and two goroutines, kept
// alive by pongs; without a cap one session could hold any number (a hostile review's R5).
const MaxSockets = 2

// Relay serves side on the socket of an already checked request (Origin, token), until the
// side ends or the socket closes: records in go to Store straight from the socket (into the
// vault), text messages to Control; out go Presence when it changes, every record from Pending
// on, the replies, pings, and the end. maxMessage is the largest message read.
func Relay(w http.ResponseWriter, r *http.Request, side Side, maxMessage int64, tm Timing, onError func(http.ResponseWriter, int)) {
	// Counted before the upgrade, so that a session over its sockets is refused (429) before
	// any of its messages is read.
	if !side.Connected(1) {
		onError(w, http.StatusTooManyRequests)
		return
	}
	defer side.Connected(-1)
	replies := make(chan api.Control, 16)
	Serve(w, r, maxMessage, tm, onError,
		func(c *Conn) { readLoop(c, side, replies) },
		func(ctx context.Context, c *Conn) { writeLoop(ctx, c, side, tm.PingEvery, replies) })
}

func readLoop(conn *Conn, side Side, replies chan<- api.Control) {
	for {
		typ, rd, err := conn.Next()
		if err != nil {
			return
		}
		var reply api.Control
		switch typ {
		case websocket.BinaryMessage:
			// Straight from the socket into the vault: no buffer of ours holds the record.
			reply = side.Store(rd)
			if derr := Drain(rd); derr != nil && reply.T == api.ControlSent {
				return // the message broke off
			}
			conn.WipeRead()
		case websocket.TextMessage:
			var m api.Control
			if !conn.Control(rd, &m) || !side.Control(m) {
				return
			}
			continue
		}
		select {
		case replies <- reply:
		default:
			return // a client that never reads its replies is cut off
		}
	}
}

func writeLoop(ctx context.Context, conn *Conn, side Side, pingEvery time.Duration, replies <-chan api.Control) {
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	var next uint64 // next sequence number to push on this socket
	first := true
	told := ""
	// push sends p; it reports false when the socket is done.
	push := func(p Push) bool {
		ok, skipped := conn.Push(p.Header, p.Body)
		if skipped {
			side.Skip(p.Seq) // the receiver sees a missing record
		}
		next = p.Seq + 1
		return ok
	}
	for {
		st := side.View()
		if first {
			next = st.Pending // a reconnect pushes every record not yet acknowledged again
		}
		if st.Ended != "" {
			conn.WriteJSON(api.Control{T: api.ControlEnd, Reason: st.Ended})
			conn.Close()
			return
		}
		if first || st.PresenceKey != told {
			if !first && st.Avail && next < st.PresenceFrom {
				if p, ok := side.Next(next); ok && p.Seq < st.PresenceFrom { // stored before the change: first
					if !push(p) {
						return
					}
					continue
				}
			}
			if !conn.WriteJSON(st.Presence) {
				return
			}
			told = st.PresenceKey
		}
		first = false
		if st.Avail {
			if p, ok := side.Next(next); ok {
				if !push(p) {
					return
				}
				continue
			}
		}
		select {
		case <-ctx.Done():
			return
		case m := <-replies:
			if !conn.WriteJSON(m) {
				return
			}
		case <-ping.C:
			if !conn.Ping() {
				return
			}
		case <-st.Changed:
		}
	}
}

// Reply is the answer to a stored record: {"t":"sent","seq":N}, or the error a refusal maps
// to (tooLarge, busy, full: the relay's sentinels; anything else "refused").
func Reply(seq uint64, err, tooLarge, busy, full error) api.Control {
	switch {
	case err == nil:
		return api.Control{T: api.ControlSent, Seq: &seq}
	case errors.Is(err, tooLarge):
		return api.Control{T: api.ControlError, Error: api.CodeTooLarge}
	case errors.Is(err, busy):
		return api.Control{T: api.ControlError, Error: api.CodeBusy}
	case errors.Is(err, full):
		return api.Control{T: api.ControlError, Error: api.CodeFull}
	}
	return api.Control{T: api.ControlError, Error: api.CodeRefused}
}
