package vault

// Test hooks: they look at the locked blocks, which the exported API never exposes.

// BlocksOf captures the blocks holding id's content now and returns a function that reports
// whether all of them read back as zero.
func BlocksOf(v *Vault, id ID) func() bool {
	v.mu.Lock()
	var ext []extent
	if e := v.live[id]; e != nil {
		ext = append([]extent{}, v.ext(e)...) // empty, not nil, for a pending entry with none yet
	}
	v.mu.Unlock()
	if ext == nil {
		panic("BlocksOf: no live content")
	}
	return func() bool {
		v.mu.Lock()
		defer v.mu.Unlock()
		for _, x := range ext {
			for _, b := range v.ar.span(x) {
				if b != 0 {
					return false
				}
			}
		}
		return true
	}
}

// FreeBlocksZero reports whether every block not in use reads back as zero.
func FreeBlocksZero(v *Vault) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	for b := 0; b < v.ar.total; b++ {
		if v.ar.used[b/64]&(1<<(b%64)) != 0 {
			continue
		}
		for _, c := range v.ar.span(extent{uint32(b), 1}) {
			if c != 0 {
				return false
			}
		}
	}
	return true
}

// Busy is the number of references to arena memory held outside the mutex.
func Busy(v *Vault) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.busy
}

// Tombstones is the number of status records kept for ended entries.
func Tombstones(v *Vault) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.tombs)
}
