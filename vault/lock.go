package vault

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// Lock is the check of a one-time capability: the hashes of a gate token and, for a PIN, of an
// open token and a destruct (duress PIN) token, with the count of wrong PINs. Every entry Open
// claims has one; anything else handed out once on the same proofs (a chat's join) keeps one
// too, so that both check alike: every hash compared every time, in constant time, and a duress
// PIN answered exactly like a typo.
//
// A Lock is not safe for concurrent use: its owner guards it (the vault's mutex, the chat
// server's).
type Lock struct {
	gate, open, destruct Hash
	failures             uint16 // at most maxLockFailures
	pin                  bool
	// destroyed: a destruct token matched. What the lock guards was zeroed at once, but from
	// outside it goes on exactly as after a wrong PIN: every later PIN, the right one too,
	// counts as wrong until the countdown ends it.
	destroyed bool
}

// NewLock makes the lock of caps (Caps.Manage is not part of it). A zero Caps.Destruct becomes a
// random hash, so that whether there is a duress PIN is not stored either. A zero gate, or a PIN
// without an open hash, is ErrInvalid.
func NewLock(c Caps) (Lock, error) {
	if !c.lockable() {
		return Lock{}, fmt.Errorf("vault: lock: capability hash: %w", ErrInvalid)
	}
	if c.Destruct == (Hash{}) {
		if _, err := rand.Read(c.Destruct[:]); err != nil {
			return Lock{}, fmt.Errorf("vault: lock: %w", err)
		}
	}
	return lockOf(c), nil
}

// lockable reports whether c has what a lock needs: a gate, and an open hash for a PIN.
func (c *Caps) lockable() bool { return c.Gate != (Hash{}) && (!c.PIN || c.Open != (Hash{})) }

// lockOf is the lock of caps as they are (the caller filled in Destruct).
func lockOf(c Caps) Lock {
	l := Lock{gate: c.Gate, destruct: c.Destruct, pin: c.PIN}
	if c.PIN {
		l.open = c.Open
	}
	return l
}

// DummyLock is a lock that no proof opens (random hashes, with a PIN): what a lookup that
// misses is checked against, so that a miss costs what a hit costs.
func DummyLock() (Lock, error) {
	var l Lock
	for _, h := range []*Hash{&l.gate, &l.open, &l.destruct} {
		if _, err := rand.Read(h[:]); err != nil {
			return Lock{}, fmt.Errorf("vault: lock: %w", err)
		}
	}
	l.pin = true
	return l, nil
}

// Proof is a reader's tokens, hashed: what a Lock is checked against. Hashing is done before
// the owner's mutex is taken.
type Proof struct{ gate, open, destruct Hash }

// NewProof hashes a reader's gate, open and destruct tokens (absent ones hash as the empty
// token: the cost depends only on the request).
func NewProof(gate, open, destruct []byte) Proof {
	return Proof{sum(gate), sum(open), sum(destruct)}
}

// Check is what comparing a Proof with a Lock found.
type Check struct{ gate, open, destruct bool }

// Gate reports whether the gate token matched.
func (c Check) Gate() bool { return c.gate }

// Check compares every hash of p with l, whatever the first comparison found: the cost does
// not say which one decided.
func (l *Lock) Check(p *Proof) Check {
	return Check{
		gate:     Equal(&p.gate, &l.gate),
		open:     Equal(&p.open, &l.open),
		destruct: Equal(&p.destruct, &l.destruct),
	}
}

// Try applies a check whose gate matched. Without a PIN, or with the right open token while no
// duress PIN was entered, it returns nil: the lock opens. Otherwise it counts one failure and
// returns the *PINError to answer, with Left the tries still allowed (at most maxFailures in
// all; at 0 the caller ends what the lock guards); destruct reports that this attempt's destruct
// token matched, for the first time: the caller zeroes what the lock guards at once and
// answers with the same *PINError, so that a duress PIN looks like a typo. The caller zeroes
// off the request path, and starts that same goroutine for every *PINError, a typo's too, so
// that the two answers also take the same time (vault BenchmarkWrongPINOpen, chat
// BenchmarkJoinWrongPIN). A check whose gate did not match is ErrGone, and counts nothing.
func (l *Lock) Try(c Check, maxFailures int) (destruct bool, err error) {
	switch {
	case !c.gate:
		return false, ErrGone
	case !l.pin || c.open && !l.destroyed:
		return false, nil
	}
	maxFailures = min(maxFailures, maxLockFailures)
	if l.failures < maxLockFailures {
		l.failures++
	}
	if c.destruct && !l.destroyed {
		l.destroyed = true
		destruct = true
	}
	return destruct, &PINError{Left: max(maxFailures-int(l.failures), 0)}
}

// maxLockFailures is the most wrong PINs a Lock allows, whatever its owner's limit: the count
// is kept in 16 bits, and a limit over it counts as it.
const maxLockFailures = 1<<16 - 1

// Destroy marks the lock as if its destruct token had matched, without counting a failure:
// what it guards was destroyed through another lock (a room's destruct PIN entered at another
// seat). From then on every PIN, the right one too, counts as wrong, as on a lock whose own
// destruct token matched.
func (l *Lock) Destroy() { l.destroyed = true }

// Destroyed reports whether a destruct token matched (or Destroy was called).
func (l *Lock) Destroyed() bool { return l.destroyed }

// Failures is the number of wrong PINs counted so far.
func (l *Lock) Failures() int { return int(l.failures) }

// Equal compares two hashes in constant time: XOR and OR over four words, with no branch on
// the data (subtle.ConstantTimeCompare goes byte by byte, far slower for 32 bytes). It is the
// one compare of capability hashes: the vault's, the chat relay's session tokens and manage
// secrets.
func Equal(a, b *Hash) bool {
	var x uint64
	for i := 0; i < len(a); i += 8 {
		x |= binary.LittleEndian.Uint64(a[i:]) ^ binary.LittleEndian.Uint64(b[i:])
	}
	return x == 0 // the only branch is on the answer itself
}

// emptyHash is SHA-256 of nothing. An absent proof is hashed as this constant: what it costs
// depends only on the request, never on the entry.
var emptyHash = sha256.Sum256(nil)

// sum hashes a proof.
func sum(b []byte) Hash {
	if len(b) == 0 {
		return emptyHash
	}
	return sha256.Sum256(b)
}
