package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/sealdrop/sealdrop/internal/api"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/vault"
)

// A note in one request (issue 17): POST /api/v1/notes/upload is the create with the first
// piece of the ciphertext as its body, committed when that piece is the whole note. Over Tor
// each request in sequence is a round trip through six relays; a note up to max_append now
// costs one instead of three.
//
// It is an append in every way that matters to the ciphertext: the connection is taken from
// net/http (hijack.go), the body goes from the socket into the vault's locked blocks and the
// connection is closed after the answer. Everything else travels in headers (api.UploadNote),
// so the body is nothing but ciphertext.
//
// A cut upload resumes without the client knowing the id: the id is derived from the manage
// secret's hash and the price token the upload carries (noteID), so the same request sent
// again (with the offset a 409 names) finds the pending note and goes on with it, as an append
// would, without paying or counting against the circuit again. Later pieces go to the append
// route, the last one with api.HeaderCommit.
//
// One request per note: the token is required on every upload that makes its entry, even when
// no price is due, and it must be one the pricer still accepts (its window or the next: up to
// two price windows) and newer than every token the vault retired (web.ticket). The vault
// keeps the id's record until the token's end whatever the note's lifetime, and retires the
// token if a flood pushes the record out before (vault.CreateRequest.Ticket). So the same
// request sent again after its note was read, expired or wiped finds the record (gone) while
// the token is accepted, and is refused (402, a fresh token) after: it can never make the note
// again at its old id. Someone who saw only the headers, or holds only the manage secret, is
// in the same place.

// noteIDLabel separates the note id derivation from any other use of the key.
const noteIDLabel = "sealdrop/v1 note id"

// noteID is the id of the note whose manage hash is mh, made with the price token tok:
// HMAC-SHA-256 under a per-process key nobody else holds, cut to 16 bytes. Without the key,
// nobody can make a manage hash that lands on a chosen id, so these ids are as unguessable as
// drawn ones. The key is drawn at each start and never leaves the process: a restart loses the
// vault's notes anyway.
func (s *server) noteID(mh *[32]byte, tok []byte) vault.ID {
	return s.derivedID(noteIDLabel, mh[:], tok)
}

// derivedID is HMAC-SHA-256 under the per-process id key of label and parts, cut to an id.
func (s *server) derivedID(label string, parts ...[]byte) vault.ID {
	m := hmac.New(sha256.New, s.idKey[:])
	m.Write([]byte(label))
	for _, p := range parts {
		m.Write(p)
	}
	var sum [sha256.Size]byte
	var id vault.ID
	copy(id[:], m.Sum(sum[:0]))
	return id
}

// upload serves POST /api/v1/notes/upload on the connection it takes over.
func (s *server) upload(w http.ResponseWriter, r *http.Request) {
	s.hijackUpload(w, r, s.binaryOnly(s.uploadFrom))
}

// hijackUpload serves an upload route (a note's, a drop submission's) with serve on the
// connection it takes over (hijack.go), or through w where there is none to take.
func (s *server) hijackUpload(w http.ResponseWriter, r *http.Request, serve func(http.ResponseWriter, *http.Request, io.Reader, net.Conn)) {
	h, ok := hijack(w, r, r.ContentLength)
	if !ok {
		serve(w, r, r.Body, nil)
		return
	}
	s.serveHijacked(h, true, func(w http.ResponseWriter) { serve(w, r, h, h.conn) })
}

// binaryOnly serves serve to a request whose body is application/octet-stream, and refuses
// any other (415) before anything else is looked at.
func (s *server) binaryOnly(serve func(http.ResponseWriter, *http.Request, io.Reader, net.Conn)) func(http.ResponseWriter, *http.Request, io.Reader, net.Conn) {
	return func(w http.ResponseWriter, r *http.Request, body io.Reader, conn net.Conn) {
		if !hasMediaType(r, api.Binary) {
			s.refuse(w, api.ContentType, "send Content-Type: application/octet-stream")
			return
		}
		serve(w, r, body, conn)
	}
}

// uploadArgs are an upload's parsed headers.
type uploadArgs struct {
	manage         [32]byte
	offset, length int64
	ttl            time.Duration
	caps           vault.Caps // Manage: the manage secret's hash; the rest: a note's only
	token, nonce   string
	tok            []byte // the token decoded; nil when absent or malformed
}

// optionalHeader returns a header that may be absent but not repeated.
func optionalHeader(r *http.Request, name string) (string, bool) {
	v := r.Header.Values(name)
	if len(v) > 1 {
		return "", false
	}
	if len(v) == 0 {
		return "", true
	}
	return v[0], true
}

