package web

import (
	"errors"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/sealdrop/sealdrop/internal/drop"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/vault"
)

// Drop boxes and replies (SECURITY.md, "HTTP API for drops"). Every request about a drop names
// the inbox-auth public key and the flags; the route in the path must be their hash, so the
// server keeps no drop record. Every refusal about a capability is the uniform gone answer.

// submissionHead is the ephemeral key in front of a submission's envelope: a resumed fetch
// starts at 0, after the envelope header, or on a chunk boundary.
const submissionHead = 65 + envelopeHeader

func dropAligned(off int64) bool {
	return off == 0 || (off >= submissionHead && (off-submissionHead)%cipherChunk == 0)
}

type dropKeyRequest struct {
	Auth  string `json:"auth"`
	Flags *int   `json:"flags"`
}

type dropSubmitRequest struct {
	Auth       string `json:"auth"`
	Flags      *int   `json:"flags"`
	Length     int64  `json:"length"`
	TTL        *int64 `json:"ttl"`
	ManageHash string `json:"manage_hash"`
	PriceToken string `json:"price_token"`
	PriceNonce string `json:"price_nonce"`
}

type dropCommitRequest struct {
	Auth   string `json:"auth"`
	Flags  *int   `json:"flags"`
	Manage string `json:"manage"`
}

type dropInboxRequest struct {
	Auth      string `json:"auth"`
	Flags     *int   `json:"flags"`
	Challenge string `json:"challenge"`
	MAC       string `json:"mac"`
	Claim     string `json:"claim"`
	Nonce     string `json:"nonce"`
	Offset    int64  `json:"offset"`
	After     string `json:"after"` // list: the cursor, a submission id
}

// mountDrops adds the drop API when a drop server is configured.
func (s *server) mountDrops(m *mux.Router, post func(http.HandlerFunc) http.Handler) {
	if s.cfg.Drops == nil {
		return
	}
	m.Handle("/api/v1/drops/{route}/submissions", post(s.dropSubmit)).Methods(http.MethodPost)
	// Appends are exactly a note's (manage secret, offsets, hijacked body): the same handler.
	// the submission must be filed under the route in the path.
	route := func(r *http.Request) string { return mux.Vars(r)["route"] }
	m.Handle("/api/v1/drops/{route}/submissions/{id}/data", post(byID(s.appendData(vault.KindSubmission, route)))).Methods(http.MethodPost)
	m.Handle("/api/v1/drops/{route}/submissions/{id}/commit", post(s.dropCommit)).Methods(http.MethodPost)
	m.Handle("/api/v1/drops/{route}/challenge", post(s.dropChallenge)).Methods(http.MethodPost)
	m.Handle("/api/v1/drops/{route}/list", post(s.dropList)).Methods(http.MethodPost)
	m.Handle("/api/v1/drops/{route}/submissions/{id}/fetch", post(s.dropFetch)).Methods(http.MethodPost)
	m.Handle("/api/v1/drops/{route}/submissions/{id}/confirm", post(s.dropConfirm)).Methods(http.MethodPost)
	m.Handle("/api/v1/drops/{route}/wipe", post(s.dropWipe)).Methods(http.MethodPost)
	// The pages never touch a drop: the page for one route is the page for any other.
	for p, name := range map[string]string{"/drop": pageDrop, "/d/{route}": pageDropSubmit, "/i/{route}": pageInbox} {
		if _, ok := s.pages[name]; ok {
			m.Handle(p, s.servePage(name)).Methods(http.MethodGet, http.MethodHead)
		}
	}
}

// dropLimits is the "drop" member of the limits answer: what a submission may be, so that a
// client can seal it and compute its price without asking anything else.
type dropLimits struct {
	TTL        int64 `json:"ttl"` // seconds a submission waits to be read (the price is for this)
	MaxEntry   int64 `json:"max_entry"`
	PriceFloor int64 `json:"price_floor"` // the least length a submission is priced at
}

func (s *server) dropLimits() *dropLimits {
	if s.cfg.Drops == nil {
		return nil
	}
	c := s.cfg.Drops.Config()
	return &dropLimits{TTL: int64(c.TTL / time.Second), MaxEntry: c.MaxEntry, PriceFloor: s.cfg.Drops.PriceFloor()}
}

// decodeN decodes strict base64url of exactly n bytes.
func decodeN(str string, n int) ([]byte, bool) {
	if len(str) != b64.EncodedLen(n) {
		return nil, false
	}
	b := make([]byte, n)
	k, err := b64.Decode(b, []byte(str))
	return b, err == nil && k == n
}

