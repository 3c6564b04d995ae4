package chat

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/sealdrop/sealdrop/internal/price"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/internal/wsrelay"
	"github.com/sealdrop/sealdrop/vault"
)

// Sentinel errors. Every absent state (never existed, joined by someone else, ended, wrong
// capability) is ErrGone.
var (
	ErrGone     = errors.New("chat: gone")
	ErrFull     = errors.New("chat: the server is full")
	ErrTooLarge = errors.New("chat: record too large")
	ErrBusy     = errors.New("chat: too many undelivered records in this chat")
	ErrInvalid  = errors.New("chat: invalid request")
	ErrWrongPIN = errors.New("chat: wrong PIN")
)

// PINError is a failed PIN on join, and identically a destruct match. Left is the number of
// tries still allowed.
type PINError struct{ Left int }

func (e *PINError) Error() string { return "chat: wrong PIN" }
func (e *PINError) Unwrap() error { return ErrWrongPIN }

// Reasons a chat ended, as told to connected sides.
const (
	ReasonEnded   = "ended"
	ReasonIdle    = "idle"
	ReasonExpired = "expired"
	ReasonRevoked = "revoked"
)

// EndedError is what a connected session gets once its chat ended.
type EndedError struct{ Reason string }

func (e *EndedError) Error() string { return "chat: ended (" + e.Reason + ")" }
func (e *EndedError) Unwrap() error { return ErrGone }

// Record types the relay looks at (SECURITY.md): only to drop a restarted handshake's leftovers.
const (
	recordHello   = 1
	recordConfirm = 2
)

// Roles index a chat's two sides.
const (
	Creator = 0
	Joiner  = 1
)

// Config configures a Server. The zero value of each field selects its documented default.
type Config struct {
	Vault      *vault.Vault // required; undelivered records live there (KindChatFrame)
	MaxChats   int          // concurrent chats, pending ones included; default 8192
	MaxRecord  int64        // bytes of one record; default 96 KiB
	MaxRecords int          // undelivered records held per chat; default 64
	// MaxBytes is the most undelivered bytes one chat holds. Default: the vault's per-owner
	// quota for chat records (vault.OwnerQuota), the limit the vault itself enforces per chat,
	// or 4 MiB when it sets none; more than that quota is invalid.
	MaxBytes int64
	// Before anyone joined, a chat holds at most 4 records and 8 KiB for the joiner (the
	// creator's hello and a restart or two): a link nobody opens cannot hold a chat's MaxBytes
	// for its whole TTL. Fixed, not configurable.
	DefaultTTL     time.Duration    // unopened link; default 24 h
	MaxTTL         time.Duration    // unopened link; default 7 days
	Idle           time.Duration    // no record for this long ends a joined chat; default 15 min
	SessionMax     time.Duration    // a joined chat ends this long after the join; default 24 h
	PeerWindow     time.Duration    // a fallback poller counts as connected this long; default 40 s
	MaxPINFailures int              // default 5
	Now            func() time.Time // default time.Now
	SweepEvery     time.Duration    // default 1 s; negative: no background sweeper (call Sweep)
	// PingEvery is how often the server pings a chat's WebSocket (default 30 s), and
	// ReadTimeout how long a socket may stay silent, pongs included, before it is closed
	// (default 90 s; more than PingEvery). A Tor circuit that died is found this way.
	PingEvery   time.Duration
	ReadTimeout time.Duration
	// Price is what a new chat pays once the chat slots or the vault's chat records are more
	// than half used (internal/price); default: a new Pricer. Share it with the web layer and
	// the drops, so that one token pays for all.
	Price *price.Pricer
}

// Defaults.
const (
	DefaultMaxChats   = 8192
	DefaultMaxRecord  = 96 << 10
	DefaultMaxRecords = 64
	DefaultMaxBytes   = 4 << 20
	// unjoinedRecords and unjoinedBytes bound what a chat holds before anyone joined.
	unjoinedRecords   = 4
	unjoinedBytes     = 8 << 10
	DefaultTTL        = 24 * time.Hour
	DefaultMaxTTL     = 7 * 24 * time.Hour
	DefaultIdle       = 15 * time.Minute
	DefaultSessionMax = 24 * time.Hour
)

// Server holds every chat. Its methods are safe for concurrent use.
type Server struct {
	cfg   Config
	v     *vault.Vault
	mu    sync.Mutex
	chats map[vault.ID]*chat
	dummy chat
	stop  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
}

