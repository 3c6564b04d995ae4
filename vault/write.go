package vault

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"time"
)

// piece bounds each copy into or out of the blocks, so that a wipe stops a long transfer
// within one piece.
const piece = 64 << 10

// Create admits a new pending entry of req.Length bytes, reserving all its blocks so that its
// appends cannot run out of space. It returns the entry's id and expiry (TTL counts from now).
// A refused request changes nothing: ErrInvalid for a bad kind, TTL, length or hash, ErrTooLarge
// over MaxEntry, ErrFull when the blocks or a kind or owner quota do not allow it.
func (v *Vault) Create(req CreateRequest) (ID, time.Time, error) {
	return v.create(req, 0)
}

// create is Create; maxOwned > 0 also refuses (ErrFull) when req.Owner already has that many
// entries of req.Kind holding content (CreateOwned).
func (v *Vault) create(req CreateRequest, maxOwned int) (ID, time.Time, error) {
	e, _, err := v.admit(&req, maxOwned, false)
	if err != nil {
		return ID{}, time.Time{}, err
	}
	return e.id, e.expires, nil
}

// admit checks and stores a new pending entry. With fill set it also marks the entry as being
// appended to and takes a reference to its blocks, in the same critical section, for Put; the
// blocks are returned because e.ext may only be read under the mutex.
func (v *Vault) admit(req *CreateRequest, maxOwned int, fill bool) (*entry, []extent, error) {
	if err := v.checkCreate(req); err != nil {
		return nil, nil, err
	}
	// One draw for the id and, without a duress PIN, a random destruct hash (so that "has a
	// duress PIN" is not stored either).
	var rnd [len(ID{}) + len(Hash{})]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, nil, fmt.Errorf("vault: create: %w", err)
	}
	id := ID(rnd[:len(ID{})])
	if req.Caps.Destruct == (Hash{}) {
		req.Caps.Destruct = Hash(rnd[len(ID{}):])
	}
	var err error
	now := v.now()
	blocks := int((req.Length + int64(v.ar.bs) - 1) / int64(v.ar.bs))

	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil, nil, ErrClosed
	}
	if blocks > v.ar.free {
		return nil, nil, ErrFull
	}
	if q, ok := v.cfg.KindQuota[req.Kind]; ok && v.kindUse[req.Kind]+req.Length > q {
		return nil, nil, ErrFull
	}
	if q, ok := v.cfg.OwnerQuota[req.Kind]; ok && req.Owner != "" && v.ownerUse[req.Kind][req.Owner]+req.Length > q {
		return nil, nil, ErrFull
	}
	if maxOwned > 0 && len(v.owned[ownerKey{req.Kind, req.Owner}]) >= maxOwned {
		return nil, nil, ErrFull
	}
	for v.taken(id) {
		if id, err = NewID(); err != nil {
			return nil, nil, err
		}
	}
	e := &entry{
		id:       id,
		kind:     req.Kind,
		owner:    req.Owner,
		length:   req.Length,
		gate:     req.Caps.Gate,
		pin:      req.Caps.PIN,
		destruct: req.Caps.Destruct,
		manage:   req.Caps.Manage,
		created:  now.Truncate(time.Minute),
		expires:  now.Add(req.TTL),
		active:   now,
	}
	e.ext = v.ar.alloc(e.ext0[:0], blocks)
	if e.pin {
		e.open = req.Caps.Open
	}
	if fill {
		e.appending = true
		e.refs++
		v.busy++
	}
	v.live[id] = e
	v.account(e)
	return e, e.ext, nil
}

func (v *Vault) checkCreate(req *CreateRequest) error {
	switch {
	case !req.Kind.valid():
		return fmt.Errorf("vault: create: kind: %w", ErrInvalid)
	case req.TTL <= 0 || req.TTL > v.cfg.MaxTTL:
		return fmt.Errorf("vault: create: ttl: %w", ErrInvalid)
	case req.Length <= 0:
		return fmt.Errorf("vault: create: length: %w", ErrInvalid)
	case req.Length > v.maxEntry:
		return ErrTooLarge
	case req.Caps.Gate == (Hash{}), req.Caps.Manage == (Hash{}), req.Caps.PIN && req.Caps.Open == (Hash{}):
		return fmt.Errorf("vault: create: capability hash: %w", ErrInvalid)
	}
	return nil
}

// Append copies n bytes from r into a pending entry at offset, which must be what the entry has
// received so far (else ErrOffset). It returns how many bytes the entry has received in all. On
// a short read or a reader error the bytes read are kept and the error is returned, so the
// writer can resume from the returned count. A wrong manage secret, or an entry that is not
// pending, is ErrGone; a concurrent append to the same entry is ErrBusy.
func (v *Vault) Append(id ID, manage []byte, offset, n int64, r io.Reader) (int64, error) {
	mh := sum(manage)
	return v.appendTo(id, &mh, offset, n, r)
}