// dropRoute checks the route of the path against the request's key and flags. A malformed
// key or flags is as gone as a wrong one: they are capabilities of the drop link.
func (s *server) dropRoute(w http.ResponseWriter, r *http.Request, auth string, flags *int) (drop.Route, bool) {
	a, ok := decodeN(auth, 65)
	if !ok || flags == nil {
		s.gone(w)
		return drop.Route{}, false
	}
	rt, err := s.cfg.Drops.CheckRoute(mux.Vars(r)["route"], a, *flags)
	if err != nil {
		s.gone(w)
		return drop.Route{}, false
	}
	return rt, true
}

func (s *server) dropError(w http.ResponseWriter, err error) {
	if s.priceError(w, err) {
		return
	}
	switch {
	case errors.Is(err, drop.ErrFull), errors.Is(err, vault.ErrFull):
		s.writeError(w, http.StatusInsufficientStorage, "full", "this drop or the server has no room now; nothing was stored; try later or send less")
	case errors.Is(err, drop.ErrTooLarge), errors.Is(err, vault.ErrTooLarge):
		s.writeError(w, http.StatusRequestEntityTooLarge, "too_large", "length is over max_entry")
	case errors.Is(err, drop.ErrBusy):
		s.writeError(w, http.StatusServiceUnavailable, "busy", "the server is busy; retry shortly")
	case errors.Is(err, drop.ErrInvalid), errors.Is(err, vault.ErrInvalid):
		s.writeError(w, http.StatusBadRequest, "bad_parameter", "a parameter is missing or malformed")
	case errors.Is(err, drop.ErrGone), errors.Is(err, vault.ErrGone):
		s.gone(w)
	default:
		s.writeError(w, http.StatusServiceUnavailable, "unavailable", "the server cannot take this now")
	}
}

func (s *server) dropSubmit(w http.ResponseWriter, r *http.Request) {
	var req dropSubmitRequest
	if !s.readJSON(w, r, &req) {
		return
	}
	rt, ok := s.dropRoute(w, r, req.Auth, req.Flags)
	if !ok {
		return
	}
	sr := drop.SubmitRequest{Length: req.Length}
	var err error
	if sr.Manage, err = need32(req.ManageHash); err != nil {
		s.badParam(w, "manage_hash")
		return
	}
	if req.TTL != nil {
		if *req.TTL <= 0 || *req.TTL > int64(s.cfg.Drops.Config().TTL/time.Second) {
			s.badParam(w, "ttl")
			return
		}
		sr.TTL = time.Duration(*req.TTL) * time.Second
	}
	if req.Length <= 0 {
		s.badParam(w, "length")
		return
	}
	if !s.circuitAllows(w, r) {
		return
	}
	// A malformed payment is no payment: the answer says what to pay.
	sr.PriceToken, _ = decodeN(req.PriceToken, protocol.PriceTokenSize)
	sr.PriceNonce, _ = decodeN(req.PriceNonce, protocol.PriceNonceSize)
	id, exp, err := s.cfg.Drops.Submit(rt, sr)
	if err != nil {
		s.dropError(w, err)
		return
	}
	s.marshal(w, http.StatusCreated, struct {
		ID        string `json:"id"`
		ExpiresIn int64  `json:"expires_in"`
	}{id.String(), s.expiresIn(exp)})
}

func (s *server) dropCommit(w http.ResponseWriter, r *http.Request) {
	var req dropCommitRequest
	if !s.readJSON(w, r, &req) {
		return
	}
	rt, ok := s.dropRoute(w, r, req.Auth, req.Flags)
	if !ok {
		return
	}
	id, err := vault.ParseID(mux.Vars(r)["id"])
	if err != nil {
		s.gone(w)
		return
	}
	manage, err := need32(req.Manage)
	if err != nil {
		s.badParam(w, "manage")
		return
	}
	exp, err := s.cfg.Drops.Commit(rt, id, manage[:])
	switch {
	case err == nil:
		s.marshal(w, http.StatusOK, struct {
			ID        string `json:"id"`
			ExpiresIn int64  `json:"expires_in"`
		}{id.String(), s.expiresIn(exp)})
	case errors.Is(err, vault.ErrIncomplete):
		s.writeError(w, http.StatusConflict, "incomplete", "the upload is not complete")
	case errors.Is(err, vault.ErrBusy):
		s.writeError(w, http.StatusConflict, "busy", "an append to this submission is still running; retry shortly")
	default:
		s.gone(w)
	}
}

func (s *server) dropChallenge(w http.ResponseWriter, r *http.Request) {
	var req dropKeyRequest
	if !s.readJSON(w, r, &req) {
		return
	}
	rt, ok := s.dropRoute(w, r, req.Auth, req.Flags)
	if !ok {
		return
	}
	n, pub, left, err := s.cfg.Drops.Challenge(rt)
	if err != nil {
		s.dropError(w, err)
		return
	}
	s.marshal(w, http.StatusOK, struct {
		Challenge string `json:"challenge"`
		ServerKey string `json:"server_key"`
		ExpiresIn int64  `json:"expires_in"`
	}{b64.EncodeToString(n[:]), b64.EncodeToString(pub), int64(left / time.Second)})
}

