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

// entry is one stored item. Its metadata lives on the Go heap; only the bytes named by ext are
// in locked memory. Every field is guarded by the vault's mutex except gone, which readers and
// appenders poll without it.
type entry struct {
	id     ID // for the per-owner index (owner.go)
	kind   Kind
	owner  string
	length int64
	relay  bool // CreateRequest.Relay: read by its manage secret until wiped, never claimed

	// lock is the gate, PIN and duress PIN, with the count of wrong PINs (lock.go). Once it is
	// destroyed (a destruct token matched, or Destroy) the content is zeroed at once, but the
	// entry keeps its blocks, quota and every count until the countdown or its TTL ends it,
	// exactly as after a wrong PIN, so that neither the free space nor anything else tells the
	// two apart.
	lock   Lock
	manage Hash

	created time.Time // rounded down to the minute
	expires time.Time

	phase     phase
	received  int64
	active    time.Time // last append or create, for the pending idle timeout
	born      time.Time // creation, for Config.PendingMax
	appending bool
	wiped     bool // the content is gone (ext nil); the entry may live on as a record

	claim   Hash
	claimed time.Time

	charged int64 // bytes of ext's whole blocks, charged to the kind's and owner's usage

	ext  []extent  // the blocks reserved so far, covering the bytes received; nil once wiped
	ext0 [1]extent // ext's storage when the content is one run (the usual case): no allocation
	held []extent  // wiped content still referenced; freed when refs drops to zero
	refs int       // Readings and the running Append that use the blocks outside the mutex
	// zeroing is set while a zeroing job that does not free runs on held, so that the last
	// reference leaves the freeing to it instead of zeroing the same blocks concurrently.
	zeroing bool
	gone    atomic.Bool // the content was wiped: stop streaming

	// first is the Reading handed to the first Open of the claim (or the first ReadRelay), so
	// that the usual single read allocates nothing more; later ones get their own. It is never
	// handed out twice.
	first     Reading
	firstUsed bool
}

// tomb is what is kept of an ended entry until its original expiry: enough for its manage
// secret to learn how it ended, nothing about its content.
// It holds no pointer, so that the garbage collector never scans the tombstone map, however
// many entries ended in the last days.
type tomb struct {
	manage  Hash
	expires int64 // the original expiry, Unix nanoseconds
	state   State
	kind    Kind
}

// expiry is the tombstone's original expiry as a time.
func (t *tomb) expiry() time.Time { return time.Unix(0, t.expires) }

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
