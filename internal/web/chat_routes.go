package web

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/sealdrop/sealdrop/internal/api"
	"github.com/sealdrop/sealdrop/internal/chat"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/vault"
)

// pollWait is how long a fallback poll waits for a record before answering 204.
const pollWait = 20 * time.Second

// mountChat adds the chat API and pages when a chat server is configured.
func (s *server) mountChat(m *mux.Router, post func(http.HandlerFunc) http.Handler) error {
	c := s.cfg.Chat
	if c == nil {
		return nil
	}
	// The chat page (start and join) is rendered with the others; like every page it never
	// touches state.
	page, ok := s.pages[pageChat]
	if !ok {
		return errors.New("web: template " + pageChat + " is missing")
	}
	m.Handle(api.Chats, post(s.chatCreate)).Methods(http.MethodPost)
	m.Handle(api.ChatPath("{id}", api.ChatJoin), post(s.chatJoin)).Methods(http.MethodPost)
	m.Handle(api.ChatPath("{id}", api.ChatSend), post(s.chatSend)).Methods(http.MethodPost)
	m.Handle(api.ChatPath("{id}", api.ChatPoll), post(s.chatPoll)).Methods(http.MethodPost)
	m.Handle(api.ChatPath("{id}", api.ChatEnd), post(s.chatEnd)).Methods(http.MethodPost)
	m.Handle(api.ChatPath("{id}", api.ChatRevoke), post(s.chatRevoke)).Methods(http.MethodPost)
	m.Handle(api.ChatPath("{id}", api.ChatWS), http.HandlerFunc(s.chatWS)).Methods(http.MethodGet)
	serve := func(w http.ResponseWriter, r *http.Request) { s.writePage(w, http.StatusOK, page) }
	m.Handle("/chat", http.HandlerFunc(serve)).Methods(http.MethodGet, http.MethodHead)
	m.Handle(api.PageChat+"{id}", http.HandlerFunc(serve)).Methods(http.MethodGet, http.MethodHead)
	return nil
}

func (s *server) chatID(w http.ResponseWriter, r *http.Request) (vault.ID, bool) {
	id, err := vault.ParseID(mux.Vars(r)["id"])
	if err != nil {
		s.gone(w)
		return vault.ID{}, false
	}
	return id, true
}

// readChat reads a chat request's JSON into req and parses the chat id of the path. False:
// the answer is sent.
func (s *server) readChat(w http.ResponseWriter, r *http.Request, req any) (vault.ID, bool) {
	if !s.readJSON(w, r, req) {
		return vault.ID{}, false
	}
	return s.chatID(w, r)
}

func (s *server) chatCreate(w http.ResponseWriter, r *http.Request) {
	var req api.CreateChat
	if !s.readJSON(w, r, &req) {
		return
	}
	cr := chat.CreateRequest{}
	var err error
	if req.TTL != nil {
		if *req.TTL < 60 || *req.TTL > int64(s.cfg.Chat.Config().MaxTTL/time.Second) {
			s.refuse(w, api.BadTTL, "ttl must be between 60 seconds and the maximum")
			return
		}
		cr.TTL = time.Duration(*req.TTL) * time.Second
	}
	cr.Gate, err = need32(req.GateHash)
	if err == nil {
		cr.Manage, err = need32(req.ManageHash)
	}
	if err == nil {
		cr.Open, cr.PIN, err = parse32(req.OpenHash)
	}
	if err == nil { // optional, as for a note: absent, the chat's lock draws a random one
		cr.Destruct, _, err = parse32(req.DestructHash)
	}
	if err != nil {
		s.refuse(w, api.BadRequest, "a hash is missing or malformed")
		return
	}
	if !s.circuitAllows(w, r) {
		return
	}
	// A malformed payment is no payment: the answer says what to pay.
	cr.PriceToken, _ = decodeN(req.PriceToken, protocol.PriceTokenSize)
	cr.PriceNonce, _ = decodeN(req.PriceNonce, protocol.PriceNonceSize)
	c, err := s.cfg.Chat.Create(cr)
	if err != nil {
		if !s.priceError(w, err) {
			s.refuseErr(w, err, chatCreateWords, api.BadRequest)
		}
		return
	}
	s.marshal(w, http.StatusCreated, api.ChatCreated{ID: c.ID.String(), Session: b64.EncodeToString(c.Session), ExpiresIn: s.expiresIn(c.Expires)})
}

