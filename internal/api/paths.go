package api

// Version is the API version, the "version" of the limits answer.
const Version = 1

// Paths. A route below a note, chat or drop is its base path, the id (or drop route) and an
// action: NotePath(id, NoteOpen) is "/api/v1/notes/{id}/open".
const (
	Prefix = "/api/v1"
	Limits = Prefix + "/limits"
	Notes  = Prefix + "/notes"
	Chats  = Prefix + "/chats"
	Drops  = Prefix + "/drops"
)

// NoteUpload is a note's create with its ciphertext (POST, SECURITY.md "HTTP API v1"): the
// capability hashes, length, lifetime and payment in headers (UploadNote), the body the first
// piece of the ciphertext, committed when it is the whole.
const NoteUpload = Notes + "/upload"

// The actions below /api/v1/notes/{id}/.
const (
	NoteData    = "data"
	NoteCommit  = "commit"
	NoteOpen    = "open"
	NoteConfirm = "confirm"
	NoteStatus  = "status"
	NoteRevoke  = "revoke"
)

// The actions below /api/v1/chats/{id}/.
const (
	ChatJoin   = "join"
	ChatSend   = "send"
	ChatPoll   = "poll"
	ChatEnd    = "end"
	ChatRevoke = "revoke"
	ChatWS     = "ws"
)

// The actions below /api/v1/drops/{route}/ (DropPath) and below
// /api/v1/drops/{route}/submissions/{id}/ (SubmissionPath).
const (
	DropSubmissions  = "submissions"
	DropUpload       = "upload" // a submission with its ciphertext (UploadSubmission)
	DropChallenge    = "challenge"
	DropList         = "list"
	DropWipe         = "wipe"
	SubmissionData   = "data"
	SubmissionCommit = "commit"
	SubmissionFetch  = "fetch"
	SubmissionAck    = "confirm"
)

// NotePath is the path of action on note id ("{id}" for a route pattern).
func NotePath(id, action string) string { return Notes + "/" + id + "/" + action }

// ChatPath is the path of action on chat id.
func ChatPath(id, action string) string { return Chats + "/" + id + "/" + action }

// DropPath is the path of action on the drop with route id route.
func DropPath(route, action string) string { return Drops + "/" + route + "/" + action }

// SubmissionPath is the path of action on submission id of the drop route.
func SubmissionPath(route, id, action string) string {
	return DropPath(route, DropSubmissions) + "/" + id + "/" + action
}

// Pages: where the links of notes, manage links, chats, drops and inboxes point.
const (
	PageNote   = "/n/"
	PageManage = "/m/"
	PageChat   = "/c/"
	PageDrop   = "/d/"
	PageInbox  = "/i/"
	// PageReply is the source's page for a reply box: the same link fragment as an inbox link
	// (the reply box's keys), a page with nothing of the journalist's tools.
	PageReply = "/r/"
)

// Media types of request and answer bodies.
const (
	JSON   = "application/json"
	Binary = "application/octet-stream"
)

// Headers of the binary routes.
const (
	HeaderManage  = "Sealdrop-Manage"  // append: the manage secret, base64url
	HeaderOffset  = "Sealdrop-Offset"  // append: where this piece starts, canonical decimal
	HeaderSize    = "Sealdrop-Size"    // open, fetch: the whole ciphertext's size
	HeaderSession = "Sealdrop-Session" // chat send: the session token, base64url
	HeaderPeer    = "Sealdrop-Peer"    // chat poll: "1" while the other side is connected, else "0"
	HeaderSeq     = "Sealdrop-Seq"     // chat poll: the record's sequence number
	HeaderCommit  = "Sealdrop-Commit"  // note append: "1" commits the note if this piece completes it

	// A note's upload (NoteUpload) also carries HeaderManage, and HeaderOffset when it resumes.
	HeaderLength       = "Sealdrop-Length"        // the whole ciphertext's length, canonical decimal
	HeaderTTL          = "Sealdrop-Ttl"           // seconds, one of the limits' ttls; absent: the default
	HeaderGateHash     = "Sealdrop-Gate-Hash"     // base64url SHA-256 of the gate token
	HeaderOpenHash     = "Sealdrop-Open-Hash"     // base64url SHA-256 of the open token (a PIN only)
	HeaderDestructHash = "Sealdrop-Destruct-Hash" // base64url SHA-256 of the destruct token
	HeaderPriceToken   = "Sealdrop-Price-Token"   // the limits' token: always (the id is bound to it)
	HeaderPriceNonce   = "Sealdrop-Price-Nonce"   // the payment, when a price is due

	// A drop submission's upload (DropUpload) also carries HeaderManage, HeaderLength,
	// HeaderOffset, HeaderTTL (seconds up to the drop's ttl) and the payment, and names the
	// drop by these two (the JSON routes' "auth" and "flags").
	HeaderDropAuth  = "Sealdrop-Drop-Auth"  // the drop's inbox-auth public key A, base64url
	HeaderDropFlags = "Sealdrop-Drop-Flags" // the drop's flags, canonical decimal
)

// CommitYes is HeaderCommit's one value.
const CommitYes = "1"
