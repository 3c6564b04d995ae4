package room

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sort"
	"sync"
	"time"

	"github.com/sealdrop/sealdrop/internal/price"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/internal/wsrelay"
	"github.com/sealdrop/sealdrop/vault"
)

// Sentinel errors. Every absent state (never existed, seat taken or gone, ended, wrong
// capability) is ErrGone.
var (
	ErrGone     = errors.New("room: gone")
	ErrFull     = errors.New("room: the server is full")
	ErrTooLarge = errors.New("room: record too large")
	ErrBusy     = errors.New("room: the room holds as much as it may")
	ErrInvalid  = errors.New("room: invalid request")
	ErrWrongPIN = errors.New("room: wrong PIN")
)

// PINError is a failed PIN on join, and identically a destruct match. Left is the number of
// tries still allowed on that seat.
type PINError struct{ Left int }

func (e *PINError) Error() string { return "room: wrong PIN" }
func (e *PINError) Unwrap() error { return ErrWrongPIN }

// Reasons a room, or one member's place in it, ended (the "end" message's reason).
const (
	ReasonLeft    = "left"    // this member left (its seat ends)
	ReasonDropped = "dropped" // this member was dropped: it acknowledged nothing for HoldWait while the room was full
	ReasonRevoked = "revoked" // the creator's revoke, a destruct PIN (told alike), the operator's panic wipe
	ReasonIdle    = "idle"    // no record from anyone for Config.Idle
	ReasonExpired = "expired" // the room's lifetime is over
)

// EndedError is what a member's session gets once its room, or its own seat, ended.
type EndedError struct{ Reason string }

func (e *EndedError) Error() string { return "room: ended (" + e.Reason + ")" }
func (e *EndedError) Unwrap() error { return ErrGone }

// Seats.
const (
	MinSeats = 2
	MaxSeats = 8
)

// Config configures a Server. The zero value of each field selects its documented default.
type Config struct {
	Vault *vault.Vault // required; undelivered records live there (KindRoomFrame)
	// MaxSlots caps the rooms held, in chats' worth of slots: a room of n seats takes n − 1
	// (pending, live, and destroyed ones still counting PIN tries); default 8192.
	MaxSlots  int
	MaxRecord int64 // bytes of one record; default 96 KiB
	// MaxBytes is the most undelivered bytes (whole vault blocks) one room holds. Default: the
	// vault's per-owner quota for room records, or 2 MiB when it sets none; more than that
	// quota is invalid.
	MaxBytes   int64
	DefaultTTL time.Duration // the room's lifetime; default 24 h
	MaxTTL     time.Duration // default 24 h
	Idle       time.Duration // no record from anyone for this long ends the room; default 30 min
	// HoldWait: a record that does not fit the room's MaxBytes is admitted after dropping the
	// members that acknowledged nothing for longer than this while records waited for them;
	// default 30 s.
	HoldWait time.Duration
	// Liveness: a member of the version's "in" that has not sent LivenessRecords records
	// within this long of a new version (with two or more in it) is moved to "out": its seat is
	// kept, and it comes back in a new version when it connects again; default 60 s.
	Liveness       time.Duration
	MaxPINFailures int // per seat; default 5
	Now            func() time.Time
	SweepEvery     time.Duration // default 1 s; negative: no background sweeper (call Sweep)
	PingEvery      time.Duration // default 30 s
	ReadTimeout    time.Duration // default 90 s; more than PingEvery
	// Price is what a new room pays once the room slots or the vault's room records are more
	// than half used; share it with the chat, the drops and the web layer.
	Price *price.Pricer
}

// Defaults.
const (
	DefaultMaxSlots  = 8192
	DefaultMaxRecord = 96 << 10
	DefaultMaxBytes  = 2 << 20
	DefaultTTL       = 24 * time.Hour
	DefaultMaxTTL    = 24 * time.Hour
	MinTTL           = time.Minute
	DefaultIdle      = 30 * time.Minute
	DefaultHoldWait  = 30 * time.Second
	DefaultLiveness  = 60 * time.Second
)

// PriceLength is what a room is priced at, whatever its seats: what it can hold (its
// DefaultMaxBytes) for its lifetime, as a note is priced at its length for its TTL; its payment
// binds this length and the TTL (protocol.PriceRoom).
const PriceLength = DefaultMaxBytes

// LivenessRecords is how many records (hello and keys) a member of a new version's "in" sends
// within Liveness to stay in.
const LivenessRecords = 2

// seat states
const (
	seatFree   = iota // not claimed yet
	seatMember        // claimed: a member
	seatGone          // left, dropped or burned: never again
)

type seat struct {
	lock   vault.Lock
	state  int
	in     bool     // a member in this version's "in" (else, as a member, in "out")
	tok    [32]byte // SHA-256 of the session token, while a member
	conns  int
	acked  uint64    // every record below this was acknowledged by this member
	ackAt  time.Time // when it last acknowledged a record (or joined, or came back in)
	sent   int       // records it sent since the current membership version began
	held   int64     // whole blocks of its records still held (and reserved while one streams)
	reason string    // why it is gone, for its sessions
}

