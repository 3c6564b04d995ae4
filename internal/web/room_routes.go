package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/sealdrop/sealdrop/internal/api"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/internal/room"
)

// mountRoom adds the group room API (SECURITY.md, "One-time group rooms") and its page when a
// room server is configured. The routes are the chat's, for seats: create, join (per seat), the
// WebSocket, the fallback's send, poll and leave, and the creator's revoke. The page (/room to
// create a room, /g/{id} for an invite) is rendered with the others and, like every page, never
// touches state.
func (s *server) mountRoom(m *mux.Router, post func(http.HandlerFunc) http.Handler) error {
	if s.cfg.Room == nil {
		return nil
	}
	page, ok := s.pages[pageRoom]
	if !ok {
		return errors.New("web: template " + pageRoom + " is missing")
	}
	m.Handle(api.Rooms, post(s.roomCreate)).Methods(http.MethodPost)
	m.Handle(api.RoomPath("{id}", api.RoomJoin), post(s.roomJoin)).Methods(http.MethodPost)
	m.Handle(api.RoomPath("{id}", api.RoomSend), post(s.roomSend)).Methods(http.MethodPost)
	m.Handle(api.RoomPath("{id}", api.RoomPoll), post(s.roomPoll)).Methods(http.MethodPost)
	m.Handle(api.RoomPath("{id}", api.RoomLeave), post(s.roomLeave)).Methods(http.MethodPost)
	m.Handle(api.RoomPath("{id}", api.RoomRevoke), post(s.roomRevoke)).Methods(http.MethodPost)
	m.Handle(api.RoomPath("{id}", api.RoomWS), http.HandlerFunc(s.roomWS)).Methods(http.MethodGet)
	serve := func(w http.ResponseWriter, r *http.Request) { s.writePage(w, http.StatusOK, page) }
	m.Handle(api.PageNewRoom, http.HandlerFunc(serve)).Methods(http.MethodGet, http.MethodHead)
	m.Handle(api.PageRoom+"{id}", http.HandlerFunc(serve)).Methods(http.MethodGet, http.MethodHead)
	return nil
}

// roomRefusal is what a room's error answers: the relay's sentinels, as the chat's.
func roomRefusal(err error) (api.Refusal, string) {
	switch {
	case errors.Is(err, room.ErrGone):
		return api.Gone, ""
	case errors.Is(err, room.ErrBusy):
		return api.TooMany, "the room holds as much as it may until the others receive the earlier messages: retry shortly"
	case errors.Is(err, room.ErrTooLarge):
		return api.TooLarge, "the record is too large"
	case errors.Is(err, room.ErrFull):
		return api.Full, "the server cannot take this now"
	}
	return api.BadRequest, "the request was refused"
}

func (s *server) roomCreate(w http.ResponseWriter, r *http.Request) {
	var req api.CreateRoom
	if !s.readJSON(w, r, &req) {
		return
	}
	cr := room.CreateRequest{}
	if req.TTL != nil {
		if *req.TTL < int64(room.MinTTL/time.Second) || *req.TTL > int64(s.cfg.Room.Config().MaxTTL/time.Second) {
			s.refuse(w, api.BadTTL, "ttl must be between 60 seconds and the maximum")
			return
		}
		cr.TTL = time.Duration(*req.TTL) * time.Second
	}
	if len(req.Seats) < room.MinSeats || len(req.Seats) > room.MaxSeats {
		s.refuse(w, api.BadParameter, "seats: a room has 2 to 8 seats")
		return
	}
	var err error
	cr.Manage, err = need32(req.ManageHash)
	for _, st := range req.Seats {
		var c room.SeatCaps
		if err == nil {
			c.Gate, err = need32(st.GateHash)
		}
		if err == nil {
			c.Open, c.PIN, err = parse32(st.OpenHash)
		}
		if err == nil { // optional: absent, the seat's lock draws a random one
			c.Destruct, _, err = parse32(st.DestructHash)
		}
		cr.Seats = append(cr.Seats, c)
	}
	if err != nil {
		s.refuse(w, api.BadRequest, "a hash is missing or malformed")
		return
	}
	if room.MixedPINs(cr.Seats) {
		s.refuse(w, api.BadParameter, "seats: every seat has a PIN (open_hash) or none has")
		return
	}
	if !s.circuitAllows(w, r) {
		return
	}
	// A malformed payment is no payment: the answer says what to pay.
	cr.PriceToken, _ = decodeN(req.PriceToken, protocol.PriceTokenSize)
	cr.PriceNonce, _ = decodeN(req.PriceNonce, protocol.PriceNonceSize)
	c, err := s.cfg.Room.Create(cr)
	if err != nil {
		if !s.priceError(w, err) {
			ref, msg := roomRefusal(err)
			if ref == api.Full {
				msg = "the server cannot take another room right now"
			}
			s.refuse(w, ref, msg)
		}
		return
	}
	s.marshal(w, http.StatusCreated, api.RoomCreated{ID: c.ID.String(), ExpiresIn: s.expiresIn(c.Expires)})
}

