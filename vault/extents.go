package vault

// blockList is an entry's blocks held by value, for a Reading or a zeroing job: the one run
// inline (the usual case, no allocation), or the list when there are more.
type blockList struct {
	one  [1]extent
	many []extent
}

// list is the blocks as a slice (of l's own storage for one run).
func (l *blockList) list() []extent {
	switch {
	case l.many != nil:
		return l.many
	case l.one[0].n != 0:
		return l.one[:]
	}
	return nil
}

// empty reports whether l holds no block.
func (l *blockList) empty() bool { return l.many == nil && l.one[0].n == 0 }

// ext is e's blocks: its inline run, or its spilled list; nil when it has none. The slice
// may be e's own storage: keep it only while holding v.mu. Called with v.mu held.
func (v *Vault) ext(e *entry) []extent {
	switch {
	case e.has(fSpilled):
		return v.spill[e]
	case e.ext0[0].n != 0:
		return e.ext0[:]
	}
	return nil
}

// setExt makes ext e's blocks: inline when they are one run or none, spilled otherwise.
// Called with v.mu held.
func (v *Vault) setExt(e *entry, ext []extent) {
	if len(ext) > 1 {
		v.spill[e] = ext
		e.set(fSpilled, true)
		return
	}
	var x extent
	if len(ext) == 1 {
		x = ext[0]
	}
	if e.has(fSpilled) {
		delete(v.spill, e)
		e.set(fSpilled, false)
	}
	e.ext0[0] = x
}

// listOf copies e's blocks into a blockList. Called with v.mu held.
func (v *Vault) listOf(e *entry) blockList {
	if e.has(fSpilled) {
		return blockList{many: v.spill[e]}
	}
	return blockList{one: e.ext0}
}

// detach takes e's blocks away from it (the caller zeroes and frees them). Called with v.mu
// held.
func (v *Vault) detach(e *entry) blockList {
	l := v.listOf(e)
	v.setExt(e, nil)
	return l
}

// charged is the bytes of e's whole blocks, what its kind and owner are charged for it while
// it holds content. Called with v.mu held.
func (v *Vault) charged(e *entry) int64 {
	return int64(blocksOf(v.ext(e))) * int64(v.ar.bs)
}