// record is one undelivered record: a relay entry in the vault, read with its manage secret as
// often as it is pushed, until every seat in to acknowledged it or left.
type record struct {
	seq    uint64
	from   int // seat number, 1…8
	to     uint8
	vid    vault.ID
	manage [32]byte
	size   int64
	charge int64 // whole blocks
	at     time.Time
}

type room struct {
	id         vault.ID
	manage     [32]byte
	n          int
	seats      [MaxSeats]seat
	expires    time.Time
	lastRecord time.Time
	v          uint32    // membership version
	vAt        time.Time // when v began
	vFrom      uint64    // the first sequence number stored in v: records below it go out before v's list
	next       uint64    // next sequence number
	records    []record
	bytes      int64 // whole blocks held and reserved
	ended      bool
	reason     string
	changed    chan struct{}
	// destroyed: a destruct PIN ended the room. Its records were zeroed at once but stay in
	// the vault, and the room keeps its slots, until its lifetime would have ended it (as a
	// destroyed chat), so that capacity does not tell a destruct PIN from a typo.
	destroyed bool
	held      []record
}

// Server holds every room. Its methods are safe for concurrent use.
type Server struct {
	cfg   Config
	v     *vault.Vault
	bs    int64
	mu    sync.Mutex
	rooms map[vault.ID]*room
	slots int
	dummy room
	stop  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
}

// New validates cfg and starts the sweeper.
func New(cfg Config) (*Server, error) {
	if cfg.Vault == nil {
		return nil, fmt.Errorf("room: config: Vault is required: %w", ErrInvalid)
	}
	def := func(p *time.Duration, d time.Duration) {
		if *p == 0 {
			*p = d
		}
	}
	if cfg.MaxSlots == 0 {
		cfg.MaxSlots = DefaultMaxSlots
	}
	if cfg.MaxRecord == 0 {
		cfg.MaxRecord = DefaultMaxRecord
	}
	quota, hasQuota := cfg.Vault.OwnerQuota(vault.KindRoomFrame)
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultMaxBytes
		if hasQuota {
			cfg.MaxBytes = quota
		}
	}
	if cfg.MaxPINFailures == 0 {
		cfg.MaxPINFailures = 5
	}
	def(&cfg.DefaultTTL, DefaultTTL)
	def(&cfg.MaxTTL, DefaultMaxTTL)
	def(&cfg.Idle, DefaultIdle)
	def(&cfg.HoldWait, DefaultHoldWait)
	def(&cfg.Liveness, DefaultLiveness)
	def(&cfg.SweepEvery, time.Second)
	def(&cfg.PingEvery, wsrelay.DefaultPingEvery)
	def(&cfg.ReadTimeout, wsrelay.DefaultReadTimeout)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Price == nil {
		p, err := price.New(price.Config{Now: cfg.Now})
		if err != nil {
			return nil, fmt.Errorf("room: %w", err)
		}
		cfg.Price = p
	}
	bs := cfg.Vault.BlockSize()
	if cfg.MaxSlots < 1 || cfg.MaxRecord < 64 || cfg.MaxBytes < cfg.MaxRecord+2*bs || (hasQuota && cfg.MaxBytes > quota) ||
		cfg.DefaultTTL < MinTTL || cfg.DefaultTTL > cfg.MaxTTL || cfg.MaxTTL > cfg.Vault.MaxTTL() ||
		cfg.Idle <= 0 || cfg.HoldWait <= 0 || cfg.Liveness <= 0 || cfg.MaxPINFailures < 1 ||
		cfg.PingEvery <= 0 || cfg.ReadTimeout <= cfg.PingEvery {
		return nil, fmt.Errorf("room: config: a limit is out of range: %w", ErrInvalid)
	}
	s := &Server{cfg: cfg, v: cfg.Vault, bs: bs, rooms: map[vault.ID]*room{}, stop: make(chan struct{})}
	for i := range s.dummy.seats {
		l, err := vault.DummyLock()
		if err != nil {
			return nil, fmt.Errorf("room: %w", err)
		}
		s.dummy.seats[i].lock = l
	}
	if cfg.SweepEvery > 0 {
		s.wg.Add(1)
		go s.sweeper()
	}
	return s, nil
}

// Config returns the configuration in effect (defaults filled in).
func (s *Server) Config() Config { return s.cfg }

// Close stops the sweeper and ends every room, wiping their records.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.stop)
		s.wg.Wait()
		s.EndAll()
		s.mu.Lock()
		var wipe []record
		for _, r := range s.rooms {
			wipe = append(wipe, s.forgetLocked(r)...)
		}
		s.mu.Unlock()
		s.wipe(wipe)
	})
}

