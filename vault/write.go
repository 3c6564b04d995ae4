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

// grain is how far ahead of the bytes received an upload reserves blocks. Blocks are taken as
// bytes arrive, never when a length is declared: a client that declares 64 MiB and sends
// nothing holds nothing, and one that trickles holds at most a grain more than it sent.
const grain = 16 << 10

// Create admits a new pending entry that will receive req.Length bytes. Nothing is reserved
// yet: each Append takes blocks as its bytes arrive (and may then find the vault full). Create
// only checks that the declared length would fit now, so that a client learns early. It
// returns the entry's id and expiry (TTL counts from now). A refused request changes nothing:
// ErrInvalid for a bad kind, TTL, length or hash, ErrTooLarge over MaxEntry, ErrFull when the
// free blocks, a kind or owner quota, or Config.MaxPending do not allow it, ErrTaken when
// req.ID names a live entry.
func (v *Vault) Create(req CreateRequest) (ID, time.Time, error) {
	return v.create(req, 0)
}

// create is Create; maxOwned > 0 also refuses (ErrFull) when req.Owner already has that many
// entries of req.Kind holding content (CreateOwned).
func (v *Vault) create(req CreateRequest, maxOwned int) (ID, time.Time, error) {
	id, e, err := v.admit(&req, maxOwned, false)
	if err != nil {
		return ID{}, time.Time{}, err
	}
	return id, unixTime(e.expires), nil
}

// admit checks and stores a new pending entry. With fill set it also marks the entry as being
// appended to and takes a reference to it, in the same critical section, for Put.
func (v *Vault) admit(req *CreateRequest, maxOwned int, fill bool) (ID, *entry, error) {
	if err := v.checkCreate(req); err != nil {
		return ID{}, nil, err
	}
	// One draw for the id and, without a duress PIN, a random destruct hash (so that "has a
	// duress PIN" is not stored either).
	var rnd [len(ID{}) + len(Hash{})]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return ID{}, nil, fmt.Errorf("vault: create: %w", err)
	}
	id := ID(rnd[:len(ID{})])
	if req.Caps.Destruct == (Hash{}) && !req.Relay {
		req.Caps.Destruct = Hash(rnd[len(ID{}):])
	}
	var err error
	now := v.now()

	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return ID{}, nil, ErrClosed
	}
	if req.ID != (ID{}) {
		if id = req.ID; v.taken(id) {
			return ID{}, nil, ErrTaken
		}
		if _, kept := v.lookupTomb(id, now); kept {
			return ID{}, nil, ErrTaken // a chosen id is made once while its record is kept
		}
	}
	if req.Ticket.Seq != 0 && req.Ticket.Seq <= v.retired {
		return ID{}, nil, ErrRetired
	}
	g := v.groups[ownerKey{req.Kind, req.Owner}] // nil: the owner holds nothing yet
	if !v.fits(req.Kind, g, 0, v.blocks(req.Length)) || v.pending[req.Kind] >= v.cfg.MaxPending {
		return ID{}, nil, ErrFull
	}
	if maxOwned > 0 && g != nil && g.n >= maxOwned {
		return ID{}, nil, ErrFull
	}
	if g == nil {
		g = v.group(req.Kind, req.Owner)
	}
	for v.taken(id) {
		if id, err = NewID(); err != nil {
			return ID{}, nil, err
		}
	}
	e := &entry{
		grp:     g,
		kind:    req.Kind,
		length:  uint32(req.Length), // at most maxEntryLimit (+1 for PutUpTo)
		lock:    lockOf(req.Caps),
		manage:  req.Caps.Manage,
		expires: now.Add(req.TTL).UnixNano(),
		born:    now.UnixNano(),
		since:   now.UnixNano(),
	}
	e.set(fRelay, req.Relay)
	if fill {
		e.set(fAppending, true)
		e.refs++
		v.busy++
	}
	v.live[id] = e
	if req.Ticket.Seq != 0 {
		v.tickets[id] = req.Ticket
		v.newest = max(v.newest, req.Ticket.Seq)
	}
	v.account(id, e)
	return id, e, nil
}

