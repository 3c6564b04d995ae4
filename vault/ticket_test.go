package vault_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/vault"
)

// ticketed creates an entry at a chosen id bound to the ticket seq, accepted for window.
func ticketed(t *testing.T, v *vault.Vault, clk *clock, s secrets, seq uint64, ttl, window time.Duration) (vault.CreateRequest, vault.ID) {
	t.Helper()
	id, err := vault.NewID()
	require.NoError(t, err)
	req := vault.CreateRequest{ID: id, Kind: vault.KindNote, Length: 3, TTL: ttl, Caps: s.caps,
		Ticket: vault.Ticket{Seq: seq, Until: clk.Now().Add(window)}}
	_, _, err = v.Create(req)
	require.NoError(t, err)
	return req, id
}

// TestTicketKeepsRecordPastTTL: an entry whose ticket outlives its TTL leaves a record until
// the ticket's end, however it ended (revoked, expired, wiped by its owner), so that the same
// create cannot make it again; status tells nothing more than before past the expiry.
func TestTicketKeepsRecordPastTTL(t *testing.T) {
	v, clk := smallVault(t, vault.Config{Budget: 64 << 10})
	s := newSecrets(t, false, false)
	req, id := ticketed(t, v, clk, s, 7, time.Minute, 10*time.Minute)
	require.NoError(t, v.Revoke(vault.KindNote, id, s.manage))
	clk.Add(2 * time.Minute) // past the TTL, inside the ticket
	v.Sweep()
	_, _, err := v.Status(vault.KindNote, id, s.manage)
	require.ErrorIs(t, err, vault.ErrGone)
	_, _, err = v.Create(req)
	require.ErrorIs(t, err, vault.ErrTaken)
	clk.Add(9 * time.Minute) // the ticket is over: nothing is kept
	v.Sweep()
	require.Zero(t, vault.Tombstones(v))

	// Expired unread, by its TTL.
	req, _ = ticketed(t, v, clk, s, 8, time.Minute, 10*time.Minute)
	clk.Add(2 * time.Minute)
	v.Sweep()
	_, _, err = v.Create(req)
	require.ErrorIs(t, err, vault.ErrTaken)

	// Wiped with its owner's other entries.
	req = vault.CreateRequest{ID: vault.ID{1}, Kind: vault.KindSubmission, Owner: "drop", Length: 3, TTL: time.Minute,
		Caps: vault.Caps{Gate: s.caps.Gate, Manage: s.caps.Manage}, Ticket: vault.Ticket{Seq: 9, Until: clk.Now().Add(10 * time.Minute)}}
	_, _, err = v.Create(req)
	require.NoError(t, err)
	require.Equal(t, 1, v.WipeOwner(vault.KindSubmission, "drop"))
	_, _, err = v.Create(req)
	require.ErrorIs(t, err, vault.ErrTaken)
	require.Zero(t, v.Retired())
}

// TestTicketRetiredByEarlyEviction: a record pushed out of a full ring while it still guards
// its ticket retires that ticket and every older one; newer tickets are not refused.
func TestTicketRetiredByEarlyEviction(t *testing.T) {
	v, clk := smallVault(t, vault.Config{Budget: 64 << 10, MaxTombstones: 2})
	s := newSecrets(t, false, false)
	req, id := ticketed(t, v, clk, s, 5, time.Hour, 10*time.Minute)
	require.NoError(t, v.Revoke(vault.KindNote, id, s.manage))
	for i := 0; i < 2; i++ { // two newer records push it out
		_, other := ticketed(t, v, clk, s, 6, time.Hour, 10*time.Minute)
		require.NoError(t, v.Revoke(vault.KindNote, other, s.manage))
	}
	require.EqualValues(t, 5, v.Retired())
	_, _, err := v.Create(req)
	require.ErrorIs(t, err, vault.ErrRetired, "the create again, its record gone")
	ticketed(t, v, clk, s, 6, time.Hour, 10*time.Minute) // a newer ticket still creates

	// A record evicted after its ticket's end retires nothing.
	clk.Add(11 * time.Minute)
	for i := 0; i < 2; i++ {
		_, other := ticketed(t, v, clk, s, 100, time.Hour, 10*time.Minute)
		require.NoError(t, v.Revoke(vault.KindNote, other, s.manage))
	}
	require.EqualValues(t, 5, v.Retired())

	// Wipe forgets every record: every ticket given so far is retired.
	v.Wipe()
	require.EqualValues(t, 100, v.Retired())
}

// TestStaleRingSlotEvictsNothing: a ring slot left by an id's record that expired does not
// delete the record of the entry made at that id later (the reviewer's R4).
func TestStaleRingSlotEvictsNothing(t *testing.T) {
	v, clk := smallVault(t, vault.Config{Budget: 64 << 10, MaxTombstones: 3})
	s := newSecrets(t, false, false)
	id, err := vault.NewID()
	require.NoError(t, err)
	req := vault.CreateRequest{ID: id, Kind: vault.KindNote, Length: 3, TTL: time.Minute, Caps: s.caps}
	_, _, err = v.Create(req)
	require.NoError(t, err)
	require.NoError(t, v.Revoke(vault.KindNote, id, s.manage)) // ring: [id]
	clk.Add(2 * time.Minute)
	v.Sweep() // its record expires; the slot stays
	req.TTL = time.Hour
	_, _, err = v.Create(req)
	require.NoError(t, err)
	require.NoError(t, v.Revoke(vault.KindNote, id, s.manage)) // ring: [id (stale), id]
	for i := 0; i < 2; i++ {                                   // ring: [id, a, b], then the stale slot's turn
		o, _, err := v.Create(vault.CreateRequest{Kind: vault.KindNote, Length: 3, TTL: time.Hour, Caps: s.caps})
		require.NoError(t, err)
		require.NoError(t, v.Revoke(vault.KindNote, o, s.manage))
	}
	st, _, err := v.Status(vault.KindNote, id, s.manage)
	require.NoError(t, err, "the live record was deleted by the stale slot")
	require.Equal(t, vault.StateGone, st)
}