// EndAll ends every room at once and wipes their records (the operator's panic wipe); members
// are told "revoked". New rooms are still accepted.
func (s *Server) EndAll() {
	s.mu.Lock()
	var wipe []record
	for _, r := range s.rooms {
		wipe = append(wipe, s.endLocked(r, ReasonRevoked)...)
		wipe = append(wipe, s.forgetLocked(r)...)
	}
	s.mu.Unlock()
	s.wipe(wipe)
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

// Sweep ends the rooms past their lifetime or idle, forgets destroyed rooms once their
// lifetime is over, and moves to "out" the members of "in" that did not send LivenessRecords
// records within Liveness of a new version.
func (s *Server) Sweep() {
	now := s.cfg.Now()
	s.mu.Lock()
	var wipe []record
	for _, r := range s.rooms {
		switch {
		case r.ended: // destroyed, kept until its lifetime would have ended it
			if !now.Before(r.expires) {
				wipe = append(wipe, s.forgetLocked(r)...)
			}
		case !now.Before(r.expires):
			wipe = append(wipe, s.endLocked(r, ReasonExpired)...)
		case !now.Before(r.lastRecord.Add(s.cfg.Idle)):
			wipe = append(wipe, s.endLocked(r, ReasonIdle)...)
		case bits.OnesCount8(r.inMask()) >= 2 && !now.Before(r.vAt.Add(s.cfg.Liveness)):
			// A member's keys need every hello of the version, so one member that sent nothing
			// holds every other at one record: those that sent nothing go out first, and those
			// short of LivenessRecords only when every member sent something. "in" is never
			// emptied: when all are silent, the relay waits (a hostile review's R1: one silent
			// member moved every member out).
			var silent, short uint8
			for i := range r.n {
				if st := &r.seats[i]; st.state == seatMember && st.in {
					switch {
					case st.sent == 0:
						silent |= 1 << i
					case st.sent < LivenessRecords:
						short |= 1 << i
					}
				}
			}
			out := silent
			if out == 0 {
				out = short
			}
			if out == r.inMask() {
				out = 0
			}
			for i := range r.n {
				if out&(1<<i) != 0 {
					r.seats[i].in = false // its seat is kept; the relay holds nothing for it
				}
			}
			if silent := out; silent != 0 {
				wipe = append(wipe, r.release(silent)...)
				s.newVersionLocked(r, now)
			}
		}
	}
	s.mu.Unlock()
	s.wipe(wipe)
}

// inMask is the seats in this version's "in".
func (r *room) inMask() uint8 {
	var m uint8
	for i := range r.n {
		if r.seats[i].state == seatMember && r.seats[i].in {
			m |= 1 << i
		}
	}
	return m
}

// Count is the number of rooms held (pending, live, and destroyed ones still counting tries).
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.rooms)
}

// SlotFill is the fraction of room slots in use: one of the fills a new room's price is
// computed from.
func (s *Server) SlotFill() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return min(float64(s.slots)/float64(s.cfg.MaxSlots), 1)
}

// Level is the price level of a new room: the fuller of the room slots and the vault's limits
// on room records.
func (s *Server) Level() int {
	return protocol.PriceLevel(max(s.v.Load(vault.KindRoomFrame, "").Max(), s.SlotFill()))
}

func hash(b []byte) [32]byte { return sha256.Sum256(b) }

func random32() ([32]byte, error) {
	var b [32]byte
	_, err := rand.Read(b[:])
	return b, err
}

// SeatCaps are the hashes of one seat's capabilities (as a note's: gate, and with a PIN open;
// destruct zero draws a random one).
type SeatCaps struct {
	Gate, Open, Destruct [32]byte
	PIN                  bool
}

// CreateRequest carries a new room's seats, lifetime, manage hash and payment.
type CreateRequest struct {
	Seats                  []SeatCaps
	TTL                    time.Duration // 0: DefaultTTL
	Manage                 [32]byte
	PriceToken, PriceNonce []byte
}

// Created is what the creator gets.
type Created struct {
	ID      vault.ID
	Expires time.Time
}

// PriceRequest is what a room's payment binds: kind PriceRoom, PriceLength bytes, its TTL,
// its manage hash.
func PriceRequest(ttl time.Duration, manage [32]byte) protocol.PriceRequest {
	return protocol.PriceRequest{Kind: protocol.PriceRoom, Manage: manage, Length: PriceLength, TTL: ttl}
}

