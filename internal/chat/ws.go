package chat

import (
	"bufio"
	"context"
	"encoding/binary"
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

// Subprotocol is what the server echoes; the session token travels beside it as
// SubprotocolPrefix + base64url(token), never in the URL.
const (
	Subprotocol       = api.Subprotocol
	SubprotocolPrefix = api.SubprotocolPrefix
)

// Socket timing (Config.PingEvery, Config.ReadTimeout): Tor round trips take about a second;
// a silent circuit is found by pings.
const (
	DefaultPingEvery   = 30 * time.Second
	DefaultReadTimeout = 90 * time.Second
	writeWait          = 30 * time.Second
)

// TokenFromSubprotocols finds the session token among the offered subprotocols (the value is
// base64url; decoding is the caller's). ok is false unless exactly the expected pair is offered.
func TokenFromSubprotocols(r *http.Request) (string, bool) {
	var tok string
	plain := false
	for _, p := range websocket.Subprotocols(r) {
		switch {
		case p == Subprotocol:
			plain = true
		case strings.HasPrefix(p, SubprotocolPrefix) && tok == "":
			tok = strings.TrimPrefix(p, SubprotocolPrefix)
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

// control is a text message in either direction (api.Control).
type control = api.Control

// Records must live only in the vault's locked memory, also on their way through the socket.
// gorilla/websocket reads and writes through buffers: with ReadBufferSize and WriteBufferSize
// zero it uses the connection's own bufio.Reader and bufio.Writer, which it takes over from
// net/http (a hijacked connection's buffers never go back to net/http's pools), so that they
// are ours to wipe. A binary message is read straight into the vault (gorilla unmasks in the
// caller's buffer, which is the locked memory), so the unmasked record never touches the heap;
// the read buffer can hold a small record's masked bytes, and the write buffer the record last
// pushed: the write buffer is wiped after every record, the read buffer whenever it holds no
// unread byte, and both when the socket closes.

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
		return nil, nil, errors.New("chat: the connection cannot be taken over")
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

// ServeWS upgrades an already checked request (Origin, token) for ss and relays until the chat
// ends or the socket closes. onError answers an upgrade the client got wrong.
func (ss *Session) ServeWS(w http.ResponseWriter, r *http.Request, onError func(http.ResponseWriter, int)) {
	bufs := &connBuffers{ResponseWriter: hijackable(w)}
	up := websocket.Upgrader{
		ReadBufferSize:  0, // use the connection's own buffers (above), ours to wipe
		WriteBufferSize: 0,
		Subprotocols:    []string{Subprotocol},
		CheckOrigin:     func(*http.Request) bool { return true }, // checked by the caller, before the token
		Error: func(w http.ResponseWriter, _ *http.Request, status int, _ error) {
			onError(w, status)
		},
	}
	conn, err := up.Upgrade(bufs, r, nil)
	if err != nil {
		return
	}
	// The HTTP server's deadlines stay on a hijacked connection: replace them with our own.
	_ = conn.NetConn().SetDeadline(time.Time{})
	ss.relay(conn, bufs)
}

func (ss *Session) relay(conn *websocket.Conn, bufs *connBuffers) {
	ss.Connected(1)
	ctx, cancel := context.WithCancel(context.Background())
	replies := make(chan control, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer cancel()
		defer func() { _ = recover() }()
		ss.readLoop(conn, bufs, replies)
	}()
	func() {
		defer func() { _ = recover() }()
		ss.writeLoop(ctx, conn, bufs, replies)
	}()
	cancel()
	_ = conn.Close()
	<-done
	// Both loops are done: whatever is left in the buffers (the rest of a message, a record
	// being written when the socket broke) is wiped now.
	if bufs.brw != nil {
		br := bufs.brw.Reader
		if n := br.Buffered(); n > 0 {
			p, _ := br.Peek(n)
			clear(p)
		}
		br.Reset(zeros{})
		_, _ = br.Peek(br.Size())
		br.Reset(zeros{})
		bufs.wipeWrite()
	}
	ss.Connected(-1)
}

// drain reads what is left of a refused record (busy, too large, the chat ended) through a
// small buffer that is cleared after every read, never io.Discard's pooled one.
func drain(r io.Reader) error {
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

// maxControl is the largest text message (a control message) a side may send.
const maxControl = 1 << 10

func (ss *Session) readLoop(conn *websocket.Conn, bufs *connBuffers, replies chan<- control) {
	s := ss.s
	conn.SetReadLimit(s.cfg.MaxRecord + 1)
	readTimeout := s.cfg.ReadTimeout
	_ = conn.SetReadDeadline(time.Now().Add(readTimeout))
	// A pong proves the circuit is alive between messages; inside a message it must not keep a
	// trickled record (and the blocks it took) waiting past the read timeout.
	inMessage := false // only this goroutine reads it: gorilla calls the handler while reading
	conn.SetPongHandler(func(string) error {
		if inMessage {
			return nil
		}
		return conn.SetReadDeadline(time.Now().Add(readTimeout))
	})
	for {
		inMessage = false
		typ, rd, err := conn.NextReader()
		if err != nil {
			return
		}
		inMessage = true
		_ = conn.SetReadDeadline(time.Now().Add(readTimeout))
		var reply control
		switch typ {
		case websocket.BinaryMessage:
			// Straight from the socket into the vault: no buffer of ours holds the record.
			seq, err := ss.SendStream(rd)
			if derr := drain(rd); derr != nil && err == nil {
				return // the message broke off
			}
			bufs.wipeRead()
			reply = sendReply(seq, err)
		case websocket.TextMessage:
			b, err := io.ReadAll(io.LimitReader(rd, maxControl+1))
			bufs.wipeRead() // a record read before may still sit in the buffer
			var m control
			if err != nil || len(b) > maxControl || json.Unmarshal(b, &m) != nil {
				return
			}
			switch {
			case m.T == api.ControlAck && m.Seq != nil && m.Next == nil:
				ss.Ack(*m.Seq)
				continue
			case m.T == api.ControlAck && m.Next != nil && m.Seq == nil:
				ss.AckBelow(*m.Next)
				continue
			case m.T == api.ControlEnd:
				ss.End()
				continue
			default:
				return
			}
		}
		select {
		case replies <- reply:
		default:
			return // a client that never reads its replies is cut off
		}
	}
}

func sendReply(seq uint64, err error) control {
	var ended *EndedError
	switch {
	case err == nil:
		return control{T: api.ControlSent, Seq: &seq}
	case errors.As(err, &ended):
		return control{T: api.ControlEnd, Reason: ended.Reason}
	case errors.Is(err, ErrTooLarge):
		return control{T: api.ControlError, Error: api.CodeTooLarge}
	case errors.Is(err, ErrBusy):
		return control{T: api.ControlError, Error: api.CodeBusy}
	case errors.Is(err, ErrFull):
		return control{T: api.ControlError, Error: api.CodeFull}
	}
	return control{T: api.ControlError, Error: api.CodeRefused}
}

func (ss *Session) writeLoop(ctx context.Context, conn *websocket.Conn, bufs *connBuffers, replies <-chan control) {
	ping := time.NewTicker(ss.s.cfg.PingEvery)
	defer ping.Stop()
	var next uint64 // next sequence number to push on this socket
	first := true
	peer := false
	writeJSON := func(m control) bool {
		_ = conn.SetWriteDeadline(time.Now().Add(writeWait))
		return conn.WriteJSON(m) == nil
	}
	for {
		st := ss.State()
		if first {
			next = st.Pending // a reconnect pushes every record not yet acknowledged again
		}
		if st.Ended != "" {
			writeJSON(control{T: api.ControlEnd, Reason: st.Ended})
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			return
		}
		if first || st.Peer != peer {
			peer = st.Peer
			t := api.ControlPeer
			if !peer {
				t = api.ControlNoPeer
			}
			if !writeJSON(control{T: t}) {
				return
			}
		}
		first = false
		if st.Avail {
			if d := ss.PeekNow(next); d != nil {
				ok := ss.push(conn, d)
				bufs.wipeWrite()
				if !ok {
					return
				}
				next = d.Seq + 1
				continue
			}
		}
		select {
		case <-ctx.Done():
			return
		case m := <-replies:
			if !writeJSON(m) {
				return
			}
		case <-ping.C:
			if conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)) != nil {
				return
			}
		case <-st.Changed:
		}
	}
}

// push writes seq ‖ record straight from the vault into one binary message.
func (ss *Session) push(conn *websocket.Conn, d *Delivery) bool {
	_ = conn.SetWriteDeadline(time.Now().Add(writeWait))
	w, err := conn.NextWriter(websocket.BinaryMessage)
	if err != nil {
		return false
	}
	var hdr [8]byte
	binary.BigEndian.PutUint64(hdr[:], d.Seq)
	if _, err := w.Write(hdr[:]); err != nil {
		return false
	}
	if _, err := d.WriteTo(w); err != nil {
		_ = w.Close()
		ss.Skip(d.Seq) // the vault no longer has it: the receiver sees a missing record
		return true
	}
	return w.Close() == nil
}