// frame is an undelivered record: a relay entry in the vault (vault.CreateRequest.Relay), which
// the relay reads with its manage secret as often as it pushes it, until it is acknowledged.
type frame struct {
	seq    uint64
	vid    vault.ID
	manage [32]byte
	size   int64
	typ    byte // the record's first byte (its type): relayed, not interpreted, except below
}

// firstByte remembers the first byte read through it.
type firstByte struct {
	r   io.Reader
	b   byte
	got bool
}

func (f *firstByte) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if n > 0 && !f.got {
		f.b, f.got = p[0], true
	}
	return n, err
}

type side struct {
	tok      [32]byte // SHA-256 of the session token
	frames   []frame  // undelivered records addressed to this side, in order
	next     uint64   // next sequence number for records addressed to this side
	conns    int      // open sockets
	lastPoll time.Time
}

type chat struct {
	id                            vault.ID
	lock                          vault.Lock // the join's gate, PIN and duress PIN, as a note's open
	manage                        [32]byte
	joined, ended                 bool
	reason                        string
	expires, joinedAt, lastRecord time.Time
	sides                         [2]side
	bytes                         int64
	changed                       chan struct{}
	// held are the records of a chat destroyed by a duress PIN: zeroed at once, but kept in
	// the vault until the chat would have ended anyway (the countdown, or the link's expiry),
	// so that the vault's free space does not tell a duress PIN from a typo.
	held []frame
}

// New validates cfg and starts the sweeper.
func New(cfg Config) (*Server, error) {
	if cfg.Vault == nil {
		return nil, fmt.Errorf("chat: config: Vault is required: %w", ErrInvalid)
	}
	setDefault := func(p *time.Duration, d time.Duration) {
		if *p == 0 {
			*p = d
		}
	}
	if cfg.MaxChats == 0 {
		cfg.MaxChats = DefaultMaxChats
	}
	if cfg.MaxRecord == 0 {
		cfg.MaxRecord = DefaultMaxRecord
	}
	if cfg.MaxRecords == 0 {
		cfg.MaxRecords = DefaultMaxRecords
	}
	perChat, quota := cfg.Vault.OwnerQuota(vault.KindChatFrame)
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultMaxBytes
		if quota {
			cfg.MaxBytes = perChat
		}
	}
	if quota && cfg.MaxBytes > perChat {
		return nil, fmt.Errorf("chat: config: MaxBytes %d is over the vault's per-chat quota %d: %w", cfg.MaxBytes, perChat, ErrInvalid)
	}
	if cfg.MaxPINFailures == 0 {
		cfg.MaxPINFailures = 5
	}
	setDefault(&cfg.DefaultTTL, DefaultTTL)
	setDefault(&cfg.MaxTTL, DefaultMaxTTL)
	setDefault(&cfg.Idle, DefaultIdle)
	setDefault(&cfg.SessionMax, DefaultSessionMax)
	setDefault(&cfg.PeerWindow, 40*time.Second)
	setDefault(&cfg.SweepEvery, time.Second)
	setDefault(&cfg.PingEvery, DefaultPingEvery)
	setDefault(&cfg.ReadTimeout, DefaultReadTimeout)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Price == nil {
		p, err := price.New(price.Config{Now: cfg.Now})
		if err != nil {
			return nil, fmt.Errorf("chat: %w", err)
		}
		cfg.Price = p
	}
	if cfg.MaxChats < 0 || cfg.MaxRecord < 64 || cfg.MaxRecords < 1 || cfg.MaxBytes < cfg.MaxRecord ||
		cfg.DefaultTTL <= 0 || cfg.DefaultTTL > cfg.MaxTTL || cfg.MaxTTL > cfg.Vault.MaxTTL() ||
		cfg.Idle <= 0 || cfg.SessionMax <= 0 || cfg.SessionMax > cfg.Vault.MaxTTL() || cfg.MaxPINFailures < 1 ||
		cfg.PingEvery <= 0 || cfg.ReadTimeout <= cfg.PingEvery {
		return nil, fmt.Errorf("chat: config: a limit is out of range: %w", ErrInvalid)
	}
	s := &Server{cfg: cfg, v: cfg.Vault, chats: map[vault.ID]*chat{}, stop: make(chan struct{})}
	var err error
	if s.dummy.lock, err = vault.DummyLock(); err != nil {
		return nil, fmt.Errorf("chat: %w", err)
	}
	if cfg.SweepEvery > 0 {
		s.wg.Add(1)
		go s.sweeper()
	}
	return s, nil
}

