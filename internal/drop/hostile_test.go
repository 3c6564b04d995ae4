package drop_test

// Attacks on the drops found by a hostile review of issue 13, kept as regression tests.

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/drop"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/vault"
)

// A thief holding a leaked inbox link could keep the journalist from listing the inbox, and so
// from seeing the visit log that exists to reveal the theft, by using up the route's record of
// spent challenges (4,096 inbox requests every two minutes). Past it the oldest are forgotten.
func TestThiefCannotLockTheJournalistOut(t *testing.T) {
	e := newEnv(t, drop.Config{})
	k := keys(t, 0)
	r := route(t, e.s, k)
	for range drop.MaxSpentPerRoute {
		_, err := e.s.List(r, e.prove(t, k, protocol.DropActionList, vault.ID{}, [32]byte{}), vault.ID{})
		require.NoError(t, err)
	}
	_, err := e.s.List(r, e.prove(t, k, protocol.DropActionList, vault.ID{}, [32]byte{}), vault.ID{})
	require.NoError(t, err, "the journalist lists (and sees the visit log) after a thief's 4,096 lists")
}

// A submission is committed only through its own route: a reply committed "through" another
// route (the attacker's own drop) would never have marked its reply box used, and the box
// would have taken a second reply once the first was read.
func TestSubmissionCommitsOnlyThroughItsRoute(t *testing.T) {
	e := newEnv(t, drop.Config{})
	k := keys(t, protocol.DropFlagReply)
	r := route(t, e.s, k)
	other := route(t, e.s, keys(t, 0))
	ct := seal(t, k, "the first reply")
	manage := make([]byte, 32)
	_, _ = rand.Read(manage)
	req := drop.SubmitRequest{Length: int64(len(ct)), Manage: sha256.Sum256(manage)}
	e.pay(t, r, &req)
	id, _, err := e.s.Submit(r, req)
	require.NoError(t, err)
	_, err = e.v.Append(vault.KindSubmission, id, manage, 0, int64(len(ct)), bytes.NewReader(ct))
	require.NoError(t, err)
	_, err = e.s.Commit(other, id, manage)
	require.ErrorIs(t, err, vault.ErrGone, "committed through another route")
	_, err = e.s.Commit(r, id, manage)
	require.NoError(t, err)
	got, err := e.read(t, k, id)
	require.NoError(t, err)
	require.Equal(t, "the first reply", got)
	_, err = e.submit(t, k, seal(t, k, "a second reply"))
	require.ErrorIs(t, err, drop.ErrGone, "the reply box took a second reply")
}

// The used reply boxes are one set for the whole server (MaxUsedReplies, 250,000), each kept
// for 14 days. Reply routes are free (a key pair), and a reply to one's own box is free:
// submit, commit, wipe it through its own inbox. When the set was full every reply box
// refused its reply (507); now the oldest is forgotten instead. Scaled here to 20.
func TestUsedReplySetForgetsTheOldestWhenFull(t *testing.T) {
	e := newEnv(t, drop.Config{MaxUsedReplies: 20})
	for range 20 {
		k := keys(t, protocol.DropFlagReply)
		_, err := e.submit(t, k, []byte{1})
		require.NoError(t, err)
		_, err = e.s.WipeAll(route(t, e.s, k), e.prove(t, k, protocol.DropActionWipe, vault.ID{}, [32]byte{}))
		require.NoError(t, err)
	}
	require.Zero(t, e.v.Stats().Used, "the attacker holds no memory")
	source := keys(t, protocol.DropFlagReply)
	_, err := e.submit(t, source, seal(t, source, "the journalist's reply"))
	require.NoError(t, err, "a journalist's reply to a source is refused")
}
