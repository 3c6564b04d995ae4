package web

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/sealdrop/sealdrop/internal/api"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/vault"
)

func (s *server) create(w http.ResponseWriter, r *http.Request) {
	var req api.CreateNote
	if !s.readJSON(w, r, &req) {
		return
	}
	if req.Length < api.MinNote {
		s.refuse(w, api.BadParameter, lengthWords)
		return
	}
	if req.Length > s.v.MaxEntry() {
		s.refuse(w, api.TooLarge, "length is over max_entry")
		return
	}
	ttl := s.cfg.DefaultTTL
	if req.TTL != nil {
		if !s.ttls[*req.TTL] {
			s.refuse(w, api.BadTTL, s.ttlMessage)
			return
		}
		ttl = time.Duration(*req.TTL) * time.Second
	}
	var caps vault.Caps
	var err error
	if caps.Manage, err = need32(req.ManageHash); err != nil {
		s.badParam(w, "manage_hash")
		return
	}
	if bad := parseCaps(&caps, req.GateHash, req.OpenHash, req.DestructHash); bad != "" {
		s.badParam(w, bad+"_hash")
		return
	}
	if !s.circuitAllows(w, r) {
		return
	}
	refund, ok := s.pay(w, protocol.PriceRequest{Kind: protocol.PriceNote, Manage: caps.Manage, Length: req.Length, TTL: ttl},
		s.noteLevel(), req.PriceToken, req.PriceNonce)
	if !ok {
		return
	}
	id, exp, err := s.v.Create(vault.CreateRequest{Kind: vault.KindNote, Length: req.Length, TTL: ttl, Caps: caps})
	if err != nil {
		refund()
	}
	if err != nil {
		s.refuseErr(w, err, noteCreateWords, api.Unavailable)
		return
	}
	s.marshal(w, http.StatusCreated, api.Created{ID: id.String(), ExpiresIn: s.expiresIn(exp)})
}

// parseCaps parses the gate, open and destruct hashes into caps (a present open hash is a
// PIN); it returns the name of the first malformed one ("gate", "open", "destruct"), or "".
func parseCaps(caps *vault.Caps, gate, open, destruct string) string {
	var err error
	if caps.Gate, err = need32(gate); err != nil {
		return "gate"
	}
	if caps.Open, caps.PIN, err = parse32(open); err != nil {
		return "open"
	}
	if caps.Destruct, _, err = parse32(destruct); err != nil {
		return "destruct"
	}
	return ""
}

// appendData serves the append route of entries of kind: a note's, or a drop submission's,
// which is exactly a note's except that the entry must belong to the route in the path (owner
// names it; nil for notes). It takes the connection from net/http (see hijack.go) so that no
// byte of the body passes through net/http's pooled buffers; every answer on it closes the
// connection. A note's append may also commit the note (api.HeaderCommit).
func (s *server) appendData(kind vault.Kind, owner func(*http.Request) string) idHandler {
	return func(w http.ResponseWriter, r *http.Request, rawID string) {
		var o *string
		if owner != nil {
			v := owner(r)
			o = &v
		}
		h, ok := hijack(w, r, r.ContentLength)
		if !ok {
			s.appendFrom(w, r, kind, o, rawID, r.Body, nil)
			return
		}
		s.serveHijacked(h, true, func(w http.ResponseWriter) { s.appendFrom(w, r, kind, o, rawID, h, h.conn) })
	}
}

// appendFrom answers an append whose body is read from body; conn is the hijacked connection
// it arrives on (nil when there is none).
func (s *server) appendFrom(w http.ResponseWriter, r *http.Request, kind vault.Kind, owner *string, rawID string, body io.Reader, conn net.Conn) {
	if !hasMediaType(r, api.Binary) {
		s.refuse(w, api.ContentType, "send Content-Type: application/octet-stream")
		return
	}
	id, err := vault.ParseID(rawID)
	if err != nil {
		s.gone(w)
		return
	}
	manage, err := need32(singleHeader(r, api.HeaderManage))
	if err != nil {
		s.badParam(w, api.HeaderManage)
		return
	}
	offset, err := parseOffset(singleHeader(r, api.HeaderOffset))
	if err != nil {
		s.badParam(w, api.HeaderOffset)
		return
	}
	commit := false
	if kind == vault.KindNote && owner == nil {
		if commit, err = commitAsked(r); err != nil {
			s.badParam(w, api.HeaderCommit)
			return
		}
	}
	if !s.bodyFits(w, r) {
		return
	}
	received, err := s.appendSuperseding(kind, owner, id, manage[:], offset, r.ContentLength, body, conn)
	switch {
	case err != nil && commit && errors.Is(err, vault.ErrGone):
		s.committedAlready(w, id, manage, offset+r.ContentLength)
	case err != nil:
		s.appendRefused(w, received, err)
	case commit:
		s.commitAppended(w, id, received, func() (time.Time, error) { return s.v.Commit(vault.KindNote, id, manage[:]) }, noteCommitWords)
	default:
		s.marshal(w, http.StatusOK, api.Received{Received: received})
	}
}

