package drop

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"sync"
	"time"

	"github.com/sealdrop/sealdrop/internal/price"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/vault"
)

// Sentinel errors. Every refusal about a capability (route, key, flags, challenge, MAC, id,
// used reply box) is ErrGone, so callers cannot tell which.
var (
	ErrGone     = errors.New("drop: gone")
	ErrFull     = errors.New("drop: full")
	ErrTooLarge = errors.New("drop: submission too large")
	ErrBusy     = errors.New("drop: too many requests in flight")
	ErrInvalid  = errors.New("drop: invalid request")
)

// Defaults for Config's zero fields.
const (
	DefaultTTL          = 14 * 24 * time.Hour
	DefaultMaxPending   = 4096
	DefaultChallengeTTL = time.Minute
	// DefaultMaxSpent caps the inbox challenges remembered as used, over all routes; one route
	// is held to MaxSpentPerRoute of them, so that one inbox's traffic (or a thief's) cannot
	// keep every other inbox from being answered.
	DefaultMaxSpent       = 1 << 20
	MaxSpentPerRoute      = 4096
	DefaultMaxUsedReplies = 250000
	DefaultMaxCounters    = 100000
	// ListPage is the most submissions one list answer holds; the rest follow with a cursor.
	ListPage = 100
	// MaxVisits is how many visit records a route keeps (the newest).
	MaxVisits = 16
)

// Config configures a Server. The zero value of each field selects its documented default.
type Config struct {
	Vault *vault.Vault // required
	// TTL is how long a submission lives, and the longest a submitter may ask for. Default 14
	// days; it must not exceed the vault's MaxTTL.
	TTL time.Duration
	// MaxEntry is the largest submission in bytes. Default: the vault's MaxEntry.
	MaxEntry int64
	// MaxPending caps the submissions one drop holds (pending, waiting or being fetched).
	MaxPending int
	// Price is what a new submission pays once its drop, the submissions' quota or the vault is
	// more than half full (internal/price); default: a new Pricer. Share it with the web layer
	// and the chats, so that one token pays for all.
	Price *price.Pricer
	// ChallengeTTL is an inbox challenge's window: a challenge is good in the window it was
	// made in and the next (default 1 minute: from 1 to 2 minutes).
	ChallengeTTL   time.Duration
	MaxSpent       int // inbox challenges remembered as used; default 2^20
	MaxUsedReplies int // used reply boxes remembered; default 250,000
	MaxCounters    int // routes with fetch counters; default 100,000
	Now            func() time.Time
}

// Route is a drop route whose inbox-auth key and flags were checked against it.
type Route struct {
	id    [protocol.DropRouteSize]byte
	str   string
	auth  []byte
	reply bool
}

// String is the route id as in URLs.
func (r Route) String() string { return r.str }

// ID is the route id's 16 bytes.
func (r Route) ID() [protocol.DropRouteSize]byte { return r.id }

// Reply reports whether the route is a reply box.
func (r Route) Reply() bool { return r.reply }

// visit is one UTC day on which the inbox was listed, and how many submissions were claimed
// after that day's first list and before the next day's.
type visit struct {
	day     int64 // days since the Unix epoch, UTC
	fetched int
}

// counters are a route's theft signals. visits is a ring of at most MaxVisits records, oldest
// first once unrolled: only a restart (or dropping the counters of a route that holds nothing)
// clears it, never a request.
type counters struct {
	since, fetched, lists int
	visits                []visit
	head                  int // index of the oldest record once the ring is full
}

func (c *counters) last() *visit {
	if len(c.visits) == 0 {
		return nil
	}
	return &c.visits[(c.head+len(c.visits)-1)%len(c.visits)]
}

// visit records a list on day: the same day as the newest record merges into it (one
// record per day is the granularity, so that a journalist's own repeated lists cannot push a
// thief's visit out of the log), another day starts a record, dropping the oldest past
// MaxVisits.
func (c *counters) visit(day int64) {
	if l := c.last(); l != nil && l.day == day {
		return
	}
	if len(c.visits) < MaxVisits {
		c.visits = append(c.visits, visit{day: day})
		return
	}
	c.visits[c.head] = visit{day: day}
	c.head = (c.head + 1) % MaxVisits
}