// Config returns the configuration in effect (defaults filled in).
func (s *Server) Config() Config { return s.cfg }

// Close stops the sweeper and ends every chat, wiping their records.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.stop)
		s.wg.Wait()
		s.mu.Lock()
		var wipe []frame
		for _, c := range s.chats {
			wipe = append(wipe, s.endLocked(c, ReasonRevoked)...)
			wipe = append(wipe, c.held...)
			c.held = nil
		}
		s.mu.Unlock()
		s.wipe(wipe)
	})
}

func (s *Server) sweeper() {
	defer s.wg.Done()
	defer func() { _ = recover() }() // nothing may print; a broken sweep must not kill the process
	t := time.NewTicker(s.cfg.SweepEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.Sweep()
		}
	}
}

// Sweep ends every chat whose link expired unopened, that was idle too long or reached the
// session maximum.
func (s *Server) Sweep() {
	now := s.cfg.Now()
	s.mu.Lock()
	var wipe []frame
	for _, c := range s.chats {
		switch {
		case c.ended:
			if !now.Before(c.expires) { // a destroyed chat kept only to count PIN tries
				wipe = append(wipe, c.held...)
				c.held = nil
				delete(s.chats, c.id)
			}
		case !c.joined && !now.Before(c.expires):
			wipe = append(wipe, s.endLocked(c, ReasonExpired)...)
		case c.joined && !now.Before(c.lastRecord.Add(s.cfg.Idle)):
			wipe = append(wipe, s.endLocked(c, ReasonIdle)...)
		case c.joined && !now.Before(c.joinedAt.Add(s.cfg.SessionMax)):
			wipe = append(wipe, s.endLocked(c, ReasonExpired)...)
		}
	}
	s.mu.Unlock()
	s.wipe(wipe)
}

// Count is the number of chats held (pending, joined, and destroyed ones still counting PIN
// tries).
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.chats)
}

// SlotFill is the fraction of chat slots in use (pending, joined, and destroyed ones still
// counting PIN tries): one of the fills a new chat's price is computed from.
func (s *Server) SlotFill() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return min(float64(len(s.chats))/float64(s.cfg.MaxChats), 1)
}

// Level is the price level of a new chat: the fuller of the chat slots and the vault's limits
// on chat records.
func (s *Server) Level() int {
	return protocol.PriceLevel(max(s.v.Load(vault.KindChatFrame, "").Max(), s.SlotFill()))
}

func hash(b []byte) [32]byte { return sha256.Sum256(b) }

func random32() ([32]byte, error) {
	var b [32]byte
	_, err := rand.Read(b[:])
	return b, err
}

// CreateRequest carries the hashes of a new chat's capabilities (as for a note), and its
// payment (internal/price) when one is due.
type CreateRequest struct {
	TTL                          time.Duration // 0: DefaultTTL
	Gate, Open, Destruct, Manage [32]byte      // SHA-256 of each token; Destruct zero: random
	PIN                          bool
	PriceToken, PriceNonce       []byte
}

// PriceLength is the size a chat is priced at (protocol.PriceRequest.Length): what its slot's
// share of the chat records' quota was when that was a quarter of the default budget (64 MiB
// over 8,192 chats); with rooms taking a sixteenth of it, a little more than its share now. It is priced for
// its link's TTL plus SessionMax, the longest it can hold its slot; the payment binds the TTL
// the create asks.
const PriceLength = 8 << 10

// Created is what the creator gets: the id and its session token (shown once, stored hashed).
type Created struct {
	ID      vault.ID
	Session []byte
	Expires time.Time
}

