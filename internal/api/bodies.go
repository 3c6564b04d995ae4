package api

import (
	"net/http"
	"strconv"
)

// The JSON bodies of API v1. Binary values are base64url without padding; every request is
// decoded strictly (unknown members refused), so a client sends only the members below.
// Optional members are omitted when empty, which the server reads as absent.

// LimitsAnswer is GET /api/v1/limits: what this server takes, the price now and, when it has
// drop boxes, what a submission may be.
type LimitsAnswer struct {
	Version    int         `json:"version"`
	MaxEntry   int64       `json:"max_entry"`
	MaxAppend  int64       `json:"max_append"`
	Free       int64       `json:"free"`
	TTLs       []int64     `json:"ttls"`
	DefaultTTL int64       `json:"default_ttl"`
	MaxTTL     int64       `json:"max_ttl"`
	Price      Price       `json:"price"`
	Drop       *DropLimits `json:"drop,omitempty"`
}

// Price is the "price" member of the limits answer: a token to pay with, and the price level
// of each kind of entry ("note", "chat", "drop").
type Price struct {
	Token     string         `json:"token"`
	ExpiresIn int64          `json:"expires_in"`
	Levels    map[string]int `json:"levels"`
}

// The kinds of Price.Levels.
const (
	PriceKindNote = "note"
	PriceKindChat = "chat"
	PriceKindDrop = "drop"
)

// DropLimits is the "drop" member of the limits answer: what a submission may be, so that a
// client can seal it and compute its price without asking anything else.
type DropLimits struct {
	TTL        int64 `json:"ttl"` // seconds a submission waits to be read (the price is for this)
	MaxEntry   int64 `json:"max_entry"`
	PriceFloor int64 `json:"price_floor"` // the least length a submission is priced at
}

// Payment is what a create carries to pay its price (absent while the price is 0).
type Payment struct {
	PriceToken string `json:"price_token,omitempty"`
	PriceNonce string `json:"price_nonce,omitempty"`
}

// Pay sets the payment (both empty: none).
func (p *Payment) Pay(token, nonce string) { p.PriceToken, p.PriceNonce = token, nonce }

// Payer is a create request that can carry a payment.
type Payer interface{ Pay(token, nonce string) }

// CreateNote is POST /api/v1/notes. TTL nil is the server's default lifetime; OpenHash empty
// is a note without a PIN.
type CreateNote struct {
	Length       int64  `json:"length"`
	TTL          *int64 `json:"ttl,omitempty"`
	GateHash     string `json:"gate_hash"`
	OpenHash     string `json:"open_hash,omitempty"`
	DestructHash string `json:"destruct_hash"`
	ManageHash   string `json:"manage_hash"`
	Payment
}

// Created answers a create or a commit of a note or a drop submission.
type Created struct {
	ID        string `json:"id"`
	ExpiresIn int64  `json:"expires_in"`
}

// Received answers an append: the bytes the server holds now.
type Received struct {
	Received int64 `json:"received"`
}

// UploadNote is what POST /api/v1/notes/upload carries in its headers (SetHeader); its body is
// the ciphertext from Offset on. It is CreateNote with the manage secret in place of its hash
// (the server needs the secret to let a retry go on), and the offset a retry resumes at. Its
// Payment's token is required even when no price is due: the note's id is bound to it.
type UploadNote struct {
	Length       int64
	TTL          *int64 // nil: the server's default
	GateHash     string
	OpenHash     string // empty: no PIN
	DestructHash string
	Manage       string // the manage secret M, base64url
	Offset       int64  // where the body starts: 0, or what a 409 said the server holds
	Payment
}