// claimed counts one new claim against the newest visit (a claim with no visit yet, which
// only a restart-spanning client could make, gets a record of its own so that it shows).
func (c *counters) claimed(day int64) {
	c.since++
	c.fetched++
	if c.last() == nil {
		c.visit(day)
	}
	c.last().fetched++
}

func (c *counters) log() []Visit {
	out := make([]Visit, 0, len(c.visits))
	for i := range c.visits {
		v := c.visits[(c.head+i)%len(c.visits)]
		out = append(out, Visit{Day: time.Unix(v.day*86400, 0).UTC().Format(time.DateOnly), Fetched: v.fetched})
	}
	return out
}

func utcDay(t time.Time) int64 {
	u := t.Unix()
	d := u / 86400
	if u < 0 && u%86400 != 0 {
		d--
	}
	return d
}

// Server is the drop logic behind the HTTP routes. Its methods are safe for concurrent use.
type Server struct {
	cfg     Config
	v       *vault.Vault
	chalKey [32]byte // derives the inbox challenges: none is stored until it is used
	gate    [32]byte

	mu     sync.Mutex
	spent  map[[protocol.DropRouteSize]byte]*spentSet // used challenges, per route
	nSpent int
	pruned uint32                                     // the challenge window in which spent was last pruned
	used   map[[protocol.DropRouteSize]byte]time.Time // used reply boxes → until when
	// usedOrder is the used reply boxes in the order they were used, oldest at usedHead once
	// the set is full: when it is, the oldest is forgotten to make room rather than refusing
	// every reply box (a box forgotten early could take a second reply; only the journalist,
	// who holds its drop link, could send one).
	usedOrder []([protocol.DropRouteSize]byte)
	usedHead  int
	claims    map[vault.ID]time.Time
	counts    map[[protocol.DropRouteSize]byte]*counters
	// nextCountScan is when the counters may next be scanned for routes to drop, and
	// countScans how many scans ran (tests).
	nextCountScan time.Time
	countScans    int
}

