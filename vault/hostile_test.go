package vault_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/sealdrop/sealdrop/vault"
	"github.com/stretchr/testify/require"
)

// A coercer who stands next to the reader fills the vault until a create is refused, makes the
// reader type "the PIN", and tries to create again: if the duress PIN freed the note's blocks,
// the second create would succeed and give it away. Every observable (the answer, Stats, Load,
// the manage secret's Status, later creates) must be the same after a typo and after the
// duress PIN, at every step until the countdown ends the note.
func TestDuressDoesNotShowInCapacity(t *testing.T) {
	trace := func(duress bool) []string {
		v, clk := smallVault(t, vault.Config{Budget: 64 << 10, BlockSize: 1024})
		s := newSecrets(t, true, true)
		id := put(t, v, s, random(t, 8<<10), time.Hour)
		filler := newSecrets(t, false, false)
		for {
			if _, _, err := v.Put(vault.CreateRequest{Kind: vault.KindNote, Length: 1024, TTL: time.Hour, Caps: filler.caps}, bytes.NewReader(random(t, 1024))); err != nil {
				require.ErrorIs(t, err, vault.ErrFull)
				break
			}
		}
		var out []string
		observe := func(step string, err error) {
			v.Settle()
			st := v.Stats()
			state, exp, serr := v.Status(vault.KindNote, id, s.manage)
			_, _, cerr := v.Create(vault.CreateRequest{Kind: vault.KindNote, Length: 4 << 10, TTL: time.Hour, Caps: filler.caps})
			out = append(out, fmt.Sprintf("%s: answer=%v used=%d free=%d entries=%v load=%+v status=%v/%v/%v create=%v",
				step, err, st.Used, st.Free, st.Entries, v.Load(vault.KindNote, ""), state, exp.Sub(clk.Now()), serr, cerr))
		}
		observe("full", nil)
		typed := random(t, 32)
		destruct := random(t, 32)
		if duress {
			destruct = s.destruct
		}
		for try := range 5 {
			_, ch := claim(t)
			_, err := v.Open(vault.KindNote, id, vault.OpenRequest{Gate: s.gate, Open: typed, Destruct: destruct, Claim: ch})
			observe(fmt.Sprintf("try %d", try), err)
			clk.Add(time.Minute)
			destruct = random(t, 32)
		}
		_, ch := claim(t)
		_, err := v.Open(vault.KindNote, id, vault.OpenRequest{Gate: s.gate, Open: s.open, Claim: ch})
		observe("the right PIN after the countdown", err)
		return out
	}
	typo, duress := trace(false), trace(true)
	require.Equal(t, typo, duress)
	require.Contains(t, typo[0], "create=vault: full", "the vault must be full for the test to mean anything")
	require.Contains(t, typo[1], "create=vault: full", "a wrong PIN frees nothing")
	require.NotContains(t, typo[5], "create=vault: full", "the fifth failure frees the note")
}

// The duress PIN zeroes the content at once even though its blocks stay reserved.
func TestDuressZeroesButKeepsBlocks(t *testing.T) {
	v, _ := smallVault(t, vault.Config{})
	s := newSecrets(t, true, true)
	id := put(t, v, s, random(t, 5000), time.Hour)
	zeroed := vault.BlocksOf(v, id)
	used := v.Stats().Used
	_, ch := claim(t)
	_, err := v.Open(vault.KindNote, id, vault.OpenRequest{Gate: s.gate, Open: random(t, 32), Destruct: s.destruct, Claim: ch})
	require.Equal(t, &vault.PINError{Left: 4}, err)
	v.Settle()
	require.True(t, zeroed(), "the content is zeroed at once")
	require.Equal(t, used, v.Stats().Used, "the blocks stay reserved")
	require.NoError(t, v.Revoke(vault.KindNote, id, s.manage))
	require.Zero(t, v.Stats().Used)
	require.True(t, vault.FreeBlocksZero(v))
}