// dropInbox parses an inbox request: the route, its proof, and the id when the path has one.
func (s *server) dropInbox(w http.ResponseWriter, r *http.Request, req *dropInboxRequest, withID bool) (drop.Route, drop.Proof, vault.ID, bool) {
	var id vault.ID
	if !s.readJSON(w, r, req) {
		return drop.Route{}, drop.Proof{}, id, false
	}
	rt, ok := s.dropRoute(w, r, req.Auth, req.Flags)
	if !ok {
		return rt, drop.Proof{}, id, false
	}
	if withID {
		var err error
		if id, err = vault.ParseID(mux.Vars(r)["id"]); err != nil {
			s.gone(w)
			return rt, drop.Proof{}, id, false
		}
	}
	ch, ok1 := decodeN(req.Challenge, 32)
	mac, ok2 := decodeN(req.MAC, 32)
	if !ok1 || !ok2 {
		s.gone(w)
		return rt, drop.Proof{}, id, false
	}
	return rt, drop.Proof{Challenge: ch, MAC: mac}, id, true
}

func (s *server) dropList(w http.ResponseWriter, r *http.Request) {
	var req dropInboxRequest
	rt, p, _, ok := s.dropInbox(w, r, &req, false)
	if !ok {
		return
	}
	// The cursor is bound in the proof (the MAC's id slot), so a malformed one is a request
	// error, not a capability.
	var after vault.ID
	if req.After != "" {
		var err error
		if after, err = vault.ParseID(req.After); err != nil {
			s.badParam(w, "after")
			return
		}
	}
	l, err := s.cfg.Drops.List(rt, p, after)
	if err != nil {
		s.dropError(w, err)
		return
	}
	type item struct {
		ID       string `json:"id"`
		AgeHours int64  `json:"age_hours"`
		Size     int64  `json:"size"`
	}
	type visit struct {
		Day     string `json:"day"`
		Fetched int    `json:"fetched"`
	}
	items := make([]item, 0, len(l.Items))
	for _, it := range l.Items {
		items = append(items, item{it.ID.String(), it.AgeHours, it.Size})
	}
	visits := make([]visit, 0, len(l.Visits))
	for _, v := range l.Visits {
		visits = append(visits, visit(v))
	}
	s.marshal(w, http.StatusOK, struct {
		Submissions      []item  `json:"submissions"`
		Pending          int     `json:"pending"`
		More             bool    `json:"more"`
		Visits           []visit `json:"visits"`
		FetchedSinceList int     `json:"fetched_since_list"`
		FetchedTotal     int     `json:"fetched_total"`
		ListsTotal       int     `json:"lists_total"`
	}{items, l.Pending, l.More, visits, l.FetchedSinceList, l.FetchedTotal, l.ListsTotal})
}

func (s *server) dropFetch(w http.ResponseWriter, r *http.Request) {
	var req dropInboxRequest
	rt, p, id, ok := s.dropInbox(w, r, &req, true)
	if !ok {
		return
	}
	claim, err := need32(req.Claim)
	if err != nil {
		s.badParam(w, "claim")
		return
	}
	if req.Offset < 0 || !dropAligned(req.Offset) {
		s.badParam(w, "offset")
		return
	}
	rd, err := s.cfg.Drops.Fetch(rt, id, p, claim)
	if err != nil {
		s.dropError(w, err)
		return
	}
	defer rd.Close()
	s.sendCiphertext(w, r, rd, req.Offset)
}

func (s *server) dropConfirm(w http.ResponseWriter, r *http.Request) {
	var req dropInboxRequest
	rt, p, id, ok := s.dropInbox(w, r, &req, true)
	if !ok {
		return
	}
	nonce, err := need32(req.Nonce)
	if err != nil {
		s.badParam(w, "nonce")
		return
	}
	if err := s.cfg.Drops.Confirm(rt, id, p, nonce[:]); err != nil {
		s.dropError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) dropWipe(w http.ResponseWriter, r *http.Request) {
	var req dropInboxRequest
	rt, p, _, ok := s.dropInbox(w, r, &req, false)
	if !ok {
		return
	}
	n, err := s.cfg.Drops.WipeAll(rt, p)
	if err != nil {
		s.dropError(w, err)
		return
	}
	s.marshal(w, http.StatusOK, struct {
		Wiped int `json:"wiped"`
	}{n})
}
