package drop

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/vault"
)

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
	// ID is the id the submission gets (an upload derives it from Manage, so that a retry
	// finds it); zero: a drawn one. An id in use is vault.ErrTaken and nothing is charged.
	ID         vault.ID
	Length     int64
	TTL        time.Duration // 0: Config.TTL
	Manage     [32]byte      // SHA-256 of the submitter's manage secret (for append and commit)
	PriceToken []byte
	PriceNonce []byte
	// Ticket binds a chosen ID to its token (vault.CreateRequest.Ticket); a retired one is
	// vault.ErrRetired.
	Ticket vault.Ticket
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
	id, exp, err := s.v.CreateOwned(vault.CreateRequest{ID: req.ID, Kind: vault.KindSubmission, Owner: r.str, Length: req.Length, TTL: ttl, Caps: caps, Ticket: req.Ticket}, limit)
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
	case errors.Is(err, vault.ErrTaken), errors.Is(err, vault.ErrRetired):
		return vault.ID{}, time.Time{}, err
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