// parseUploadCommon parses the headers every upload carries (manage secret, offset, length,
// lifetime, payment), answering the first that is malformed. maxEntry is the kind's largest
// entry; ttl parses HeaderTTL when present (and answers when it is refused); a is set to the
// default lifetime beforehand.
func (s *server) parseUploadCommon(w http.ResponseWriter, r *http.Request, a *uploadArgs, maxEntry int64,
	ttl func(http.ResponseWriter, string) (time.Duration, bool)) bool {
	var err error
	if a.manage, err = need32(singleHeader(r, api.HeaderManage)); err != nil {
		s.badParam(w, api.HeaderManage)
		return false
	}
	if v, ok := optionalHeader(r, api.HeaderOffset); !ok {
		s.badParam(w, api.HeaderOffset)
		return false
	} else if v != "" {
		if a.offset, err = parseOffset(v); err != nil {
			s.badParam(w, api.HeaderOffset)
			return false
		}
	}
	if a.length, err = parseOffset(singleHeader(r, api.HeaderLength)); err != nil || a.length == 0 {
		s.badParam(w, api.HeaderLength)
		return false
	}
	if a.length > maxEntry {
		w.Header().Set("Connection", "close")
		s.refuse(w, api.TooLarge, "length is over max_entry")
		return false
	}
	if v, ok := optionalHeader(r, api.HeaderTTL); !ok {
		s.badParam(w, api.HeaderTTL)
		return false
	} else if v != "" {
		if a.ttl, ok = ttl(w, v); !ok {
			return false
		}
	}
	a.caps.Manage = sha256.Sum256(a.manage[:])
	tok, ok1 := optionalHeader(r, api.HeaderPriceToken)
	nonce, ok2 := optionalHeader(r, api.HeaderPriceNonce)
	if !ok1 || !ok2 {
		s.badParam(w, "the payment")
		return false
	}
	a.token, a.nonce = tok, nonce
	// The token the id is bound to: a malformed one is none, and the create is refused (402).
	a.tok, _ = decodeN(tok, protocol.PriceTokenSize)
	return true
}

// noteTTL parses a note upload's HeaderTTL: one of the limits' ttls.
func (s *server) noteTTL(w http.ResponseWriter, v string) (time.Duration, bool) {
	secs, err := parseOffset(v)
	if err != nil || !s.ttls[secs] {
		s.refuse(w, api.BadTTL, s.ttlMessage)
		return 0, false
	}
	return time.Duration(secs) * time.Second, true
}

// parseUpload parses a note upload's headers, answering the first that is malformed.
func (s *server) parseUpload(w http.ResponseWriter, r *http.Request) (a uploadArgs, ok bool) {
	a.ttl = s.cfg.DefaultTTL
	if !s.parseUploadCommon(w, r, &a, s.v.MaxEntry(), s.noteTTL) {
		return a, false
	}
	if a.length < api.MinNote {
		s.refuse(w, api.BadParameter, api.HeaderLength+": "+lengthWords)
		return a, false
	}
	open, ok1 := optionalHeader(r, api.HeaderOpenHash)
	destruct, ok2 := optionalHeader(r, api.HeaderDestructHash)
	bad := parseCaps(&a.caps, singleHeader(r, api.HeaderGateHash), open, destruct)
	switch {
	case bad == "gate":
		s.badParam(w, api.HeaderGateHash)
		return a, false
	case bad == "open" || !ok1:
		s.badParam(w, api.HeaderOpenHash)
		return a, false
	case bad == "destruct" || !ok2:
		s.badParam(w, api.HeaderDestructHash)
		return a, false
	}
	return a, true
}

// uploadFrom answers a note's upload whose body is read from body; conn is the hijacked
// connection it arrives on (nil when there is none).
func (s *server) uploadFrom(w http.ResponseWriter, r *http.Request, body io.Reader, conn net.Conn) {
	a, ok := s.parseUpload(w, r)
	if !ok {
		return
	}
	id := s.noteID(&a.caps.Manage, a.tok)
	s.uploadInto(w, r, body, conn, &a, uploadTarget{
		kind: vault.KindNote, id: id, declared: &vault.CreateRequest{Length: a.length, TTL: a.ttl, Caps: a.caps},
		create: func() (time.Time, bool) { return s.createForUpload(w, r, id, &a) },
		commit: func() (time.Time, error) { return s.v.Commit(vault.KindNote, id, a.manage[:]) },
		words:  noteCommitWords,
	})
}

// uploadTarget is what differs between the entries an upload makes: a note, or a drop
// submission.
type uploadTarget struct {
	kind  vault.Kind
	owner *string // the drop route a submission is filed under; nil for a note
	id    vault.ID
	// declared is what the upload declares of its entry (length, lifetime, capability hashes
	// it knows): a try that finds the entry pending goes on only when they are the entry's.
	declared *vault.CreateRequest
	create   func() (time.Time, bool) // makes the pending entry, or answers and returns false
	commit   func() (time.Time, error)
	words    words // the commit's refusals
}

