package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
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
	gate, err := need32(req.Gate)
	if err != nil {
		s.gone(w)
		return
	}
	open, hasOpen, err1 := parse32(req.Open)
	destruct, hasDestruct, err2 := parse32(req.Destruct)
	if err1 != nil || err2 != nil {
		s.refuse(w, api.BadRequest, "a token is malformed")
		return
	}
	jr := chat.JoinRequest{Gate: gate[:]}
	if hasOpen {
		jr.Open = open[:]
	}
	if hasDestruct {
		jr.Destruct = destruct[:]
	}
	tok, err := s.cfg.Chat.Join(id, jr)
	var pe *chat.PINError
	switch {
	case errors.As(err, &pe):
		s.wrongPIN(w, pe.Left)
		return
	case err != nil:
		s.gone(w)
		return
	}
	s.marshal(w, http.StatusOK, api.ChatJoined{Session: b64.EncodeToString(tok)})
}

// chatSession checks a session token; anything wrong is the gone answer.
func (s *server) chatSession(w http.ResponseWriter, r *http.Request, token string) (*chat.Session, bool) {
	id, ok := s.chatID(w, r)
	if !ok {
		return nil, false
	}
	tok, err := need32(token)
	if err != nil {
		s.gone(w)
		return nil, false
	}
	ss, err := s.cfg.Chat.Attach(id, tok[:])
	if err != nil {
		s.gone(w)
		return nil, false
	}
	return ss, true
}

// readSession reads a session request (poll, end) and checks its token. False: the answer is
// sent.
func (s *server) readSession(w http.ResponseWriter, r *http.Request, req *api.ChatSession) (*chat.Session, bool) {
	if !s.readJSON(w, r, req) {
		return nil, false
	}
	return s.chatSession(w, r, req.Session)
}

// sameOrigin: a WebSocket upgrade is not covered by CORS, so the page's origin is checked here.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Values("Origin")
	if len(o) != 1 || r.Host == "" {
		return false
	}
	return o[0] == "http://"+r.Host || o[0] == "https://"+r.Host
}

func (s *server) chatWS(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		s.refuse(w, api.CrossOrigin, "cross-origin requests are refused")
		return
	}
	tok, ok := chat.TokenFromSubprotocols(r)
	if !ok {
		s.gone(w)
		return
	}
	ss, ok := s.chatSession(w, r, tok)
	if !ok {
		return
	}
	ss.ServeWS(w, r, func(w http.ResponseWriter, status int) {
		resetHeaders(w.Header())
		if status == http.StatusTooManyRequests {
			s.refuse(w, api.Refusal{Status: http.StatusTooManyRequests, Code: api.CodeBusy},
				"this session has its sockets open already (at most 2): close one first")
			return
		}
		s.refuse(w, api.BadRequest, "not a WebSocket request")
	})
}

// chatSend stores one record sent by the fallback. Like a note's append it takes the
// connection from net/http first (hijack.go), before anything is checked, so that no byte of
// the record passes through net/http's pooled buffers, not even when it is refused (a chat
// that just ended, a wrong session); the connection is closed after the answer.
func (s *server) chatSend(w http.ResponseWriter, r *http.Request) {
	if h, ok := hijack(w, r, r.ContentLength); ok {
		s.serveHijacked(h, true, func(w http.ResponseWriter) { s.chatSendChecked(w, r, h) })
		return
	}
	s.chatSendChecked(w, r, r.Body)
}

func (s *server) chatSendChecked(w http.ResponseWriter, r *http.Request, body io.Reader) {
	if !hasMediaType(r, api.Binary) {
		s.refuse(w, api.ContentType, "send Content-Type: application/octet-stream")
		return
	}
	ss, ok := s.chatSession(w, r, r.Header.Get(api.HeaderSession))
	if !ok {
		return
	}
	max := s.cfg.Chat.Config().MaxRecord
	if r.ContentLength <= 0 || r.ContentLength > max {
		w.Header().Set("Connection", "close")
		s.refuse(w, api.TooLarge, "the record is too large")
		return
	}
	s.chatSendFrom(w, ss, io.LimitReader(body, r.ContentLength), r.ContentLength)
}

func (s *server) chatSendFrom(w http.ResponseWriter, ss *chat.Session, body io.Reader, n int64) {
	seq, err := ss.Send(body, n)
	if err != nil {
		s.refuseErr(w, err, chatSendWords, api.BadRequest)
		return
	}
	s.marshal(w, http.StatusOK, api.ChatSent{Seq: seq})
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
	setHeaders := func(h http.Header) {
		h.Set(api.HeaderPeer, peer)
		h.Set("Content-Type", api.Binary)
		h.Set("Content-Disposition", "attachment")
		h.Set("Content-Security-Policy", "sandbox")
		h.Set(api.HeaderSeq, strconv.FormatUint(d.Seq, 10))
		h.Set("Content-Length", strconv.FormatInt(d.Size, 10))
	}
	// The record goes from the vault straight to the socket, never through net/http's pooled
	// write buffers (hijack.go); the connection is closed after it.
	if h, ok := hijack(w, r, 0); ok { // the JSON body is read already
		s.serveHijacked(h, true, func(w http.ResponseWriter) {
			setHeaders(w.Header())
			w.WriteHeader(http.StatusOK)
			_, _ = d.WriteTo(cipherWriter{h})
		})
		return
	}
	setHeaders(w.Header())
	w.WriteHeader(http.StatusOK)
	_, _ = d.WriteTo(w)
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
	var req api.Manage
	id, ok := s.readChat(w, r, &req)
	if !ok {
		return
	}
	m, err := need32(req.Manage)
	if err != nil || s.cfg.Chat.Revoke(id, m[:]) != nil {
		s.gone(w)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