// Destroy is the duress PIN for callers that hold entries for others (a chat's records).
func TestDestroyKeepsAccounting(t *testing.T) {
	v, clk := smallVault(t, vault.Config{})
	s := newSecrets(t, false, false)
	id := put(t, v, s, random(t, 3000), time.Hour)
	zeroed := vault.BlocksOf(v, id)
	before := v.Stats()
	require.ErrorIs(t, v.Destroy(vault.KindChatFrame, id, s.manage), vault.ErrGone, "another kind")
	require.ErrorIs(t, v.Destroy(vault.KindNote, id, random(t, 32)), vault.ErrGone, "another secret")
	require.NoError(t, v.Destroy(vault.KindNote, id, s.manage))
	require.True(t, zeroed())
	require.Equal(t, before, v.Stats())
	st, _, err := v.Status(vault.KindNote, id, s.manage)
	require.NoError(t, err)
	require.Equal(t, vault.StateWaiting, st)
	_, ch := claim(t)
	_, err = readAll(v, id, vault.OpenRequest{Gate: s.gate, Claim: ch}, 0)
	require.ErrorIs(t, err, vault.ErrGone, "nothing can read it")
	clk.Add(time.Hour)
	v.Sweep()
	require.Zero(t, v.Stats().Used, "its TTL frees it")

	pending := create(t, v, s, 10, time.Hour)
	require.ErrorIs(t, v.Destroy(vault.KindNote, pending, s.manage), vault.ErrGone, "not committed")
}

// Four bodiless creates of the largest entry used to reserve the whole vault for a week.
// Blocks are now taken only as bytes arrive.
func TestDeclaredLengthReservesNothing(t *testing.T) {
	v, _ := smallVault(t, vault.Config{Budget: 1 << 20})
	s := newSecrets(t, false, false)
	for range 10 {
		create(t, v, s, 1<<20, 7*24*time.Hour)
	}
	require.Zero(t, v.Stats().Used)
	other := newSecrets(t, false, false)
	data := random(t, 200<<10)
	id := put(t, v, other, data, time.Hour)
	require.Equal(t, data, take(t, v, id, other))
}

// An append reserves as its bytes come, and gives back what a body that broke off did not fill.
func TestAppendReservesAsBytesArrive(t *testing.T) {
	v, _ := smallVault(t, vault.Config{Budget: 1 << 20, BlockSize: 1024})
	s := newSecrets(t, false, false)
	id := create(t, v, s, 300<<10, time.Hour)
	data := random(t, 300<<10)
	// A body that breaks off after 40,000 of its declared 100 KiB.
	got, err := v.Append(vault.KindNote, id, s.manage, 0, 100<<10, io.LimitReader(bytes.NewReader(data), 40000))
	require.Error(t, err)
	require.EqualValues(t, 40000, got)
	require.EqualValues(t, 40*1024, v.Stats().Used, "the blocks under 40,000 bytes, no more")
	require.True(t, vault.FreeBlocksZero(v))
	got, err = v.Append(vault.KindNote, id, s.manage, got, int64(len(data))-got, bytes.NewReader(data[got:]))
	require.NoError(t, err)
	require.EqualValues(t, len(data), got)
	require.EqualValues(t, 300<<10, v.Stats().Used)
	_, err = v.Commit(vault.KindNote, id, s.manage)
	require.NoError(t, err)
	require.Equal(t, data, take(t, v, id, s))
}

// When the vault fills while an upload is under way, the append stops with ErrFull and keeps
// what it received: the writer can resume once there is room.
func TestAppendFindsVaultFull(t *testing.T) {
	v, _ := smallVault(t, vault.Config{Budget: 128 << 10, BlockSize: 1024})
	s := newSecrets(t, false, false)
	id := create(t, v, s, 100<<10, time.Hour)
	other := newSecrets(t, false, false)
	blocker := put(t, v, other, random(t, 64<<10), time.Hour)
	data := random(t, 100<<10)
	got, err := v.Append(vault.KindNote, id, s.manage, 0, int64(len(data)), bytes.NewReader(data))
	require.ErrorIs(t, err, vault.ErrFull)
	require.Positive(t, got)
	require.Less(t, got, int64(len(data)))
	take(t, v, blocker, other)
	got, err = v.Append(vault.KindNote, id, s.manage, got, int64(len(data))-got, bytes.NewReader(data[got:]))
	require.NoError(t, err)
	_, err = v.Commit(vault.KindNote, id, s.manage)
	require.NoError(t, err)
	require.Equal(t, data, take(t, v, id, s))
}