// Create makes a room of len(req.Seats) seats, none claimed. ErrInvalid for a seat count out
// of 2…8, a TTL out of MinTTL…MaxTTL or a missing hash; ErrFull when the slots are taken or the
// vault could not hold one record; a price refusal (price.ErrPrice…) when it did not pay.
func (s *Server) Create(req CreateRequest) (Created, error) {
	if req.TTL == 0 {
		req.TTL = s.cfg.DefaultTTL
	}
	n := len(req.Seats)
	if n < MinSeats || n > MaxSeats || req.TTL < MinTTL || req.TTL > s.cfg.MaxTTL || req.Manage == [32]byte{} {
		return Created{}, ErrInvalid
	}
	r := &room{n: n, manage: req.Manage, changed: make(chan struct{})}
	for i, c := range req.Seats {
		l, err := vault.NewLock(vault.Caps{Gate: c.Gate, PIN: c.PIN, Open: c.Open, Destruct: c.Destruct})
		if errors.Is(err, vault.ErrInvalid) {
			return Created{}, ErrInvalid
		} else if err != nil {
			return Created{}, fmt.Errorf("room: %w", err)
		}
		r.seats[i].lock = l
	}
	if s.v.Stats().Free < s.cfg.MaxRecord {
		return Created{}, ErrFull
	}
	pr := PriceRequest(req.TTL, req.Manage)
	refund, err := s.cfg.Price.ChargeFor(s.Level(), pr, pr.Length, req.TTL, req.PriceToken, req.PriceNonce)
	if err != nil {
		return Created{}, err
	}
	now := s.cfg.Now()
	r.expires, r.lastRecord, r.vAt = now.Add(req.TTL), now, now
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.slots+n-1 > s.cfg.MaxSlots {
		refund()
		return Created{}, ErrFull
	}
	for {
		id, err := vault.NewID()
		if err != nil {
			refund()
			return Created{}, fmt.Errorf("room: id: %w", err)
		}
		if s.rooms[id] == nil {
			r.id = id
			break
		}
	}
	s.rooms[r.id] = r
	s.slots += n - 1
	return Created{ID: r.id, Expires: r.expires}, nil
}

// JoinRequest carries a seat's proofs (tokens, not hashes).
type JoinRequest struct {
	Seat                 int // 1…8
	Gate, Open, Destruct []byte
}

// Join claims a seat and returns its session token. Whatever the state, the same hashing and
// comparing is done (a missing room or seat is checked against a dummy lock). A wrong PIN
// counts a failure on that seat (*PINError); the last one burns the seat (the others go on; a
// seat nobody joined was in no version, so no version changes). A destruct match ends the
// room for every member (told "revoked", as the creator's revoke), zeroes its records at once
// and answers the same *PINError; the room then keeps its slots, its records' blocks and the
// seat's countdown until its lifetime would have ended it. Everything else is ErrGone.
func (s *Server) Join(id vault.ID, req JoinRequest) ([]byte, error) {
	p := vault.NewProof(req.Gate, req.Open, req.Destruct)
	tok, err := random32()
	if err != nil {
		return nil, fmt.Errorf("room: random: %w", err)
	}
	now := s.cfg.Now()
	i := req.Seat - 1
	s.mu.Lock()
	r := s.rooms[id]
	t := r
	if t == nil || i < 0 || i >= t.n {
		t = &s.dummy
	}
	check := t.seats[min(max(i, 0), MaxSeats-1)].lock.Check(&p) // every hash, every time
	var wipe, blank []record
	err = ErrGone
	if t != &s.dummy && check.Gate() && r.seats[i].state == seatFree && now.Before(r.expires) {
		st := &r.seats[i]
		destruct, terr := st.lock.Try(check, s.cfg.MaxPINFailures)
		pe, _ := terr.(*vault.PINError)
		switch {
		case pe != nil:
			if destruct && !r.ended {
				r.destroyed = true // kept, records zeroed: capacity goes on as after a typo
				r.held = s.endLocked(r, ReasonRevoked)
				blank = r.held
			}
			if pe.Left == 0 { // the seat burns; the others go on, in the same version
				st.state, st.reason = seatGone, ReasonRevoked
				wipe = append(wipe, s.closeIfEmptyLocked(r)...)
			}
			err = &PINError{Left: pe.Left}
		case r.ended: // destroyed: still counting this seat's tries, never joined
		default:
			st.state, st.tok, st.acked = seatMember, hash(tok[:]), r.next // a late joiner gets nothing sent before
			st.in, st.ackAt = true, now
			s.newVersionLocked(r, now)
			err = nil
		}
	}
	s.mu.Unlock()
	if _, failed := err.(*PINError); failed {
		// Off the request path, as a chat's duress PIN, and started for a typo too: the answer
		// costs what a typo's does.
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { _ = recover() }()
			for _, f := range blank {
				_ = s.v.Destroy(vault.KindRoomFrame, f.vid, f.manage[:])
			}
		}()
	}
	s.wipe(wipe)
	if err != nil {
		return nil, err
	}
	return tok[:], nil
}

