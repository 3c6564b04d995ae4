package web

import (
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/sealdrop/sealdrop/internal/api"
	"github.com/sealdrop/sealdrop/internal/drop"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/vault"
)

// Drop boxes and replies (SECURITY.md, "HTTP API for drops"). Every request about a drop names
// the inbox-auth public key and the flags; the route in the path must be their hash, so the
// server keeps no drop record. Every refusal about a capability is the uniform gone answer.

// mountDrops adds the drop API when a drop server is configured.
func (s *server) mountDrops(m *mux.Router, post func(http.HandlerFunc) http.Handler) {
	if s.cfg.Drops == nil {
		return
	}
	m.Handle(api.DropPath("{route}", api.DropSubmissions), post(s.dropSubmit)).Methods(http.MethodPost)
	m.Handle(api.DropPath("{route}", api.DropUpload), post(s.dropUpload)).Methods(http.MethodPost)
	// Appends are exactly a note's (manage secret, offsets, hijacked body): the same handler.
	// the submission must be filed under the route in the path.
	route := func(r *http.Request) string { return mux.Vars(r)["route"] }
	sub := func(action string) string { return api.SubmissionPath("{route}", "{id}", action) }
	m.Handle(sub(api.SubmissionData), post(byID(s.appendData(vault.KindSubmission, route)))).Methods(http.MethodPost)
	m.Handle(sub(api.SubmissionCommit), post(s.dropCommit)).Methods(http.MethodPost)
	m.Handle(api.DropPath("{route}", api.DropChallenge), post(s.dropChallenge)).Methods(http.MethodPost)
	m.Handle(api.DropPath("{route}", api.DropList), post(s.dropList)).Methods(http.MethodPost)
	m.Handle(sub(api.SubmissionFetch), post(s.dropFetch)).Methods(http.MethodPost)
	m.Handle(sub(api.SubmissionAck), post(s.dropConfirm)).Methods(http.MethodPost)
	m.Handle(api.DropPath("{route}", api.DropWipe), post(s.dropWipe)).Methods(http.MethodPost)
	// The pages never touch a drop: the page for one route is the page for any other.
	for p, name := range map[string]string{"/drop": pageDrop, api.PageDrop + "{route}": pageDropSubmit, api.PageInbox + "{route}": pageInbox,
		api.PageReply + "{route}": pageReply} {
		if _, ok := s.pages[name]; ok {
			m.Handle(p, s.servePage(name)).Methods(http.MethodGet, http.MethodHead)
		}
	}
}

// dropLimits is the "drop" member of the limits answer (nil without drop boxes).
func (s *server) dropLimits() *api.DropLimits {
	if s.cfg.Drops == nil {
		return nil
	}
	c := s.cfg.Drops.Config()
	return &api.DropLimits{TTL: int64(c.TTL / time.Second), MaxEntry: c.MaxEntry, PriceFloor: s.cfg.Drops.PriceFloor()}
}

// decodeN decodes strict base64url of exactly n bytes.
func decodeN(str string, n int) ([]byte, bool) {
	if len(str) != b64.EncodedLen(n) {
		return nil, false
	}
	// Nothing of a malformed value is returned: callers that ignore ok (a payment's nonce,
	// say) must get nil, never the bytes decoded before the bad character ("AAAAAAAAA+/" was
	// eight zero bytes, a nonce that paid a low price by chance).
	b, err := protocol.B64Decode(str)
	if err != nil || len(b) != n {
		return nil, false
	}
	return b, true
}

// readDrop reads a drop request's JSON into req, whose key is key, and checks the route of the
// path against that key and flags. A malformed key or flags is as gone as a wrong one: they
// are capabilities of the drop link. False: the answer is sent.
func (s *server) readDrop(w http.ResponseWriter, r *http.Request, req any, key *api.DropKey) (drop.Route, bool) {
	if !s.readJSON(w, r, req) {
		return drop.Route{}, false
	}
	a, ok := decodeN(key.Auth, 65)
	if !ok || key.Flags == nil {
		s.gone(w)
		return drop.Route{}, false
	}
	rt, err := s.cfg.Drops.CheckRoute(mux.Vars(r)["route"], a, *key.Flags)
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
	s.refuseErr(w, err, dropWords, api.Unavailable)
}

func (s *server) dropSubmit(w http.ResponseWriter, r *http.Request) {
	var req api.SubmitDrop
	rt, ok := s.readDrop(w, r, &req, &req.DropKey)
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
	s.marshal(w, http.StatusCreated, api.Created{ID: id.String(), ExpiresIn: s.expiresIn(exp)})
}

func (s *server) dropCommit(w http.ResponseWriter, r *http.Request) {
	var req api.CommitSubmission
	rt, ok := s.readDrop(w, r, &req, &req.DropKey)
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
	if err != nil {
		s.refuseErr(w, err, submissionCommitWords, api.Gone)
		return
	}
	s.marshal(w, http.StatusOK, api.Created{ID: id.String(), ExpiresIn: s.expiresIn(exp)})
}

func (s *server) dropChallenge(w http.ResponseWriter, r *http.Request) {
	var req api.DropKey
	rt, ok := s.readDrop(w, r, &req, &req)
	if !ok {
		return
	}
	n, pub, left, err := s.cfg.Drops.Challenge(rt)
	if err != nil {
		s.dropError(w, err)
		return
	}
	s.marshal(w, http.StatusOK, api.Challenge{Challenge: b64.EncodeToString(n[:]), ServerKey: b64.EncodeToString(pub), ExpiresIn: int64(left / time.Second)})
}

// dropInbox parses an inbox request: the route, its proof, and the id when the path has one.
func (s *server) dropInbox(w http.ResponseWriter, r *http.Request, req *api.InboxRequest, withID bool) (drop.Route, drop.Proof, vault.ID, bool) {
	var id vault.ID
	rt, ok := s.readDrop(w, r, req, &req.DropKey)
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
	var req api.InboxRequest
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
	ans := api.Listing{Submissions: make([]api.Submission, 0, len(l.Items)), Pending: l.Pending, More: l.More,
		Visits: make([]api.Visit, 0, len(l.Visits)), FetchedSinceList: l.FetchedSinceList,
		FetchedTotal: l.FetchedTotal, ListsTotal: l.ListsTotal}
	for _, it := range l.Items {
		ans.Submissions = append(ans.Submissions, api.Submission{ID: it.ID.String(), AgeHours: it.AgeHours, Size: it.Size})
	}
	for _, v := range l.Visits {
		ans.Visits = append(ans.Visits, api.Visit(v))
	}
	s.marshal(w, http.StatusOK, ans)
}

func (s *server) dropFetch(w http.ResponseWriter, r *http.Request) {
	var req api.InboxRequest
	rt, p, id, ok := s.dropInbox(w, r, &req, true)
	if !ok {
		return
	}
	claim, err := need32(req.Claim)
	if err != nil {
		s.badParam(w, "claim")
		return
	}
	if req.Offset < 0 || !api.SubmissionAligned(req.Offset) {
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
	var req api.InboxRequest
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
	var req api.InboxRequest
	rt, p, _, ok := s.dropInbox(w, r, &req, false)
	if !ok {
		return
	}
	n, err := s.cfg.Drops.WipeAll(rt, p)
	if err != nil {
		s.dropError(w, err)
		return
	}
	s.marshal(w, http.StatusOK, api.Wiped{Wiped: n})
}