// SetHeader writes u into h.
func (u *UploadNote) SetHeader(h http.Header) {
	h.Set(HeaderLength, strconv.FormatInt(u.Length, 10))
	if u.TTL != nil {
		h.Set(HeaderTTL, strconv.FormatInt(*u.TTL, 10))
	}
	h.Set(HeaderGateHash, u.GateHash)
	if u.OpenHash != "" {
		h.Set(HeaderOpenHash, u.OpenHash)
	}
	h.Set(HeaderDestructHash, u.DestructHash)
	h.Set(HeaderManage, u.Manage)
	h.Set(HeaderOffset, strconv.FormatInt(u.Offset, 10))
	u.setPayment(h)
}

// setPayment writes the upload's payment: the token always (the upload's id is bound to it,
// SECURITY.md "One request per note"), the nonce when a price is paid.
func (p *Payment) setPayment(h http.Header) {
	if p.PriceToken != "" {
		h.Set(HeaderPriceToken, p.PriceToken)
	}
	if p.PriceNonce != "" {
		h.Set(HeaderPriceNonce, p.PriceNonce)
	}
}

// UploadSubmission is what POST /api/v1/drops/{route}/upload carries in its headers
// (SetHeader); its body is the sealed submission from Offset on. It is SubmitDrop with the
// manage secret in place of its hash (the server derives the submission's id from it, so
// that a retry finds the pending submission), and the offset a retry resumes at. Every piece
// carries the same Payment token, even when no price is due: the id is bound to it.
type UploadSubmission struct {
	DropKey
	Length int64
	TTL    *int64 // nil: the drop's ttl
	Manage string // the submitter's manage secret, base64url
	Offset int64
	Payment
}

// SetHeader writes u into h.
func (u *UploadSubmission) SetHeader(h http.Header) {
	h.Set(HeaderDropAuth, u.Auth)
	if u.Flags != nil {
		h.Set(HeaderDropFlags, strconv.Itoa(*u.Flags))
	}
	h.Set(HeaderLength, strconv.FormatInt(u.Length, 10))
	if u.TTL != nil {
		h.Set(HeaderTTL, strconv.FormatInt(*u.TTL, 10))
	}
	h.Set(HeaderManage, u.Manage)
	h.Set(HeaderOffset, strconv.FormatInt(u.Offset, 10))
	u.setPayment(h)
}

// Uploaded answers a note's upload, a drop submission's upload, and an append that asked to commit (HeaderCommit) once
// the note is complete: its id, the bytes the server holds, whether the note is committed
// (readable) and its lifetime left. An append with HeaderCommit that did not complete the note
// answers Received alone, which reads as Uploaded with only Received set.
type Uploaded struct {
	ID        string `json:"id,omitempty"`
	Received  int64  `json:"received"`
	Committed bool   `json:"committed,omitempty"`
	ExpiresIn int64  `json:"expires_in,omitempty"`
}

// Manage is the body of a note's commit, status and revoke, and a chat's revoke.
type Manage struct {
	Manage string `json:"manage"`
}

// OpenNote is POST /api/v1/notes/{id}/open; Offset resumes a download at the envelope
// header or a chunk boundary.
type OpenNote struct {
	Gate     string `json:"gate"`
	Claim    string `json:"claim"`
	Open     string `json:"open,omitempty"`
	Destruct string `json:"destruct,omitempty"`
	Offset   int64  `json:"offset,omitempty"`
}

// ConfirmNote is POST /api/v1/notes/{id}/confirm: the reader has the whole note.
type ConfirmNote struct {
	Gate  string `json:"gate"`
	Nonce string `json:"nonce"`
}

// NoteState answers POST /api/v1/notes/{id}/status.
// Received is there only while the note is pending: the bytes the server holds, where the
// next append goes on (the query after an append whose answer was lost).
type NoteState struct {
	State     string `json:"state"`
	ExpiresIn int64  `json:"expires_in"`
	Received  *int64 `json:"received,omitempty"`
}

// The states of NoteState.
const (
	StatePending = "pending"
	StateWaiting = "waiting"
	StateOpened  = "opened"
	StateGone    = "gone"
)