// Create makes a pending chat. ErrFull when MaxChats are held or the vault could not hold even
// one record; a price refusal (price.ErrPrice and friends) when it did not pay what Level asks.
func (s *Server) Create(req CreateRequest) (Created, error) {
	if req.TTL == 0 {
		req.TTL = s.cfg.DefaultTTL
	}
	if req.TTL < time.Second || req.TTL > s.cfg.MaxTTL || req.Manage == [32]byte{} {
		return Created{}, ErrInvalid
	}
	lock, err := vault.NewLock(vault.Caps{Gate: req.Gate, PIN: req.PIN, Open: req.Open, Destruct: req.Destruct})
	if errors.Is(err, vault.ErrInvalid) {
		return Created{}, ErrInvalid
	} else if err != nil {
		return Created{}, fmt.Errorf("chat: %w", err)
	}
	tok, err := random32()
	if err != nil {
		return Created{}, fmt.Errorf("chat: random: %w", err)
	}
	if s.v.Stats().Free < s.cfg.MaxRecord {
		return Created{}, ErrFull
	}
	refund, err := s.cfg.Price.ChargeFor(s.Level(), protocol.PriceRequest{Kind: protocol.PriceChat, Manage: req.Manage, Length: PriceLength, TTL: req.TTL},
		PriceLength, req.TTL+s.cfg.SessionMax, req.PriceToken, req.PriceNonce)
	if err != nil {
		return Created{}, err
	}
	now := s.cfg.Now()
	c := &chat{lock: lock, manage: req.Manage, expires: now.Add(req.TTL), changed: make(chan struct{})}
	c.sides[Creator].tok = hash(tok[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.chats) >= s.cfg.MaxChats {
		refund()
		return Created{}, ErrFull
	}
	for {
		id, err := vault.NewID()
		if err != nil {
			return Created{}, fmt.Errorf("chat: id: %w", err)
		}
		if s.chats[id] == nil {
			c.id = id
			break
		}
	}
	s.chats[c.id] = c
	return Created{ID: c.id, Session: tok[:], Expires: c.expires}, nil
}

// JoinRequest carries the joiner's proofs (tokens, not hashes).
type JoinRequest struct {
	Gate, Open, Destruct []byte
}

// Join claims a pending chat and returns the joiner's session token. Whatever the state, the
// same hashing and comparing is done. A wrong PIN counts a failure (*PINError); a destruct
// match ends the chat and zeroes its records at once and answers the same, and the chat keeps
// its slot and its records' vault blocks until the countdown or the link's expiry ends it, as
// after a typo; the last failure ends it. Everything else (unknown, joined, ended, wrong gate)
// is ErrGone.
func (s *Server) Join(id vault.ID, req JoinRequest) ([]byte, error) {
	p := vault.NewProof(req.Gate, req.Open, req.Destruct)
	tok, err := random32()
	if err != nil {
		return nil, fmt.Errorf("chat: random: %w", err)
	}
	now := s.cfg.Now()
	s.mu.Lock()
	c := s.chats[id]
	t := c
	if t == nil {
		t = &s.dummy
	}
	check := t.lock.Check(&p) // every hash, every time, as for a note's open
	var wipe, blank []frame
	err = ErrGone
	if c != nil && check.Gate() && !c.joined && now.Before(c.expires) {
		destruct, terr := c.lock.Try(check, s.cfg.MaxPINFailures)
		pe, _ := terr.(*vault.PINError)
		switch {
		case pe != nil:
			if destruct {
				c.ended, c.reason = true, ReasonRevoked
				s.notifyLocked(c) // the creator learns that the chat ended
				for r := range c.sides {
					c.held = append(c.held, c.sides[r].frames...)
					c.sides[r].frames = nil
				}
				blank = c.held // kept, zeroed, so that the countdown and the capacity go on alike
			}
			if pe.Left == 0 {
				wipe = append(wipe, s.endLocked(c, ReasonRevoked)...)
			}
			err = &PINError{Left: pe.Left}
		case c.ended: // destroyed by a duress PIN: still counting tries, never joined
		default:
			c.joined = true
			c.joinedAt = now
			c.lastRecord = now
			c.sides[Joiner].tok = hash(tok[:])
			s.notifyLocked(c)
			err = nil
		}
	}
	s.mu.Unlock()
	if _, failed := err.(*PINError); failed {
		// Off the request path, as a note's duress PIN, and started for a typo too: the answer
		// costs what a typo's does (BenchmarkJoinWrongPIN).
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { _ = recover() }()
			for _, f := range blank {
				_ = s.v.Destroy(vault.KindChatFrame, f.vid, f.manage[:])
			}
		}()
	}
	s.wipe(wipe)
	if err != nil {
		return nil, err
	}
	return tok[:], nil
}

