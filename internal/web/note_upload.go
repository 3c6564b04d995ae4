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
// secret's hash (noteID), so the same request sent again (with the offset a 409 names) finds
// the pending note and goes on with it, as an append would, without paying or counting
// against the circuit again. Later pieces go to the append route, the last one with
// api.HeaderCommit.

// noteIDLabel separates the note id derivation from any other use of the key.
const noteIDLabel = "sealdrop/v1 note id"

// noteID is the id of the note whose manage hash is mh: HMAC-SHA-256 under a per-process key
// nobody else holds, cut to 16 bytes. Without the key, nobody can make a manage hash that lands
// on a chosen id, so these ids are as unguessable as drawn ones. The key is drawn at each start
// and never leaves the process: a restart loses the vault's notes anyway.
func (s *server) noteID(mh *[32]byte) vault.ID {
	m := hmac.New(sha256.New, s.idKey[:])
	m.Write([]byte(noteIDLabel))
	m.Write(mh[:])
	var sum [sha256.Size]byte
	var id vault.ID
	copy(id[:], m.Sum(sum[:0]))
	return id
}

// upload serves POST /api/v1/notes/upload on the connection it takes over.
func (s *server) upload(w http.ResponseWriter, r *http.Request) {
	h, ok := hijack(w, r, r.ContentLength)
	if !ok {
		s.uploadFrom(w, r, r.Body, nil)
		return
	}
	s.serveHijacked(h, true, func(w http.ResponseWriter) { s.uploadFrom(w, r, h, h.conn) })
}

// uploadArgs are an upload's parsed headers.
type uploadArgs struct {
	manage         [32]byte
	offset, length int64
	ttl            time.Duration
	caps           vault.Caps
	token, nonce   string
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

// parseUpload parses an upload's headers, answering the first that is malformed.
func (s *server) parseUpload(w http.ResponseWriter, r *http.Request) (a uploadArgs, ok bool) {
	var err error
	if a.manage, err = need32(singleHeader(r, api.HeaderManage)); err != nil {
		s.badParam(w, api.HeaderManage)
		return a, false
	}
	if v, ok := optionalHeader(r, api.HeaderOffset); !ok {
		s.badParam(w, api.HeaderOffset)
		return a, false
	} else if v != "" {
		if a.offset, err = parseOffset(v); err != nil {
			s.badParam(w, api.HeaderOffset)
			return a, false
		}
	}
	if a.length, err = parseOffset(singleHeader(r, api.HeaderLength)); err != nil {
		s.badParam(w, api.HeaderLength)
		return a, false
	}
	if a.length < api.MinNote {
		s.refuse(w, api.BadParameter, api.HeaderLength+": "+lengthWords)
		return a, false
	}
	if a.length > s.v.MaxEntry() {
		w.Header().Set("Connection", "close")
		s.refuse(w, api.TooLarge, "length is over max_entry")
		return a, false
	}
	a.ttl = s.cfg.DefaultTTL
	if v, ok := optionalHeader(r, api.HeaderTTL); !ok {
		s.badParam(w, api.HeaderTTL)
		return a, false
	} else if v != "" {
		secs, err := parseOffset(v)
		if err != nil || !s.ttls[secs] {
			s.refuse(w, api.BadTTL, s.ttlMessage)
			return a, false
		}
		a.ttl = time.Duration(secs) * time.Second
	}
	a.caps.Manage = sha256.Sum256(a.manage[:])
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
	tok, ok1 := optionalHeader(r, api.HeaderPriceToken)
	nonce, ok2 := optionalHeader(r, api.HeaderPriceNonce)
	if !ok1 || !ok2 {
		s.badParam(w, "the payment")
		return a, false
	}
	a.token, a.nonce = tok, nonce
	return a, true
}

// uploadFrom answers an upload whose body is read from body; conn is the hijacked connection
// it arrives on (nil when there is none). Every refusal is decided before a byte of the body
// is stored: the headers, the body's length, the circuit's limit and the price.
func (s *server) uploadFrom(w http.ResponseWriter, r *http.Request, body io.Reader, conn net.Conn) {
	if !hasMediaType(r, api.Binary) {
		s.refuse(w, api.ContentType, "send Content-Type: application/octet-stream")
		return
	}
	a, ok := s.parseUpload(w, r)
	if !ok || !s.bodyFits(w, r) {
		return
	}
	if r.ContentLength > a.length-a.offset {
		w.Header().Set("Connection", "close")
		s.refuse(w, api.TooLarge, appendWords[api.TooLarge])
		return
	}
	id := s.noteID(&a.caps.Manage)
	st, exp, err := s.v.Status(vault.KindNote, id, a.manage[:])
	switch {
	case err != nil:
		// No note of this manage secret: make it, unless this request goes on with one.
		if a.offset != 0 {
			s.gone(w)
			return
		}
		if exp, ok = s.createForUpload(w, r, id, &a); !ok {
			return
		}
	case st == vault.StateWaiting:
		// Committed already: the answer to this same upload was lost on its way back.
		s.committed(w, id, a.length, exp)
		return
	case st != vault.StatePending:
		// Opened or ended. Only while its tombstone is kept: once that goes (the original
		// expiry, or MaxTombstones newer ones), this request would make the note again
		// (SECURITY.md, "One request per note").
		s.gone(w)
		return
	}
	received, err := s.appendSuperseding(vault.KindNote, nil, id, a.manage[:], a.offset, r.ContentLength, body, conn)
	if err != nil {
		s.appendRefused(w, received, err)
		return
	}
	if received == a.length {
		s.commitAppended(w, id, a.manage, received)
		return
	}
	s.marshal(w, http.StatusOK, api.Uploaded{ID: id.String(), Received: received, ExpiresIn: s.expiresIn(exp)})
}

// createForUpload makes the pending note of an upload with id, after the circuit's limit and
// the price allow it, and returns its expiry; on refusal it answers and returns false. When
// another try of the same upload made the note meanwhile, this one goes on with it.
func (s *server) createForUpload(w http.ResponseWriter, r *http.Request, id vault.ID, a *uploadArgs) (time.Time, bool) {
	if !s.circuitAllows(w, r) {
		return time.Time{}, false
	}
	refund, ok := s.pay(w, protocol.PriceRequest{Kind: protocol.PriceNote, Manage: a.caps.Manage, Length: a.length, TTL: a.ttl},
		s.noteLevel(), a.token, a.nonce)
	if !ok {
		return time.Time{}, false
	}
	_, exp, err := s.v.Create(vault.CreateRequest{ID: id, Kind: vault.KindNote, Length: a.length, TTL: a.ttl, Caps: a.caps})
	if err == nil {
		return exp, true
	}
	refund()
	if errors.Is(err, vault.ErrTaken) {
		if st, exp, err := s.v.Status(vault.KindNote, id, a.manage[:]); err == nil && st == vault.StatePending {
			return exp, true
		}
		s.gone(w)
		return time.Time{}, false
	}
	s.refuseErr(w, err, noteCreateWords, api.Unavailable)
	return time.Time{}, false
}