// commitAsked reports whether an append asks to commit: api.HeaderCommit absent, or once with
// api.CommitYes; anything else is malformed.
func commitAsked(r *http.Request) (bool, error) {
	switch v := r.Header.Values(api.HeaderCommit); {
	case len(v) == 0:
		return false, nil
	case len(v) == 1 && v[0] == api.CommitYes:
		return true, nil
	}
	return false, errParam
}

// commitAppended answers an append or upload that asked to commit entry id, after its bytes
// are stored: commit's answer (api.Uploaded) once the entry is complete, else what an append
// answers; refusals word commit's.
func (s *server) commitAppended(w http.ResponseWriter, id vault.ID, received int64, commit func() (time.Time, error), refusals words) {
	exp, err := commit()
	switch {
	case errors.Is(err, vault.ErrIncomplete):
		s.marshal(w, http.StatusOK, api.Received{Received: received})
	case err != nil:
		s.refuseErr(w, err, refusals, api.Gone)
	default:
		s.committed(w, id, received, exp)
	}
}

// committedAlready answers a note's append that asked to commit and found the note no longer
// pending, before a byte of its body was read: when the note is committed and not opened, this
// is the append that committed it sent again because its answer was lost, and it gets that
// answer (received is where the append said it ends); otherwise the note is gone.
func (s *server) committedAlready(w http.ResponseWriter, id vault.ID, manage [32]byte, received int64) {
	st, exp, err := s.v.Status(vault.KindNote, id, manage[:])
	if err != nil || st != vault.StateWaiting {
		s.gone(w)
		return
	}
	s.committed(w, id, received, exp)
}

// committed is the answer to the upload or append that made a note readable (or to it sent
// again): its id, the bytes it holds, committed, its lifetime left.
func (s *server) committed(w http.ResponseWriter, id vault.ID, received int64, exp time.Time) {
	s.marshal(w, http.StatusOK, api.Uploaded{ID: id.String(), Received: received, Committed: true, ExpiresIn: s.expiresIn(exp)})
}

// bodyFits decides on a ciphertext body's declared length before a byte of it is read, and
// answers when it does not fit; Connection: close keeps net/http from draining an unwanted
// body either.
func (s *server) bodyFits(w http.ResponseWriter, r *http.Request) bool {
	switch n := r.ContentLength; {
	case n < 0:
		w.Header().Set("Connection", "close")
		s.refuse(w, api.LengthRequired, "declare the body's Content-Length")
		return false
	case n == 0:
		s.badParam(w, "Content-Length")
		return false
	case n > s.cfg.MaxAppend:
		w.Header().Set("Connection", "close")
		s.refuse(w, api.TooLarge, "the body is over max_append")
		return false
	}
	return true
}

// appendRefused answers an append that did not store its whole body: received is what the
// entry holds now.
func (s *server) appendRefused(w http.ResponseWriter, received int64, err error) {
	// Any error that is not the vault's: the body broke off (the client or its circuit went away).
	switch ref := pick(err, appendWords, api.BadBody); ref {
	case api.Offset:
		s.marshal(w, ref.Status, api.OffsetAnswer{Error: ref.Code, Received: received})
	case api.TooLarge, api.BadBody:
		w.Header().Set("Connection", "close")
		s.refuse(w, ref, appendWords[ref])
	default:
		s.refuse(w, ref, appendWords[ref])
	}
}

// singleHeader returns a header that must appear at most once; a repeated one is malformed.
func singleHeader(r *http.Request, name string) string {
	v := r.Header.Values(name)
	if len(v) != 1 {
		return ""
	}
	return v[0]
}

func (s *server) commit(w http.ResponseWriter, r *http.Request, rawID string) {
	id, manage, ok := s.manageArgs(w, r, rawID)
	if !ok {
		return
	}
	exp, err := s.v.Commit(vault.KindNote, id, manage[:])
	if err != nil {
		s.refuseErr(w, err, noteCommitWords, api.Gone)
		return
	}
	s.marshal(w, http.StatusOK, api.Created{ID: id.String(), ExpiresIn: s.expiresIn(exp)})
}

// manageArgs parses the id and {"manage":M} of commit, status and revoke.
func (s *server) manageArgs(w http.ResponseWriter, r *http.Request, rawID string) (vault.ID, [32]byte, bool) {
	var req api.Manage
	if !hasMediaType(r, api.JSON) {
		s.refuse(w, api.ContentType, "send Content-Type: application/json")
		return vault.ID{}, [32]byte{}, false
	}
	id, err := vault.ParseID(rawID)
	if err != nil {
		s.gone(w)
		return id, [32]byte{}, false
	}
	if !s.readJSON(w, r, &req) {
		return id, [32]byte{}, false
	}
	m, err := need32(req.Manage)
	if err != nil {
		s.badParam(w, "manage")
		return id, m, false
	}
	return id, m, true
}

