// Package price makes new entries pay for what they hold once the server is more than half
// full (SECURITY.md, "What a hostile client may cost"). It issues the stateless price tokens,
// checks payments and spends each one once. How full the server is, and so the price level,
// is the caller's to measure (vault.Load and its own caps); the formula is the protocol's
// (protocol.PriceBits), so that clients compute the same price before they ask.
//
// What it protects: a token is derived from a per-process secret, a time window and a
// generation (a caller may retire the tokens given so far in a window: TokenAfter), so no table
// of issued tokens exists that a flood could fill; only payments that passed are remembered
// (until their window is over), and only by the manage hash they are bound to, so one payment
// buys one entry. What it does not protect: proof of work cannot make a native attacker pay
// what a browser without a JIT pays (SECURITY.md gives the measured ratio): it keeps ordinary
// use free, makes large long entries pay when memory is short, and leaves the rate limit to
// Tor's own defences and the per-circuit limits. It never logs or prints anything.
package price

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sealdrop/sealdrop/internal/protocol"
)

// Sentinel errors.
var (
	// ErrPrice: the payment is missing, wrong, expired, already spent, or pays less than the
	// price now. The caller answers with the price now and a fresh token.
	ErrPrice = errors.New("price: not paid")
	// ErrTooDear: the price is over MaxBits; the caller refuses the entry as if full.
	ErrTooDear = errors.New("price: too dear")
	// ErrBusy: more payments of this kind (or, for drop submissions, of this drop) were spent
	// in the last windows than the kind's (the drop's) share of MaxSpent.
	ErrBusy = errors.New("price: too many payments at once")
)

// Defaults for Config's zero fields.
const (
	DefaultWindow   = 5 * time.Minute
	DefaultMaxBits  = 32
	DefaultMaxSpent = 1 << 20
)

// Config configures a Pricer. The zero value of each field selects its default.
type Config struct {
	// Window is a token's lifetime unit: a token is accepted in its window and the next.
	Window time.Duration
	// MaxBits is the highest price asked; a request that would cost more is refused (ErrTooDear).
	MaxBits int
	// MaxSpent caps the payments remembered (those of the current and previous window) of
	// each kind: a flood of paid chats cannot make notes or drop submissions unpayable. One
	// scope (a drop's route) holds at most MaxSpent/8 of its kind, like its share of the bytes,
	// so that one drop's flood leaves the others payable.
	MaxSpent int
	// Floor is the lowest level charged, whatever the fill: 0 in production; tests raise it to
	// watch a browser pay.
	Floor int
	Now   func() time.Time
}

// Pricer issues tokens and checks payments. Its methods are safe for concurrent use.
type Pricer struct {
	cfg Config
	key [32]byte

	mu      sync.Mutex
	spent   map[spentKey]uint32 // payment → window of the token it paid with
	perKind map[byte]int        // payments remembered, by kind
	perDrop map[scopeKey]int    // payments remembered, by kind and non-zero scope
	pruned  uint32              // the window in which spent was last pruned
}

// spentKey is one payment: a manage hash pays once per kind and scope.
type spentKey struct {
	scope  scopeKey
	manage [32]byte
}

type scopeKey struct {
	kind  byte
	scope [protocol.PriceScopeSize]byte
}

