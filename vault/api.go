package vault

// This file fixes the exported API that the rest of sealdrop builds on.
// The bodies marked "stub" are placeholders to be replaced by the real implementation.

import (
	"errors"
	"io"
	"time"
)

// Kind says what an entry is. Quotas are kept per kind and per owner within a kind.
type Kind uint8

const (
	KindNote       Kind = 1 // a one-time note (text and files)
	KindChatFrame  Kind = 2 // an undelivered chat frame
	KindSubmission Kind = 3 // a drop-box submission or a reply
)

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
)

// PINError is returned (wrapping ErrWrongPIN) for a failed PIN attempt, and identically for a
// destruct match. Left is the number of tries still allowed (0 on the last one).
type PINError struct{ Left int }

func (e *PINError) Error() string { return "vault: wrong PIN" }
func (e *PINError) Unwrap() error { return ErrWrongPIN }

// ID is an entry's 128-bit identifier from crypto/rand.
type ID [16]byte

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
	Budget         int64            // bytes of locked memory; 0: derived from RLIMIT_MEMLOCK
	BlockSize      int              // bytes per block; default 1024
	MaxEntry       int64            // largest entry in bytes; default min(64 MiB, Budget)
	KindQuota      map[Kind]int64   // most bytes one kind may hold; absent: the whole budget
	OwnerQuota     map[Kind]int64   // most bytes one owner may hold within a kind; absent: no limit
	MaxTTL         time.Duration    // longest TTL; default 7 days
	ClaimWindow    time.Duration    // how long a claim may resume; default 10 minutes
	PendingIdle    time.Duration    // a pending entry idle this long is wiped; default 10 minutes
	MaxPINFailures int              // default 5
	Now            func() time.Time // clock; default time.Now
	SweepEvery     time.Duration    // sweeper period; default 500ms; negative: no background sweeper
}

// CreateRequest declares a new entry before any byte of it is written.
type CreateRequest struct {
	Kind   Kind
	Owner  string        // quota group within the kind (a drop's route id, a chat id); "" for none
	Length int64         // exact number of ciphertext bytes that will be appended
	TTL    time.Duration // 0 < TTL <= MaxTTL
	Caps   Caps
}

// OpenRequest carries a reader's proofs.
type OpenRequest struct {
	Gate     []byte // gate token
	Open     []byte // open token, when the entry has a PIN
	Destruct []byte // destruct token derived from the same typed PIN
	Claim    Hash   // SHA-256 of the reader's fresh claim nonce
}

// State is what a manage secret may learn about an entry.
type State int

const (
	StatePending State = iota + 1 // created, upload not committed
	StateWaiting                  // committed, not opened
	StateOpened                   // claimed or read
	StateGone                     // expired, revoked, destroyed or wiped after PIN failures
)

// Info describes an entry without its content (for listing a drop's submissions).
type Info struct {
	ID      ID
	Size    int64
	Created time.Time
}

// Stats describes capacity, never any single entry.
type Stats struct {
	Budget, Used, Free int64
	Entries            map[Kind]int
}

// Vault holds ciphertext in locked memory.
type Vault struct{ stub struct{} }

// Reading is a claimed entry being streamed out. It never exposes the locked bytes.
type Reading struct{ stub struct{} }

func New(cfg Config) (*Vault, error) { return nil, errors.New("stub") }
func NewID() (ID, error)             { return ID{}, errors.New("stub") }
func ParseID(s string) (ID, error)   { return ID{}, ErrGone }
func (id ID) String() string         { return "" }
func (v *Vault) Create(req CreateRequest) (ID, time.Time, error) {
	return ID{}, time.Time{}, errors.New("stub")
}
func (v *Vault) Append(id ID, manage []byte, offset, n int64, r io.Reader) (int64, error) {
	return 0, errors.New("stub")
}
func (v *Vault) Commit(id ID, manage []byte) (time.Time, error) {
	return time.Time{}, errors.New("stub")
}
func (v *Vault) Put(req CreateRequest, r io.Reader) (ID, time.Time, error) {
	return ID{}, time.Time{}, errors.New("stub")
}
func (v *Vault) Open(id ID, req OpenRequest) (*Reading, error)      { return nil, errors.New("stub") }
func (r *Reading) Size() int64                                      { return 0 }
func (r *Reading) WriteTo(w io.Writer, offset int64) (int64, error) { return 0, errors.New("stub") }
func (r *Reading) Close()                                           {}
func (v *Vault) Confirm(id ID, gate, nonce []byte) error            { return errors.New("stub") }
func (v *Vault) Status(id ID, manage []byte) (State, time.Time, error) {
	return 0, time.Time{}, errors.New("stub")
}
func (v *Vault) Revoke(id ID, manage []byte) error   { return errors.New("stub") }
func (v *Vault) List(kind Kind, owner string) []Info { return nil }
func (v *Vault) Stats() Stats                        { return Stats{} }
func (v *Vault) Sweep()                              {}
func (v *Vault) Wipe()                               {}
func (v *Vault) Close() error                        { return nil }
