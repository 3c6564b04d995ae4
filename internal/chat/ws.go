package chat

import (
	"encoding/binary"
	"errors"
	"io"
	"net/http"

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

// control is a text message in either direction (api.Control).
type control = api.Control

// ServeWS upgrades an already checked request (Origin, token) for ss and relays until the chat
// ends or the socket closes, on the connection's own buffers, wiped as internal/wsrelay says
// (the group room's socket is the same). onError answers an upgrade the client got wrong.
func (ss *Session) ServeWS(w http.ResponseWriter, r *http.Request, onError func(http.ResponseWriter, int)) {
	tm := wsrelay.Timing{PingEvery: ss.s.cfg.PingEvery, ReadTimeout: ss.s.cfg.ReadTimeout}
	wsrelay.Relay(w, r, wsSide{ss}, ss.s.cfg.MaxRecord+1, tm, onError)
}

// wsSide is a chat side as its socket serves it (wsrelay.Side).
type wsSide struct{ ss *Session }

func (s wsSide) Store(rd io.Reader) control {
	seq, err := s.ss.SendStream(rd)
	return sendReply(seq, err)
}

func (s wsSide) Control(m control) bool {
	switch {
	case m.T == api.ControlAck && m.Seq != nil && m.Next == nil:
		s.ss.Ack(*m.Seq)
	case m.T == api.ControlAck && m.Next != nil && m.Seq == nil:
		s.ss.AckBelow(*m.Next)
	case m.T == api.ControlEnd:
		s.ss.End()
	default:
		return false
	}
	return true
}

func (s wsSide) View() wsrelay.View {
	st := s.ss.State()
	v := wsrelay.View{Ended: st.Ended, Presence: control{T: api.ControlNoPeer}, PresenceKey: api.ControlNoPeer,
		Pending: st.Pending, Avail: st.Avail, Changed: st.Changed}
	if st.Peer {
		v.Presence, v.PresenceKey = control{T: api.ControlPeer}, api.ControlPeer
	}
	return v
}

// Next is seq (8, big-endian) ‖ record, the record straight from the vault.
func (s wsSide) Next(from uint64) (wsrelay.Push, bool) {
	d := s.ss.PeekNow(from)
	if d == nil {
		return wsrelay.Push{}, false
	}
	return wsrelay.RecordPush(d.Seq, binary.BigEndian.AppendUint64(nil, d.Seq), d), true
}

func (s wsSide) Skip(seq uint64)          { s.ss.Skip(seq) }
func (s wsSide) Connected(delta int) bool { return s.ss.Connected(delta) }

func sendReply(seq uint64, err error) control {
	var ended *EndedError
	if errors.As(err, &ended) {
		return control{T: api.ControlEnd, Reason: ended.Reason}
	}
	return wsrelay.Reply(seq, err, ErrTooLarge, ErrBusy, ErrFull)
}