// Revoke ends a room for the holder of its manage secret; every member is told "revoked".
func (s *Server) Revoke(id vault.ID, manage []byte) error {
	mh := hash(manage)
	s.mu.Lock()
	r := s.rooms[id]
	t := r
	if t == nil {
		t = &s.dummy
	}
	ok := vault.Equal(&mh, &t.manage) && r != nil && !r.ended
	var wipe []record
	if ok {
		wipe = s.endLocked(r, ReasonRevoked)
	}
	s.mu.Unlock()
	s.wipe(wipe)
	if !ok {
		return ErrGone
	}
	return nil
}

// newVersionLocked starts a new membership version: called whenever "in" (or "out") changed.
// Every member of "in" must send LivenessRecords records within Liveness.
func (s *Server) newVersionLocked(r *room, now time.Time) {
	r.v++
	r.vAt, r.vFrom = now, r.next
	for i := range r.n {
		r.seats[i].sent = 0
	}
	s.notifyLocked(r)
}

// backInLocked returns a member of "out" to "in", in a new version, when it is connected again
// (a socket, a poll or a send). It owes nothing from before.
func (s *Server) backInLocked(r *room, i int, now time.Time) {
	st := &r.seats[i]
	if r.ended || st.state != seatMember || st.in {
		return
	}
	st.in, st.acked, st.ackAt = true, r.next, now
	s.newVersionLocked(r, now)
}

// dropLocked ends the seats idx (0-based) for reason: they are told, every record they still
// owe is released (and wiped once nobody else needs it), and one new version is announced.
func (s *Server) dropLocked(r *room, idx []int, reason string, now time.Time) []record {
	if len(idx) == 0 {
		return nil
	}
	var mask uint8
	for _, i := range idx {
		st := &r.seats[i]
		if st.state != seatMember {
			continue
		}
		st.state, st.in, st.reason, st.tok = seatGone, false, reason, [32]byte{}
		mask |= 1 << i
	}
	wipe := r.release(mask)
	s.newVersionLocked(r, now)
	return append(wipe, s.closeIfEmptyLocked(r)...)
}

// release clears mask from every record; records nobody needs any more are returned to be
// wiped.
func (r *room) release(mask uint8) []record {
	var out []record
	kept := r.records[:0]
	for _, f := range r.records {
		f.to &^= mask
		if f.to == 0 {
			r.uncharge(f)
			out = append(out, f)
			continue
		}
		kept = append(kept, f)
	}
	clear(r.records[len(kept):])
	r.records = kept
	return out
}

// uncharge gives back what f took of the room and of its sender's share.
func (r *room) uncharge(f record) {
	r.bytes -= f.charge
	r.seats[f.from-1].held -= f.charge
}

// closeIfEmptyLocked ends a room in which nothing can happen any more: no member and no seat
// left to claim.
func (s *Server) closeIfEmptyLocked(r *room) []record {
	for i := range r.n {
		if r.seats[i].state != seatGone {
			return nil
		}
	}
	if r.ended {
		if r.destroyed { // its countdowns are over: it would have gone after a typo too
			return s.forgetLocked(r)
		}
		return nil
	}
	return s.endLocked(r, ReasonRevoked) // nobody is left to be told
}

// endLocked ends r for everyone: members are told reason, r leaves the map (unless destroyed,
// then kept until it would have ended) and its records are returned to be wiped outside the
// lock. Called with s.mu held.
func (s *Server) endLocked(r *room, reason string) []record {
	out := r.records
	r.records = nil
	r.bytes = 0
	for i := range r.seats {
		r.seats[i].held = 0
	}
	if !r.ended {
		r.ended, r.reason = true, reason
		for i := range r.seats {
			r.seats[i].tok = [32]byte{}
		}
		s.notifyLocked(r)
	}
	if !r.destroyed {
		out = append(out, s.forgetLocked(r)...)
	}
	return out
}

// forgetLocked removes r from the map and gives back its slots; its held records (a destroyed
// room's) are returned to be wiped.
func (s *Server) forgetLocked(r *room) []record {
	if s.rooms[r.id] == r {
		delete(s.rooms, r.id)
		s.slots -= r.n - 1
	}
	out := r.held
	r.held = nil
	return out
}

func (s *Server) notifyLocked(r *room) {
	close(r.changed)
	r.changed = make(chan struct{})
}

// wipe zeroes records in the vault at once.
func (s *Server) wipe(fs []record) {
	for i := range fs {
		_ = s.v.Revoke(vault.KindRoomFrame, fs[i].vid, fs[i].manage[:])
	}
}

// Session is one member's right to send and receive in a room, proven by its session token.
type Session struct {
	s    *Server
	r    *room
	seat int // 0-based
}

