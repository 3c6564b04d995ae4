package vault

import "time"

// lookup finds a live entry, first applying whatever the clock says happened to it, so that
// an expired entry is gone for every call even before the sweeper reaches it. The job must be
// run after unlocking. Called with v.mu held.
// An entry of another kind is as absent as a missing one: a capability for a note never acts
// on a drop submission or a chat record, whatever route it comes by.
func (v *Vault) lookup(kind Kind, id ID, now time.Time) (*entry, job) {
	e := v.live[id]
	if e == nil || e.kind != kind {
		return nil, job{}
	}
	if alive, j := v.settle(id, e, now); !alive {
		return nil, j
	}
	return e, job{}
}

// settle applies the time limits to a live entry: its TTL, the pending idle timeout and the
// claim window. It reports whether the entry is still live. Called with v.mu held.
func (v *Vault) settle(id ID, e *entry, now time.Time) (bool, job) {
	t := now.UnixNano()
	switch {
	case t >= e.expires:
		delete(v.tombs, id)
		return false, v.discard(id, e)
	case e.phase == phasePending && !e.has(fAppending) && t-e.since >= int64(v.cfg.PendingIdle),
		e.phase == phasePending && !e.has(fAppending) && e.received == 0 && t-e.born >= int64(v.cfg.EmptyIdle),
		e.phase == phasePending && t-e.born >= int64(v.cfg.PendingMax):
		return false, v.end(id, e, StateGone, true)
	case e.phase == phaseClaimed && t-e.since >= int64(v.cfg.ClaimWindow):
		return false, v.end(id, e, StateOpened, true)
	}
	return true, job{}
}

// lookupTomb finds the tombstone of an ended entry until its original expiry, or its ticket's
// end when that is later (tomb.keep). Called with v.mu held.
func (v *Vault) lookupTomb(id ID, now time.Time) (tomb, bool) {
	t, ok := v.tombs[id]
	if ok && now.UnixNano() >= t.keep() {
		delete(v.tombs, id)
		return tomb{}, false
	}
	return t, ok
}

// Sweep wipes every entry whose time is up (TTL, pending idle, claim window) and forgets
// tombstones past their entry's original expiry. The background sweeper calls it every
// Config.SweepEvery; tests with a fake clock call it directly.
func (v *Vault) Sweep() {
	now := v.now()
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return
	}
	var jobs []job
	for id, e := range v.live {
		if _, j := v.settle(id, e, now); !j.blocks.empty() {
			jobs = append(jobs, j)
		}
	}
	for id, t := range v.tombs {
		if now.UnixNano() >= t.keep() {
			delete(v.tombs, id)
		}
	}
	v.mu.Unlock()
	for _, j := range jobs {
		v.run(j)
	}
}

func (v *Vault) sweeper(every time.Duration) {
	defer close(v.swept)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-v.stop:
			return
		case <-t.C:
			v.sweepSafely()
		}
	}
}

// sweepSafely keeps the sweeper alive through a bug rather than leave entries unwiped; a
// library never prints, so the panic is dropped.
func (v *Vault) sweepSafely() {
	defer func() { _ = recover() }()
	v.Sweep()
}
