package vault

import (
	"errors"
	"time"
)

// Kind says what an entry is. Quotas are kept per kind and per owner within a kind.
type Kind uint8

const (
	KindNote       Kind = 1 // a one-time note (text and files)
	KindChatFrame  Kind = 2 // an undelivered chat frame
	KindSubmission Kind = 3 // a drop-box submission or a reply
	KindRoomFrame  Kind = 4 // an undelivered group-room record (owner: the room id)
	kindLast            = KindRoomFrame
)

func (k Kind) valid() bool { return k >= KindNote && k <= kindLast }

// Sentinel errors. Every absent state (never existed, read, expired, revoked, destroyed,
// wrong capability) is ErrGone, so callers cannot leak which one it was.
var (
	ErrGone       = errors.New("vault: gone")
	ErrFull       = errors.New("vault: full")
	ErrTooLarge   = errors.New("vault: entry too large")
	ErrInvalid    = errors.New("vault: invalid request") // bad TTL, length, kind, hash
	ErrOffset     = errors.New("vault: offset mismatch") // append not at the received offset
	ErrIncomplete = errors.New("vault: upload incomplete")
	ErrBusy       = errors.New("vault: another append is in progress")
	ErrWrongPIN   = errors.New("vault: wrong PIN")
	ErrClosed     = errors.New("vault: closed")
	ErrTaken      = errors.New("vault: id in use") // CreateRequest.ID names a live entry, or one whose record is kept
	// ErrRetired: CreateRequest.Ticket is at or below Retired (a record it guarded went early).
	ErrRetired = errors.New("vault: ticket retired")
	// ErrMemlock is wrapped by New (and DefaultBudget) when the budget cannot be locked; the
	// wrapping error names the limit and how to raise it.
	ErrMemlock = errors.New("vault: cannot lock the memory budget")
)

// PINError is returned (wrapping ErrWrongPIN) for a failed PIN attempt, and identically for a
// destruct match. Left is the number of tries still allowed (0 on the last one).
type PINError struct{ Left int }

func (e *PINError) Error() string { return "vault: wrong PIN" }
func (e *PINError) Unwrap() error { return ErrWrongPIN }

// Hash is the SHA-256 of a capability proof.
type Hash = [32]byte

// Caps are the hashes of an entry's capabilities.
type Caps struct {
	Gate     Hash // SHA-256 of the gate token; required (non-zero)
	PIN      bool // whether Open is set: the entry needs the open token
	Open     Hash // SHA-256 of the open token, when PIN
	Destruct Hash // SHA-256 of the destruct token; if zero, the vault stores random bytes
	Manage   Hash // SHA-256 of the manage secret; required (non-zero)
}

// Config configures a Vault. The zero value of each field selects its documented default.
type Config struct {
	Budget      int64          // bytes of locked memory; 0: derived from RLIMIT_MEMLOCK (see DefaultBudget)
	BlockSize   int            // bytes per block, a power of two from 64 to 1 MiB; default 1024
	MaxEntry    int64          // largest entry in bytes; default min(64 MiB, Budget); at most 2 GiB
	KindQuota   map[Kind]int64 // most bytes one kind may hold; absent: the whole budget
	OwnerQuota  map[Kind]int64 // most bytes one owner may hold within a kind; absent: no limit
	MaxTTL      time.Duration  // longest TTL; default 7 days
	ClaimWindow time.Duration  // how long a claim may resume; default 10 minutes
	PendingIdle time.Duration  // a pending entry idle this long is wiped; default 10 minutes
	// PendingMax is the longest a pending entry may stay uncommitted, however often it is
	// appended to; default 30 minutes. An upload that trickles a byte a minute cannot keep
	// what it holds past it.
	PendingMax time.Duration
	// MaxPending caps the entries of one kind pending at once (created, not committed): each
	// costs heap for its metadata (a few hundred bytes) before a byte arrives. Default 65,536
	// per kind, so that a flood of creates of one kind leaves the others alone.
	MaxPending int
	// EmptyIdle is how long a pending entry may wait for its first byte; default 1 minute. A
	// client appends right after it creates, so holding the pending slots takes a create
	// every EmptyIdle / MaxPending, not one per PendingIdle.
	EmptyIdle      time.Duration
	MaxPINFailures int              // default 5
	Now            func() time.Time // clock; default time.Now
	SweepEvery     time.Duration    // sweeper period; default 500ms; negative: no background sweeper
	// MaxTombstones bounds the status records kept for ended entries (about 120 bytes of heap
	// each, plus 24 in a ring); default 262,144. When full, ending an entry evicts the oldest
	// record, whose manage secret then learns "gone" instead of "opened": a flood of
	// short-lived entries cannot grow the heap without bound.
	MaxTombstones int
}

