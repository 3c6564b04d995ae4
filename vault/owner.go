package vault

import "time"

// ownerKey names one owner's entries within a kind (a drop's submissions, a chat's frames).
type ownerKey struct {
	kind  Kind
	owner string
}

// ownerGroup is one owner's entries within a kind: how many hold content, their bytes, and
// an index of them for listing. Every entry points to its group, so that it needs no string
// of its own and its owner's usage costs no map lookup. The group of the entries without an
// owner ("") is kept per kind for good and keeps no index: it would cost every note a map
// entry that no route reads (listing them scans the vault instead: ownedOf).
type ownerGroup struct {
	key ownerKey
	n   int          // entries holding content (pending, committed or claimed)
	use int64        // their bytes of whole blocks (not counted for owner "")
	idx map[ID]owned // the entries, for an owner other than ""
}

// owned is an entry in its owner's index, with a copy of what listing needs, so that listing
// an owner's entries reads the index alone and never touches the entries themselves (one
// cache miss each): a drop's inbox lists in about the same time with ten entries or a thousand.
type owned struct {
	e       *entry
	created int64 // e.created(), Unix nanoseconds (to the minute)
	expires int64 // e.expires, Unix nanoseconds
	waiting bool  // e.phase == phaseWaiting
}

func ownedEntry(e *entry) owned {
	return owned{e: e, created: e.created(), expires: e.expires, waiting: e.phase == phaseWaiting}
}

// group is the group of kind and owner, made when missing. Called with v.mu held.
func (v *Vault) group(kind Kind, owner string) *ownerGroup {
	k := ownerKey{kind, owner}
	g := v.groups[k]
	if g == nil {
		g = &ownerGroup{key: k}
		if owner != "" {
			g.idx = make(map[ID]owned)
		}
		v.groups[k] = g
	}
	return g
}

// ownedOf is the index of one owner's entries of kind (nil when it has none). The entries
// without an owner are not indexed: they are found by scanning the live entries, which only
// List(kind, "") does. Called with v.mu held.
func (v *Vault) ownedOf(kind Kind, owner string) map[ID]owned {
	if owner != "" {
		if g := v.groups[ownerKey{kind, owner}]; g != nil {
			return g.idx
		}
		return nil
	}
	m := make(map[ID]owned)
	for id, e := range v.live {
		if e.kind == kind && e.grp.key.owner == "" && !e.has(fWiped) {
			m[id] = ownedEntry(e)
		}
	}
	return m
}

// index adds e, whose id is id, to its owner's group ("" is an owner too: List(kind, "") lists
// the entries without one). Called with v.mu held, when e starts holding content.
func (v *Vault) index(id ID, e *entry) {
	g := e.grp
	g.n++
	if g.idx != nil {
		g.idx[id] = ownedEntry(e)
	}
}

// setPhase moves e, whose id is id, to phase p and keeps its index entry in step. Called with
// v.mu held.
func (v *Vault) setPhase(id ID, e *entry, p phase) {
	if e.phase == phasePending && p != phasePending && !e.has(fWiped) {
		v.pending[e.kind]--
	}
	e.phase = p
	if m := e.grp.idx; m != nil {
		if o, ok := m[id]; ok && o.e == e {
			o.waiting = p == phaseWaiting
			m[id] = o
		}
	}
}

// unindex removes e from its owner's group once its content is gone, and the group once it
// is empty (except the groups without an owner: otherwise every small entry's life would
// make and drop one; one per kind, so they cannot pile up). Called with v.mu held.
func (v *Vault) unindex(id ID, e *entry) {
	g := e.grp
	g.n--
	if g.idx != nil {
		if o, ok := g.idx[id]; ok && o.e == e {
			delete(g.idx, id)
		}
	}
	if g.n == 0 && g.key.owner != "" && v.groups[g.key] == g {
		delete(v.groups, g.key)
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
	g := v.groups[ownerKey{kind, owner}]
	if g == nil {
		return 0, 0
	}
	return g.n, g.use
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
	m := v.ownedOf(kind, owner)
	jobs := make([]job, 0, len(m))
	n := 0
	for id, o := range m {
		e := o.e
		if v.live[id] != e {
			continue
		}
		n++
		if j := v.discard(id, e); !j.blocks.empty() {
			jobs = append(jobs, j)
		}
	}
	v.mu.Unlock()
	for _, j := range jobs {
		v.run(j)
	}
	return n
}
