package vault

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Defaults for Config's zero fields.
const (
	DefaultBlockSize      = 1024
	DefaultMaxEntry       = 64 << 20
	DefaultMaxTTL         = 7 * 24 * time.Hour
	DefaultClaimWindow    = 10 * time.Minute
	DefaultPendingIdle    = 10 * time.Minute
	DefaultPendingMax     = 30 * time.Minute
	DefaultMaxPending     = 1 << 16
	DefaultEmptyIdle      = time.Minute
	DefaultMaxPINFailures = 5
	DefaultSweepEvery     = 500 * time.Millisecond
	DefaultMaxTombstones  = 1 << 18
)

// maxEntryLimit is the largest entry any Config allows, 2 GiB: an entry's length is kept in 32
// bits (PutUpTo asks for one byte more than it allows).
const maxEntryLimit = 1 << 31

// closeWait bounds how long Close waits for Readings and Appends still copying, before it
// unmaps the arenas under them.
const closeWait = 2 * time.Second

// Vault holds ciphertext in locked memory.
type Vault struct {
	cfg      Config // resolved: no zero field means "default" any more
	maxEntry int64

	mu        sync.Mutex
	ar        *arenas
	live      map[ID]*entry
	tombs     map[ID]tomb
	tombRing  []tombSlot // tombstone ids, oldest at tombNext once full (keepTomb)
	tombNext  int
	tombSeq   uint64              // the last record's number (tomb.seq)
	tickets   map[ID]Ticket       // the tickets of live entries that have one (CreateRequest.Ticket)
	retired   uint64              // Retired
	newest    uint64              // the newest ticket ever given to a create
	kindUse   [kindLast + 1]int64 // bytes of whole blocks held, indexed by Kind: cheaper than a map on every create and wipe
	kindCount [kindLast + 1]int
	pending   [kindLast + 1]int        // entries in phasePending that hold content, by kind
	groups    map[ownerKey]*ownerGroup // entries holding content, per kind and owner (owner.go)
	spill     map[*entry][]extent      // the blocks of entries whose blocks are more than one run
	closed    bool
	unmapped  bool
	busy      int // references to arena memory used outside mu: Readings, Appends, zeroing jobs
	dummy     entry

	async     sync.WaitGroup // zeroing started off the request path
	stop      chan struct{}
	swept     chan struct{}
	closeOnce sync.Once
}

// New locks the budget and starts the sweeper. It fails, wrapping ErrMemlock, when the budget
// cannot be locked, and wrapping ErrInvalid for an invalid Config.
func New(cfg Config) (*Vault, error) {
	if err := resolve(&cfg); err != nil {
		return nil, err
	}
	m, err := probeMemlock()
	if err != nil {
		return nil, err
	}
	if cfg.Budget == 0 {
		if cfg.Budget, err = m.defaultBudget(); err != nil {
			return nil, err
		}
	}
	blocks := cfg.Budget / int64(cfg.BlockSize)
	if blocks < 1 || blocks > 1<<31 {
		return nil, fmt.Errorf("vault: budget %d with block size %d: %w", cfg.Budget, cfg.BlockSize, ErrInvalid)
	}
	sizes := arenaSizes(int(blocks), cfg.BlockSize)
	if want := lockedBytes(sizes); !m.unlimited && want > m.available() {
		return nil, m.errTooSmall(want)
	}
	ar, err := newArenas(int(blocks), cfg.BlockSize)
	if err != nil {
		return nil, err
	}
	v := &Vault{
		cfg:     cfg,
		ar:      ar,
		live:    make(map[ID]*entry),
		tombs:   make(map[ID]tomb),
		tickets: make(map[ID]Ticket),
		groups:  make(map[ownerKey]*ownerGroup),
		spill:   make(map[*entry][]extent),
		stop:    make(chan struct{}),
		swept:   make(chan struct{}),
	}
	budget := blocks * int64(cfg.BlockSize)
	v.maxEntry = cfg.MaxEntry
	if v.maxEntry == 0 {
		v.maxEntry = DefaultMaxEntry
	}
	v.maxEntry = min(v.maxEntry, budget, maxEntryLimit)
	// The dummy answers lookups that miss, so that they hash and compare like hits.
	d := &v.dummy
	if d.lock, err = DummyLock(); err != nil {
		ar.destroy()
		return nil, err
	}
	if _, err := rand.Read(d.manage[:]); err != nil {
		ar.destroy()
		return nil, fmt.Errorf("vault: %w", err)
	}
	d.grp = &ownerGroup{} // its claim hash is the lock's random open hash
	d.phase = phaseWaiting
	if cfg.SweepEvery > 0 {
		go v.sweeper(cfg.SweepEvery)
	} else {
		close(v.swept)
	}
	return v, nil
}