// Attach checks a session token against every seat of the room (a missing room against a
// dummy). Wrong token, unknown or ended room, seat gone: ErrGone. It changes no state.
func (s *Server) Attach(id vault.ID, token []byte) (*Session, error) {
	th := hash(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[id]
	t := r
	if t == nil {
		t = &s.dummy
	}
	found := -1
	for i := range t.seats {
		if vault.Equal(&th, &t.seats[i].tok) && i < t.n && t.seats[i].state == seatMember {
			found = i
		}
	}
	if r == nil || r.ended || found < 0 {
		return nil, ErrGone
	}
	return &Session{s: s, r: r, seat: found}, nil
}

// Seat is the member's seat number (1…8).
func (ss *Session) Seat() int { return ss.seat + 1 }

// Connected marks a socket open (+1) or closed (-1). A member of "out" that opens a socket
// comes back in, in a new version.
// An open beyond wsrelay.MaxSockets of this session returns false and counts nothing.
func (ss *Session) Connected(delta int) bool {
	s := ss.s
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &ss.r.seats[ss.seat]
	if delta > 0 && st.conns >= wsrelay.MaxSockets {
		return false
	}
	st.conns += delta
	if delta > 0 {
		s.backInLocked(ss.r, ss.seat, s.cfg.Now())
	}
	return true
}

// Polled marks a fallback poll: a member of "out" comes back in, in a new version.
func (ss *Session) Polled() {
	s := ss.s
	s.mu.Lock()
	now := s.cfg.Now()
	s.backInLocked(ss.r, ss.seat, now)
	s.mu.Unlock()
}

// State is a snapshot for a member.
type State struct {
	V       uint32
	In      []int  // seats in this version (1…8), in order
	Out     []int  // joined seats left out of this version because they were away
	Ended   string // the reason, once the room or this member's seat ended
	Pending uint64 // the first record not yet acknowledged by this member (or the next number)
	VFrom   uint64 // the first record stored in version V: those below it are delivered before V's list
	Avail   bool   // a record is waiting for this member
	Changed <-chan struct{}
}

// endedLocked is the reason this member can no longer take part, or "".
func (ss *Session) endedLocked() string {
	if st := &ss.r.seats[ss.seat]; st.state != seatMember {
		return st.reason // its own end first: it left or was dropped before the room ended
	}
	if ss.r.ended {
		return ss.r.reason
	}
	return ""
}

// State reports what the member needs to decide what to do next, and a channel closed at the
// next change.
func (ss *Session) State() State {
	s := ss.s
	s.mu.Lock()
	defer s.mu.Unlock()
	r := ss.r
	st := State{V: r.v, VFrom: r.vFrom, Changed: r.changed, Ended: ss.endedLocked()}
	for i := range r.n {
		if r.seats[i].state != seatMember {
			continue
		}
		if r.seats[i].in {
			st.In = append(st.In, i+1)
		} else {
			st.Out = append(st.Out, i+1)
		}
	}
	st.Pending = max(r.seats[ss.seat].acked, r.next)
	bit := uint8(1) << ss.seat
	for _, f := range r.records {
		if f.to&bit != 0 {
			st.Pending, st.Avail = f.seq, true
			break
		}
	}
	return st
}

// SendStream stores a record whose length is where rd ends (a WebSocket message, at most
// MaxRecord) for the other members of "in", and returns its sequence number. Send is the same
// for a record of exactly n bytes (the fallback). ErrTooLarge over MaxRecord; ErrBusy over the
// sender's share (share) or the room's MaxBytes, once the members that acknowledged nothing for
// more than HoldWait while records waited for them were dropped (stuckLocked); ErrFull when the
// vault cannot hold it (nobody is dropped for that); *EndedError once the member or the room
// ended. A refused record changes nothing else.
func (ss *Session) SendStream(rd io.Reader) (uint64, error) { return ss.send(rd, -1) }

// Send is SendStream for a record of exactly n bytes.
func (ss *Session) Send(rd io.Reader, n int64) (uint64, error) {
	if n <= 0 || n > ss.s.cfg.MaxRecord {
		return 0, ErrTooLarge
	}
	return ss.send(rd, n)
}

func (s *Server) blocks(n int64) int64 { return (n + s.bs - 1) / s.bs * s.bs }

// fits is the longest record that avail bytes hold: whole blocks, one of them kept for the
// vault's read-ahead of a stream.
func (s *Server) fits(avail int64) int64 { return max(0, (avail-s.bs)/s.bs*s.bs) }

// share is one sender's part of the room's MaxBytes: MaxBytes ÷ (members of "in" − 1).
func (s *Server) share(r *room) int64 {
	return s.cfg.MaxBytes / int64(max(1, bits.OnesCount8(r.inMask())-1))
}

// stuckLocked is the members of "in" (but except) that acknowledged nothing for more than
// HoldWait while records waited for them, the longest stuck first. A member that acknowledges,
// however slowly, is never stuck.
func (s *Server) stuckLocked(r *room, except int, now time.Time) []int {
	type stuck struct {
		i     int
		since time.Time
	}
	var cs []stuck
	for i := range r.n {
		st := &r.seats[i]
		if i == except || st.state != seatMember || !st.in {
			continue
		}
		for _, f := range r.records { // the oldest record waiting for it
			if f.to&(1<<i) != 0 {
				since := f.at
				if st.ackAt.After(since) {
					since = st.ackAt
				}
				if now.Sub(since) > s.cfg.HoldWait {
					cs = append(cs, stuck{i, since})
				}
				break
			}
		}
	}
	sort.Slice(cs, func(a, b int) bool { return cs[a].since.Before(cs[b].since) })
	out := make([]int, len(cs))
	for k, c := range cs {
		out[k] = c.i
	}
	return out
}

// freedBy is what releasing mask would give back: of the room (from < 0), or of seat from's
// share.
func (r *room) freedBy(mask uint8, from int) int64 {
	var n int64
	for _, f := range r.records {
		if f.to&^mask == 0 && (from < 0 || f.from == from+1) {
			n += f.charge
		}
	}
	return n
}

func (ss *Session) send(rd io.Reader, n int64) (uint64, error) {
	s, r := ss.s, ss.r
	now := s.cfg.Now()
	s.mu.Lock()
	if e := ss.endedLocked(); e != "" {
		s.mu.Unlock()
		return 0, &EndedError{e}
	}
	me := &r.seats[ss.seat]
	s.backInLocked(r, ss.seat, now) // a member of "out" that sends is connected again
	r.lastRecord = now              // a record from anyone keeps the room from idling, even one refused
	// The most a record may take: MaxRecord, or exactly n; the vault reserves up to one block
	// ahead of a stream's bytes.
	want := s.cfg.MaxRecord
	if n > 0 {
		want = n
	}
	need := s.blocks(want + 1)
	// It may not fit the sender's share or the room's cap: first drop the stuck members that
	// stand in the way. Over the share, only those the sender's own records wait for; over the
	// room's cap, any. A full vault drops nobody: only the room's own limits are looked at.
	var drop []int
	var mask, mine uint8 // mine: the seats the sender's own records wait for
	for _, f := range r.records {
		if f.from == ss.seat+1 {
			mine |= f.to
		}
	}
	share := func() int64 { return s.cfg.MaxBytes / int64(max(1, bits.OnesCount8(r.inMask()&^mask)-1)) }
	overShare := func() bool { return me.held-r.freedBy(mask, ss.seat)+need > share() }
	overRoom := func() bool { return r.bytes-r.freedBy(mask, -1)+need > s.cfg.MaxBytes }
	for _, i := range s.stuckLocked(r, ss.seat, now) {
		if !overShare() && !overRoom() {
			break
		}
		if !overRoom() && mine&(1<<i) == 0 {
			continue // over the share only, and none of the sender's records waits for it
		}
		drop = append(drop, i)
		mask |= 1 << i
	}
	wipe := s.dropLocked(r, drop, ReasonDropped, now)
	to := r.inMask() &^ (1 << ss.seat)
	if to == 0 { // nobody to deliver to: read through, kept nowhere
		seq := r.next
		r.next++
		me.sent++
		s.mu.Unlock()
		s.wipe(wipe)
		lim := n
		if n < 0 {
			lim = s.cfg.MaxRecord + 1
		}
		if err := wsrelay.Drain(io.LimitReader(rd, lim)); err != nil {
			return 0, ErrInvalid
		}
		return seq, nil
	}
	limit := min(s.cfg.MaxRecord, s.fits(s.share(r)-me.held), s.fits(s.cfg.MaxBytes-r.bytes))
	if n > 0 && n > limit || limit <= 0 {
		s.mu.Unlock()
		s.wipe(wipe)
		return 0, ErrBusy
	}
	if n > 0 {
		limit = n
	}
	reserve := s.blocks(limit + 1)
	r.bytes += reserve
	me.held += reserve
	s.mu.Unlock()
	s.wipe(wipe)

	f, err := s.put(r.id, rd, n, limit)
	if errors.Is(err, ErrTooLarge) && n < 0 && limit < s.cfg.MaxRecord {
		err = ErrBusy // longer than what the room or the share may hold now, not than any record
	}
	s.mu.Lock()
	r.bytes -= reserve
	me.held -= reserve
	if err != nil {
		s.mu.Unlock()
		return 0, err
	}
	if e := ss.endedLocked(); e != "" {
		s.mu.Unlock()
		s.wipe([]record{f})
		return 0, &EndedError{e}
	}
	me.sent++
	f.to = to & r.inMask()
	if f.to == 0 { // every recipient left meanwhile
		seq := r.next
		r.next++
		s.mu.Unlock()
		s.wipe([]record{f})
		return seq, nil
	}
	f.charge = s.blocks(f.size)
	f.seq, f.from, f.at = r.next, ss.seat+1, s.cfg.Now()
	r.bytes += f.charge
	me.held += f.charge
	r.next++
	r.records = append(r.records, f)
	r.lastRecord = f.at
	s.notifyLocked(r)
	s.mu.Unlock()
	return f.seq, nil
}

// put stores a record of n bytes from rd in the vault, or of rd's length (up to limit) when
// n < 0, as a relay entry of the room. Nothing of the record is looked at.
func (s *Server) put(owner vault.ID, rd io.Reader, n, limit int64) (record, error) {
	p, err := s.v.PutRelay(vault.KindRoomFrame, owner.String(), s.cfg.MaxTTL, n, limit, rd)
	f := record{vid: p.ID, manage: p.Manage, size: p.Size}
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
	return f, fmt.Errorf("room: store: %w", err)
}

// Delivery is one record waiting for this member.
type Delivery struct {
	Seq  uint64
	From int // the sending seat, 1…8
	Size int64
	ss   *Session
}

// PeekNow returns the first record for this member numbered from or later, or nil.
func (ss *Session) PeekNow(from uint64) *Delivery {
	s := ss.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss.endedLocked() != "" {
		return nil
	}
	return ss.peekLocked(from)
}

func (ss *Session) peekLocked(from uint64) *Delivery {
	bit := uint8(1) << ss.seat
	for _, f := range ss.r.records {
		if f.seq >= from && f.to&bit != 0 {
			return &Delivery{Seq: f.seq, From: f.from, Size: f.size, ss: ss}
		}
	}
	return nil
}

// Peek is PeekNow that waits until a record arrives, the membership version moves past v,
// this member or the room ends (*EndedError), or ctx is done. A nil Delivery with a nil error:
// the version changed.
func (ss *Session) Peek(ctx context.Context, from uint64, v uint32) (*Delivery, error) {
	s := ss.s
	for {
		s.mu.Lock()
		if e := ss.endedLocked(); e != "" {
			s.mu.Unlock()
			return nil, &EndedError{e}
		}
		if d := ss.peekLocked(from); d != nil {
			s.mu.Unlock()
			return d, nil
		}
		if ss.r.v != v {
			s.mu.Unlock()
			return nil, nil
		}
		ch := ss.r.changed
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ch:
		}
	}
}

