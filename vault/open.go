package vault

import (
	"fmt"
	"io"
	"sync/atomic"
)

// Open claims a committed entry of kind for one reader, or resumes that reader's claim.
//
// The first request whose gate (and, for an entry with a PIN, open token) passes stores
// req.Claim; from that instant every other request is ErrGone, while a request with the same
// claim hash and gate may resume within the claim window. For an entry with a PIN, a request
// whose open token does not match counts one failure and gets a *PINError; if its destruct
// token matches, the content is zeroed at once but the answer is the same *PINError, the
// countdown goes on, and the entry keeps its blocks, quota, counts and status until the
// countdown or its TTL ends it, so that nothing (free space included) tells a duress PIN from a
// typo. The failure that reaches
// Config.MaxPINFailures wipes the entry (PINError{Left: 0}); later requests are ErrGone. Every
// other case (unknown, pending, expired, ended, wrong gate, someone else's claim) is ErrGone,
// after the same hashing and comparing as a hit. A zero req.Claim is ErrInvalid.
//
// The caller must Close the Reading.
func (v *Vault) Open(kind Kind, id ID, req OpenRequest) (*Reading, error) {
	if req.Claim == (Hash{}) {
		return nil, fmt.Errorf("vault: open: claim: %w", ErrInvalid)
	}
	p := NewProof(req.Gate, req.Open, req.Destruct)
	now := v.now()

	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return nil, ErrGone
	}
	e, j := v.lookup(kind, id, now)
	t := e
	if t == nil || t.phase == phasePending || t.has(fRelay) {
		t = &v.dummy
	}
	// Every comparison, every time: the cost must not say which one decided.
	c := t.lock.Check(&p)
	claimOK := Equal(&req.Claim, t.claimHash()) // the open hash before a claim: then unused

	var (
		r   *Reading
		err error = ErrGone
	)
	switch {
	case t == &v.dummy || !c.Gate():
	case t.phase == phaseClaimed:
		if claimOK && !t.has(fWiped) {
			r = v.reading(t)
		}
	default:
		var destruct bool
		destruct, err = t.lock.Try(c, v.cfg.MaxPINFailures)
		pe, _ := err.(*PINError)
		if pe != nil {
			// A goroutine starts on every failure, so that the destruct match's zeroing in
			// the background does not make its answer slower than a typo's
			// (BenchmarkWrongPINOpen).
			var zero job
			if destruct {
				zero = v.blank(t)
			}
			v.runAlwaysAsync(zero)
		}
		switch {
		case pe != nil && pe.Left == 0:
			v.runAsync(v.end(id, t, StateGone, false))
		case err == nil && t.has(fWiped):
			err = ErrGone
		case err == nil:
			v.setPhase(id, t, phaseClaimed)
			*t.claimHash() = req.Claim
			t.since = now.UnixNano()
			r = v.reading(t)
		}
	}
	v.mu.Unlock()
	v.run(j)
	if r != nil {
		return r, nil
	}
	return nil, err
}

// reading takes a reference to e's blocks. Called with v.mu held.
func (v *Vault) reading(e *entry) *Reading {
	e.refs++
	v.busy++
	return &Reading{v: v, e: e, blocks: v.listOf(e), size: int64(e.length)}
}

// Reading is a claimed entry (or a relay entry) being streamed out. It never exposes the locked
// bytes: WriteTo hands them to the writer piece by piece. While a Reading is open its blocks
// cannot be reused.
type Reading struct {
	v      *Vault
	e      *entry
	blocks blockList // a copy: the entry's own may be cleared once it is freed
	size   int64
	closed atomic.Bool
}

// Size is the entry's length in bytes.
func (r *Reading) Size() int64 { return r.size }

// WriteTo writes the entry from offset (0 <= offset <= Size, else ErrInvalid) to w, straight from
// the locked blocks. If the entry is wiped meanwhile (revoked, expired, confirmed by the same
// claim, destroyed, vault closed) it stops with ErrGone; the bytes already written may then end
// in zeros.
func (r *Reading) WriteTo(w io.Writer, offset int64) (int64, error) {
	if offset < 0 || offset > r.size {
		return 0, fmt.Errorf("vault: read: offset: %w", ErrInvalid)
	}
	if r.closed.Load() {
		return 0, ErrGone
	}
	var total int64
	err := r.v.walk(r.blocks.list(), offset, r.size-offset, func(b []byte) error {
		if r.e.gone.Load() || r.closed.Load() {
			return ErrGone
		}
		n, err := w.Write(b)
		total += int64(n)
		if err == nil && n < len(b) {
			err = io.ErrShortWrite
		}
		return err
	})
	if err == nil && r.e.gone.Load() {
		err = ErrGone // wiped during the last write: what was written may be zeros
	}
	return total, err
}

// Close releases the Reading; if its entry was wiped meanwhile, its blocks are freed now.
// Closing twice is harmless.
func (r *Reading) Close() {
	if r.closed.Swap(true) {
		return
	}
	v := r.v
	v.mu.Lock()
	j := v.unref(r.e)
	v.mu.Unlock()
	v.run(j)
}

// ReadRelay hands the holder of a relay entry's manage secret (CreateRequest.Relay) its content,
// as often as it asks, until the entry is wiped: nothing is claimed and nothing changes, so a
// relay pushes a record again after a broken connection, however long ago the first push was,
// without copying it anywhere. The blocks stay charged once to the entry's kind and owner.
// A wrong secret, another kind, an entry that is not a relay entry, not committed, destroyed
// or ended is ErrGone, after the same hashing and comparing as a hit. The caller must Close the
// Reading.
func (v *Vault) ReadRelay(kind Kind, id ID, manage []byte) (*Reading, error) {
	mh := sum(manage)
	now := v.now()
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return nil, ErrGone
	}
	e, j := v.lookup(kind, id, now)
	var r *Reading
	if v.manageOK(e, &mh) && e.has(fRelay) && e.phase == phaseWaiting && !e.has(fWiped) && !e.lock.destroyed {
		r = v.reading(e)
	}
	v.mu.Unlock()
	v.run(j)
	if r == nil {
		return nil, ErrGone
	}
	return r, nil
}

// Confirm ends a claim on an entry of kind: nonce is the claim nonce whose SHA-256 the reader sent to Open, and gate
// the same gate token. The blocks are wiped at once. Anything else is ErrGone.
func (v *Vault) Confirm(kind Kind, id ID, gate, nonce []byte) error {
	gh := sum(gate)
	ch := sum(nonce)
	now := v.now()
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return ErrGone
	}
	e, j := v.lookup(kind, id, now)
	t := e
	if t == nil {
		t = &v.dummy
	}
	gateOK := Equal(&gh, &t.lock.gate)
	claimOK := Equal(&ch, t.claimHash())
	if e == nil || e.phase != phaseClaimed || !gateOK || !claimOK {
		v.mu.Unlock()
		v.run(j)
		return ErrGone
	}
	j = v.end(id, e, StateOpened, true)
	v.mu.Unlock()
	v.run(j)
	return nil
}
