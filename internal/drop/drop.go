package drop

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
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
	ok := err == nil && flags >= 0 && flags <= 0xff && protocol.ValidDropFlags(byte(flags)) && len(auth) == protocol.DropPublicSize
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

// Inbox challenges are stateless: a challenge is window (4) ‖ random (12) ‖ tag (16), the tag
// an HMAC of the route, window and random under a per-process key, and the server's ephemeral
// key is derived from the whole challenge under the same key. Nothing is stored when one is
// made, so no flood of challenges can fill a table and keep inboxes from being answered; a
// challenge is remembered only once a request proved the inbox key with it (single use).