func (s *server) roomJoin(w http.ResponseWriter, r *http.Request) {
	var req api.JoinRoom
	id, ok := s.readChat(w, r, &req) // the JSON, then the id of the path, as a chat's
	if !ok {
		return
	}
	gate, open, destruct, ok := s.joinProofs(w, req.Gate, req.Open, req.Destruct)
	if !ok {
		return
	}
	tok, err := s.cfg.Room.Join(id, room.JoinRequest{Seat: req.Seat, Gate: gate, Open: open, Destruct: destruct})
	answerJoin(s, w, tok, err, func(pe *room.PINError) int { return pe.Left })
}

// roomSession checks a session token; anything wrong is the gone answer.
func (s *server) roomSession(w http.ResponseWriter, r *http.Request, token string) (*room.Session, bool) {
	return attachSession(s, w, r, token, s.cfg.Room.Attach)
}

func (s *server) roomWS(w http.ResponseWriter, r *http.Request) {
	serveRelayWS(s, w, r, s.cfg.Room.Attach)
}

// roomSend stores one record sent by the fallback, as the chat's send does (serveRelaySend).
func (s *server) roomSend(w http.ResponseWriter, r *http.Request) {
	serveRelaySend(s, w, r, s.cfg.Room.Attach, s.cfg.Room.Config().MaxRecord, func(w http.ResponseWriter, err error) {
		ref, msg := roomRefusal(err)
		s.refuse(w, ref, msg)
	})
}

// seatList is seats written for a header: "1,3".
func seatList(seats []int) string {
	out := make([]string, len(seats))
	for i, n := range seats {
		out[i] = strconv.Itoa(n)
	}
	return strings.Join(out, ",")
}

// readRoomSession reads a room's session request (poll, leave) and checks its token. False: the
// answer is sent.
func (s *server) readRoomSession(w http.ResponseWriter, r *http.Request, req *api.RoomSession) (*room.Session, bool) {
	if !s.readJSON(w, r, req) {
		return nil, false
	}
	return s.roomSession(w, r, req.Session)
}

func (s *server) roomPoll(w http.ResponseWriter, r *http.Request) {
	var req api.RoomSession
	ss, ok := s.readRoomSession(w, r, &req)
	if !ok {
		return
	}
	var from uint64
	if req.Next != nil {
		ss.AckBelow(*req.Next)
		from = *req.Next
	}
	ss.Polled()
	st := ss.State()
	ctx, cancel := context.WithTimeout(r.Context(), pollWait)
	defer cancel()
	d := ss.PeekNow(from)
	if d == nil && req.Wait && st.Ended == "" {
		var err error
		d, err = ss.Peek(ctx, from, st.V) // until a record, a new version or the end
		if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			s.gone(w)
			return
		}
		st = ss.State()
	}
	if st.Ended != "" {
		s.gone(w)
		return
	}
	seatHeaders := func(h http.Header) {
		h.Set(api.HeaderVersion, strconv.FormatUint(uint64(st.V), 10))
		h.Set(api.HeaderIn, seatList(st.In))
		h.Set(api.HeaderOut, seatList(st.Out))
	}
	if d == nil {
		seatHeaders(w.Header())
		w.WriteHeader(http.StatusNoContent)
		return
	}
	s.writeRecord(w, r, func(h http.Header) {
		seatHeaders(h)
		h.Set(api.HeaderFrom, strconv.Itoa(d.From))
	}, d.Seq, d.Size, d) // the JSON body is read already
}

func (s *server) roomLeave(w http.ResponseWriter, r *http.Request) {
	var req api.RoomSession
	ss, ok := s.readRoomSession(w, r, &req)
	if !ok {
		return
	}
	ss.Leave()
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) roomRevoke(w http.ResponseWriter, r *http.Request) {
	s.serveRevoke(w, r, s.cfg.Room.Revoke)
}
