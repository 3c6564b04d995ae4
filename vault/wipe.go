package vault

import "time"

// job is zeroing work to run after the vault's mutex is released, so that wiping a large entry
// does not stall every other request.
type job struct {
	e      *entry    // set when the job zeroes without freeing (readers still hold the blocks)
	blocks blockList // blocks to zero
	free   bool      // release the blocks once zeroed
	unref  bool      // the job holds a reference to e's blocks (blank): drop it once zeroed
	paced  bool      // zero a slice at a time with pauses (blank: see zeroPaced)
}

// dropContent detaches e's blocks and marks it gone. Blocks nobody references are zeroed and
// freed by the returned job. Blocks that Readings reference are zeroed now but freed only when
// the last Reading closes, so they cannot be reused under a writer still copying from them.
// Blocks under a running Append are zeroed and freed when it returns, since it may still write.
// Small unreferenced content is zeroed and freed right here when inline is set: cheaper than a
// second trip through the mutex. The PIN path passes false, so its answer costs the same
// whether or not it wiped anything. Called with v.mu held.
func (v *Vault) dropContent(id ID, e *entry, inline bool) job {
	if e.has(fWiped) {
		return job{}
	}
	e.set(fWiped, true)
	e.gone.Store(true)
	v.unaccount(id, e)
	ext := v.ext(e)
	switch {
	case len(ext) == 0:
		return job{}
	case e.refs == 0 && inline && blocksOf(ext)*v.ar.bs <= piece:
		v.ar.zero(ext)
		v.ar.release(ext)
		v.setExt(e, nil)
		return job{}
	case e.refs == 0:
		v.busy++
		return job{blocks: v.detach(e), free: true}
	case e.has(fAppending):
		e.set(fHeld, true)
		return job{}
	default:
		e.set(fHeld, true)
		e.set(fZeroing, true)
		v.busy++
		return job{e: e, blocks: v.listOf(e)}
	}
}

// blank zeroes e's content but keeps its blocks, its quota and every count, as if nothing had
// happened (a destruct PIN): the blocks are freed only when the entry ends as it would have
// anyway. It stops any stream of the content. The returned job zeroes off the request path and
// holds a reference meanwhile, so that an end in between cannot free the blocks under it.
// Called with v.mu held.
func (v *Vault) blank(e *entry) job {
	if e.has(fWiped) || v.ext(e) == nil {
		return job{}
	}
	e.gone.Store(true)
	e.refs++
	v.busy++
	return job{e: e, blocks: v.listOf(e), unref: true, paced: true}
}

// Pacing of a destruct PIN's zeroing: zeroSlice bytes, then a pause of zeroPause. Zeroing a
// 64 MiB note at full speed took a core for about 3 ms and slowed the requests around it
// (a wrong PIN's answer 0.44 ms, the destruct PIN's 3.16 ms over loopback: a coercer timing the
// answer could tell them apart). Paced, no request meets more than one slice's work (tens of
// microseconds), and 64 MiB is zeroed within about 130 ms. Nothing can read the content
// meanwhile: the entry is marked gone before the job starts.
const (
	zeroSlice = 256 << 10
	zeroPause = 500 * time.Microsecond
)

// zeroPaced zeroes ext a slice at a time with pauses in between.
func (v *Vault) zeroPaced(ext []extent) {
	for _, e := range ext {
		for b := v.ar.span(e); len(b) > 0; {
			n := min(len(b), zeroSlice)
			clear(b[:n])
			b = b[n:]
			if len(b) > 0 {
				time.Sleep(zeroPause)
			}
		}
	}
}

// run zeroes a job's blocks and, when asked, frees them.
func (v *Vault) run(j job) {
	if j.blocks.empty() {
		return
	}
	ext := j.blocks.list()
	if j.paced {
		v.zeroPaced(ext)
	} else {
		v.ar.zero(ext)
	}
	v.mu.Lock()
	if j.unref {
		j2 := v.unref(j.e)
		v.mu.Unlock()
		v.run(j2)
		return
	}
	switch {
	case j.free:
		if !v.closed {
			v.ar.release(ext)
		}
	case j.e != nil:
		j.e.set(fZeroing, false)
		if j.e.refs == 0 && j.e.has(fHeld) {
			// The last reference went while we zeroed: the blocks are ours to free.
			j.e.set(fHeld, false)
			held := v.detach(j.e)
			if !v.closed {
				v.ar.release(held.list())
			}
		}
	}
	v.busy--
	v.finishClose()
	v.mu.Unlock()
}

// runAsync zeroes off the request path, so that the answer to a PIN attempt costs the same
// whether or not it wiped anything. Called with v.mu held.
func (v *Vault) runAsync(j job) {
	if j.blocks.empty() {
		return
	}
	v.async.Add(1)
	go func() {
		defer v.async.Done()
		defer func() { _ = recover() }() // nothing may print; a failed zeroing must not kill the process
		v.run(j)
	}()
}

// runAlwaysAsync is runAsync that starts its goroutine even for an empty job: the answers to
// a wrong PIN and to the destruct PIN then cost the same goroutine start.
func (v *Vault) runAlwaysAsync(j job) {
	v.async.Add(1)
	go func() {
		defer v.async.Done()
		defer func() { _ = recover() }()
		v.run(j)
	}()
}