// A 1 KiB append a minute kept a pending entry alive past the idle wipe for as long as its TTL.
// Config.PendingMax ends it however often it is appended to.
func TestPendingMaxEndsTrickle(t *testing.T) {
	v, clk := smallVault(t, vault.Config{PendingIdle: 10 * time.Minute, PendingMax: 30 * time.Minute})
	s := newSecrets(t, false, false)
	id := create(t, v, s, 1<<20, 7*24*time.Hour)
	var off int64
	for minute := 0; ; minute++ {
		got, err := v.Append(vault.KindNote, id, s.manage, off, 1024, bytes.NewReader(random(t, 1024)))
		if err != nil {
			require.ErrorIs(t, err, vault.ErrGone)
			require.Equal(t, 30, minute, "ended at PendingMax")
			break
		}
		off = got
		clk.Add(time.Minute)
	}
	v.Sweep()
	require.Zero(t, v.Stats().Used)
	st, _, err := v.Status(vault.KindNote, id, s.manage)
	require.NoError(t, err)
	require.Equal(t, vault.StateGone, st)
}

// Pending entries cost heap before any byte arrives: their number is capped.
func TestMaxPending(t *testing.T) {
	v, _ := smallVault(t, vault.Config{MaxPending: 3})
	s := newSecrets(t, false, false)
	var ids []vault.ID
	for range 3 {
		id := create(t, v, s, 10, time.Hour)
		ids = append(ids, id)
	}
	_, _, err := v.Create(vault.CreateRequest{Kind: vault.KindNote, Length: 10, TTL: time.Hour, Caps: s.caps})
	require.ErrorIs(t, err, vault.ErrFull)
	require.EqualValues(t, 1, v.Load(vault.KindNote, "").Pending)
	// Committing one makes room; so does revoking one.
	_, err = v.Append(vault.KindNote, ids[0], s.manage, 0, 10, bytes.NewReader(random(t, 10)))
	require.NoError(t, err)
	_, err = v.Commit(vault.KindNote, ids[0], s.manage)
	require.NoError(t, err)
	require.NoError(t, v.Revoke(vault.KindNote, ids[1], s.manage))
	for range 2 {
		create(t, v, s, 10, time.Hour)
	}
	_, _, err = v.Create(vault.CreateRequest{Kind: vault.KindNote, Length: 10, TTL: time.Hour, Caps: s.caps})
	require.ErrorIs(t, err, vault.ErrFull)
}

// A capability never crosses kinds: a note's routes cannot commit, read, revoke or see a drop
// submission or a chat record, even with all of its secrets.
func TestKindsAreSeparate(t *testing.T) {
	v, _ := smallVault(t, vault.Config{})
	s := newSecrets(t, false, false)
	for _, k := range []vault.Kind{vault.KindChatFrame, vault.KindSubmission} {
		pending, _, err := v.Create(vault.CreateRequest{Kind: k, Owner: "o", Length: 10, TTL: time.Hour, Caps: s.caps})
		require.NoError(t, err)
		_, err = v.Append(vault.KindNote, pending, s.manage, 0, 10, bytes.NewReader(random(t, 10)))
		require.ErrorIs(t, err, vault.ErrGone)
		_, err = v.Append(k, pending, s.manage, 0, 10, bytes.NewReader(random(t, 10)))
		require.NoError(t, err)
		_, err = v.Commit(vault.KindNote, pending, s.manage)
		require.ErrorIs(t, err, vault.ErrGone)
		_, _, err = v.Status(vault.KindNote, pending, s.manage)
		require.ErrorIs(t, err, vault.ErrGone)
		_, err = v.Commit(k, pending, s.manage)
		require.NoError(t, err)
		nonce, ch := claim(t)
		_, err = v.Open(vault.KindNote, pending, vault.OpenRequest{Gate: s.gate, Claim: ch})
		require.ErrorIs(t, err, vault.ErrGone)
		r, err := v.Open(k, pending, vault.OpenRequest{Gate: s.gate, Claim: ch})
		require.NoError(t, err)
		r.Close()
		require.ErrorIs(t, v.Confirm(vault.KindNote, pending, s.gate, nonce), vault.ErrGone)
		require.ErrorIs(t, v.Revoke(vault.KindNote, pending, s.manage), vault.ErrGone)
		require.NoError(t, v.Revoke(k, pending, s.manage))
		// Its tombstone answers only its own kind.
		_, _, err = v.Status(vault.KindNote, pending, s.manage)
		require.ErrorIs(t, err, vault.ErrGone)
		st, _, err := v.Status(k, pending, s.manage)
		require.NoError(t, err)
		require.Equal(t, vault.StateGone, st)
	}
}