func (s *server) status(w http.ResponseWriter, r *http.Request, rawID string) {
	id, manage, ok := s.manageArgs(w, r, rawID)
	if !ok {
		return
	}
	st, exp, received, err := s.v.StatusReceived(vault.KindNote, id, manage[:])
	if err != nil {
		s.gone(w)
		return
	}
	name := map[vault.State]string{vault.StatePending: api.StatePending, vault.StateWaiting: api.StateWaiting,
		vault.StateOpened: api.StateOpened, vault.StateGone: api.StateGone}[st]
	if name == "" {
		s.gone(w)
		return
	}
	ns := api.NoteState{State: name, ExpiresIn: s.expiresIn(exp)}
	if st == vault.StatePending {
		ns.Received = &received
	}
	s.marshal(w, http.StatusOK, ns)
}

func (s *server) revoke(w http.ResponseWriter, r *http.Request, rawID string) {
	id, manage, ok := s.manageArgs(w, r, rawID)
	if !ok {
		return
	}
	if err := s.v.Revoke(vault.KindNote, id, manage[:]); err != nil {
		s.gone(w)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) confirm(w http.ResponseWriter, r *http.Request, rawID string) {
	if !hasMediaType(r, api.JSON) {
		s.refuse(w, api.ContentType, "send Content-Type: application/json")
		return
	}
	id, err := vault.ParseID(rawID)
	if err != nil {
		s.gone(w)
		return
	}
	var req api.ConfirmNote
	if !s.readJSON(w, r, &req) {
		return
	}
	gate, err := need32(req.Gate)
	if err != nil {
		s.badParam(w, "gate")
		return
	}
	nonce, err := need32(req.Nonce)
	if err != nil {
		s.badParam(w, "nonce")
		return
	}
	if err := s.v.Confirm(vault.KindNote, id, gate[:], nonce[:]); err != nil {
		s.gone(w)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Download pacing: the write deadline of an open grows with the bytes it sends, so a slow
// Tor circuit can finish a large note while a stalled reader is still cut off.
const (
	openBaseWrite = 2 * time.Minute
	openPerChunk  = time.Second // per 64 KiB: a floor of 64 KiB/s
)

func (s *server) open(w http.ResponseWriter, r *http.Request, rawID string) {
	if !hasMediaType(r, api.JSON) {
		s.refuse(w, api.ContentType, "send Content-Type: application/json")
		return
	}
	id, err := vault.ParseID(rawID)
	if err != nil {
		s.gone(w)
		return
	}
	var req api.OpenNote
	if !s.readJSON(w, r, &req) {
		return
	}
	var or vault.OpenRequest
	gate, err := need32(req.Gate)
	if err != nil {
		s.badParam(w, "gate")
		return
	}
	if or.Claim, err = need32(req.Claim); err != nil {
		s.badParam(w, "claim")
		return
	}
	or.Gate = gate[:]
	if o, ok, err := parse32(req.Open); err != nil {
		s.badParam(w, "open")
		return
	} else if ok {
		or.Open = o[:]
	}
	if d, ok, err := parse32(req.Destruct); err != nil {
		s.badParam(w, "destruct")
		return
	} else if ok {
		or.Destruct = d[:]
	}
	if req.Offset < 0 || !api.NoteAligned(req.Offset) {
		s.badParam(w, "offset")
		return
	}
	rd, err := s.v.Open(vault.KindNote, id, or)
	if err != nil {
		var pe *vault.PINError
		if errors.As(err, &pe) {
			s.wrongPIN(w, pe.Left)
			return
		}
		s.gone(w)
		return
	}
	defer rd.Close()
	s.sendCiphertext(w, r, rd, req.Offset)
}

// sendCiphertext streams a claimed entry from offset (checked here against its size): the
// answer of a note's open and a drop submission's fetch.
func (s *server) sendCiphertext(w http.ResponseWriter, r *http.Request, rd *vault.Reading, offset int64) {
	size := rd.Size()
	if offset > size {
		s.badParam(w, "offset")
		return
	}
	setCiphertextHeaders := func(h http.Header) {
		h.Set("Content-Type", api.Binary)
		h.Set("Content-Disposition", "attachment")
		h.Set("Content-Security-Policy", "sandbox")
		h.Set("Content-Length", strconv.FormatInt(size-offset, 10))
		h.Set(api.HeaderSize, strconv.FormatInt(size, 10))
	}
	n := (size - offset + api.CipherChunk - 1) / api.CipherChunk
	deadline := time.Now().Add(openBaseWrite + time.Duration(n)*openPerChunk)
	// The ciphertext goes from the vault straight to the socket, never through net/http's
	// pooled write buffers (hijack.go).
	if h, ok := hijack(w, r, 0); ok { // the JSON body is read already
		s.serveHijacked(h, true, func(w http.ResponseWriter) {
			_ = h.conn.SetWriteDeadline(deadline)
			setCiphertextHeaders(w.Header())
			w.WriteHeader(http.StatusOK)
			_, _ = rd.WriteTo(cipherWriter{h}, offset) // finish sends the header if nothing was left to send
			// Release the blocks before the reader can see the end of the answer and confirm.
			rd.Close()
		})
		return
	}
	setCiphertextHeaders(w.Header())
	_ = http.NewResponseController(w).SetWriteDeadline(deadline)
	w.WriteHeader(http.StatusOK)
	_, _ = rd.WriteTo(w, offset)
}
