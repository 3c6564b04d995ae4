package vault

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"time"
)

// Relayed is a relay entry PutRelay stored: its id, the manage secret that reads and wipes it,
// and its length.
type Relayed struct {
	ID     ID
	Manage [32]byte
	Size   int64
}

// PutRelay stores one record a relay holds for someone (a chat's or a room's undelivered
// record) as a relay entry of kind owned by owner, under a fresh random manage secret: n bytes
// from r, or when n < 0 what r holds up to limit bytes (PutUpTo). The errors are Put's.
func (v *Vault) PutRelay(kind Kind, owner string, ttl time.Duration, n, limit int64, r io.Reader) (Relayed, error) {
	var f Relayed
	if _, err := rand.Read(f.Manage[:]); err != nil {
		return f, fmt.Errorf("vault: random: %w", err)
	}
	req := CreateRequest{Kind: kind, Owner: owner, Length: n, TTL: ttl, Caps: Caps{Manage: sha256.Sum256(f.Manage[:])}, Relay: true}
	var err error
	f.Size = n
	if n < 0 {
		req.Length = limit
		f.ID, f.Size, _, err = v.PutUpTo(req, r)
	} else {
		f.ID, _, err = v.Put(req, r)
	}
	return f, err
}