// appendTo is Append; a nil manage hash skips the check (Put owns the entry it just created).
func (v *Vault) appendTo(id ID, mh *Hash, offset, n int64, r io.Reader) (int64, error) {
	now := v.now()
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return 0, ErrClosed
	}
	e, j := v.lookup(id, now)
	if !v.manageOK(e, mh) || e.phase != phasePending {
		v.mu.Unlock()
		v.run(j)
		return 0, ErrGone
	}
	received := e.received
	switch {
	case e.appending:
		v.mu.Unlock()
		return received, ErrBusy
	case n < 0:
		v.mu.Unlock()
		return received, fmt.Errorf("vault: append: length: %w", ErrInvalid)
	case offset != received:
		v.mu.Unlock()
		return received, ErrOffset
	case offset+n > e.length:
		v.mu.Unlock()
		return received, ErrTooLarge
	}
	e.appending = true
	e.active = now
	e.refs++
	v.busy++
	ext := e.ext
	v.mu.Unlock()

	got, rerr := v.fill(e, ext, offset, n, r)

	v.mu.Lock()
	e.received += got
	e.appending = false
	e.active = v.now()
	received = e.received
	gone := e.gone.Load()
	j = v.unref(e)
	v.mu.Unlock()
	v.run(j)
	switch {
	case gone:
		return received, ErrGone
	case rerr != nil:
		return received, fmt.Errorf("vault: append: %w", rerr)
	}
	return received, nil
}

// fill reads n bytes from r straight into the blocks at offset. It stops early if the entry is
// wiped meanwhile.
func (v *Vault) fill(e *entry, ext []extent, offset, n int64, r io.Reader) (int64, error) {
	var got int64
	err := v.walk(ext, offset, n, func(b []byte) error {
		if e.gone.Load() {
			return ErrGone
		}
		k, err := io.ReadFull(r, b)
		got += int64(k)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	})
	return got, err
}

// walk calls fn on consecutive slices of the blocks covering [offset, offset+n), each at most
// piece bytes, until fn fails.
func (v *Vault) walk(ext []extent, offset, n int64, fn func([]byte) error) error {
	for _, x := range ext {
		if n <= 0 {
			return nil
		}
		size := int64(x.n) * int64(v.ar.bs)
		if offset >= size {
			offset -= size
			continue
		}
		span := v.ar.span(x)[offset:]
		offset = 0
		for len(span) > 0 && n > 0 {
			k := min(int64(len(span)), n, piece)
			if err := fn(span[:k:k]); err != nil {
				return err
			}
			span = span[k:]
			n -= k
		}
	}
	return nil
}

// Commit makes a fully appended entry readable and returns its expiry. Committing an entry that
// is already committed succeeds again, since the answer to the first commit may have been lost.
func (v *Vault) Commit(id ID, manage []byte) (time.Time, error) {
	mh := sum(manage)
	return v.commit(id, &mh)
}

func (v *Vault) commit(id ID, mh *Hash) (time.Time, error) {
	now := v.now()
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return time.Time{}, ErrClosed
	}
	e, j := v.lookup(id, now)
	if !v.manageOK(e, mh) || e.destroyed {
		v.mu.Unlock()
		v.run(j)
		return time.Time{}, ErrGone
	}
	defer v.mu.Unlock()
	if e.phase != phasePending {
		return e.expires, nil
	}
	switch {
	case e.appending:
		return time.Time{}, ErrBusy
	case e.received != e.length:
		return time.Time{}, ErrIncomplete
	}
	v.setPhase(e, phaseWaiting)
	return e.expires, nil
}

// Put creates, fills from r and commits an entry in one call (chat frames, small entries).
// If r ends early or fails, the entry is discarded and the error returned.
func (v *Vault) Put(req CreateRequest, r io.Reader) (ID, time.Time, error) {
	e, ext, err := v.admit(&req, 0, true)
	if err != nil {
		return ID{}, time.Time{}, err
	}
	id, exp := e.id, e.expires // never change after admit

	got, rerr := v.fill(e, ext, 0, req.Length, r)

	v.mu.Lock()
	e.received = got
	e.appending = false
	j := v.unref(e)
	var j2 job
	ok := rerr == nil && !e.gone.Load()
	if ok {
		v.setPhase(e, phaseWaiting)
	} else if v.live[id] == e {
		j2 = v.discard(id, e)
	}
	v.mu.Unlock()
	v.run(j)
	v.run(j2)
	switch {
	case ok:
		return id, exp, nil
	case rerr == nil || errors.Is(rerr, ErrGone):
		return ID{}, time.Time{}, ErrGone
	}
	return ID{}, time.Time{}, fmt.Errorf("vault: put: %w", rerr)
}

// manageOK checks a manage hash against e, or against the dummy when e is nil so that a miss
// costs what a hit costs. A nil mh is the vault itself. Called with v.mu held.
func (v *Vault) manageOK(e *entry, mh *Hash) bool {
	t := e
	if t == nil {
		t = &v.dummy
	}
	if mh == nil {
		return e != nil
	}
	return hashEqual(mh, &t.manage) && e != nil
}

// taken reports whether id is in use by a live entry. Called with v.mu held.
//
// Tombstones are not consulted: ids are 128 random bits, so a collision is never expected, and
// if one happened the new entry would only replace an old status record once it ended itself.
// Looking the id up in the tombstone map, which holds every entry that ended in the last days,
// cost a cache miss on every create.
func (v *Vault) taken(id ID) bool {
	return v.live[id] != nil
}
