package web

import (
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/sealdrop/sealdrop/internal/api"
	"github.com/sealdrop/sealdrop/internal/drop"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/vault"
)

// A drop submission in one request (issue 17): POST /api/v1/drops/{route}/upload is the
// submission's create with the first piece of its ciphertext as the body, committed when that
// piece is the whole. It is the note's upload (note_upload.go) for the submission kind: the
// connection is taken over, the body goes from the socket into locked blocks, the connection
// is closed after the answer; the drop key (A, flags), the submission's manage secret, length,
// lifetime and payment travel in headers (api.UploadSubmission).
//
// Every defence of the JSON create stays, in the same order and before a byte is stored: the
// route must be the hash of the key and flags (else the uniform gone), then the circuit's
// limit, then drop.Submit's reply box, count cap, quota and price (the payment bound to this
// route and manage hash, spent once).
//
// Resume: a submission has a manage secret too, drawn by the submitter for this submission
// alone (it lets append and commit, nothing else: reading needs the inbox key). The id is
// derived from the route, the manage secret's hash and the upload's price token under the
// per-process key, so the same request sent again finds the pending submission and goes on
// with it without paying or counting again; later pieces go to this same route with their
// offset and the same token. Nobody without the
// secret can name, guess or collide with another's id; the same secret on another drop gives
// another id. A committed submission answers its commit again; a read, expired or wiped one is
// gone while its record is kept, and that is at least as long as its token is accepted (the
// token rule of a note's upload, note_upload.go): a later copy makes nothing (SECURITY.md, "One
// request per submission").

// submissionIDLabel separates the submission id derivation from the note id's.
const submissionIDLabel = "sealdrop/v1 submission id"

// submissionID is the id of the submission with manage hash mh to the drop route rt, made
// with the price token tok: HMAC-SHA-256 under the per-process key (as noteID), cut to 16
// bytes. The token binds the id to one upload as a note's does ("One request per note").
func (s *server) submissionID(rt drop.Route, mh *[32]byte, tok []byte) vault.ID {
	route := rt.ID()
	return s.derivedID(submissionIDLabel, route[:], mh[:], tok)
}

// dropUpload serves POST /api/v1/drops/{route}/upload on the connection it takes over.
func (s *server) dropUpload(w http.ResponseWriter, r *http.Request) {
	s.hijackUpload(w, r, s.binaryOnly(s.dropUploadFrom))
}

// dropTTL parses a submission upload's HeaderTTL: seconds, at most the drop's ttl.
func (s *server) dropTTL(w http.ResponseWriter, v string) (time.Duration, bool) {
	secs, err := parseOffset(v)
	if err != nil || secs <= 0 || secs > int64(s.cfg.Drops.Config().TTL/time.Second) {
		s.badParam(w, api.HeaderTTL)
		return 0, false
	}
	return time.Duration(secs) * time.Second, true
}

// uploadRoute checks the drop key in an upload's headers against the route in the path: a
// malformed or wrong key is gone, as on the JSON routes.
func (s *server) uploadRoute(w http.ResponseWriter, r *http.Request) (drop.Route, bool) {
	auth, ok1 := decodeN(singleHeader(r, api.HeaderDropAuth), protocol.DropPublicSize)
	flags, err := parseOffset(singleHeader(r, api.HeaderDropFlags))
	if !ok1 || err != nil || flags > 255 {
		s.gone(w)
		return drop.Route{}, false
	}
	rt, err := s.cfg.Drops.CheckRoute(mux.Vars(r)["route"], auth, int(flags))
	if err != nil {
		s.gone(w)
		return drop.Route{}, false
	}
	return rt, true
}

// dropUploadFrom answers a submission's upload whose body is read from body; conn is the
// hijacked connection it arrives on (nil when there is none).
func (s *server) dropUploadFrom(w http.ResponseWriter, r *http.Request, body io.Reader, conn net.Conn) {
	rt, ok := s.uploadRoute(w, r)
	if !ok {
		return
	}
	var a uploadArgs // ttl 0: the drop's
	if !s.parseUploadCommon(w, r, &a, s.cfg.Drops.Config().MaxEntry, s.dropTTL) {
		return
	}
	id := s.submissionID(rt, &a.caps.Manage, a.tok)
	owner := rt.String()
	ttl := a.ttl
	if ttl == 0 {
		ttl = s.cfg.Drops.Config().TTL
	}
	declared := &vault.CreateRequest{Length: a.length, TTL: ttl} // the gate is the drop's
	s.uploadInto(w, r, body, conn, &a, uploadTarget{
		kind: vault.KindSubmission, owner: &owner, id: id, declared: declared,
		create: func() (time.Time, bool) { return s.createSubmission(w, r, rt, id, &a, declared) },
		commit: func() (time.Time, error) { return s.cfg.Drops.Commit(rt, id, a.manage[:]) },
		words:  submissionCommitWords,
	})
}

// createSubmission makes the pending submission of an upload with id, after the circuit's
// limit and drop.Submit (reply box, count cap, quota, price) allow it, and returns its
// expiry; on refusal it answers and returns false. When another try of the same upload made
// it meanwhile, this one goes on with it: that try already counted and paid.
func (s *server) createSubmission(w http.ResponseWriter, r *http.Request, rt drop.Route, id vault.ID, a *uploadArgs, declared *vault.CreateRequest) (time.Time, bool) {
	bits := func() (int, error) {
		return s.price.Bits(s.cfg.Drops.Level(rt), protocol.PriceRequest{Length: max(a.length, s.cfg.Drops.PriceFloor()), TTL: declared.TTL})
	}
	tk, ok := s.ticket(w, a.tok, bits)
	if !ok || !s.circuitAllows(w, r) {
		return time.Time{}, false
	}
	// A malformed payment is no payment: the answer says what to pay.
	nonce, _ := decodeN(a.nonce, protocol.PriceNonceSize)
	_, exp, err := s.cfg.Drops.Submit(rt, drop.SubmitRequest{ID: id, Length: a.length, TTL: a.ttl, Manage: a.caps.Manage,
		PriceToken: a.tok, PriceNonce: nonce, Ticket: tk})
	switch {
	case err == nil:
		return exp, true
	case errors.Is(err, vault.ErrTaken):
		return s.madeByRetry(w, vault.KindSubmission, id, a, declared)
	case errors.Is(err, vault.ErrRetired):
		s.staleTicket(w, bits)
		return time.Time{}, false
	}
	// A reply box that holds one submission, a spent payment: maybe this upload's own, made
	// by a try that raced this one.
	if st, exp, serr := s.v.Status(vault.KindSubmission, id, a.manage[:]); serr == nil && st == vault.StatePending && s.v.Declared(vault.KindSubmission, id, a.manage[:], declared) {
		return exp, true
	}
	s.dropError(w, err)
	return time.Time{}, false
}
