package vault_test

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/vault"
)

// relaySecrets is a relay entry's one capability: its manage secret.
func relaySecrets(t testing.TB) secrets {
	s := secrets{manage: random(t, 32)}
	s.caps.Manage = sha256Of(s.manage)
	return s
}

func putRelay(t testing.TB, v *vault.Vault, owner string, s secrets, data []byte, ttl time.Duration) vault.ID {
	t.Helper()
	id, _, err := v.Put(vault.CreateRequest{Kind: vault.KindChatFrame, Owner: owner, Length: int64(len(data)), TTL: ttl, Caps: s.caps, Relay: true}, bytes.NewReader(data))
	require.NoError(t, err)
	return id
}

func readRelay(v *vault.Vault, kind vault.Kind, id vault.ID, manage []byte) ([]byte, error) {
	r, err := v.ReadRelay(kind, id, manage)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var buf bytes.Buffer
	if _, err := r.WriteTo(&buf, 0); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// A relay entry is read by its manage secret as often as asked, long past a claim window,
// until it is wiped; no reader's route (open, confirm) ever finds it, and it leaves no record.
func TestRelayEntryReadUntilWiped(t *testing.T) {
	v, clk := smallVault(t, vault.Config{ClaimWindow: 10 * time.Minute})
	s := relaySecrets(t)
	data := random(t, 3000)
	id := putRelay(t, v, "chat", s, data, 24*time.Hour)
	for range 3 {
		got, err := readRelay(v, vault.KindChatFrame, id, s.manage)
		require.NoError(t, err)
		require.Equal(t, data, got)
	}
	// Two readings at once (a push on a socket that is being replaced).
	r1, err := v.ReadRelay(vault.KindChatFrame, id, s.manage)
	require.NoError(t, err)
	r2, err := v.ReadRelay(vault.KindChatFrame, id, s.manage)
	require.NoError(t, err)
	for _, r := range []*vault.Reading{r1, r2} {
		var buf bytes.Buffer
		_, err := r.WriteTo(&buf, 0)
		require.NoError(t, err)
		require.Equal(t, data, buf.Bytes())
		r.Close()
	}
	// No claim, so no claim window: an hour of sweeps later it is still there.
	for range 6 {
		clk.Add(10 * time.Minute)
		v.Sweep()
	}
	got, err := readRelay(v, vault.KindChatFrame, id, s.manage)
	require.NoError(t, err)
	require.Equal(t, data, got)

	// Nobody else reads it: a reader's open with any gate, another secret, another kind.
	_, ch := claim(t)
	for _, gate := range [][]byte{nil, random(t, 32), s.manage} {
		_, err := v.Open(vault.KindChatFrame, id, vault.OpenRequest{Gate: gate, Claim: ch})
		require.ErrorIs(t, err, vault.ErrGone)
		require.ErrorIs(t, v.Confirm(vault.KindChatFrame, id, gate, random(t, 32)), vault.ErrGone)
	}
	_, err = readRelay(v, vault.KindChatFrame, id, random(t, 32))
	require.ErrorIs(t, err, vault.ErrGone, "another secret")
	_, err = readRelay(v, vault.KindNote, id, s.manage)
	require.ErrorIs(t, err, vault.ErrGone, "another kind")
	_, err = readRelay(v, vault.KindChatFrame, vault.ID{1}, s.manage)
	require.ErrorIs(t, err, vault.ErrGone, "no such entry")
	st, _, err := v.Status(vault.KindChatFrame, id, s.manage)
	require.NoError(t, err)
	require.Equal(t, vault.StateWaiting, st)

	wipe := vault.BlocksOf(v, id)
	require.NoError(t, v.Revoke(vault.KindChatFrame, id, s.manage))
	require.True(t, wipe(), "zeroed at once")
	_, err = readRelay(v, vault.KindChatFrame, id, s.manage)
	require.ErrorIs(t, err, vault.ErrGone)
	_, _, err = v.Status(vault.KindChatFrame, id, s.manage)
	require.ErrorIs(t, err, vault.ErrGone, "no status record")
	require.Zero(t, vault.Tombstones(v))
	require.Zero(t, v.Stats().Used)
	require.True(t, vault.FreeBlocksZero(v))
}

// An entry that is not a relay entry is never read by its manage secret: a note's sender
// cannot read the note, or keep it from being one-time.
func TestReadRelayOnlyReadsRelayEntries(t *testing.T) {
	v, _ := smallVault(t, vault.Config{})
	s := newSecrets(t, false, false)
	for _, k := range []vault.Kind{vault.KindNote, vault.KindChatFrame, vault.KindSubmission, vault.KindRoomFrame} {
		id, _, err := v.Put(vault.CreateRequest{Kind: k, Owner: "o", Length: 10, TTL: time.Hour, Caps: s.caps}, bytes.NewReader(random(t, 10)))
		require.NoError(t, err)
		_, err = readRelay(v, k, id, s.manage)
		require.ErrorIs(t, err, vault.ErrGone, "kind %d", k)
		require.Len(t, takeKind(t, v, k, id, s), 10, "its reader still takes it")
		_, ch := claim(t)
		_, err = v.Open(k, id, vault.OpenRequest{Gate: s.gate, Claim: ch})
		require.ErrorIs(t, err, vault.ErrGone, "once")
	}
	// A relay entry still being written is not read.
	r := relaySecrets(t)
	id, _, err := v.Create(vault.CreateRequest{Kind: vault.KindChatFrame, Owner: "c", Length: 10, TTL: time.Hour, Caps: r.caps, Relay: true})
	require.NoError(t, err)
	_, err = v.Append(vault.KindChatFrame, id, r.manage, 0, 10, bytes.NewReader(random(t, 10)))
	require.NoError(t, err)
	_, err = readRelay(v, vault.KindChatFrame, id, r.manage)
	require.ErrorIs(t, err, vault.ErrGone, "pending")
	_, err = v.Commit(vault.KindChatFrame, id, r.manage)
	require.NoError(t, err)
	_, err = readRelay(v, vault.KindChatFrame, id, r.manage)
	require.NoError(t, err)
}

// A relay entry carries its manage hash only: a gate, a PIN or a destruct hash would be a
// reader's capability that nothing checks.
func TestRelayEntryCaps(t *testing.T) {
	v, _ := smallVault(t, vault.Config{})
	full := newSecrets(t, true, true)
	for name, c := range map[string]vault.Caps{
		"gate":      {Gate: full.caps.Gate, Manage: full.caps.Manage},
		"pin":       {PIN: true, Open: full.caps.Open, Manage: full.caps.Manage},
		"destruct":  {Destruct: full.caps.Destruct, Manage: full.caps.Manage},
		"no manage": {},
	} {
		_, _, err := v.Put(vault.CreateRequest{Kind: vault.KindChatFrame, Length: 1, TTL: time.Hour, Caps: c, Relay: true}, bytes.NewReader([]byte{1}))
		require.ErrorIs(t, err, vault.ErrInvalid, name)
	}
	_, _, err := v.Put(vault.CreateRequest{Kind: vault.KindChatFrame, Length: 1, TTL: time.Hour, Caps: vault.Caps{Manage: full.caps.Manage}}, bytes.NewReader([]byte{1}))
	require.ErrorIs(t, err, vault.ErrInvalid, "control: without Relay the manage hash alone is not enough")
	_, _, err = v.Put(vault.CreateRequest{Kind: vault.KindChatFrame, Length: 1, TTL: time.Hour, Caps: vault.Caps{Manage: full.caps.Manage}, Relay: true}, bytes.NewReader([]byte{1}))
	require.NoError(t, err)
}

// Each way a relay entry ends: it is unreadable at once, and its blocks are zeroed; Destroy
// keeps the blocks charged (a duress PIN must not show in the free space) until the entry
// ends as it would have anyway.
func TestRelayEntryEnds(t *testing.T) {
	ways := map[string]func(v *vault.Vault, clk *clock, id vault.ID, s secrets){
		"revoke": func(v *vault.Vault, _ *clock, id vault.ID, s secrets) {
			_ = v.Revoke(vault.KindChatFrame, id, s.manage)
		},
		"wipe owner": func(v *vault.Vault, _ *clock, _ vault.ID, _ secrets) { v.WipeOwner(vault.KindChatFrame, "chat") },
		"wipe":       func(v *vault.Vault, _ *clock, _ vault.ID, _ secrets) { v.Wipe() },
		"ttl":        func(v *vault.Vault, clk *clock, _ vault.ID, _ secrets) { clk.Add(time.Hour); v.Sweep() },
		"destroy": func(v *vault.Vault, _ *clock, id vault.ID, s secrets) {
			_ = v.Destroy(vault.KindChatFrame, id, s.manage)
		},
	}
	for name, end := range ways {
		t.Run(name, func(t *testing.T) {
			v, clk := smallVault(t, vault.Config{})
			s := relaySecrets(t)
			id := putRelay(t, v, "chat", s, random(t, 5000), time.Hour)
			// A reading under way when the entry ends stops with ErrGone.
			r, err := v.ReadRelay(vault.KindChatFrame, id, s.manage)
			require.NoError(t, err)
			zeroed := vault.BlocksOf(v, id)
			end(v, clk, id, s)
			v.Settle()
			_, err = r.WriteTo(io.Discard, 0)
			require.ErrorIs(t, err, vault.ErrGone)
			r.Close()
			require.True(t, zeroed())
			_, err = readRelay(v, vault.KindChatFrame, id, s.manage)
			require.ErrorIs(t, err, vault.ErrGone)
			if name == "destroy" {
				require.EqualValues(t, 5<<10, v.Stats().Used, "kept as if nothing happened")
				require.NoError(t, v.Revoke(vault.KindChatFrame, id, s.manage))
			}
			require.Zero(t, v.Stats().Used)
			require.Zero(t, vault.Busy(v))
			require.Zero(t, vault.Tombstones(v))
			require.True(t, vault.FreeBlocksZero(v))
		})
	}
}

// Relay entries are charged like every entry: whole blocks, to their kind's quota and their
// owner's, once however often they are read, and freed when wiped.
func TestRelayEntriesChargedToTheirKind(t *testing.T) {
	for _, kind := range []vault.Kind{vault.KindChatFrame, vault.KindRoomFrame} {
		t.Run(fmt.Sprint(kind), func(t *testing.T) { relayEntriesChargedTo(t, kind) })
	}
}

// relayEntriesChargedTo is TestRelayEntriesChargedToTheirKind for one relay kind (chat and room
// records), next to a note kind that must stay untouched.
func relayEntriesChargedTo(t *testing.T, kind vault.Kind) {
	v, _ := smallVault(t, vault.Config{
		KindQuota:  map[vault.Kind]int64{kind: 8 << 10},
		OwnerQuota: map[vault.Kind]int64{kind: 4 << 10},
	})
	s := relaySecrets(t)
	put := func(owner string) error {
		_, _, err := v.Put(vault.CreateRequest{Kind: kind, Owner: owner, Length: 1, TTL: time.Hour, Caps: s.caps, Relay: true}, bytes.NewReader([]byte{7}))
		return err
	}
	var a []vault.ID
	for range 4 {
		require.NoError(t, put("a"))
	}
	require.ErrorIs(t, put("a"), vault.ErrFull, "four 1-byte records fill a 4 KiB owner quota: whole blocks")
	for range 4 {
		require.NoError(t, put("b"))
	}
	require.ErrorIs(t, put("c"), vault.ErrFull, "the kind's quota")
	for _, info := range v.List(kind, "a") {
		a = append(a, info.ID)
	}
	require.Len(t, a, 4)
	var wg sync.WaitGroup
	for range 8 { // readers at once, again and again
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, id := range a {
				r, err := v.ReadRelay(kind, id, s.manage)
				if err == nil {
					_, _ = r.WriteTo(io.Discard, 0)
					r.Close()
				}
			}
		}()
	}
	wg.Wait()
	require.EqualValues(t, 8<<10, v.Stats().Used)
	require.Equal(t, 1.0, v.Load(kind, "a").Owner)
	require.Equal(t, 1.0, v.Load(kind, "").Kind)
	require.Zero(t, v.Load(vault.KindNote, "").Kind)
	for _, id := range a {
		require.NoError(t, v.Revoke(kind, id, s.manage))
	}
	require.Zero(t, v.Load(kind, "a").Owner)
	require.Equal(t, 0.5, v.Load(kind, "").Kind)
	require.NoError(t, put("a"), "freed blocks take a new record")
	require.Equal(t, 5, v.WipeOwner(kind, "b")+v.WipeOwner(kind, "a"))
	require.Zero(t, v.Stats().Used)
	require.Zero(t, v.Load(kind, "").Kind)
	require.True(t, vault.FreeBlocksZero(v))
}