// uploadInto stores an upload's body in its entry t, made by this request unless a try of the
// same upload made it before (a cut, a lost answer), and commits the entry when the body
// completes it. Every refusal is decided before a byte of the body is stored: the headers,
// the body's length, and in t.create the circuit's limit, the quotas and the price.
func (s *server) uploadInto(w http.ResponseWriter, r *http.Request, body io.Reader, conn net.Conn, a *uploadArgs, t uploadTarget) {
	if !s.bodyFits(w, r) {
		return
	}
	if r.ContentLength > a.length-a.offset {
		w.Header().Set("Connection", "close")
		s.refuse(w, api.TooLarge, appendWords[api.TooLarge])
		return
	}
	st, exp, err := s.v.Status(t.kind, t.id, a.manage[:])
	if err != nil && a.offset != 0 && conn != nil {
		// A later piece that came before the first one made the entry (two streams race to
		// the server: supersede.go): wait a little for it.
		if s.appends.await(t.id, conn, a.offset, pieceEarlyWait, func() bool {
			_, _, err := s.v.Status(t.kind, t.id, a.manage[:])
			return err == nil
		}) == nil {
			renew(body)
			st, exp, err = s.v.Status(t.kind, t.id, a.manage[:])
		}
	}
	switch {
	case err != nil:
		// No entry of this manage secret: make it, unless this request goes on with one.
		if a.offset != 0 {
			s.gone(w)
			return
		}
		var ok bool
		if exp, ok = t.create(); !ok {
			return
		}
	case st == vault.StateWaiting:
		// Committed already: the answer to this same upload was lost on its way back.
		s.committed(w, t.id, a.length, exp)
		return
	case st == vault.StatePending && !s.v.Declared(t.kind, t.id, a.manage[:], t.declared):
		// The same id with other parameters: not a try of the upload that made the entry.
		s.gone(w)
		return
	case st != vault.StatePending:
		// Opened or ended. Once its record goes (the original expiry, MaxTombstones newer
		// ones), the token is no longer accepted or retired: this request cannot make the entry
		// again (SECURITY.md, "One request per note").
		s.gone(w)
		return
	}
	received, err := s.appendSuperseding(t.kind, t.owner, t.id, a.manage[:], a.offset, r.ContentLength, body, conn)
	if err != nil {
		s.appendRefused(w, received, err)
		return
	}
	if received == a.length {
		s.commitAppended(w, t.id, received, t.commit, t.words)
		return
	}
	s.marshal(w, http.StatusOK, api.Uploaded{ID: t.id.String(), Received: received, ExpiresIn: s.expiresIn(exp)})
}

// createForUpload makes the pending note of an upload with id, after the circuit's limit and
// the price allow it, and returns its expiry; on refusal it answers and returns false. When
// another try of the same upload made the note meanwhile, this one goes on with it.
func (s *server) createForUpload(w http.ResponseWriter, r *http.Request, id vault.ID, a *uploadArgs) (time.Time, bool) {
	bits := func() (int, error) {
		return s.price.Bits(s.noteLevel(), protocol.PriceRequest{Length: a.length, TTL: a.ttl})
	}
	tk, ok := s.ticket(w, a.tok, bits)
	if !ok || !s.circuitAllows(w, r) {
		return time.Time{}, false
	}
	refund, ok := s.pay(w, protocol.PriceRequest{Kind: protocol.PriceNote, Manage: a.caps.Manage, Length: a.length, TTL: a.ttl},
		s.noteLevel(), a.token, a.nonce)
	if !ok {
		return time.Time{}, false
	}
	_, exp, err := s.v.Create(vault.CreateRequest{ID: id, Kind: vault.KindNote, Length: a.length, TTL: a.ttl, Caps: a.caps, Ticket: tk})
	if err == nil {
		return exp, true
	}
	refund()
	switch {
	case errors.Is(err, vault.ErrTaken):
		return s.madeByRetry(w, vault.KindNote, id, a, &vault.CreateRequest{Length: a.length, TTL: a.ttl, Caps: a.caps})
	case errors.Is(err, vault.ErrRetired):
		s.staleTicket(w, bits)
		return time.Time{}, false
	}
	s.refuseErr(w, err, noteCreateWords, api.Unavailable)
	return time.Time{}, false
}

// madeByRetry answers an upload's create that found its id taken: when another try of the
// same upload (declaring the same) made the entry meanwhile and it is still pending, this one
// goes on with it (true, its expiry); otherwise the answer is gone.
func (s *server) madeByRetry(w http.ResponseWriter, kind vault.Kind, id vault.ID, a *uploadArgs, declared *vault.CreateRequest) (time.Time, bool) {
	if st, exp, err := s.v.Status(kind, id, a.manage[:]); err == nil && st == vault.StatePending && s.v.Declared(kind, id, a.manage[:], declared) {
		return exp, true
	}
	s.gone(w)
	return time.Time{}, false
}
