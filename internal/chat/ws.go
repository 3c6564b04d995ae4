package chat

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// Subprotocol is what the server echoes; the session token travels beside it as
// SubprotocolPrefix + base64url(token), never in the URL.
const (
	Subprotocol       = "sealdrop.v1"
	SubprotocolPrefix = "sealdrop.v1."
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

// control is a text message in either direction.
type control struct {
	T      string  `json:"t"`
	Seq    *uint64 `json:"seq,omitempty"`
	Error  string  `json:"error,omitempty"`
	Reason string  `json:"reason,omitempty"`
}

// ServeWS upgrades an already checked request (Origin, token) for ss and relays until the chat
// ends or the socket closes. onError answers an upgrade the client got wrong.
func (ss *Session) ServeWS(w http.ResponseWriter, r *http.Request, onError func(http.ResponseWriter, int)) {
	up := websocket.Upgrader{
		ReadBufferSize:  4096,
		WriteBufferSize: 16 << 10,
		Subprotocols:    []string{Subprotocol},
		CheckOrigin:     func(*http.Request) bool { return true }, // checked by the caller, before the token
		Error: func(w http.ResponseWriter, _ *http.Request, status int, _ error) {
			onError(w, status)
		},
	}
	conn, err := up.Upgrade(hijackable(w), r, nil)
	if err != nil {
		return
	}
	// The HTTP server's deadlines stay on a hijacked connection: replace them with our own.
	_ = conn.NetConn().SetDeadline(time.Time{})
	ss.relay(conn)
}

func (ss *Session) relay(conn *websocket.Conn) {
	ss.Connected(1)
	ctx, cancel := context.WithCancel(context.Background())
	replies := make(chan control, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer cancel()
		defer func() { _ = recover() }()
		ss.readLoop(conn, replies)
	}()
	func() {
		defer func() { _ = recover() }()
		ss.writeLoop(ctx, conn, replies)
	}()
	cancel()
	_ = conn.Close()
	<-done
	ss.Connected(-1)
}

func (ss *Session) readLoop(conn *websocket.Conn, replies chan<- control) {
	s := ss.s
	conn.SetReadLimit(s.cfg.MaxRecord + 1)
	readTimeout := s.cfg.ReadTimeout
	_ = conn.SetReadDeadline(time.Now().Add(readTimeout))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(readTimeout)) })
	buf := make([]byte, 0, 4096)
	for {
		typ, rd, err := conn.NextReader()
		if err != nil {
			return
		}
		_ = conn.SetReadDeadline(time.Now().Add(readTimeout))
		buf = buf[:0]
		bb := bytes.NewBuffer(buf)
		_, err = io.Copy(bb, io.LimitReader(rd, s.cfg.MaxRecord+1))
		buf = bb.Bytes()
		if err != nil {
			clear(buf)
			return
		}
		var reply control
		switch typ {
		case websocket.BinaryMessage:
			seq, err := ss.Send(bytes.NewReader(buf), int64(len(buf)))
			clear(buf) // ciphertext, but no copy of it is kept outside the vault
			reply = sendReply(seq, err)
		case websocket.TextMessage:
			var m control
			if json.Unmarshal(buf, &m) != nil {
				return
			}
			switch {
			case m.T == "ack" && m.Seq != nil:
				ss.Ack(*m.Seq)
				continue
			case m.T == "end":
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
		return control{T: "sent", Seq: &seq}
	case errors.As(err, &ended):
		return control{T: "end", Reason: ended.Reason}
	case errors.Is(err, ErrTooLarge):
		return control{T: "error", Error: "too_large"}
	case errors.Is(err, ErrBusy):
		return control{T: "error", Error: "busy"}
	case errors.Is(err, ErrFull):
		return control{T: "error", Error: "full"}
	}
	return control{T: "error", Error: "refused"}
}

func (ss *Session) writeLoop(ctx context.Context, conn *websocket.Conn, replies <-chan control) {
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
			writeJSON(control{T: "end", Reason: st.Ended})
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			return
		}
		if first || st.Peer != peer {
			peer = st.Peer
			t := "peer"
			if !peer {
				t = "nopeer"
			}
			if !writeJSON(control{T: t}) {
				return
			}
		}
		first = false
		if st.Avail {
			if d := ss.PeekNow(next); d != nil {
				if !ss.push(conn, d) {
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