// blocks is n rounded up to whole blocks, in bytes: what an entry of n bytes occupies, and so
// what its kind and owner are charged (a 1-byte entry takes a whole block).
func (v *Vault) blocks(n int64) int64 {
	bs := int64(v.ar.bs)
	return (n + bs - 1) / bs * bs
}

// fits reports whether an entry of kind in group g (nil for an owner that holds nothing yet)
// that holds have bytes of whole blocks could grow to want bytes of whole blocks now: enough
// free blocks, and within the kind's and the owner's quotas. Called with v.mu held.
func (v *Vault) fits(kind Kind, g *ownerGroup, have, want int64) bool {
	more := want - have
	if more/int64(v.ar.bs) > int64(v.ar.free) {
		return false
	}
	if q, ok := v.cfg.KindQuota[kind]; ok && v.kindUse[kind]+more > q {
		return false
	}
	if q, ok := v.cfg.OwnerQuota[kind]; ok && g != nil && g.key.owner != "" && g.use+more > q {
		return false
	}
	return true
}

// reserve grows e's blocks to cover its first upto bytes (at most its length) and returns
// them. ErrGone once e is wiped, ErrFull when the blocks or a quota do not allow it. Called
// with v.mu held by the entry's one appender.
func (v *Vault) reserve(e *entry, upto int64) (blockList, error) {
	if e.has(fWiped) {
		return blockList{}, ErrGone
	}
	want := v.blocks(min(upto, int64(e.length)))
	have := v.charged(e)
	if want > have {
		if !v.fits(e.kind, e.grp, have, want) {
			return blockList{}, ErrFull
		}
		ext := v.ext(e)
		if ext == nil {
			ext = e.ext0[:0] // the first run goes inline
		}
		v.setExt(e, v.ar.alloc(ext, int((want-have)/int64(v.ar.bs))))
		v.use(e, want-have)
	}
	return v.listOf(e), nil
}

// trim gives back the blocks an upload reserved beyond the bytes it received (a body that
// broke off), zeroed. Called with v.mu held, by the appender, after the copy.
func (v *Vault) trim(e *entry) {
	if e.has(fWiped) {
		return
	}
	keep := v.blocks(int64(e.received))
	have := v.charged(e)
	if have <= keep {
		return
	}
	kept, spare := splitBlocks(v.ext(e), int(keep/int64(v.ar.bs)))
	v.setExt(e, kept)
	v.ar.zero(spare)
	v.ar.release(spare)
	v.use(e, keep-have)
}

// splitBlocks cuts ext after its first keep blocks.
func splitBlocks(ext []extent, keep int) (kept, rest []extent) {
	for i, x := range ext {
		if keep >= int(x.n) {
			keep -= int(x.n)
			continue
		}
		rest = append(rest, extent{x.start + uint32(keep), x.n - uint32(keep)})
		rest = append(rest, ext[i+1:]...)
		if keep > 0 {
			ext[i].n = uint32(keep)
			return ext[:i+1], rest
		}
		return ext[:i], rest
	}
	return ext, nil
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
	case req.Caps.Manage == (Hash{}),
		!req.Relay && !req.Caps.lockable(),
		req.Relay && (req.Caps.Gate != (Hash{}) || req.Caps.PIN || req.Caps.Open != (Hash{}) || req.Caps.Destruct != (Hash{})):
		return fmt.Errorf("vault: create: capability hash: %w", ErrInvalid)
	}
	return nil
}

// Append copies n bytes from r into a pending entry of kind at offset, which must be what the
// entry has received so far (else ErrOffset). Blocks are reserved as the bytes arrive; if the
// vault or a quota runs out meanwhile, the bytes received are kept and ErrFull is returned. It
// returns how many bytes the entry has received in all. On a short read or a reader error the
// bytes read are kept and the error is returned, so the writer can resume from the returned
// count. A wrong manage secret, another kind, or an entry that is not pending, is ErrGone; a
// concurrent append to the same entry is ErrBusy.
func (v *Vault) Append(kind Kind, id ID, manage []byte, offset, n int64, r io.Reader) (int64, error) {
	return v.appendTo(kind, nil, id, manage, offset, n, r)
}