// Revoke ends a chat for the holder of its manage secret, joined or not. A chat a destruct PIN
// destroyed (kept, counting tries) is answered as a live one and forgotten, its zeroed records
// freed, as a typo chat's revoke frees its own: the answer and the capacity after do not tell a
// coercer holding the manage secret which PIN was typed. A second revoke is gone for both.
func (s *Server) Revoke(id vault.ID, manage []byte) error {
	mh := hash(manage)
	s.mu.Lock()
	c := s.chats[id]
	t := c
	if t == nil {
		t = &s.dummy
	}
	destroyed := c != nil && c.ended && c.lock.Destroyed()
	ok := vault.Equal(&mh, &t.manage) && c != nil && (!c.ended || destroyed)
	var wipe []frame
	switch {
	case ok && destroyed:
		wipe = append(s.endLocked(c, ReasonRevoked), c.held...)
		c.held = nil
		delete(s.chats, c.id)
	case ok:
		wipe = s.endLocked(c, ReasonRevoked)
	}
	s.mu.Unlock()
	s.wipe(wipe)
	if !ok {
		return ErrGone
	}
	return nil
}

// endLocked ends c: sides are told, c leaves the map (unless kept to count PIN tries) and its
// records are returned to be wiped outside the lock. Called with s.mu held.
func (s *Server) endLocked(c *chat, reason string) []frame {
	var out []frame
	if !c.ended {
		c.ended = true
		c.reason = reason
		s.notifyLocked(c)
	}
	for r := range c.sides {
		out = append(out, c.sides[r].frames...)
		c.sides[r].frames = nil
	}
	c.bytes = 0
	if !c.lock.Destroyed() || c.lock.Failures() >= s.cfg.MaxPINFailures {
		out = append(out, c.held...)
		c.held = nil
		delete(s.chats, c.id)
	}
	return out
}

func (s *Server) notifyLocked(c *chat) {
	close(c.changed)
	c.changed = make(chan struct{})
}

// wipe zeroes records in the vault at once.
func (s *Server) wipe(fs []frame) {
	for i := range fs {
		_ = s.v.Revoke(vault.KindChatFrame, fs[i].vid, fs[i].manage[:])
	}
}

// Session is one side's right to send and receive in a chat, proven by its session token.
type Session struct {
	s    *Server
	c    *chat
	role int
}

