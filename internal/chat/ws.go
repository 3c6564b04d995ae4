package chat

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sealdrop/sealdrop/internal/api"
	"github.com/sealdrop/sealdrop/internal/wsrelay"
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
	DefaultPingEvery   = wsrelay.DefaultPingEvery
	DefaultReadTimeout = wsrelay.DefaultReadTimeout
)

// TokenFromSubprotocols finds the session token among the offered subprotocols (the value is
// base64url; decoding is the caller's). ok is false unless exactly the expected pair is offered.
func TokenFromSubprotocols(r *http.Request) (string, bool) { return wsrelay.TokenFromSubprotocols(r) }

// control is a text message in either direction (api.Control).
type control = api.Control

// ServeWS upgrades an already checked request (Origin, token) for ss and relays until the chat
// ends or the socket closes, on the connection's own buffers, wiped as wsrelay says. onError
// answers an upgrade the client got wrong.
func (ss *Session) ServeWS(w http.ResponseWriter, r *http.Request, onError func(http.ResponseWriter, int)) {
	replies := make(chan control, 16)
	tm := wsrelay.Timing{PingEvery: ss.s.cfg.PingEvery, ReadTimeout: ss.s.cfg.ReadTimeout}
	connected := false
	wsrelay.Serve(w, r, ss.s.cfg.MaxRecord+1, tm, onError,
		func(c *wsrelay.Conn) { ss.readLoop(c, replies) },
		func(ctx context.Context, c *wsrelay.Conn) {
			ss.Connected(1)
			connected = true
			ss.writeLoop(ctx, c, replies)
		})
	if connected {
		ss.Connected(-1)
	}
}

func (ss *Session) readLoop(conn *wsrelay.Conn, replies chan<- control) {
	for {
		typ, rd, err := conn.Next()
		if err != nil {
			return
		}
		var reply control
		switch typ {
		case websocket.BinaryMessage:
			// Straight from the socket into the vault: no buffer of ours holds the record.
			seq, err := ss.SendStream(rd)
			if derr := wsrelay.Drain(rd); derr != nil && err == nil {
				return // the message broke off
			}
			conn.WipeRead()
			reply = sendReply(seq, err)
		case websocket.TextMessage:
			var m control
			if !conn.Control(rd, &m) {
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

func (ss *Session) writeLoop(ctx context.Context, conn *wsrelay.Conn, replies <-chan control) {
	ping := time.NewTicker(ss.s.cfg.PingEvery)
	defer ping.Stop()
	var next uint64 // next sequence number to push on this socket
	first := true
	peer := false
	for {
		st := ss.State()
		if first {
			next = st.Pending // a reconnect pushes every record not yet acknowledged again
		}
		if st.Ended != "" {
			conn.WriteJSON(control{T: api.ControlEnd, Reason: st.Ended})
			conn.Close()
			return
		}
		if first || st.Peer != peer {
			peer = st.Peer
			t := api.ControlPeer
			if !peer {
				t = api.ControlNoPeer
			}
			if !conn.WriteJSON(control{T: t}) {
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

// push writes seq ‖ record straight from the vault into one binary message.
func (ss *Session) push(conn *wsrelay.Conn, d *Delivery) bool {
	var hdr [8]byte
	binary.BigEndian.PutUint64(hdr[:], d.Seq)
	ok, skipped := conn.Push(hdr[:], func(w io.Writer) error {
		if _, err := d.WriteTo(w); err != nil {
			return wsrelay.ErrSkip
		}
		return nil
	})
	if skipped {
		ss.Skip(d.Seq) // the vault no longer has it: the receiver sees a missing record
	}
	return ok
}
