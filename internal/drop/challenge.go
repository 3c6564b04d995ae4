package drop

import (
	"crypto/ecdh"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/vault"
)

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