// unref drops one reference to e's blocks, returning the job that frees them if e was wiped
// meanwhile. Called with v.mu held.
func (v *Vault) unref(e *entry) job {
	e.refs--
	v.busy--
	if e.refs > 0 || !e.has(fHeld) || e.has(fZeroing) {
		v.finishClose()
		return job{}
	}
	e.set(fHeld, false)
	v.busy++
	return job{blocks: v.detach(e), free: true}
}

// Settle waits until every wipe started so far, including those done off the request path
// after a PIN attempt, has zeroed its blocks. Tests and benchmarks use it; a server need not.
func (v *Vault) Settle() { v.async.Wait() }

// account adds a new pending entry to the counts. It holds no bytes yet: reserve charges them
// as they arrive (use). Called with v.mu held.
func (v *Vault) account(id ID, e *entry) {
	v.kindCount[e.kind]++
	v.pending[e.kind]++
	v.index(id, e)
}

// use charges delta more bytes (or, negative, fewer) of e's blocks to its kind and owner,
// as its blocks change (charged). Called with v.mu held.
func (v *Vault) use(e *entry, delta int64) {
	v.kindUse[e.kind] += delta
	if e.grp.key.owner != "" {
		e.grp.use += delta
	}
}

// unaccount removes an entry whose content is being wiped from the counts. Called with v.mu
// held, before its blocks are detached.
func (v *Vault) unaccount(id ID, e *entry) {
	v.use(e, -v.charged(e))
	v.kindCount[e.kind]--
	if e.phase == phasePending {
		v.pending[e.kind]--
	}
	v.unindex(id, e)
}

// end wipes a live entry and leaves a tombstone with the given state until its original expiry
// (a relay entry leaves none). Called with v.mu held.
func (v *Vault) end(id ID, e *entry, st State, inline bool) job {
	j := v.dropContent(id, e, inline)
	delete(v.live, id)
	tk, ok := v.tickets[id]
	delete(v.tickets, id)
	if !e.has(fRelay) {
		t := tomb{manage: e.manage, state: st, expires: e.expires, kind: e.kind}
		if ok {
			t.ticket, t.until = tk.Seq, tk.Until.UnixNano()
		}
		v.keepTomb(id, t)
	}
	return j
}

// keepTomb records how an entry ended. The records are kept in a ring of at most
// Config.MaxTombstones ids in the order they were made: when it is full, the oldest record goes
// (if it has not expired already), so the map never holds more than the ring. Called with v.mu
// held.
//
// A slot names its record by id and number: a slot left by an id's earlier record (expired,
// or replaced when the id ended again) evicts nothing. A record evicted while it still guards
// its ticket retires that ticket (CreateRequest.Ticket): the request that made the entry could
// otherwise make it again.
func (v *Vault) keepTomb(id ID, t tomb) {
	v.tombSeq++
	t.seq = v.tombSeq
	slot := tombSlot{id: id, seq: t.seq}
	if len(v.tombRing) < v.cfg.MaxTombstones {
		v.tombRing = append(v.tombRing, slot)
	} else {
		old := v.tombRing[v.tombNext]
		if ot, ok := v.tombs[old.id]; ok && ot.seq == old.seq {
			delete(v.tombs, old.id)
			if ot.guards(v.now().UnixNano()) {
				v.retire(ot.ticket)
			}
		}
		v.tombRing[v.tombNext] = slot
		v.tombNext = (v.tombNext + 1) % len(v.tombRing)
	}
	v.tombs[id] = t
}

// retire retires the ticket seq and every older one (Retired). Called with v.mu held.
func (v *Vault) retire(seq uint64) { v.retired = max(v.retired, seq) }

// Retired is the newest ticket retired (CreateRequest.Ticket): a create whose ticket is at or
// below it is refused (ErrRetired). 0 while none is.
func (v *Vault) Retired() uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.retired
}

// forgetTombs drops every status record, retiring every ticket given so far (the records
// that guarded them are gone). Called with v.mu held.
func (v *Vault) forgetTombs() {
	clear(v.tombs)
	v.tombRing, v.tombNext = nil, 0
	v.retire(v.newest)
}

// discard wipes a live entry and leaves nothing behind but, while its ticket is accepted, a
// record of state 0 (CreateRequest.Ticket). Called with v.mu held.
func (v *Vault) discard(id ID, e *entry) job {
	j := v.dropContent(id, e, true)
	delete(v.live, id)
	if tk, ok := v.tickets[id]; ok {
		delete(v.tickets, id)
		if until := tk.Until.UnixNano(); v.now().UnixNano() < until {
			v.keepTomb(id, tomb{expires: e.expires, until: until, ticket: tk.Seq, kind: e.kind})
		}
	}
	return j
}

// Wipe zeroes every entry at once (a panic button) and forgets their tombstones. The vault
// stays usable.
func (v *Vault) Wipe() {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return
	}
	jobs := make([]job, 0, len(v.live))
	for id, e := range v.live {
		if j := v.discard(id, e); !j.blocks.empty() {
			jobs = append(jobs, j)
		}
	}
	v.forgetTombs()
	v.mu.Unlock()
	for _, j := range jobs {
		v.run(j)
	}
}