// New validates cfg and returns a Pricer with a fresh per-process secret.
func New(cfg Config) (*Pricer, error) {
	if cfg.Window == 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.MaxBits == 0 {
		cfg.MaxBits = DefaultMaxBits
	}
	if cfg.MaxSpent == 0 {
		cfg.MaxSpent = DefaultMaxSpent
	}
	if cfg.Window < time.Second || cfg.MaxBits < 1 || cfg.MaxBits > 64 || cfg.MaxSpent < 1 || cfg.Floor < 0 {
		return nil, fmt.Errorf("price: config: a limit is out of range")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &Pricer{cfg: cfg, spent: map[spentKey]uint32{}, perKind: map[byte]int{}, perDrop: map[scopeKey]int{}}
	if _, err := rand.Read(p.key[:]); err != nil {
		return nil, fmt.Errorf("price: random: %w", err)
	}
	return p, nil
}

// Config returns the resolved configuration.
func (p *Pricer) Config() Config { return p.cfg }

func (p *Pricer) window(t time.Time) uint32 {
	return uint32(t.Unix() / int64(p.cfg.Window/time.Second))
}

// A token is its window (4 bytes, big-endian), its generation (1 byte) and an HMAC of both
// under the per-process key (15 bytes). Clients treat it as opaque bytes. The generation lets
// a caller retire the tokens given so far in a window (TokenAfter) without a table of them.
const (
	tokenHead = 5
	genMax    = 255
)

func (p *Pricer) token(w uint32, gen byte) [protocol.PriceTokenSize]byte {
	var tok [protocol.PriceTokenSize]byte
	binary.BigEndian.PutUint32(tok[:4], w)
	tok[4] = gen
	m := hmac.New(sha256.New, p.key[:])
	m.Write([]byte("sealdrop/v1 price token"))
	m.Write(tok[:tokenHead])
	copy(tok[tokenHead:], m.Sum(nil))
	return tok
}

// end is when the tokens of window w stop being accepted: the end of the next window.
func (p *Pricer) end(w uint32) time.Time {
	return time.Unix(int64(w+2)*int64(p.cfg.Window/time.Second), 0)
}

// Token is the current price token, and how long it will still be accepted (at least one
// window). Nothing is stored: the same window always gives the same token.
func (p *Pricer) Token() ([protocol.PriceTokenSize]byte, time.Duration) { return p.TokenAfter(0) }

// TokenAfter is Token for a caller that retired the tokens up to retired (a Ticket's Seq): in
// the window that retired names, it is the next generation's token (the last generation when
// all are retired), so that a client given it is not refused for its age.
func (p *Pricer) TokenAfter(retired uint64) ([protocol.PriceTokenSize]byte, time.Duration) {
	now := p.cfg.Now()
	w := p.window(now)
	var gen byte
	if uint32(retired>>8) == w {
		gen = byte(min(retired&0xff+1, genMax))
	}
	return p.token(w, gen), p.end(w).Sub(now)
}

// Ticket checks that token is one this Pricer issued and still accepts, and returns its place
// in the order of issue (seq: window, then generation; never 0) and when it stops being
// accepted. A token the caller binds an entry to must be one Ticket accepts.
func (p *Pricer) Ticket(token []byte) (seq uint64, until time.Time, ok bool) {
	w, ok := p.check(token)
	if !ok {
		return 0, time.Time{}, false
	}
	return uint64(w)<<8 | uint64(token[4]), p.end(w), true
}

// check reports whether token is one this Pricer issued and still accepts (its window or the
// next), and its window.
func (p *Pricer) check(token []byte) (uint32, bool) {
	if len(token) != protocol.PriceTokenSize {
		return 0, false
	}
	cur := p.window(p.cfg.Now())
	w := binary.BigEndian.Uint32(token)
	if w != cur && w+1 != cur {
		return 0, false
	}
	want := p.token(w, token[4])
	return w, subtle.ConstantTimeCompare(want[:], token) == 1
}

// Unpaid is ErrPrice with the price asked now, for the answer that tells the client what to pay.
type Unpaid struct{ Bits int }

func (e *Unpaid) Error() string { return fmt.Sprintf("price: not paid (%d bits asked)", e.Bits) }
func (e *Unpaid) Unwrap() error { return ErrPrice }

// Charge makes r pay its price at level: Bits, then Pay. A refusal is *Unpaid (wrapping
// ErrPrice), ErrTooDear or ErrBusy. refund is never nil.
func (p *Pricer) Charge(level int, r protocol.PriceRequest, token, nonce []byte) (refund func(), err error) {
	return p.ChargeFor(level, r, r.Length, r.TTL, token, nonce)
}

// ChargeFor is Charge for a request that occupies more than it declares: length bytes for
// ttl are priced (a slot's share of a count-capped resource, a chat link's lifetime plus the
// session it may become), while the payment stays bound to r as sent.
func (p *Pricer) ChargeFor(level int, r protocol.PriceRequest, length int64, ttl time.Duration, token, nonce []byte) (refund func(), err error) {
	bits, err := p.Bits(level, protocol.PriceRequest{Length: length, TTL: ttl})
	if err != nil {
		return func() {}, err
	}
	refund, err = p.Pay(r, token, nonce, bits)
	if errors.Is(err, ErrPrice) {
		return refund, &Unpaid{Bits: bits}
	}
	return refund, err
}

// Level is the level charged for a fill's level: at least Config.Floor.
func (p *Pricer) Level(level int) int { return max(level, p.cfg.Floor) }

// Bits is the price of r at level, or ErrTooDear over MaxBits.
func (p *Pricer) Bits(level int, r protocol.PriceRequest) (int, error) {
	b := protocol.PriceBits(p.Level(level), r.Length, r.TTL)
	if b > p.cfg.MaxBits {
		return b, ErrTooDear
	}
	return b, nil
}

// Pay checks that nonce pays need bits for r with token, and spends the payment: the same
// manage hash cannot pay again while the token is valid. need 0 asks for nothing (token and
// nonce are ignored). refund gives a spent payment back (call it when the entry could not be
// made, so that the client may retry with the same payment); it is never nil.
func (p *Pricer) Pay(r protocol.PriceRequest, token, nonce []byte, need int) (refund func(), err error) {
	refund = func() {}
	if need <= 0 {
		return refund, nil
	}
	if len(nonce) != protocol.PriceNonceSize {
		return refund, ErrPrice
	}
	cur := p.window(p.cfg.Now())
	w, ok := p.check(token)
	if !ok || !protocol.CheckPrice(token, r, nonce, need) {
		return refund, ErrPrice
	}
	k := spentKey{scope: scopeKey{kind: r.Kind, scope: r.Scope}, manage: r.Manage}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, seen := p.spent[k]; seen {
		return refund, ErrPrice
	}
	if p.pruned != cur || p.full(k.scope) {
		// Once a window: payments whose token can no longer be used need not be remembered.
		p.pruned = cur
		for old, sw := range p.spent {
			if sw+1 < cur {
				p.forget(old)
			}
		}
		if p.full(k.scope) {
			return refund, ErrBusy
		}
	}
	p.spent[k] = w
	p.perKind[k.scope.kind]++
	if k.scope.scope != ([protocol.PriceScopeSize]byte{}) {
		p.perDrop[k.scope]++
	}
	return func() {
		p.mu.Lock()
		if _, ok := p.spent[k]; ok {
			p.forget(k)
		}
		p.mu.Unlock()
	}, nil
}

// full reports whether a new payment of sc's kind, or of its drop, would pass its share of
// MaxSpent. Called with p.mu held.
func (p *Pricer) full(sc scopeKey) bool {
	if p.perKind[sc.kind] >= p.cfg.MaxSpent {
		return true
	}
	return sc.scope != ([protocol.PriceScopeSize]byte{}) && p.perDrop[sc] >= max(1, p.cfg.MaxSpent/8)
}

// forget drops one remembered payment. Called with p.mu held.
func (p *Pricer) forget(k spentKey) {
	delete(p.spent, k)
	if p.perKind[k.scope.kind]--; p.perKind[k.scope.kind] == 0 {
		delete(p.perKind, k.scope.kind)
	}
	if k.scope.scope != ([protocol.PriceScopeSize]byte{}) {
		if p.perDrop[k.scope]--; p.perDrop[k.scope] <= 0 {
			delete(p.perDrop, k.scope)
		}
	}
}

// Spent is the number of payments remembered (tests, status).
func (p *Pricer) Spent() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.spent)
}