// Attach checks a session token. Wrong token, unknown or ended chat: ErrGone. It changes no
// state (a WebSocket upgrade is a GET).
func (s *Server) Attach(id vault.ID, token []byte) (*Session, error) {
	th := hash(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chats[id]
	t := c
	if t == nil {
		t = &s.dummy
	}
	creatorOK := vault.Equal(&th, &t.sides[Creator].tok)
	joinerOK := vault.Equal(&th, &t.sides[Joiner].tok)
	switch {
	case c == nil || c.ended:
		return nil, ErrGone
	case creatorOK:
		return &Session{s: s, c: c, role: Creator}, nil
	case joinerOK && c.sides[Joiner].tok != [32]byte{}:
		return &Session{s: s, c: c, role: Joiner}, nil
	}
	return nil, ErrGone
}

// Role is Creator or Joiner.
func (ss *Session) Role() int { return ss.role }

// Connected marks a socket open (+1) or closed (-1); the other side is told.
// An open beyond wsrelay.MaxSockets of this session returns false and counts nothing.
func (ss *Session) Connected(delta int) bool {
	s := ss.s
	s.mu.Lock()
	defer s.mu.Unlock()
	sd := &ss.c.sides[ss.role]
	if delta > 0 && sd.conns >= wsrelay.MaxSockets {
		return false
	}
	sd.conns += delta
	if !ss.c.ended {
		s.notifyLocked(ss.c)
	}
	return true
}

// Polled marks a fallback poll: the other side sees this one as present for PeerWindow.
func (ss *Session) Polled() {
	s := ss.s
	s.mu.Lock()
	was := ss.peerLocked(1-ss.role, s.cfg.Now())
	ss.c.sides[ss.role].lastPoll = s.cfg.Now()
	if !was && !ss.c.ended {
		s.notifyLocked(ss.c)
	}
	s.mu.Unlock()
}

func (ss *Session) peerLocked(role int, now time.Time) bool {
	sd := &ss.c.sides[role]
	return sd.conns > 0 || (!sd.lastPoll.IsZero() && now.Sub(sd.lastPoll) < ss.s.cfg.PeerWindow)
}

// State is a snapshot for a connected side.
type State struct {
	Peer    bool   // the other side is connected
	Joined  bool   // someone joined
	Ended   string // the reason, once ended
	Pending uint64 // sequence number of the first undelivered record for this side (or next)
	Avail   bool   // a record is waiting
	Changed <-chan struct{}
}

// State reports what the side needs to decide what to do next, and a channel closed at the
// next change.
func (ss *Session) State() State {
	s := ss.s
	s.mu.Lock()
	defer s.mu.Unlock()
	c := ss.c
	st := State{Peer: ss.peerLocked(1-ss.role, s.cfg.Now()), Joined: c.joined, Changed: c.changed}
	if c.ended {
		st.Ended = c.reason
	}
	sd := &c.sides[ss.role]
	st.Pending = sd.next
	if len(sd.frames) > 0 {
		st.Pending = sd.frames[0].seq
		st.Avail = true
	}
	return st
}

// Send stores one record of exactly n bytes from r for the other side and returns its
// sequence number. ErrTooLarge over MaxRecord; ErrBusy when the chat holds MaxRecords or
// MaxBytes undelivered; ErrFull when the vault cannot hold it; ErrGone once ended. A refused
// record changes nothing, in this chat or any other.
func (ss *Session) Send(r io.Reader, n int64) (uint64, error) {
	if n <= 0 || n > ss.s.cfg.MaxRecord {
		return 0, ErrTooLarge
	}
	return ss.send(r, n)
}

// SendStream is Send for a record whose length is where r ends (a WebSocket message): at most
// MaxRecord bytes (ErrTooLarge beyond, nothing kept). The bytes go from r straight into locked
// memory, so no heap buffer of the relay holds the record.
func (ss *Session) SendStream(r io.Reader) (uint64, error) { return ss.send(r, -1) }

// send stores a record of n bytes, or of unknown length up to MaxRecord when n < 0.
func (ss *Session) send(r io.Reader, n int64) (uint64, error) {
	s := ss.s
	to := 1 - ss.role
	s.mu.Lock()
	c := ss.c
	// What this chat may still hold for the other side: before anyone joined, much less.
	records, room := s.cfg.MaxRecords, s.cfg.MaxBytes-c.bytes
	if !c.joined {
		records, room = unjoinedRecords, unjoinedBytes-c.bytes
	}
	limit := min(s.cfg.MaxRecord, room) // the longest record that fits now
	reserve := n
	if n < 0 {
		reserve = limit
	}
	switch {
	case c.ended:
		s.mu.Unlock()
		return 0, &EndedError{c.reason}
	case len(c.sides[to].frames) >= records || limit <= 0 || reserve > limit:
		s.mu.Unlock()
		return 0, ErrBusy
	}
	c.bytes += reserve // reserved while the vault copies
	s.mu.Unlock()

	f, err := ss.s.put(c.id, r, n, limit)
	if errors.Is(err, ErrTooLarge) && n < 0 && limit < s.cfg.MaxRecord {
		err = ErrBusy // a stream longer than what the chat may hold now, not than any record
	}
	s.mu.Lock()
	if err != nil {
		c.bytes -= reserve
		s.mu.Unlock()
		return 0, err
	}
	c.bytes += f.size - reserve
	if c.ended {
		s.mu.Unlock()
		s.wipe([]frame{f})
		return 0, &EndedError{c.reason}
	}
	sd := &c.sides[to]
	var stale []frame
	if f.typ == recordHello {
		// A new hello means the sender started its handshake over: its undelivered hellos and
		// confirms belong to a handshake nobody will finish, and would only confuse the other side.
		kept := sd.frames[:0]
		for _, g := range sd.frames {
			if g.typ == recordHello || g.typ == recordConfirm {
				stale = append(stale, g)
				c.bytes -= g.size
				continue
			}
			kept = append(kept, g)
		}
		sd.frames = kept
	}
	f.seq = sd.next
	sd.next++
	sd.frames = append(sd.frames, f)
	c.lastRecord = s.cfg.Now()
	s.notifyLocked(c)
	s.mu.Unlock()
	s.wipe(stale)
	return f.seq, nil
}

// put stores a record of n bytes from r in the vault, or of r's length (up to limit) when
// n < 0.
func (s *Server) put(owner vault.ID, r io.Reader, n, limit int64) (frame, error) {
	fb := &firstByte{r: r}
	p, err := s.v.PutRelay(vault.KindChatFrame, owner.String(), s.cfg.SessionMax, n, limit, fb)
	f := frame{vid: p.ID, manage: p.Manage, size: p.Size, typ: fb.b}
	switch {
	case err == nil:
		return f, nil
	case errors.Is(err, vault.ErrFull):
		return f, ErrFull
	case errors.Is(err, vault.ErrTooLarge):
		return f, ErrTooLarge
	case errors.Is(err, vault.ErrInvalid), errors.Is(err, vault.ErrGone):
		return f, ErrInvalid
	}
	return f, fmt.Errorf("chat: store: %w", err)
}

// Delivery is one record waiting for this side.
type Delivery struct {
	Seq  uint64
	Size int64
	ss   *Session
}

// Peek returns the first undelivered record with a sequence number of at least from, waiting
// until one arrives, the chat ends (*EndedError) or ctx is done.
func (ss *Session) Peek(ctx context.Context, from uint64) (*Delivery, error) {
	s := ss.s
	for {
		s.mu.Lock()
		c := ss.c
		if c.ended {
			s.mu.Unlock()
			return nil, &EndedError{c.reason}
		}
		for _, f := range c.sides[ss.role].frames {
			if f.seq >= from {
				s.mu.Unlock()
				return &Delivery{Seq: f.seq, Size: f.size, ss: ss}, nil
			}
		}
		ch := c.changed
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ch:
		}
	}
}