func (s *server) chatJoin(w http.ResponseWriter, r *http.Request) {
	var req api.JoinChat
	id, ok := s.readChat(w, r, &req)
	if !ok {
		return
	}
	gate, open, destruct, ok := s.joinProofs(w, req.Gate, req.Open, req.Destruct)
	if !ok {
		return
	}
	tok, err := s.cfg.Chat.Join(id, chat.JoinRequest{Gate: gate, Open: open, Destruct: destruct})
	answerJoin(s, w, tok, err, func(pe *chat.PINError) int { return pe.Left })
}

// chatSession checks a session token; anything wrong is the gone answer.
func (s *server) chatSession(w http.ResponseWriter, r *http.Request, token string) (*chat.Session, bool) {
	return attachSession(s, w, r, token, s.cfg.Chat.Attach)
}

// readSession reads a session request (poll, end) and checks its token. False: the answer is
// sent.
func (s *server) readSession(w http.ResponseWriter, r *http.Request, req *api.ChatSession) (*chat.Session, bool) {
	if !s.readJSON(w, r, req) {
		return nil, false
	}
	return s.chatSession(w, r, req.Session)
}

func (s *server) chatWS(w http.ResponseWriter, r *http.Request) {
	serveRelayWS(s, w, r, s.cfg.Chat.Attach)
}

// chatSend stores one record sent by the fallback (serveRelaySend).
func (s *server) chatSend(w http.ResponseWriter, r *http.Request) {
	serveRelaySend(s, w, r, s.cfg.Chat.Attach, s.cfg.Chat.Config().MaxRecord, func(w http.ResponseWriter, err error) {
		s.refuseErr(w, err, chatSendWords, api.BadRequest)
	})
}

func (s *server) chatPoll(w http.ResponseWriter, r *http.Request) {
	var req api.ChatSession
	ss, ok := s.readSession(w, r, &req)
	if !ok {
		return
	}
	var from uint64
	switch {
	case req.Ack != nil && req.Next != nil:
		s.refuse(w, api.BadParameter, "send ack or next, not both")
		return
	case req.Ack != nil:
		ss.Ack(*req.Ack)
		from = *req.Ack + 1
	case req.Next != nil:
		ss.AckBelow(*req.Next)
		from = *req.Next
	}
	ss.Polled()
	ctx := r.Context()
	if req.Wait {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, pollWait)
		defer cancel()
	} else {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		cancel()
	}
	var d *chat.Delivery
	if d = ss.PeekNow(from); d == nil && req.Wait {
		var err error
		d, err = ss.Peek(ctx, from)
		if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			s.gone(w)
			return
		}
	}
	peer := "0"
	if ss.State().Peer {
		peer = "1"
	}
	if ss.State().Ended != "" {
		s.gone(w)
		return
	}
	w.Header().Set(api.HeaderPeer, peer)
	if d == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	s.writeRecord(w, r, func(h http.Header) { h.Set(api.HeaderPeer, peer) }, d.Seq, d.Size, d) // the JSON body is read already
}

func (s *server) chatEnd(w http.ResponseWriter, r *http.Request) {
	var req api.ChatSession
	ss, ok := s.readSession(w, r, &req)
	if !ok {
		return
	}
	ss.End()
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) chatRevoke(w http.ResponseWriter, r *http.Request) {
	s.serveRevoke(w, r, s.cfg.Chat.Revoke)
}
