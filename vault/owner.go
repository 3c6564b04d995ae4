package vault

import "time"

// ownerKey names one owner's entries within a kind (a drop's submissions, a chat's frames).
type ownerKey struct {
	kind  Kind
	owner string
}

// owned is an entry in its owner's index, with a copy of what listing needs, so that listing
// an owner's entries reads the index alone and never touches the entries themselves (one
// cache miss each): a drop's inbox lists in about the same time with ten entries or a thousand.
type owned struct {
	e       *entry
	created int64 // e.created, Unix nanoseconds (to the minute)
	expires int64 // e.expires, Unix nanoseconds
	waiting bool  // e.phase == phaseWaiting
}

// index adds e to its owner's index ("" is an owner too: List(kind, "") lists the entries
// without one). Called with v.mu held, when e starts holding content.
func (v *Vault) index(e *entry) {
	k := ownerKey{e.kind, e.owner}
	m := v.owned[k]
	if m == nil {
		m = make(map[ID]owned)
		v.owned[k] = m
	}
	m[e.id] = owned{e: e, created: e.created.UnixNano(), expires: e.expires.UnixNano(), waiting: e.phase == phaseWaiting}
}

// setPhase moves e to phase p and keeps its index entry in step. Called with v.mu held.
func (v *Vault) setPhase(e *entry, p phase) {
	if e.phase == phasePending && p != phasePending && !e.wiped {
		v.pending[e.kind]--
	}
	e.phase = p
	if m := v.owned[ownerKey{e.kind, e.owner}]; m != nil {
		if o, ok := m[e.id]; ok && o.e == e {
			o.waiting = p == phaseWaiting
			m[e.id] = o
		}
	}
}

// unindex removes e from its owner's index once its content is gone. Called with v.mu held.
func (v *Vault) unindex(e *entry) {
	k := ownerKey{e.kind, e.owner}
	if m := v.owned[k]; m != nil {
		delete(m, e.id)
		// The map of entries without an owner is kept when empty: otherwise every small
		// entry's life would allocate and free it. One per kind, so it cannot pile up.
		if len(m) == 0 && e.owner != "" {
			delete(v.owned, k)
		}
	}
}

// CreateOwned is Create with a cap on how many entries req.Owner may hold in req.Kind: when
// the owner already has maxEntries entries holding content (pending, committed or claimed),
// it is ErrFull and nothing changes. The check and the creation are one atomic step, so
// concurrent requests never exceed the cap (a drop's count cap; a reply box's one submission).
// maxEntries <= 0 means no cap; an empty Owner is ErrInvalid.
func (v *Vault) CreateOwned(req CreateRequest, maxEntries int) (ID, time.Time, error) {
	if req.Owner == "" {
		return ID{}, time.Time{}, ErrInvalid
	}
	return v.create(req, maxEntries)
}

// OwnerUsage reports how many entries of kind the owner holds content for, and their bytes.
// It costs the same whatever the vault holds.
func (v *Vault) OwnerUsage(kind Kind, owner string) (entries int, bytes int64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return 0, 0
	}
	return len(v.owned[ownerKey{kind, owner}]), v.ownerUse[kind][owner]
}

// WipeOwner wipes every entry of kind held by owner (pending, committed or claimed) at once
// and leaves no tombstone; it returns how many it wiped. A drop's "wipe all".
func (v *Vault) WipeOwner(kind Kind, owner string) int {
	if owner == "" {
		return 0
	}
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return 0
	}
	m := v.owned[ownerKey{kind, owner}]
	jobs := make([]job, 0, len(m))
	n := 0
	for id, o := range m {
		e := o.e
		if v.live[id] != e {
			continue
		}
		n++
		if j := v.discard(id, e); j.ext != nil {
			jobs = append(jobs, j)
		}
	}
	v.mu.Unlock()
	for _, j := range jobs {
		v.run(j)
	}
	return n
}
