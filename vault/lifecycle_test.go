package vault_test

import (
	"bytes"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/sealdrop/sealdrop/vault"
	"github.com/stretchr/testify/require"
)

func TestTTLEdges(t *testing.T) {
	v, c := smallVault(t, vault.Config{})
	s := newSecrets(t, false, false)
	created := c.Now()
	id, exp, err := v.Put(vault.CreateRequest{Kind: vault.KindNote, Length: 2000, TTL: time.Hour, Caps: s.caps}, bytes.NewReader(random(t, 2000)))
	require.NoError(t, err)
	require.Equal(t, created.Add(time.Hour), exp, "TTL counts from create")
	check := vault.BlocksOf(v, id)
	c.Add(time.Hour - time.Nanosecond)
	st, e2, err := v.Status(vault.KindNote, id, s.manage)
	require.NoError(t, err)
	require.Equal(t, vault.StateWaiting, st)
	require.Equal(t, exp, e2)
	require.Len(t, v.List(vault.KindNote, ""), 1)
	c.Add(time.Nanosecond)
	// Gone at once for every call, before any sweep.
	_, ch := claim(t)
	_, err = v.Open(vault.KindNote, id, vault.OpenRequest{Gate: s.gate, Claim: ch})
	require.ErrorIs(t, err, vault.ErrGone)
	require.True(t, check(), "the access itself wiped it")
	_, _, err = v.Status(vault.KindNote, id, s.manage)
	require.ErrorIs(t, err, vault.ErrGone, "no tombstone past the original expiry")
	require.Empty(t, v.List(vault.KindNote, ""))
	require.ErrorIs(t, v.Revoke(vault.KindNote, id, s.manage), vault.ErrGone)
}

func TestTTLCountsFromCreateNotCommit(t *testing.T) {
	v, c := smallVault(t, vault.Config{PendingIdle: time.Hour, EmptyIdle: time.Hour})
	s := newSecrets(t, false, false)
	id := create(t, v, s, 100, 10*time.Minute)
	c.Add(9 * time.Minute)
	_, err := v.Append(vault.KindNote, id, s.manage, 0, 100, bytes.NewReader(random(t, 100)))
	require.NoError(t, err)
	exp, err := v.Commit(vault.KindNote, id, s.manage)
	require.NoError(t, err)
	require.Equal(t, c.Now().Add(time.Minute), exp)
	c.Add(time.Minute)
	v.Sweep()
	require.Zero(t, v.Stats().Used)
}

func TestSweeperWithinOneSecond(t *testing.T) {
	v, err := vault.New(vault.Config{Budget: 1 << 20}) // real clock, default sweeper
	require.NoError(t, err)
	defer v.Close()
	s := newSecrets(t, false, false)
	id := put(t, v, s, random(t, 5000), 200*time.Millisecond)
	check := vault.BlocksOf(v, id)
	expired := time.Now().Add(200 * time.Millisecond)
	for !check() {
		require.Less(t, time.Since(expired), time.Second, "sweeper late")
		time.Sleep(5 * time.Millisecond)
	}
	require.Zero(t, v.Stats().Used)
}

func TestStatusAndRevoke(t *testing.T) {
	v, c := smallVault(t, vault.Config{})
	s := newSecrets(t, false, false)
	id := create(t, v, s, 100, time.Hour)
	state := func() vault.State {
		t.Helper()
		st, _, err := v.Status(vault.KindNote, id, s.manage)
		require.NoError(t, err)
		return st
	}
	require.Equal(t, vault.StatePending, state())
	_, _, err := v.Status(vault.KindNote, id, random(t, 32))
	require.ErrorIs(t, err, vault.ErrGone, "wrong manage secret")
	_, err = v.Append(vault.KindNote, id, s.manage, 0, 100, bytes.NewReader(random(t, 100)))
	require.NoError(t, err)
	_, err = v.Commit(vault.KindNote, id, s.manage)
	require.NoError(t, err)
	require.Equal(t, vault.StateWaiting, state())
	check := vault.BlocksOf(v, id)
	require.ErrorIs(t, v.Revoke(vault.KindNote, id, random(t, 32)), vault.ErrGone)
	require.Equal(t, vault.StateWaiting, state())
	require.NoError(t, v.Revoke(vault.KindNote, id, s.manage))
	require.True(t, check())
	require.Equal(t, vault.StateGone, state())
	require.ErrorIs(t, v.Revoke(vault.KindNote, id, s.manage), vault.ErrGone, "already ended")
	_, ch := claim(t)
	_, err = v.Open(vault.KindNote, id, vault.OpenRequest{Gate: s.gate, Claim: ch})
	require.ErrorIs(t, err, vault.ErrGone)
	c.Add(time.Hour)
	v.Sweep()
	_, _, err = v.Status(vault.KindNote, id, s.manage)
	require.ErrorIs(t, err, vault.ErrGone)

	_, _, err = v.Status(vault.KindNote, vault.ID{1}, s.manage)
	require.ErrorIs(t, err, vault.ErrGone, "never existed")
	require.ErrorIs(t, v.Revoke(vault.KindNote, vault.ID{1}, s.manage), vault.ErrGone)
}