// CreateChat is POST /api/v1/chats.
type CreateChat struct {
	TTL          *int64 `json:"ttl,omitempty"`
	GateHash     string `json:"gate_hash"`
	OpenHash     string `json:"open_hash,omitempty"`
	DestructHash string `json:"destruct_hash"`
	ManageHash   string `json:"manage_hash"`
	Payment
}

// ChatCreated answers a chat's create: its id and the creator's session.
type ChatCreated struct {
	ID        string `json:"id"`
	Session   string `json:"session"`
	ExpiresIn int64  `json:"expires_in"`
}

// JoinChat is POST /api/v1/chats/{id}/join.
type JoinChat struct {
	Gate     string `json:"gate"`
	Open     string `json:"open,omitempty"`
	Destruct string `json:"destruct,omitempty"`
}

// ChatJoined answers a join: the joiner's session.
type ChatJoined struct {
	Session string `json:"session"`
}

// ChatSession is the body of a chat's poll and end. A poll acknowledges either the last
// record received (Ack) or the next one expected (Next: everything below it arrived), or
// nothing when both are absent; never both. Wait holds the poll open until a record comes.
type ChatSession struct {
	Session string  `json:"session"`
	Ack     *uint64 `json:"ack,omitempty"`
	Next    *uint64 `json:"next,omitempty"`
	Wait    bool    `json:"wait,omitempty"`
}

// ChatSent answers the fallback's send: the record's sequence number.
type ChatSent struct {
	Seq uint64 `json:"seq"`
}

// DropKey names a drop in every request about it: the inbox-auth public key and the flags,
// whose hash must be the route in the path.
type DropKey struct {
	Auth  string `json:"auth"`
	Flags *int   `json:"flags"`
}

// SubmitDrop is POST /api/v1/drops/{route}/submissions.
type SubmitDrop struct {
	DropKey
	Length     int64  `json:"length"`
	TTL        *int64 `json:"ttl,omitempty"`
	ManageHash string `json:"manage_hash"`
	Payment
}

// CommitSubmission is POST /api/v1/drops/{route}/submissions/{id}/commit.
type CommitSubmission struct {
	DropKey
	Manage string `json:"manage"`
}

// Challenge answers POST /api/v1/drops/{route}/challenge: what an inbox request proves
// itself against.
type Challenge struct {
	Challenge string `json:"challenge"`
	ServerKey string `json:"server_key"`
	ExpiresIn int64  `json:"expires_in"`
}

// InboxRequest is the body of an inbox's list, fetch, confirm and wipe: the drop, and the
// proof (a challenge and its MAC); Claim and Offset for a fetch, Nonce for a confirm, After
// (a submission id, the cursor) for a list.
type InboxRequest struct {
	DropKey
	Challenge string `json:"challenge"`
	MAC       string `json:"mac"`
	Claim     string `json:"claim,omitempty"`
	Nonce     string `json:"nonce,omitempty"`
	Offset    int64  `json:"offset,omitempty"`
	After     string `json:"after,omitempty"`
}

// Listing answers an inbox's list: a page of waiting submissions, oldest first, and the
// visit log.
type Listing struct {
	Submissions      []Submission `json:"submissions"`
	Pending          int          `json:"pending"`
	More             bool         `json:"more"`
	Visits           []Visit      `json:"visits"`
	FetchedSinceList int          `json:"fetched_since_list"`
	FetchedTotal     int          `json:"fetched_total"`
	ListsTotal       int          `json:"lists_total"`
}

// Submission is one waiting submission of a Listing.
type Submission struct {
	ID       string `json:"id"`
	AgeHours int64  `json:"age_hours"`
	Size     int64  `json:"size"`
}

// Visit is one day of the inbox's visit log.
type Visit struct {
	Day     string `json:"day"`
	Fetched int    `json:"fetched"`
}

// Wiped answers an inbox's wipe: how many submissions went.
type Wiped struct {
	Wiped int `json:"wiped"`
}