// WriteTo streams the record from the vault to w, straight from its locked blocks, as often
// as it is pushed (a reconnect) until this member acknowledges it.
func (d *Delivery) WriteTo(w io.Writer) (int64, error) {
	s, ss := d.ss.s, d.ss
	s.mu.Lock()
	var f *record
	bit := uint8(1) << ss.seat
	for i := range ss.r.records {
		if ss.r.records[i].seq == d.Seq && ss.r.records[i].to&bit != 0 {
			f = &ss.r.records[i]
			break
		}
	}
	if f == nil || ss.endedLocked() != "" {
		s.mu.Unlock()
		return 0, ErrGone
	}
	vid, manage := f.vid, f.manage
	s.mu.Unlock()
	rd, err := s.v.ReadRelay(vault.KindRoomFrame, vid, manage[:])
	if err != nil {
		return 0, ErrGone
	}
	defer rd.Close()
	return rd.WriteTo(w, 0)
}

// AckBelow records that this member has every record numbered below next: they are released
// for it, and wiped once every recipient has them. AckBelow(0) acknowledges nothing.
func (ss *Session) AckBelow(next uint64) {
	s := ss.s
	s.mu.Lock()
	var done []record
	if ss.endedLocked() == "" {
		me := &ss.r.seats[ss.seat]
		me.acked = max(me.acked, next)
		bit := uint8(1) << ss.seat
		kept := ss.r.records[:0]
		for _, f := range ss.r.records {
			if f.seq < next && f.to&bit != 0 {
				f.to &^= bit
				me.ackAt = s.cfg.Now() // it acknowledged a record: it is not stuck
			}
			if f.to == 0 {
				ss.r.uncharge(f)
				done = append(done, f)
				continue
			}
			kept = append(kept, f)
		}
		clear(ss.r.records[len(kept):])
		ss.r.records = kept
	}
	s.mu.Unlock()
	s.wipe(done)
}

// skip releases the one record seq that the vault no longer has, for this member.
func (ss *Session) skip(seq uint64) {
	s := ss.s
	s.mu.Lock()
	var gone []record
	bit := uint8(1) << ss.seat
	for i := range ss.r.records {
		if f := &ss.r.records[i]; f.seq == seq {
			f.to &^= bit
			if f.to == 0 {
				ss.r.uncharge(*f)
				gone = append(gone, *f)
				ss.r.records = append(ss.r.records[:i:i], ss.r.records[i+1:]...)
			}
			break
		}
	}
	s.mu.Unlock()
	s.wipe(gone)
}

// Leave ends this member's seat (told "left"); the others see the seats change.
func (ss *Session) Leave() {
	s := ss.s
	s.mu.Lock()
	var wipe []record
	if ss.endedLocked() == "" {
		wipe = s.dropLocked(ss.r, []int{ss.seat}, ReasonLeft, s.cfg.Now())
	}
	s.mu.Unlock()
	s.wipe(wipe)
}