// AppendOwned is Append for an entry that must also belong to owner (a drop's route): one of
// another owner is gone, whatever secrets come with it.
func (v *Vault) AppendOwned(kind Kind, owner string, id ID, manage []byte, offset, n int64, r io.Reader) (int64, error) {
	return v.appendTo(kind, &owner, id, manage, offset, n, r)
}

func (v *Vault) appendTo(kind Kind, owner *string, id ID, manage []byte, offset, n int64, r io.Reader) (int64, error) {
	mh := sum(manage)
	now := v.now()
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return 0, ErrClosed
	}
	e, j := v.lookup(kind, id, now)
	if e != nil && owner != nil && e.grp.key.owner != *owner {
		e = nil // the dummy below compares as for a miss
	}
	if !v.manageOK(e, &mh) || e.phase != phasePending {
		v.mu.Unlock()
		v.run(j)
		return 0, ErrGone
	}
	received := int64(e.received)
	switch {
	case e.has(fAppending):
		v.mu.Unlock()
		return received, ErrBusy
	case n < 0:
		v.mu.Unlock()
		return received, fmt.Errorf("vault: append: length: %w", ErrInvalid)
	case offset != received:
		v.mu.Unlock()
		return received, ErrOffset
	case offset+n > int64(e.length):
		v.mu.Unlock()
		return received, ErrTooLarge
	}
	e.set(fAppending, true)
	e.since = now.UnixNano()
	e.refs++
	v.busy++
	v.mu.Unlock()

	got, rerr := v.fill(e, offset, n, r, false)

	v.mu.Lock()
	e.received += uint32(got)
	e.set(fAppending, false)
	e.since = v.now().UnixNano()
	v.trim(e)
	received = int64(e.received)
	gone := e.gone.Load()
	j = v.unref(e)
	v.mu.Unlock()
	v.run(j)
	switch {
	case gone:
		return received, ErrGone
	case errors.Is(rerr, ErrFull):
		return received, ErrFull
	case rerr != nil:
		return received, fmt.Errorf("vault: append: %w", rerr)
	}
	return received, nil
}