// resolve validates cfg and fills in the defaults (except the budget, which needs the limit).
func resolve(c *Config) error {
	bad := func(what string) error { return fmt.Errorf("vault: config: %s: %w", what, ErrInvalid) }
	if c.Budget < 0 {
		return bad("negative budget")
	}
	if c.BlockSize == 0 {
		c.BlockSize = DefaultBlockSize
	}
	if c.BlockSize < 64 || c.BlockSize > 1<<20 || c.BlockSize&(c.BlockSize-1) != 0 {
		return bad("block size must be a power of two from 64 to 1 MiB")
	}
	if c.MaxEntry < 0 {
		return bad("negative maximum entry")
	}
	for _, q := range []map[Kind]int64{c.KindQuota, c.OwnerQuota} {
		for k, n := range q {
			if !k.valid() || n < 0 {
				return bad("quota")
			}
		}
	}
	// Copy the quota maps so the caller cannot change them under the vault.
	c.KindQuota = maps(c.KindQuota)
	c.OwnerQuota = maps(c.OwnerQuota)
	def := func(d *time.Duration, v time.Duration, what string) error {
		if *d < 0 {
			return bad(what)
		}
		if *d == 0 {
			*d = v
		}
		return nil
	}
	if err := def(&c.MaxTTL, DefaultMaxTTL, "negative MaxTTL"); err != nil {
		return err
	}
	if err := def(&c.ClaimWindow, DefaultClaimWindow, "negative ClaimWindow"); err != nil {
		return err
	}
	if err := def(&c.PendingIdle, DefaultPendingIdle, "negative PendingIdle"); err != nil {
		return err
	}
	if err := def(&c.PendingMax, DefaultPendingMax, "negative PendingMax"); err != nil {
		return err
	}
	if c.MaxPending < 0 {
		return bad("negative MaxPending")
	}
	if c.MaxPending == 0 {
		c.MaxPending = DefaultMaxPending
	}
	if err := def(&c.EmptyIdle, DefaultEmptyIdle, "negative EmptyIdle"); err != nil {
		return err
	}
	if c.MaxPINFailures < 0 {
		return bad("negative MaxPINFailures")
	}
	if c.MaxPINFailures == 0 {
		c.MaxPINFailures = DefaultMaxPINFailures
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.SweepEvery == 0 {
		c.SweepEvery = DefaultSweepEvery
	}
	if c.MaxTombstones < 0 {
		return bad("negative MaxTombstones")
	}
	if c.MaxTombstones == 0 {
		c.MaxTombstones = DefaultMaxTombstones
	}
	return nil
}

func maps(m map[Kind]int64) map[Kind]int64 {
	c := make(map[Kind]int64, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func (v *Vault) now() time.Time { return v.cfg.Now() }

// MaxEntry is the largest entry Create accepts.
func (v *Vault) MaxEntry() int64 { return v.maxEntry }

// BlockSize is the size of a block in bytes: what every entry is charged in whole multiples of.
func (v *Vault) BlockSize() int64 { return int64(v.ar.bs) }

// MaxTTL is the longest TTL Create accepts.
func (v *Vault) MaxTTL() time.Duration { return v.cfg.MaxTTL }

// Stats describes capacity and how many entries of each kind hold content.
func (v *Vault) Stats() Stats {
	v.mu.Lock()
	defer v.mu.Unlock()
	s := Stats{Entries: make(map[Kind]int)}
	if v.closed {
		return s
	}
	s.Budget = int64(v.ar.total) * int64(v.ar.bs)
	s.Free = int64(v.ar.free) * int64(v.ar.bs)
	s.Used = s.Budget - s.Free
	for k, n := range v.kindCount {
		if n > 0 {
			s.Entries[Kind(k)] = n
		}
	}
	return s
}

// Load reports how full the vault is for a new entry of kind held by owner ("" for none): what
// is held, never what pending entries declare (declarations are free and would let anyone
// raise everyone's price; SECURITY.md weighs it).
func (v *Vault) Load(kind Kind, owner string) Load {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed || !kind.valid() {
		return Load{Global: 1, Kind: 1, Owner: 1, Pending: 1}
	}
	frac := func(used, limit int64) float64 {
		if limit <= 0 {
			return 1
		}
		return min(float64(used)/float64(limit), 1)
	}
	l := Load{
		Global:  frac(int64(v.ar.total-v.ar.free), int64(v.ar.total)),
		Pending: frac(int64(v.pending[kind]), int64(v.cfg.MaxPending)),
	}
	if q, ok := v.cfg.KindQuota[kind]; ok {
		l.Kind = frac(v.kindUse[kind], q)
	}
	if q, ok := v.cfg.OwnerQuota[kind]; ok && owner != "" {
		var use int64
		if g := v.groups[ownerKey{kind, owner}]; g != nil {
			use = g.use
		}
		l.Owner = frac(use, q)
	}
	return l
}

// KindQuota is the most bytes entries of kind may hold, and whether a quota was set.
func (v *Vault) KindQuota(kind Kind) (int64, bool) {
	q, ok := v.cfg.KindQuota[kind]
	return q, ok
}

// OwnerQuota is the most bytes one owner's entries of kind may hold, and whether one was set.
func (v *Vault) OwnerQuota(kind Kind) (int64, bool) {
	q, ok := v.cfg.OwnerQuota[kind]
	return q, ok
}

// ClaimWindow is how long a claim may resume (Config.ClaimWindow, resolved).
func (v *Vault) ClaimWindow() time.Duration { return v.cfg.ClaimWindow }

// PendingIdle is how long a pending entry may go without an append (Config.PendingIdle).
func (v *Vault) PendingIdle() time.Duration { return v.cfg.PendingIdle }

// PendingMax is the longest a pending entry may stay uncommitted (Config.PendingMax).
func (v *Vault) PendingMax() time.Duration { return v.cfg.PendingMax }

// List describes the committed, unopened entries of one kind and owner, oldest first.
func (v *Vault) List(kind Kind, owner string) []Info {
	now := v.now().UnixNano()
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil
	}
	var out []Info
	// The per-owner index keeps this proportional to the owner's entries, not the vault's
	// (except for the entries without an owner, which are not indexed: ownedOf).
	for id, o := range v.ownedOf(kind, owner) {
		if o.listed(now) {
			out = append(out, Info{ID: id, Size: int64(o.e.length), Created: unixTime(o.created)})
		}
	}
	slices.SortFunc(out, infoCmp)
	return out
}

// ListPage is one page of List: at most n entries, in List's order, that come after the entry
// whose id is after (from the oldest when after is zero or is no longer listed), and how many
// entries List would return in all. It selects the page from the owner's index without
// sorting it or reading the entries, so that a page costs about the same whether the owner
// holds ten entries or a thousand.
func (v *Vault) ListPage(kind Kind, owner string, after ID, n int) ([]Info, int) {
	now := v.now().UnixNano()
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil, 0
	}
	idx := v.ownedOf(kind, owner)
	var bound *rank
	if o, ok := idx[after]; after != (ID{}) && ok && o.listed(now) {
		b := rankOf(o.created, after)
		bound = &b
	}
	page := newestFirst{}
	total := 0
	for id, o := range idx {
		if !o.listed(now) {
			continue
		}
		total++
		r := rankOf(o.created, id)
		switch {
		case n <= 0 || bound != nil && !r.after(*bound):
		case len(page) < n:
			page = append(page, r)
			page.up(len(page) - 1)
		case page[0].after(r): // older than the newest kept: it takes that one's place
			page[0] = r
			page.down(0)
		}
	}
	slices.SortFunc(page, rank.cmp)
	out := make([]Info, len(page))
	for i, r := range page {
		id := r.id()
		e := idx[id].e
		out[i] = Info{ID: id, Size: int64(e.length), Created: unixTime(idx[id].created)}
	}
	return out, total
}

// listed reports whether List shows the entry: committed, unopened, not expired.
func (o owned) listed(now int64) bool { return o.waiting && now < o.expires }

// infoCmp is List's order: by arrival (kept to the minute), then by id.
func infoCmp(a, b Info) int {
	if c := a.Created.Compare(b.Created); c != 0 {
		return c
	}
	return bytes.Compare(a.ID[:], b.ID[:])
}

// rank is an entry's place in List's order: arrival, then the id as two big-endian words
// (the same order as comparing its bytes, in two integer compares).
type rank struct {
	created int64
	hi, lo  uint64
}

func rankOf(created int64, id ID) rank {
	return rank{created, binary.BigEndian.Uint64(id[:8]), binary.BigEndian.Uint64(id[8:])}
}

func (r rank) id() (id ID) {
	binary.BigEndian.PutUint64(id[:8], r.hi)
	binary.BigEndian.PutUint64(id[8:], r.lo)
	return id
}

// after reports whether r comes after b in List's order.
func (r rank) after(b rank) bool {
	if r.created != b.created {
		return r.created > b.created
	}
	if r.hi != b.hi {
		return r.hi > b.hi
	}
	return r.lo > b.lo
}

func (r rank) cmp(b rank) int {
	switch {
	case r.after(b):
		return 1
	case b.after(r):
		return -1
	}
	return 0
}

// newestFirst is a binary heap whose top is the newest rank it holds (the one to drop first
// when an older one turns up).
type newestFirst []rank

func (h newestFirst) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h[i].after(h[p]) {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (h newestFirst) down(i int) {
	for {
		c := 2*i + 1
		if c >= len(h) {
			return
		}
		if c+1 < len(h) && h[c+1].after(h[c]) {
			c++
		}
		if !h[c].after(h[i]) {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}

// Close zeroes every arena and unmaps it, after waiting up to two seconds for Readings and
// Appends still copying; if some remain, their zeroed mapping is left in place and unmapped when
// they finish, so that they cannot fault. Close is idempotent, never panics and may be called
// from a signal handler's goroutine. Afterwards writes fail with ErrClosed and reads with ErrGone.
func (v *Vault) Close() error {
	v.closeOnce.Do(v.close)
	return nil
}

func (v *Vault) close() {
	v.mu.Lock()
	v.closed = true
	for _, e := range v.live {
		if !e.has(fWiped) {
			e.set(fWiped, true)
			e.gone.Store(true)
			if e.refs > 0 {
				e.set(fHeld, true) // a running Append zeroes them again when it returns
			} else {
				v.setExt(e, nil)
			}
		}
	}
	clear(v.live)
	v.forgetTombs()
	v.ar.zeroAll()
	v.mu.Unlock()
	close(v.stop)
	<-v.swept
	deadline := time.Now().Add(closeWait)
	for {
		v.mu.Lock()
		idle := v.busy == 0
		v.finishClose()
		v.mu.Unlock()
		if idle || time.Now().After(deadline) {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// finishClose unmaps the arenas once closed and nobody uses them. Called with v.mu held.
func (v *Vault) finishClose() {
	if v.closed && v.busy == 0 && !v.unmapped {
		v.unmapped = true
		v.ar.zeroAll()
		v.ar.destroy()
	}
}
