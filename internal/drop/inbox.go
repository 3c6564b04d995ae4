package drop

import (
	"crypto/sha256"
	"math/bits"
	"time"

	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/vault"
)

// Item is one pending submission as the inbox sees it: coarse on purpose.
type Item struct {
	ID       vault.ID
	AgeHours int64 // whole hours since it arrived (arrival is kept to the minute)
	Size     int64 // ciphertext length rounded up to a power of two
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