// fill reads n bytes from r straight into e's blocks at offset, reserving them a grain at a
// time as the bytes come. It stops early if the entry is wiped meanwhile (ErrGone) or no block
// can be reserved (ErrFull). With upTo, the end of r before n bytes is not an error: fill
// returns what arrived. The caller holds a reference to e and is its one appender.
func (v *Vault) fill(e *entry, offset, n int64, r io.Reader, upTo bool) (int64, error) {
	var got int64
	bs := int64(v.ar.bs)
	for got < n {
		k := min(grain-(offset+got)%grain, n-got) // whole grains after the first
		if got == 0 {
			// Nothing has arrived yet: reserve no more than one block until it does, so that a
			// body that never comes holds one block, not a grain.
			k = min(k, bs-offset%bs)
		}
		v.mu.Lock()
		blocks, err := v.reserve(e, offset+got+k)
		v.mu.Unlock()
		if err != nil {
			return got, err
		}
		eof := false
		err = v.walk(blocks.list(), offset+got, k, func(b []byte) error {
			if e.gone.Load() {
				return ErrGone
			}
			m, err := io.ReadFull(r, b)
			got += int64(m)
			if upTo && (err == io.EOF || err == io.ErrUnexpectedEOF) {
				eof = true
				return io.EOF
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		})
		switch {
		case eof:
			return got, nil
		case err != nil:
			return got, err
		}
	}
	return got, nil
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

// Commit makes a fully appended entry of kind readable and returns its expiry. Committing an
// entry that is already committed succeeds again, since the answer to the first commit may have
// been lost.
func (v *Vault) Commit(kind Kind, id ID, manage []byte) (time.Time, error) {
	return v.commit(kind, nil, id, manage)
}

// CommitOwned is Commit for an entry that must also belong to owner (a drop's route).
func (v *Vault) CommitOwned(kind Kind, owner string, id ID, manage []byte) (time.Time, error) {
	return v.commit(kind, &owner, id, manage)
}

func (v *Vault) commit(kind Kind, owner *string, id ID, manage []byte) (time.Time, error) {
	mh := sum(manage)
	now := v.now()
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return time.Time{}, ErrClosed
	}
	e, j := v.lookup(kind, id, now)
	if e != nil && owner != nil && e.grp.key.owner != *owner {
		e = nil
	}
	if !v.manageOK(e, &mh) {
		v.mu.Unlock()
		v.run(j)
		return time.Time{}, ErrGone
	}
	defer v.mu.Unlock()
	if e.phase != phasePending {
		return unixTime(e.expires), nil
	}
	switch {
	case e.has(fAppending):
		return time.Time{}, ErrBusy
	case e.received != e.length:
		return time.Time{}, ErrIncomplete
	}
	v.setPhase(id, e, phaseWaiting)
	return unixTime(e.expires), nil
}

// Put creates, fills from r and commits an entry in one call (chat frames, small entries).
// If r ends early or fails, or the vault runs out of room, the entry is discarded and the
// error returned.
func (v *Vault) Put(req CreateRequest, r io.Reader) (ID, time.Time, error) {
	id, _, exp, err := v.put(req, r, false)
	return id, exp, err
}

// PutUpTo is Put for a stream of unknown length: it stores what r holds, at least one byte and
// at most req.Length, and returns its length. A stream longer than req.Length is ErrTooLarge
// (nothing is kept). The bytes go straight from r into locked memory, reserved as they come.
func (v *Vault) PutUpTo(req CreateRequest, r io.Reader) (ID, int64, time.Time, error) {
	return v.put(req, r, true)
}

func (v *Vault) put(req CreateRequest, r io.Reader, upTo bool) (ID, int64, time.Time, error) {
	want := req.Length
	if upTo {
		req.Length++ // one byte more than allowed tells a stream that is too long
	}
	id, e, err := v.admit(&req, 0, true)
	if err != nil {
		return ID{}, 0, time.Time{}, err
	}
	exp := unixTime(e.expires) // never changes after admit

	got, rerr := v.fill(e, 0, req.Length, r, upTo)

	v.mu.Lock()
	e.received = uint32(got)
	e.set(fAppending, false)
	if upTo && rerr == nil {
		switch {
		case got > want:
			rerr = ErrTooLarge
		case got == 0:
			rerr = fmt.Errorf("vault: put: empty: %w", ErrInvalid)
		default:
			e.length = uint32(got)
		}
	}
	v.trim(e)
	j := v.unref(e)
	var j2 job
	ok := rerr == nil && !e.gone.Load()
	if ok {
		v.setPhase(id, e, phaseWaiting)
	} else if v.live[id] == e {
		j2 = v.discard(id, e)
	}
	v.mu.Unlock()
	v.run(j)
	v.run(j2)
	switch {
	case ok:
		return id, got, exp, nil
	case rerr == nil || errors.Is(rerr, ErrGone):
		return ID{}, 0, time.Time{}, ErrGone
	case errors.Is(rerr, ErrFull), errors.Is(rerr, ErrTooLarge), errors.Is(rerr, ErrInvalid):
		return ID{}, 0, time.Time{}, rerr
	}
	return ID{}, 0, time.Time{}, fmt.Errorf("vault: put: %w", rerr)
}

// manageOK checks a manage hash against e, or against the dummy when e is nil so that a miss
// costs what a hit costs. Called with v.mu held.
func (v *Vault) manageOK(e *entry, mh *Hash) bool {
	t := e
	if t == nil {
		t = &v.dummy
	}
	return Equal(mh, &t.manage) && e != nil
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
