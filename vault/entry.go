package vault

import (
	"sync/atomic"
	"time"
)

// phase is where a live entry is in its life.
type phase uint8

const (
	phasePending phase = iota // created, being appended to, invisible to readers
	phaseWaiting              // committed, readable
	phaseClaimed              // opened by one claim, resumable until confirmed or the window ends
)

// entry is one stored item. Its metadata lives on the Go heap; only the bytes named by its
// extents are in locked memory. Every field is guarded by the vault's mutex except gone, which
// readers and appenders poll without it.
//
// It is one fixed-size record of 192 bytes (a Go size class, so nothing is lost to rounding;
// TestEntrySize keeps it there), with a single pointer, first, so that the garbage collector
// scans 8 bytes of it: no strings, slices or times of its own. What only some entries need
// lives beside it, keyed by it: the block list of content that is not one run (Vault.spill).
// Records are never reused by hand: one that ended is freed by the collector once no Reading,
// Append or zeroing job refers to it, so a late reference can never reach another entry.
type entry struct {
	grp *ownerGroup // its kind and owner, with their usage and index (owner.go)

	// lock is the gate, PIN and duress PIN, with the count of wrong PINs (lock.go). Once it is
	// destroyed (a destruct token matched, or Destroy) the content is zeroed at once, but the
	// entry keeps its blocks, quota and every count until the countdown or its TTL ends it,
	// exactly as after a wrong PIN, so that neither the free space nor anything else tells the
	// two apart. Once the entry is claimed, the open and destruct hashes are never consulted
	// again (a claim resumes on its claim hash, and no PIN is tried), so lock.open holds the
	// claim hash from then on (claimHash).
	lock   Lock
	manage Hash

	// ext0 is the entry's blocks when they are one run (the usual case); when they are more,
	// fSpilled is set and the vault's spill map holds them (Vault.ext). Wiping the content
	// leaves them in place while fHeld is set: a Reading or the running Append still uses them,
	// and whoever drops the last reference zeroes and frees them.
	ext0 [1]extent
	refs int32 // Readings, the running Append and blank's job, which use the blocks outside the mutex

	// Times are Unix nanoseconds: a time.Time holds a pointer.
	expires int64
	born    int64 // creation, for Config.PendingMax, EmptyIdle and List's order (to the minute)
	since   int64 // pending: the last append or create (PendingIdle); claimed: the claim (ClaimWindow)

	length   uint32 // at most maxEntryLimit, or one more for PutUpTo
	received uint32

	gone atomic.Bool // the content was wiped: stop streaming

	kind  Kind
	phase phase
	flags flags
}

// flags are an entry's yes-or-no facts, in one byte.
type flags uint8

const (
	fRelay     flags = 1 << iota // CreateRequest.Relay: read by its manage secret until wiped, never claimed
	fAppending                   // an Append or Put is filling it
	fWiped                       // the content is gone; the entry may live on as a record
	fHeld                        // wiped, but its blocks are still referenced; freed when refs drops to zero
	// fZeroing is set while a zeroing job that does not free runs on the held blocks, so that
	// the last reference leaves the freeing to it instead of zeroing the same blocks
	// concurrently.
	fZeroing
	fSpilled // the blocks are more than one run: Vault.spill holds them
)

func (e *entry) has(f flags) bool { return e.flags&f != 0 }

func (e *entry) set(f flags, on bool) {
	if on {
		e.flags |= f
	} else {
		e.flags &^= f
	}
}

// claimHash is where a claimed entry keeps the hash of its reader's claim nonce (see lock).
func (e *entry) claimHash() *Hash { return &e.lock.open }

// created is the creation time rounded down to the minute, Unix nanoseconds: finer times are
// not reported.
func (e *entry) created() int64 { return e.born - mod(e.born, int64(time.Minute)) }

// mod is a modulo that is never negative (times before 1970 round down too).
func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// unixTime is a time kept as Unix nanoseconds, in UTC.
func unixTime(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// tomb is what is kept of an ended entry until its original expiry: enough for its manage
// secret to learn how it ended, nothing about its content.
// It holds no pointer, so that the garbage collector never scans the tombstone map, however
// many entries ended in the last days.
//
// A record is also kept past the original expiry while the entry's ticket (CreateRequest.Ticket)
// is accepted (until), so that the request that made the entry cannot make it again; an entry
// that ended without a status to tell (its TTL, a wipe) leaves a record of state 0, which
// Status reports as gone.
type tomb struct {
	manage  Hash
	expires int64  // the original expiry, Unix nanoseconds
	until   int64  // the ticket's Until, Unix nanoseconds; 0 without one
	ticket  uint64 // the ticket's Seq; 0 without one
	seq     uint64 // the record's number: its ring slot names it by id and number (keepTomb)
	state   State
	kind    Kind
}

// expiry is the tombstone's original expiry as a time.
func (t *tomb) expiry() time.Time { return time.Unix(0, t.expires) }

// keep is until when the record is kept, Unix nanoseconds: its original expiry, or its
// ticket's end when that is later.
func (t *tomb) keep() int64 { return max(t.expires, t.until) }

// guards reports whether the record still guards its ticket at now (Unix nanoseconds).
func (t *tomb) guards(now int64) bool { return t.ticket != 0 && now < t.until }

// tombSlot is a ring slot: the record of id numbered seq. A slot whose record was replaced
// (the id ended again) or expired names nothing.
type tombSlot struct {
	id  ID
	seq uint64
}

// state is what Status reports for a live entry. A destroyed entry reports what it did before
// the destruct PIN, as after a wrong PIN: its end is told once the countdown or TTL ends it.
func (e *entry) state() State {
	switch {
	case e.phase == phasePending:
		return StatePending
	case e.phase == phaseClaimed:
		return StateOpened
	}
	return StateWaiting
}
