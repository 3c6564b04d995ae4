package circuit

import (
	"container/list"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Defaults for Config's zero fields (SECURITY.md, "Per-circuit limits", says why).
const (
	// DefaultBurst is how many creates a fresh circuit may make at once. Tor Browser keeps one
	// circuit per onion site for the whole visit: making a note is one create, two when the
	// server asks for a proof of work first; a reload, a retry after a lost answer, or a
	// person sending several notes, a chat and a drop submission in a row takes a few more.
	DefaultBurst = 10
	// DefaultEvery is how long a circuit waits for each create past its burst: six a minute
	// is more than a person types, and far less than a script would like.
	DefaultEvery = 10 * time.Second
	// DefaultMaxRecords caps the circuits remembered at once (about 160 bytes each with the
	// map and lists: 2.6 MiB at most). Tor closes a circuit over 32 streams and the HTTP
	// server holds 1,024 connections, so the records of circuits with an open connection fit
	// many times over.
	DefaultMaxRecords = 16384
)

// Config configures a Limiter. The zero value of each field selects its default.
type Config struct {
	Burst      int
	Every      time.Duration
	MaxRecords int
	Now        func() time.Time // default time.Now
}

// Limiter counts creates per circuit in RAM: a token bucket of Burst creates that refills one
// create per Every, held for as long as the circuit has a connection open and for
// Burst×Every after its last one closed, which is when the bucket is full again (so
// forgetting it gives a circuit nothing back). It never holds more than MaxRecords records:
// past that the record idle longest goes first, and with none idle the one whose circuit
// opened a connection longest ago. A record holds the circuit id, a connection count and
// two times: nothing a client sent, and no entry, chat or drop.
type Limiter struct {
	burst, max int
	every      time.Duration
	linger     time.Duration
	now        func() time.Time

	mu     sync.Mutex
	recs   map[uint32]*record
	idle   *list.List // of *record with no connection open, longest idle first
	active *list.List // of *record with a connection open, least recently opened first
}

type record struct {
	id    uint32
	conns int
	tat   time.Time // the bucket's theoretical arrival time (GCRA): full when tat <= now
	since time.Time // idle records: when the last connection closed (or the last create)
	elem  *list.Element
	in    *list.List // idle or active: the list elem is in
}

// NewLimiter returns a Limiter for cfg.
func NewLimiter(cfg Config) (*Limiter, error) {
	if cfg.Burst == 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.Every == 0 {
		cfg.Every = DefaultEvery
	}
	if cfg.MaxRecords == 0 {
		cfg.MaxRecords = DefaultMaxRecords
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Burst < 1 || cfg.Every < time.Millisecond || cfg.MaxRecords < 1 {
		return nil, fmt.Errorf("%w: Burst %d, Every %v and MaxRecords %d must be positive", errConfig, cfg.Burst, cfg.Every, cfg.MaxRecords)
	}
	return &Limiter{
		burst: cfg.Burst, every: cfg.Every, max: cfg.MaxRecords, now: cfg.Now,
		linger: time.Duration(cfg.Burst) * cfg.Every,
		recs:   map[uint32]*record{}, idle: list.New(), active: list.New(),
	}, nil
}

var errConfig = errors.New("circuit: invalid config")

// opened counts a connection of circuit id.
func (l *Limiter) opened(id uint32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.sweep(now)
	r := l.get(id, now)
	r.conns++
	l.move(r, l.active)
}

// closed counts out a connection of circuit id; the circuit's record is dropped Burst×Every
// after its last connection closed.
func (l *Limiter) closed(id uint32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.sweep(now)
	r := l.recs[id]
	if r == nil || r.conns == 0 { // evicted (and perhaps made again) while it was open
		return
	}
	if r.conns--; r.conns == 0 {
		r.since = now
		l.move(r, l.idle)
	}
}

// allow spends one create of circuit id. When none is left it returns false and how long
// until the next one.
func (l *Limiter) allow(id uint32) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.sweep(now)
	r := l.get(id, now)
	if r.conns == 0 { // only after an eviction: keep it as long as its debt lasts
		r.since = now
		l.move(r, l.idle)
	}
	tat := r.tat
	if tat.Before(now) {
		tat = now
	}
	if over := tat.Sub(now) - time.Duration(l.burst-1)*l.every; over > 0 {
		return false, over
	}
	r.tat = tat.Add(l.every)
	return true, 0
}

// get returns id's record, making room for a new one if needed.
func (l *Limiter) get(id uint32, now time.Time) *record {
	if r := l.recs[id]; r != nil {
		return r
	}
	if len(l.recs) >= l.max {
		victim := l.idle.Front()
		if victim == nil {
			victim = l.active.Front()
		}
		l.drop(victim.Value.(*record))
	}
	r := &record{id: id, tat: now, since: now}
	l.recs[id] = r
	r.elem, r.in = l.idle.PushBack(r), l.idle
	return r
}

// move puts r at the back of to (the most recent end).
func (l *Limiter) move(r *record, to *list.List) {
	r.in.Remove(r.elem)
	r.elem, r.in = to.PushBack(r), to
}

// sweep drops the idle records whose time is up. The idle list is in the order their last
// connection closed, and every record's bucket is full Burst×Every after that, so the expired
// ones are at its front.
func (l *Limiter) sweep(now time.Time) {
	for e := l.idle.Front(); e != nil; e = l.idle.Front() {
		r := e.Value.(*record)
		if now.Sub(r.since) < l.linger {
			return
		}
		l.drop(r)
	}
}

func (l *Limiter) drop(r *record) {
	r.in.Remove(r.elem)
	r.elem, r.in = nil, nil
	delete(l.recs, r.id)
}

// size is the number of circuits remembered.
func (l *Limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recs)
}