func TestListAndStats(t *testing.T) {
	v, c := smallVault(t, vault.Config{Budget: 1 << 20})
	s := newSecrets(t, false, false)
	req := vault.CreateRequest{Kind: vault.KindSubmission, Owner: "drop1", Length: 1500, TTL: time.Hour, Caps: s.caps}
	a, _, err := v.Put(req, bytes.NewReader(random(t, 1500)))
	require.NoError(t, err)
	c.Add(90 * time.Second)
	b, _, err := v.Put(req, bytes.NewReader(random(t, 1500)))
	require.NoError(t, err)
	req.Owner = "drop2"
	_, _, err = v.Put(req, bytes.NewReader(random(t, 1500)))
	require.NoError(t, err)
	_, _, err = v.Create(vault.CreateRequest{Kind: vault.KindSubmission, Owner: "drop1", Length: 10, TTL: time.Hour, Caps: s.caps})
	require.NoError(t, err) // pending: not listed

	l := v.List(vault.KindSubmission, "drop1")
	require.Len(t, l, 2)
	require.Equal(t, a, l[0].ID)
	require.Equal(t, b, l[1].ID)
	require.EqualValues(t, 1500, l[0].Size)
	require.Zero(t, l[1].Created.Second(), "created is rounded to the minute")
	require.Zero(t, l[1].Created.Nanosecond())
	require.Empty(t, v.List(vault.KindNote, "drop1"))

	st := v.Stats()
	require.EqualValues(t, 1<<20, st.Budget)
	require.EqualValues(t, 3*2048, st.Used, "the pending entry holds nothing before its bytes arrive")
	require.Equal(t, st.Budget-st.Used, st.Free)
	require.Equal(t, map[vault.Kind]int{vault.KindSubmission: 4}, st.Entries)
}

func TestWipeAndClose(t *testing.T) {
	v, _ := smallVault(t, vault.Config{})
	s := newSecrets(t, false, false)
	var checks []func() bool
	var ids []vault.ID
	for range 5 {
		id := put(t, v, s, random(t, 3000), time.Hour)
		ids = append(ids, id)
		checks = append(checks, vault.BlocksOf(v, id))
	}
	v.Wipe()
	for i, id := range ids {
		require.True(t, checks[i]())
		_, _, err := v.Status(vault.KindNote, id, s.manage)
		require.ErrorIs(t, err, vault.ErrGone)
	}
	require.Zero(t, v.Stats().Used)
	// Still usable.
	id := put(t, v, s, []byte("after wipe"), time.Hour)

	// A reading in flight while Close runs: it stops with ErrGone, and Close neither faults it
	// nor waits for ever.
	_, ch := claim(t)
	r, err := v.Open(vault.KindNote, id, vault.OpenRequest{Gate: s.gate, Claim: ch})
	require.NoError(t, err)
	var wg sync.WaitGroup
	closed := make(chan error, 3)
	for range 3 {
		wg.Go(func() { closed <- v.Close() })
	}
	wg.Wait()
	close(closed)
	for err := range closed {
		require.NoError(t, err)
	}
	_, err = r.WriteTo(io.Discard, 0)
	require.ErrorIs(t, err, vault.ErrGone)
	r.Close()
	require.Zero(t, vault.Busy(v))

	_, _, err = v.Create(vault.CreateRequest{Kind: vault.KindNote, Length: 1, TTL: time.Hour, Caps: s.caps})
	require.ErrorIs(t, err, vault.ErrClosed)
	_, _, err = v.Put(vault.CreateRequest{Kind: vault.KindNote, Length: 1, TTL: time.Hour, Caps: s.caps}, bytes.NewReader([]byte{1}))
	require.ErrorIs(t, err, vault.ErrClosed)
	_, err = v.Open(vault.KindNote, id, vault.OpenRequest{Gate: s.gate, Claim: ch})
	require.ErrorIs(t, err, vault.ErrGone)
	require.ErrorIs(t, v.Confirm(vault.KindNote, id, s.gate, ch[:]), vault.ErrGone)
	_, _, err = v.Status(vault.KindNote, id, s.manage)
	require.ErrorIs(t, err, vault.ErrGone)
	require.ErrorIs(t, v.Revoke(vault.KindNote, id, s.manage), vault.ErrClosed)
	require.Nil(t, v.List(vault.KindNote, ""))
	v.Wipe()
	v.Sweep()
	require.NoError(t, v.Close())
}

