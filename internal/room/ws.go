package room

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/sealdrop/sealdrop/internal/api"
	"github.com/sealdrop/sealdrop/internal/wsrelay"
)

type control = api.Control

// ServeWS upgrades an already checked request (Origin, token) for ss and relays until the room
// or this member ends or the socket closes, on the connection's own buffers: the chat's socket
// (internal/wsrelay). onError answers an upgrade the client got wrong.
func (ss *Session) ServeWS(w http.ResponseWriter, r *http.Request, onError func(http.ResponseWriter, int)) {
	tm := wsrelay.Timing{PingEvery: ss.s.cfg.PingEvery, ReadTimeout: ss.s.cfg.ReadTimeout}
	wsrelay.Relay(w, r, wsSide{ss}, ss.s.cfg.MaxRecord+1, tm, onError)
}

// wsSide is a member as its socket serves it (wsrelay.Side).
type wsSide struct{ ss *Session }

func (s wsSide) Store(rd io.Reader) control {
	seq, err := s.ss.SendStream(rd)
	var ended *EndedError
	if errors.As(err, &ended) {
		return control{T: api.ControlEnd, Reason: ended.Reason}
	}
	return wsrelay.Reply(seq, err, ErrTooLarge, ErrBusy, ErrFull)
}

// Control takes {"t":"ack","next":N} and {"t":"leave"}.
func (s wsSide) Control(m control) bool {
	switch {
	case m.T == api.ControlAck && m.Next != nil && m.Seq == nil:
		s.ss.AckBelow(*m.Next)
	case m.T == api.ControlLeave && m.Next == nil && m.Seq == nil:
		s.ss.Leave()
	default:
		return false
	}
	return true
}

func (s wsSide) View() wsrelay.View {
	st := s.ss.State()
	seats := st.Seats()
	return wsrelay.View{Ended: st.Ended, Presence: seats, PresenceKey: fmt.Sprint(seats.V, seats.In, seats.Out),
		PresenceFrom: st.VFrom, Pending: st.Pending, Avail: st.Avail, Changed: st.Changed}
}

// Next is seq (8, big-endian) ‖ from seat (1) ‖ record, the record straight from the vault.
func (s wsSide) Next(from uint64) (wsrelay.Push, bool) {
	d := s.ss.PeekNow(from)
	if d == nil {
		return wsrelay.Push{}, false
	}
	return wsrelay.RecordPush(d.Seq, append(binary.BigEndian.AppendUint64(nil, d.Seq), byte(d.From)), d), true
}

func (s wsSide) Skip(seq uint64)          { s.ss.skip(seq) }
func (s wsSide) Connected(delta int) bool { return s.ss.Connected(delta) }

// Seats is the membership message of a state ({"t":"seats",…}; in and out always present).
func (st State) Seats() api.RoomSeats {
	m := api.RoomSeats{T: api.ControlSeats, V: st.V, In: st.In, Out: st.Out}
	if m.In == nil {
		m.In = []int{}
	}
	if m.Out == nil {
		m.Out = []int{}
	}
	return m
}
