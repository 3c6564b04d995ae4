package vault

import (
	"time"
)

// Status tells the holder of an entry's manage secret what became of it, and the entry's
// original expiry. After the entry ends only a tombstone (manage hash, state, expiry) is kept;
// once the expiry passes, for a wrong secret, or for an entry of another kind, it is ErrGone.
func (v *Vault) Status(kind Kind, id ID, manage []byte) (State, time.Time, error) {
	st, exp, _, err := v.StatusReceived(kind, id, manage)
	return st, exp, err
}

// StatusReceived is Status with the bytes a pending entry holds now, where its next append
// goes on (0 in every other state): what an uploader whose append answer was lost asks.
func (v *Vault) StatusReceived(kind Kind, id ID, manage []byte) (State, time.Time, int64, error) {
	mh := sum(manage)
	now := v.now()
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return 0, time.Time{}, 0, ErrGone
	}
	e, j := v.lookup(kind, id, now)
	var (
		st  State
		exp time.Time
		rcv int64
		h   = &v.dummy.manage
	)
	if e != nil {
		st, exp, h = e.state(), unixTime(e.expires), &e.manage
		if st == StatePending {
			rcv = int64(e.received)
		}
	} else if t, ok := v.lookupTomb(id, now); ok && t.kind == kind && now.UnixNano() < t.expires {
		st, exp, h = t.state, t.expiry(), &t.manage // past its expiry a record only guards its ticket
	}
	ok := Equal(&mh, h) && st != 0
	v.mu.Unlock()
	v.run(j)
	if !ok {
		return 0, time.Time{}, 0, ErrGone
	}
	return st, exp, rcv, nil
}

// Revoke wipes a live entry's content at once and leaves a tombstone saying gone (a relay
// entry leaves none). An entry that already ended, a wrong manage secret or another kind is
// ErrGone.
func (v *Vault) Revoke(kind Kind, id ID, manage []byte) error {
	mh := sum(manage)
	now := v.now()
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return ErrClosed
	}
	e, j := v.lookup(kind, id, now)
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

// Destroy zeroes a live entry's content at once but keeps its blocks, quota and counts, and
// its status, until it ends as it would have anyway (TTL, Revoke, Wipe): what a destruct PIN
// does, for callers that hold entries on someone else's behalf (a chat's records). Nothing
// can read it afterwards. A wrong manage secret, another kind, an entry not yet committed or
// an ended one is ErrGone.
func (v *Vault) Destroy(kind Kind, id ID, manage []byte) error {
	mh := sum(manage)
	now := v.now()
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return ErrClosed
	}
	e, j := v.lookup(kind, id, now)
	if !v.manageOK(e, &mh) || e.phase == phasePending {
		v.mu.Unlock()
		v.run(j)
		return ErrGone
	}
	e.lock.destroyed = true
	j2 := v.blank(e)
	v.mu.Unlock()
	v.run(j)
	v.run(j2)
	return nil
}

// Declared reports whether the pending entry id of kind, whose manage secret is manage, was
// declared as req declares it: the same length and lifetime, and the same gate, PIN, open and
// destruct hashes where req names them (a zero gate is not compared: the caller does not know
// it; a zero destruct hash neither: the vault drew one). Anything else (no such pending entry,
// another manage secret) is false. An upload sent again checks it before it goes on, so that a
// copy with other parameters is refused rather than merged.
func (v *Vault) Declared(kind Kind, id ID, manage []byte, req *CreateRequest) bool {
	mh := sum(manage)
	now := v.now()
	v.mu.Lock()
	e, j := v.lookup(kind, id, now)
	ok := v.manageOK(e, &mh) && e.phase == phasePending &&
		int64(e.length) == req.Length && e.expires-e.born == int64(req.TTL)
	if ok {
		want := lockOf(req.Caps)
		l := &e.lock
		gate := req.Caps.Gate == (Hash{}) || Equal(&want.gate, &l.gate)
		destruct := req.Caps.Destruct == (Hash{}) || Equal(&want.destruct, &l.destruct)
		ok = gate && destruct && want.pin == l.pin && (!l.pin || Equal(&want.open, &l.open))
	}
	v.mu.Unlock()
	v.run(j)
	return ok
}