// PeekNow is Peek without waiting: nil when no such record is held.
func (ss *Session) PeekNow(from uint64) *Delivery {
	s := ss.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss.c.ended {
		return nil
	}
	for _, f := range ss.c.sides[ss.role].frames {
		if f.seq >= from {
			return &Delivery{Seq: f.seq, Size: f.size, ss: ss}
		}
	}
	return nil
}

// WriteTo streams the record from the vault to w, straight from its locked blocks. A record
// is read again as often as it is pushed (a reconnect), until it is acknowledged.
func (d *Delivery) WriteTo(w io.Writer) (int64, error) {
	s, ss := d.ss.s, d.ss
	s.mu.Lock()
	var f *frame
	fs := ss.c.sides[ss.role].frames
	for i := range fs {
		if fs[i].seq == d.Seq {
			f = &fs[i]
			break
		}
	}
	if f == nil || ss.c.ended {
		s.mu.Unlock()
		return 0, ErrGone
	}
	vid, manage := f.vid, f.manage
	s.mu.Unlock()
	r, err := s.v.ReadRelay(vault.KindChatFrame, vid, manage[:])
	if err != nil {
		return 0, ErrGone
	}
	defer r.Close()
	return r.WriteTo(w, 0)
}

// Ack wipes every record for this side up to and including seq: it arrived.
func (ss *Session) Ack(seq uint64) {
	s := ss.s
	s.mu.Lock()
	sd := &ss.c.sides[ss.role]
	i := 0
	for i < len(sd.frames) && sd.frames[i].seq <= seq {
		ss.c.bytes -= sd.frames[i].size
		i++
	}
	done := sd.frames[:i:i]
	sd.frames = sd.frames[i:]
	s.mu.Unlock()
	s.wipe(done)
}

// AckBelow wipes every record for this side numbered below next: the side has them all and
// expects next. AckBelow(0) acknowledges nothing.
func (ss *Session) AckBelow(next uint64) {
	if next > 0 {
		ss.Ack(next - 1)
	}
}

// Skip drops the one record seq that the vault no longer has (wiped meanwhile, as a restarted
// handshake's stale hello is): the receiver will see the gap as a missing record. Earlier records not yet acknowledged stay.
func (ss *Session) Skip(seq uint64) {
	s := ss.s
	s.mu.Lock()
	sd := &ss.c.sides[ss.role]
	var gone []frame
	for i := range sd.frames {
		if sd.frames[i].seq == seq {
			ss.c.bytes -= sd.frames[i].size
			gone = append(gone, sd.frames[i])
			sd.frames = append(sd.frames[:i:i], sd.frames[i+1:]...)
			break
		}
	}
	s.mu.Unlock()
	s.wipe(gone)
}

// End ends the chat for both sides.
func (ss *Session) End() {
	s := ss.s
	s.mu.Lock()
	var wipe []frame
	if !ss.c.ended {
		wipe = s.endLocked(ss.c, ReasonEnded)
	}
	s.mu.Unlock()
	s.wipe(wipe)
}
