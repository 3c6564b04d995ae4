package web

import (
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/sealdrop/sealdrop/internal/api"
	"github.com/sealdrop/sealdrop/internal/wsrelay"
	"github.com/sealdrop/sealdrop/vault"
)

// The routes the two-person chat (chat_routes.go) and the group room (room_routes.go) serve
// alike: a session's socket, the fallback's send, the join's proofs, a record's answer and the
// creator's revoke.

// relaySession is a session of either relay (*chat.Session, *room.Session) as the shared
// routes serve it.
type relaySession interface {
	ServeWS(w http.ResponseWriter, r *http.Request, onError func(http.ResponseWriter, int))
	Send(rd io.Reader, n int64) (uint64, error)
}

// attachSession checks a session token for the relay id of the path with attach
// (chat.Server.Attach, room.Server.Attach); anything wrong is the gone answer.
func attachSession[S any](s *server, w http.ResponseWriter, r *http.Request, token string, attach func(vault.ID, []byte) (S, error)) (S, bool) {
	var none S
	id, ok := s.chatID(w, r)
	if !ok {
		return none, false
	}
	tok, err := need32(token)
	if err != nil {
		s.gone(w)
		return none, false
	}
	ss, err := attach(id, tok[:])
	if err != nil {
		s.gone(w)
		return none, false
	}
	return ss, true
}

// sameOrigin: a WebSocket upgrade is not covered by CORS, so the page's origin is checked here.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Values("Origin")
	if len(o) != 1 || r.Host == "" {
		return false
	}
	return o[0] == "http://"+r.Host || o[0] == "https://"+r.Host
}

// serveRelayWS serves a session's WebSocket: the page's origin is checked (an upgrade is not
// covered by CORS), then the session token offered beside the subprotocol, then the upgrade.
// An upgrade the session refuses because it has its sockets open already is answered 429.
func serveRelayWS[S relaySession](s *server, w http.ResponseWriter, r *http.Request, attach func(vault.ID, []byte) (S, error)) {
	if !sameOrigin(r) {
		s.refuse(w, api.CrossOrigin, "cross-origin requests are refused")
		return
	}
	tok, ok := wsrelay.TokenFromSubprotocols(r)
	if !ok {
		s.gone(w)
		return
	}
	ss, ok := attachSession(s, w, r, tok, attach)
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

// serveRelaySend stores one record sent by the fallback. Like a note's append it takes the
// connection from net/http first (hijack.go), before anything is checked, so that no byte of
// the record passes through net/http's pooled buffers, not even when it is refused (a relay
// that just ended, a wrong session); the connection is closed after the answer. A record of
// more than maxRecord bytes is refused too large; refused answers what the session's Send
// refused.
func serveRelaySend[S relaySession](s *server, w http.ResponseWriter, r *http.Request, attach func(vault.ID, []byte) (S, error),
	maxRecord int64, refused func(http.ResponseWriter, error)) {
	checked := func(w http.ResponseWriter, body io.Reader) {
		if !hasMediaType(r, api.Binary) {
			s.refuse(w, api.ContentType, "send Content-Type: application/octet-stream")
			return
		}
		ss, ok := attachSession(s, w, r, r.Header.Get(api.HeaderSession), attach)
		if !ok {
			return
		}
		if r.ContentLength <= 0 || r.ContentLength > maxRecord {
			w.Header().Set("Connection", "close")
			s.refuse(w, api.TooLarge, "the record is too large")
			return
		}
		seq, err := ss.Send(io.LimitReader(body, r.ContentLength), r.ContentLength)
		if err != nil {
			refused(w, err)
			return
		}
		s.marshal(w, http.StatusOK, api.ChatSent{Seq: seq})
	}
	if h, ok := hijack(w, r, r.ContentLength); ok {
		s.serveHijacked(h, true, func(w http.ResponseWriter) { checked(w, h) })
		return
	}
	checked(w, r.Body)
}

// joinProofs decodes a join's gate (malformed or absent: gone) and its optional open and
// destruct tokens (nil when absent; malformed: a bad request). False: the answer is sent.
func (s *server) joinProofs(w http.ResponseWriter, gateS, openS, destructS string) (gate, open, destruct []byte, ok bool) {
	g, err := need32(gateS)
	if err != nil {
		s.gone(w)
		return nil, nil, nil, false
	}
	o, hasOpen, err1 := parse32(openS)
	d, hasDestruct, err2 := parse32(destructS)
	if err1 != nil || err2 != nil {
		s.refuse(w, api.BadRequest, "a token is malformed")
		return nil, nil, nil, false
	}
	if hasOpen {
		open = o[:]
	}
	if hasDestruct {
		destruct = d[:]
	}
	return g[:], open, destruct, true
}

// answerJoin answers a join: 200 with the session token tok; the wrong-PIN answer with the
// tries left when err is the relay's PIN error (E: *chat.PINError, *room.PINError); else gone.
func answerJoin[E error](s *server, w http.ResponseWriter, tok []byte, err error, left func(E) int) {
	var pe E
	switch {
	case errors.As(err, &pe):
		s.wrongPIN(w, left(pe))
		return
	case err != nil:
		s.gone(w)
		return
	}
	s.marshal(w, http.StatusOK, api.ChatJoined{Session: b64.EncodeToString(tok)})
}

// writeRecord answers 200 with one record, seq of size bytes, as an attachment in a sandbox,
// with the relay's own headers set by relayHeaders; the record goes from the vault straight to
// the socket, never through net/http's pooled write buffers (hijack.go), and the connection is
// closed after it. The request's body must be read already.
func (s *server) writeRecord(w http.ResponseWriter, r *http.Request, relayHeaders func(http.Header), seq uint64, size int64, d io.WriterTo) {
	setHeaders := func(h http.Header) {
		relayHeaders(h)
		h.Set("Content-Type", api.Binary)
		h.Set("Content-Disposition", "attachment")
		h.Set("Content-Security-Policy", "sandbox")
		h.Set(api.HeaderSeq, strconv.FormatUint(seq, 10))
		h.Set("Content-Length", strconv.FormatInt(size, 10))
	}
	if h, ok := hijack(w, r, 0); ok {
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

// serveRevoke is the creator's revoke: the manage secret of the request ends the relay of the
// path with revoke (chat.Server.Revoke, room.Server.Revoke); anything wrong is the gone answer.
func (s *server) serveRevoke(w http.ResponseWriter, r *http.Request, revoke func(vault.ID, []byte) error) {
	var req api.Manage
	id, ok := s.readChat(w, r, &req)
	if !ok {
		return
	}
	m, err := need32(req.Manage)
	if err != nil || revoke(id, m[:]) != nil {
		s.gone(w)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