// New validates cfg and returns a Server with fresh per-process keys.
func New(cfg Config) (*Server, error) {
	bad := func(what string) error { return fmt.Errorf("drop: config: %s: %w", what, ErrInvalid) }
	if cfg.Vault == nil {
		return nil, bad("Vault is required")
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.TTL < time.Second || cfg.TTL > cfg.Vault.MaxTTL() {
		return nil, bad(fmt.Sprintf("TTL %v must be positive and at most the vault's MaxTTL %v", cfg.TTL, cfg.Vault.MaxTTL()))
	}
	if cfg.MaxEntry == 0 {
		cfg.MaxEntry = cfg.Vault.MaxEntry()
	}
	if cfg.MaxEntry <= protocol.DropPublicSize+protocol.HeaderSize {
		return nil, bad("MaxEntry")
	}
	def := func(p *int, d int) {
		if *p <= 0 {
			*p = d
		}
	}
	def(&cfg.MaxPending, DefaultMaxPending)
	def(&cfg.MaxSpent, DefaultMaxSpent)
	def(&cfg.MaxUsedReplies, DefaultMaxUsedReplies)
	def(&cfg.MaxCounters, DefaultMaxCounters)
	if cfg.ChallengeTTL <= 0 {
		cfg.ChallengeTTL = DefaultChallengeTTL
	}
	if cfg.ChallengeTTL%time.Second != 0 {
		return nil, bad("ChallengeTTL must be whole seconds")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Price == nil {
		p, err := price.New(price.Config{Now: cfg.Now})
		if err != nil {
			return nil, fmt.Errorf("drop: %w", err)
		}
		cfg.Price = p
	}
	s := &Server{
		cfg: cfg, v: cfg.Vault,
		spent:  map[[protocol.DropRouteSize]byte]*spentSet{},
		used:   map[[protocol.DropRouteSize]byte]time.Time{},
		claims: map[vault.ID]time.Time{},
		counts: map[[protocol.DropRouteSize]byte]*counters{},
	}
	if _, err := rand.Read(s.chalKey[:]); err != nil {
		return nil, fmt.Errorf("drop: random: %w", err)
	}
	if _, err := rand.Read(s.gate[:]); err != nil {
		return nil, fmt.Errorf("drop: random: %w", err)
	}
	return s, nil
}

// Config returns the resolved configuration.
func (s *Server) Config() Config { return s.cfg }

// CheckRoute parses a route id and checks that auth (an uncompressed P-256 point) and flags
// hash to it. Anything else is ErrGone.
func (s *Server) CheckRoute(route string, auth []byte, flags int) (Route, error) {
	id, err := vault.ParseID(route)
	ok := err == nil && flags >= 0 && flags&^protocol.DropFlagReply == 0 && len(auth) == protocol.DropPublicSize
	var want [protocol.DropRouteSize]byte
	if ok {
		want = protocol.DropRoute(byte(flags), auth)
	}
	if !ok || subtle.ConstantTimeCompare(want[:], id[:]) != 1 {
		return Route{}, ErrGone
	}
	if _, err := ecdh.P256().NewPublicKey(auth); err != nil {
		return Route{}, ErrGone
	}
	return Route{id: want, str: route, auth: bytes.Clone(auth), reply: flags&protocol.DropFlagReply != 0}, nil
}

// gateToken is the vault gate of every submission of r: only this process, after an inbox
// proof for r, can open them.
func (s *Server) gateToken(r Route) []byte {
	m := hmac.New(sha256.New, s.gate[:])
	m.Write([]byte("sealdrop/v1 drop gate"))
	m.Write(r.id[:])
	return m.Sum(nil)
}

// PriceFloor is the least size a submission is priced at: a drop's share of its byte quota
// (the vault's per-owner quota for submissions) per submission it may hold (32 MiB / 4,096 =
// 8 KiB at the default budget), so that filling a drop's count cap with tiny submissions costs
// what filling its bytes would. 0 when the vault sets no such quota.
func (s *Server) PriceFloor() int64 {
	q, ok := s.v.OwnerQuota(vault.KindSubmission)
	if !ok || q <= 0 {
		return 0
	}
	return q / int64(s.cfg.MaxPending)
}

// Level is the price level of a new submission to r: the fullest of the drop's count cap, its
// byte quota, the submissions' quota and the vault (protocol.PriceLevel).
func (s *Server) Level(r Route) int {
	n, _ := s.v.OwnerUsage(vault.KindSubmission, r.str)
	limit := s.cfg.MaxPending
	if r.reply {
		limit = 1
	}
	return protocol.PriceLevel(max(s.v.Load(vault.KindSubmission, r.str).Max(), float64(n)/float64(limit)))
}

// usedLocked reports whether the reply box r already took its submission. Called with s.mu held.
func (s *Server) usedLocked(r Route, now time.Time) bool {
	t, ok := s.used[r.id]
	if ok && !now.Before(t) {
		delete(s.used, r.id)
		return false
	}
	return ok
}

// SubmitRequest is a new submission's declaration, and its payment (internal/price) when one
// is due.
type SubmitRequest struct {
	Length     int64
	TTL        time.Duration // 0: Config.TTL
	Manage     [32]byte      // SHA-256 of the submitter's manage secret (for append and commit)
	PriceToken []byte
	PriceNonce []byte
}

// Submit charges the price of a submission to r now (Level; a refusal is a price error, see
// internal/price) and creates a pending submission of req.Length bytes for r. The submitter
// then appends and commits it like a note (vault Append and Commit with its manage secret; see
// Commit). A used reply box is ErrGone; a drop at its count cap or quota is ErrFull.
func (s *Server) Submit(r Route, req SubmitRequest) (vault.ID, time.Time, error) {
	now := s.cfg.Now()
	ttl := req.TTL
	if ttl == 0 {
		ttl = s.cfg.TTL
	}
	switch {
	case req.Length <= 0 || ttl < time.Second || ttl > s.cfg.TTL || req.Manage == ([32]byte{}):
		return vault.ID{}, time.Time{}, ErrInvalid
	case req.Length > s.cfg.MaxEntry:
		return vault.ID{}, time.Time{}, ErrTooLarge
	}
	if r.reply {
		s.mu.Lock()
		used := s.usedLocked(r, now)
		s.mu.Unlock()
		if used {
			return vault.ID{}, time.Time{}, ErrGone
		}
	}
	limit := s.cfg.MaxPending
	if r.reply {
		limit = 1
	}
	if n, _ := s.v.OwnerUsage(vault.KindSubmission, r.str); n >= limit {
		if r.reply {
			return vault.ID{}, time.Time{}, ErrGone // a reply box that holds its one submission
		}
		return vault.ID{}, time.Time{}, ErrFull
	}
	refund, err := s.cfg.Price.ChargeFor(s.Level(r), protocol.PriceRequest{Kind: protocol.PriceSubmission, Scope: r.id, Manage: req.Manage, Length: req.Length, TTL: ttl},
		max(req.Length, s.PriceFloor()), ttl, req.PriceToken, req.PriceNonce)
	if err != nil {
		return vault.ID{}, time.Time{}, err
	}
	caps := vault.Caps{Gate: sha256.Sum256(s.gateToken(r)), Manage: req.Manage}
	id, exp, err := s.v.CreateOwned(vault.CreateRequest{Kind: vault.KindSubmission, Owner: r.str, Length: req.Length, TTL: ttl, Caps: caps}, limit)
	if err != nil {
		refund()
	}
	switch {
	case err == nil:
	case errors.Is(err, vault.ErrFull) && r.reply && s.taken(r):
		return vault.ID{}, time.Time{}, ErrGone
	case errors.Is(err, vault.ErrFull):
		return vault.ID{}, time.Time{}, ErrFull
	case errors.Is(err, vault.ErrTooLarge):
		return vault.ID{}, time.Time{}, ErrTooLarge
	default:
		return vault.ID{}, time.Time{}, fmt.Errorf("drop: submit: %w", err)
	}
	return id, exp, nil
}

// taken reports whether a reply box holds its one submission.
func (s *Server) taken(r Route) bool {
	n, _ := s.v.OwnerUsage(vault.KindSubmission, r.str)
	return n > 0
}

// Commit makes a fully appended submission of r readable (one filed under another route is
// gone, whatever its secret). For a reply box it also marks the box used: from then on it
// answers gone to new submissions. r need only name the route (a submitter's commit carries no
// inbox proof).
func (s *Server) Commit(r Route, id vault.ID, manage []byte) (time.Time, error) {
	exp, err := s.v.CommitOwned(vault.KindSubmission, r.str, id, manage)
	if err != nil || !r.reply {
		return exp, err
	}
	now := s.cfg.Now()
	s.mu.Lock()
	// Remembered past the reply's own life, so that the box never takes a second one while
	// the first can still be read.
	s.markUsedLocked(r.id, now.Add(s.cfg.TTL+s.v.ClaimWindow()))
	s.mu.Unlock()
	return exp, nil
}

// markUsedLocked remembers a used reply box until, forgetting the oldest one when the set is
// full. Called with s.mu held.
func (s *Server) markUsedLocked(id [protocol.DropRouteSize]byte, until time.Time) {
	if _, ok := s.used[id]; !ok {
		if len(s.usedOrder) < s.cfg.MaxUsedReplies {
			s.usedOrder = append(s.usedOrder, id)
		} else {
			delete(s.used, s.usedOrder[s.usedHead])
			s.usedOrder[s.usedHead] = id
			s.usedHead = (s.usedHead + 1) % len(s.usedOrder)
		}
	}
	s.used[id] = until
}

// Inbox challenges are stateless: a challenge is window (4) ‖ random (12) ‖ tag (16), the tag
// an HMAC of the route, window and random under a per-process key, and the server's ephemeral
// key is derived from the whole challenge under the same key. Nothing is stored when one is
// made, so no flood of challenges can fill a table and keep inboxes from being answered; a
// challenge is remembered only once a request proved the inbox key with it (single use).

func (s *Server) chalWindow(now time.Time) uint32 {
	return uint32(now.Unix() / int64(s.cfg.ChallengeTTL/time.Second))
}

// chalTag authenticates a challenge's window and random for route.
func (s *Server) chalTag(route [protocol.DropRouteSize]byte, head []byte) []byte {
	m := hmac.New(sha256.New, s.chalKey[:])
	m.Write([]byte("sealdrop/v1 drop challenge"))
	m.Write(route[:])
	m.Write(head)
	return m.Sum(nil)[:16]
}

// chalPriv derives the challenge's ephemeral P-256 key (a scalar below the group order: the
// counter moves on in the rare case, about 2^-32, that one is not).
func (s *Server) chalPriv(n []byte) (*ecdh.PrivateKey, error) {
	for i := byte(0); i < 16; i++ {
		m := hmac.New(sha256.New, s.chalKey[:])
		m.Write([]byte("sealdrop/v1 drop challenge key"))
		m.Write(n)
		m.Write([]byte{i})
		if k, err := ecdh.P256().NewPrivateKey(m.Sum(nil)); err == nil {
			return k, nil
		}
	}
	return nil, errors.New("drop: no challenge key")
}

// Challenge makes an inbox challenge for r: a nonce and the server's ephemeral public key, and
// how long it stays good (one to two ChallengeTTLs). Nothing is stored.
func (s *Server) Challenge(r Route) ([protocol.DropNonceSize]byte, []byte, time.Duration, error) {
	var n [protocol.DropNonceSize]byte
	now := s.cfg.Now()
	w := s.chalWindow(now)
	binary.BigEndian.PutUint32(n[:4], w)
	if _, err := rand.Read(n[4:16]); err != nil {
		return n, nil, 0, fmt.Errorf("drop: challenge: %w", err)
	}
	copy(n[16:], s.chalTag(r.id, n[:16]))
	priv, err := s.chalPriv(n[:])
	if err != nil {
		return n, nil, 0, err
	}
	end := time.Unix(int64(w+2)*int64(s.cfg.ChallengeTTL/time.Second), 0)
	return n, priv.PublicKey().Bytes(), end.Sub(now), nil
}

// Proof is an inbox request's answer to a challenge.
type Proof struct {
	Challenge []byte
	MAC       []byte
}

// authorize checks the challenge (made by this process for r, in this window or the last, not
// used yet) and the MAC for this action, id and arg, and spends the challenge. Every failure is
// ErrGone; ErrBusy when every route together used too many challenges lately.
func (s *Server) authorize(r Route, p Proof, action byte, id vault.ID, arg [32]byte) error {
	if len(p.Challenge) != protocol.DropNonceSize {
		return ErrGone
	}
	now := s.cfg.Now()
	cur := s.chalWindow(now)
	w := binary.BigEndian.Uint32(p.Challenge)
	if (w != cur && w+1 != cur) || subtle.ConstantTimeCompare(s.chalTag(r.id, p.Challenge[:16]), p.Challenge[16:]) != 1 {
		return ErrGone
	}
	priv, err := s.chalPriv(p.Challenge)
	if err != nil || !protocol.VerifyInboxMAC(priv, r.auth, r.id, p.Challenge, action, id, arg, p.MAC) {
		return ErrGone
	}
	// Only a request that proved the inbox key is remembered: strangers cannot fill the set.
	key := [protocol.DropNonceSize]byte(p.Challenge)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pruned != cur {
		s.pruned = cur
		for rt, set := range s.spent {
			s.nSpent -= set.prune(cur)
			if len(set.m) == 0 {
				delete(s.spent, rt)
			}
		}
	}
	set := s.spent[r.id]
	if set != nil && set.has(key) {
		return ErrGone
	}
	if s.nSpent >= s.cfg.MaxSpent {
		return ErrBusy
	}
	if set == nil {
		set = &spentSet{m: map[[protocol.DropNonceSize]byte]uint32{}}
		s.spent[r.id] = set
	}
	s.nSpent += set.add(key, w)
	return nil
}

// spentSet is one route's used challenges, by window. It holds at most MaxSpentPerRoute: past
// that the oldest is forgotten, so that a thief with the inbox link who makes requests as fast
// as it can cannot keep the journalist out (a forgotten challenge could be replayed, but only
// by someone who captured the whole request, MAC included, inside its two-minute window).
type spentSet struct {
	m     map[[protocol.DropNonceSize]byte]uint32
	order [][protocol.DropNonceSize]byte // oldest at head once full
	head  int
}

func (s *spentSet) has(k [protocol.DropNonceSize]byte) bool { _, ok := s.m[k]; return ok }

// add remembers k and reports how many entries the set grew by (0 when it forgot one).
func (s *spentSet) add(k [protocol.DropNonceSize]byte, w uint32) int {
	s.m[k] = w
	if len(s.order) < MaxSpentPerRoute {
		s.order = append(s.order, k)
		return 1
	}
	delete(s.m, s.order[s.head])
	s.order[s.head] = k
	s.head = (s.head + 1) % len(s.order)
	return 0
}

// prune forgets challenges whose window is over and reports how many.
func (s *spentSet) prune(cur uint32) int {
	n := 0
	kept := make([][protocol.DropNonceSize]byte, 0, len(s.order))
	for i := range s.order {
		k := s.order[(s.head+i)%len(s.order)]
		if w := s.m[k]; w+1 >= cur {
			kept = append(kept, k)
			continue
		}
		delete(s.m, k)
		n++
	}
	s.order, s.head = kept, 0
	return n
}

// Item is one pending submission as the inbox sees it: coarse on purpose.
type Item struct {
	ID       vault.ID
	AgeHours int64 // whole hours since it arrived (arrival is kept to the minute)
	Size     int64 // ciphertext length rounded up to a power of two
}

// Visit is one UTC day on which the inbox was listed (by anyone holding the inbox link), and
// how many submissions were claimed after it, until the next visit.
type Visit struct {
	Day     string // "2006-01-02", UTC
	Fetched int
}

// Listing is what List returns.
type Listing struct {
	Items   []Item // at most ListPage, oldest first
	Pending int    // committed, unread submissions in all
	More    bool   // more follow the last of Items
	// Visits is the route's visit log, oldest first; the last record is today's. Nobody can
	// clear it but a restart.
	Visits           []Visit
	FetchedSinceList int // submissions claimed since the previous list from the start (by anyone)
	FetchedTotal     int // claimed since the process started
	ListsTotal       int // lists since the process started, this one included
}

// countScanEvery spaces the scans for counters to drop. A scan visits every counted route and
// asks the vault about each: were it allowed on every new route while nothing can be dropped
// (every counted route still holds a submission), each new route's first list would hold the
// server's lock for the whole scan. Between scans the map may pass MaxCounters by what arrives
// in that second; the next scan drops the new empty ones.
const countScanEvery = time.Second

func (s *Server) countersLocked(r Route, now time.Time) *counters {
	c := s.counts[r.id]
	if c == nil {
		if len(s.counts) >= s.cfg.MaxCounters && !now.Before(s.nextCountScan) {
			s.nextCountScan = now.Add(countScanEvery)
			s.countScans++
			// Drop the counters of routes that hold nothing any more: first those whose log
			// shows no read, so that a flood of fresh routes (cheap: keys and lists) cannot push
			// out the log of a drop a thief has emptied; only when that frees nothing, empty
			// routes with reads too, down to three quarters of the cap.
			var spare [][protocol.DropRouteSize]byte
			for k, c := range s.counts {
				if k == r.id { // audit:ok route ids are public (in the drop link)
					continue
				}
				if n, _ := s.v.OwnerUsage(vault.KindSubmission, vault.ID(k).String()); n == 0 {
					if c.fetched == 0 {
						delete(s.counts, k)
					} else {
						spare = append(spare, k)
					}
				}
			}
			for _, k := range spare {
				if len(s.counts) < s.cfg.MaxCounters*3/4 {
					break
				}
				delete(s.counts, k)
			}
		}
		c = &counters{}
		s.counts[r.id] = c
	}
	return c
}

// List proves the inbox (the cursor after is bound in the proof's id) and lists up to ListPage
// of r's committed, unread submissions, oldest first (by arrival, then id), starting after the
// submission after; the zero id starts at the oldest. An after that is no longer pending
// (read, expired, wiped) lists from the oldest again: clients skip ids they already have.
// Every list is a visit (see Visit); only a list from the start resets FetchedSinceList.
func (s *Server) List(r Route, p Proof, after vault.ID) (*Listing, error) {
	if err := s.authorize(r, p, protocol.DropActionList, after, [32]byte{}); err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	// The vault picks the page without sorting every pending submission: a list costs about
	// the same with ten pending or a thousand.
	page, pending := s.v.ListPage(vault.KindSubmission, r.str, after, ListPage+1)
	more := len(page) > ListPage
	page = page[:min(len(page), ListPage)]
	l := &Listing{Items: make([]Item, 0, len(page)), Pending: pending, More: more}
	for _, in := range page {
		l.Items = append(l.Items, Item{ID: in.ID, AgeHours: int64(max(now.Sub(in.Created), 0) / time.Hour), Size: ceilPow2(in.Size)})
	}
	s.mu.Lock()
	c := s.countersLocked(r, now)
	c.lists++
	c.visit(utcDay(now))
	l.Visits = c.log()
	l.FetchedSinceList, l.FetchedTotal, l.ListsTotal = c.since, c.fetched, c.lists
	if after == (vault.ID{}) {
		c.since = 0
	}
	s.mu.Unlock()
	return l, nil
}

func ceilPow2(n int64) int64 {
	if n <= 1 {
		return 1
	}
	return 1 << bits.Len64(uint64(n-1))
}

// Fetch proves the inbox and claims (or resumes the claim of) submission id of r for the
// reader whose claim hash is claim. The caller streams and closes the Reading.
func (s *Server) Fetch(r Route, id vault.ID, p Proof, claim [32]byte) (*vault.Reading, error) {
	if claim == ([32]byte{}) {
		return nil, ErrInvalid
	}
	if err := s.authorize(r, p, protocol.DropActionFetch, id, claim); err != nil {
		return nil, err
	}
	rd, err := s.v.Open(vault.KindSubmission, id, vault.OpenRequest{Gate: s.gateToken(r), Claim: claim})
	if err != nil {
		return nil, ErrGone
	}
	now := s.cfg.Now()
	s.mu.Lock()
	if t, ok := s.claims[id]; !ok || !now.Before(t) {
		// A new claim (a resume of the same id within the window is not counted twice).
		s.countersLocked(r, now).claimed(utcDay(now))
		for k, t := range s.claims {
			if !now.Before(t) {
				delete(s.claims, k)
			}
		}
		s.claims[id] = now.Add(s.v.ClaimWindow())
	}
	s.mu.Unlock()
	return rd, nil
}

// Confirm proves the inbox and ends the claim with its nonce: the submission is wiped at once.
func (s *Server) Confirm(r Route, id vault.ID, p Proof, nonce []byte) error {
	if len(nonce) != 32 {
		return ErrInvalid
	}
	if err := s.authorize(r, p, protocol.DropActionConfirm, id, sha256.Sum256(nonce)); err != nil {
		return err
	}
	if err := s.v.Confirm(vault.KindSubmission, id, s.gateToken(r), nonce); err != nil {
		return ErrGone
	}
	return nil
}

// WipeAll proves the inbox and wipes every submission of r, pending ones included.
func (s *Server) WipeAll(r Route, p Proof) (int, error) {
	if err := s.authorize(r, p, protocol.DropActionWipe, vault.ID{}, [32]byte{}); err != nil {
		return 0, err
	}
	return s.v.WipeOwner(vault.KindSubmission, r.str), nil
}