// A flood of short-lived entries cannot grow the status records without bound: past
// MaxTombstones, ending an entry evicts the oldest record, whose manage secret then learns
// only "gone". Live entries are untouched.
func TestTombstonesAreBounded(t *testing.T) {
	v, _ := smallVault(t, vault.Config{MaxTombstones: 3})
	keep := newSecrets(t, false, false)
	kept := put(t, v, keep, random(t, 100), time.Hour)
	var ended []vault.ID
	var secs []secrets
	for i := range 10 {
		s := newSecrets(t, false, false)
		id := put(t, v, s, random(t, 100), time.Hour)
		if i%2 == 0 {
			require.NoError(t, v.Revoke(vault.KindNote, id, s.manage))
		} else {
			_ = take(t, v, id, s)
		}
		ended = append(ended, id)
		secs = append(secs, s)
		require.LessOrEqual(t, vault.Tombstones(v), 3)
	}
	require.Equal(t, 3, vault.Tombstones(v))
	for i, id := range ended {
		st, exp, err := v.Status(vault.KindNote, id, secs[i].manage)
		if i < len(ended)-3 {
			require.ErrorIs(t, err, vault.ErrGone, "record %d is among the oldest: evicted", i)
			continue
		}
		require.NoError(t, err, "record %d is among the newest three", i)
		want := vault.StateGone
		if i%2 == 1 {
			want = vault.StateOpened
		}
		require.Equal(t, want, st)
		require.False(t, exp.IsZero(), "a tombstone keeps the original expiry")
	}
	st, _, err := v.Status(vault.KindNote, kept, keep.manage)
	require.NoError(t, err)
	require.Equal(t, vault.StateWaiting, st, "live entries are not status records")
	// Wipe forgets them all, and the ring starts again.
	v.Wipe()
	require.Zero(t, vault.Tombstones(v))
	s := newSecrets(t, false, false)
	id := put(t, v, s, random(t, 100), time.Hour)
	require.NoError(t, v.Revoke(vault.KindNote, id, s.manage))
	require.Equal(t, 1, vault.Tombstones(v))
}

// A tombstone's expiry is the entry's original expiry, to the nanosecond, and it goes exactly
// then.
func TestTombstoneExpiry(t *testing.T) {
	v, c := smallVault(t, vault.Config{})
	s := newSecrets(t, false, false)
	id, exp, err := v.Put(vault.CreateRequest{Kind: vault.KindNote, Length: 10, TTL: time.Hour, Caps: s.caps}, bytes.NewReader(random(t, 10)))
	require.NoError(t, err)
	require.NoError(t, v.Revoke(vault.KindNote, id, s.manage))
	st, e2, err := v.Status(vault.KindNote, id, s.manage)
	require.NoError(t, err)
	require.Equal(t, vault.StateGone, st)
	require.True(t, exp.Equal(e2), "%v != %v", exp, e2)
	c.Add(time.Hour - time.Nanosecond)
	_, _, err = v.Status(vault.KindNote, id, s.manage)
	require.NoError(t, err)
	c.Add(time.Nanosecond)
	_, _, err = v.Status(vault.KindNote, id, s.manage)
	require.ErrorIs(t, err, vault.ErrGone)
	require.Zero(t, vault.Tombstones(v))
}