func TestPutUpTo(t *testing.T) {
	v, _ := smallVault(t, vault.Config{})
	s := newSecrets(t, false, false)
	req := vault.CreateRequest{Kind: vault.KindChatFrame, Owner: "c", Length: 5000, TTL: time.Hour, Caps: s.caps}
	for _, n := range []int{1, 1023, 1024, 4999, 5000} {
		data := random(t, n)
		id, got, _, err := v.PutUpTo(req, bytes.NewReader(data))
		require.NoError(t, err, n)
		require.EqualValues(t, n, got)
		require.EqualValues(t, (n+1023)/1024*1024, v.Stats().Used, "blocks for what arrived, none for the maximum")
		require.Equal(t, data, takeKind(t, v, vault.KindChatFrame, id, s))
	}
	_, _, _, err := v.PutUpTo(req, bytes.NewReader(random(t, 5001)))
	require.ErrorIs(t, err, vault.ErrTooLarge)
	_, _, _, err = v.PutUpTo(req, bytes.NewReader(nil))
	require.ErrorIs(t, err, vault.ErrInvalid)
	_, _, _, err = v.PutUpTo(req, io.MultiReader(bytes.NewReader(random(t, 100)), errReader{}))
	require.Error(t, err)
	require.Zero(t, v.Stats().Used)
	require.Empty(t, v.Stats().Entries)
	require.True(t, vault.FreeBlocksZero(v))
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

// A create that never sends a byte holds its pending slot only for EmptyIdle: holding the
// slots takes a steady stream of creates, not a burst.
func TestEmptyPendingEntryIsWipedSoon(t *testing.T) {
	v, clk := smallVault(t, vault.Config{EmptyIdle: time.Minute, PendingIdle: 10 * time.Minute, MaxPending: 2})
	s := newSecrets(t, false, false)
	empty := create(t, v, s, 100, time.Hour)
	started := create(t, v, s, 100, time.Hour)
	_, err := v.Append(vault.KindNote, started, s.manage, 0, 10, bytes.NewReader(random(t, 10)))
	require.NoError(t, err)
	_, _, err = v.Create(vault.CreateRequest{Kind: vault.KindNote, Length: 100, TTL: time.Hour, Caps: s.caps})
	require.ErrorIs(t, err, vault.ErrFull, "both pending slots of notes are taken")
	// Another kind has its own slots.
	_, _, err = v.Create(vault.CreateRequest{Kind: vault.KindSubmission, Owner: "d", Length: 100, TTL: time.Hour, Caps: s.caps})
	require.NoError(t, err)
	clk.Add(time.Minute)
	v.Sweep()
	_, _, err = v.Status(vault.KindNote, empty, s.manage)
	require.NoError(t, err)
	st, _, _ := v.Status(vault.KindNote, empty, s.manage)
	require.Equal(t, vault.StateGone, st, "no byte in a minute: gone")
	st, _, _ = v.Status(vault.KindNote, started, s.manage)
	require.Equal(t, vault.StatePending, st, "an upload under way keeps its slot for PendingIdle")
	create(t, v, s, 100, time.Hour)
}
