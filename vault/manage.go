package vault

import (
	"time"
)

// Status tells the holder of an entry's manage secret what became of it, and the entry's
// original expiry. After the entry ends only a tombstone (manage hash, state, expiry) is kept;
// once the expiry passes, or for a wrong secret, it is ErrGone.
func (v *Vault) Status(id ID, manage []byte) (State, time.Time, error) {
	mh := sum(manage)
	now := v.now()
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return 0, time.Time{}, ErrGone
	}
	e, j := v.lookup(id, now)
	var (
		st  State
		exp time.Time
		h   = &v.dummy.manage
	)
	if e != nil {
		st, exp, h = e.state(), e.expires, &e.manage
	} else if t, ok := v.lookupTomb(id, now); ok {
		st, exp, h = t.state, t.expiry(), &t.manage
	}
	ok := hashEqual(&mh, h) && st != 0
	v.mu.Unlock()
	v.run(j)
	if !ok {
		return 0, time.Time{}, ErrGone
	}
	return st, exp, nil
}

// Revoke wipes a live entry's content at once and leaves a tombstone saying gone. An entry that
// already ended, or a wrong manage secret, is ErrGone.
func (v *Vault) Revoke(id ID, manage []byte) error {
	mh := sum(manage)
	now := v.now()
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return ErrClosed
	}
	e, j := v.lookup(id, now)
	if !v.manageOK(e, &mh) {
		v.mu.Unlock()
		v.run(j)
		return ErrGone
	}
	j2 := v.end(id, e, StateGone, true)
	v.mu.Unlock()
	v.run(j)
	v.run(j2)
	return nil
}