// CreateRequest declares a new entry before any byte of it is written. Nothing is reserved
// for it until its bytes arrive: Create only checks that the declared length would fit now.
type CreateRequest struct {
	// ID is the id the entry is to have; zero (the usual) draws a fresh random one. A caller
	// that chooses it must make it as unguessable as a random one (internal/web derives a
	// note's from its manage hash and price token under a per-process key, so that an upload
	// cut before its answer can be found again); one that names a live entry, or one whose
	// status record is kept, is ErrTaken.
	ID     ID
	Kind   Kind
	Owner  string        // quota group within the kind (a drop's route id, a chat id); "" for none
	Length int64         // exact number of ciphertext bytes that will be appended (PutUpTo: the most)
	TTL    time.Duration // 0 < TTL <= MaxTTL
	Caps   Caps
	// Relay makes a relay entry, what a relay holds for someone until it is delivered (a
	// chat's undelivered record): once committed, the holder of its manage secret reads it with
	// ReadRelay as often as needed until it is wiped (Revoke, Destroy, WipeOwner, Wipe, its
	// TTL). Nobody claims it: Open and Confirm find it absent, and no claim window ends it. Its
	// Caps carry only Manage (a gate, PIN or destruct hash is ErrInvalid), and it leaves no
	// status record when it ends: its owner has no use for one.
	Relay bool
	// Ticket binds a chosen ID to the stateless token it was derived from (internal/price,
	// Pricer.Ticket), so that the same request sent again after the entry ended cannot make it
	// again: until Ticket.Until the vault keeps the id's record after the entry ends, whatever
	// its TTL and however it ends (a wiped or expired entry leaves a record with no state), and a
	// create at an id with a record kept is ErrTaken. When such a record must go before
	// Ticket.Until (the ring of MaxTombstones records is full, Wipe), the vault retires its
	// ticket and every older one: Retired reports the newest retired Seq, and a create whose
	// Ticket.Seq is at or below it is ErrRetired. Zero: no ticket (a drawn id).
	Ticket Ticket
}

// Ticket is the token an entry's chosen id is bound to (CreateRequest.Ticket). Seq orders
// tokens by issue (non-zero); Until is when the token stops being accepted.
type Ticket struct {
	Seq   uint64
	Until time.Time
}

// OpenRequest carries a reader's proofs.
type OpenRequest struct {
	Gate     []byte // gate token
	Open     []byte // open token, when the entry has a PIN
	Destruct []byte // destruct token derived from the same typed PIN
	Claim    Hash   // SHA-256 of the reader's fresh claim nonce; required (non-zero)
}

// State is what a manage secret may learn about an entry.
type State int

const (
	StatePending State = iota + 1 // created, upload not committed
	StateWaiting                  // committed, not opened
	StateOpened                   // claimed or read
	StateGone                     // expired, revoked, destroyed or wiped after PIN failures
)

func (s State) String() string {
	switch s {
	case StatePending:
		return "pending"
	case StateWaiting:
		return "waiting"
	case StateOpened:
		return "opened"
	case StateGone:
		return "gone"
	}
	return "invalid"
}

// Info describes an entry without its content (for listing a drop's submissions).
type Info struct {
	ID      ID
	Size    int64
	Created time.Time // rounded down to the minute: finer times are not kept
}

// Stats describes capacity, never any single entry.
type Stats struct {
	Budget, Used, Free int64
	Entries            map[Kind]int
}

// Load is how full the vault is for one kind and owner, each as a fraction from 0 to 1 (and
// 1 where a limit is reached): what a price for a new entry is computed from.
type Load struct {
	Global  float64 // blocks in use of all blocks
	Kind    float64 // the kind's bytes of its quota (0 without a quota)
	Owner   float64 // the owner's bytes of its per-owner quota (0 without one, or for owner "")
	Pending float64 // pending entries of the kind, of MaxPending
}

// Max is the largest of the fractions.
func (l Load) Max() float64 { return max(l.Global, l.Kind, l.Owner, l.Pending) }

// Shares is how a budget is split between the kinds of entry, without overlap, so that a flood
// of one kind can never take memory another kind needs (the quotas serve gives the vault).
type Shares struct {
	Note       int64 // all notes: 3/8
	Submission int64 // all drop submissions: 3/8
	PerOwner   int64 // one drop's submissions: 1/8, so that a flood of one drop leaves the others room
	ChatFrame  int64 // all undelivered two-person chat records: 3/16
	RoomFrame  int64 // all undelivered group-room records: 1/16
}

// DefaultShares splits budget: notes 3/8, drop submissions 3/8 (one drop 1/8), and the quarter
// for conversations' undelivered records: two-person chats 3/16, group rooms 1/16 (a room's
// records are acknowledged by every member within seconds, or its slowest member is dropped:
// they wait much less than a chat's, which wait for a side that may be away for hours).
func DefaultShares(budget int64) Shares {
	return Shares{Note: budget / 8 * 3, Submission: budget / 8 * 3, PerOwner: budget / 8,
		ChatFrame: budget / 16 * 3, RoomFrame: budget / 16}
}
