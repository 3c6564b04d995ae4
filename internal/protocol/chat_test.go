package protocol

import (
	"crypto/rand"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func chatPair(t *testing.T, id [16]byte, kmC, kmJ, rc, rj []byte, lc, lj uint32) (*ChatSession, *ChatSession, error) {
	t.Helper()
	hc, helloC, err := NewChatHandshake(id, ChatRoleCreator, kmC, rc, lc)
	require.NoError(t, err)
	hj, helloJ, err := NewChatHandshake(id, ChatRoleJoiner, kmJ, rj, lj)
	require.NoError(t, err)
	confC, err := hc.Peer(helloJ)
	if err != nil {
		return nil, nil, err
	}
	confJ, err := hj.Peer(helloC)
	if err != nil {
		return nil, nil, err
	}
	sc, err := hc.Finish(confJ)
	if err != nil {
		return nil, nil, err
	}
	sj, err := hj.Finish(confC)
	return sc, sj, err
}

func randKey(t *testing.T) []byte {
	b := make([]byte, 32)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

// A relay that answers each side with its own ephemeral key (a man in the middle) has no
// Km: neither side accepts its confirmation, so no data record is ever made under its keys.
func TestChatRelaySwappingKeysIsDetected(t *testing.T) {
	var id [16]byte
	km := randKey(t)
	hc, helloC, err := NewChatHandshake(id, ChatRoleCreator, km, nil, 0)
	require.NoError(t, err)
	hj, helloJ, err := NewChatHandshake(id, ChatRoleJoiner, km, nil, 0)
	require.NoError(t, err)

	guess := randKey(t) // the relay's best guess of Km
	mj, mHelloJ, err := NewChatHandshake(id, ChatRoleJoiner, guess, nil, 0)
	require.NoError(t, err)
	mc, mHelloC, err := NewChatHandshake(id, ChatRoleCreator, guess, nil, 0)
	require.NoError(t, err)

	confC, err := hc.Peer(mHelloJ) // the creator sees the relay's key
	require.NoError(t, err)
	confJ, err := hj.Peer(mHelloC) // the joiner too
	require.NoError(t, err)
	mConfJ, err := mj.Peer(helloC)
	require.NoError(t, err)
	mConfC, err := mc.Peer(helloJ)
	require.NoError(t, err)

	_, err = hc.Finish(mConfJ)
	require.ErrorIs(t, err, ErrChatHandshake)
	_, err = hj.Finish(mConfC)
	require.ErrorIs(t, err, ErrChatHandshake)
	// Passing the honest confirmations through does not help either: they cover other keys.
	_, err = mj.Finish(confC)
	require.ErrorIs(t, err, ErrChatHandshake)
	_, err = mc.Finish(confJ)
	require.ErrorIs(t, err, ErrChatHandshake)
}

func TestChatResumeEpochs(t *testing.T) {
	var id [16]byte
	copy(id[:], randKey(t))
	km := randKey(t)
	sc, sj, err := chatPair(t, id, km, km, nil, nil, 0, 0)
	require.NoError(t, err)
	code := sc.SafetyCode()
	require.Regexp(t, `^\d{4}( \d{4}){5}$`, code)
	old, err := sc.Seal(mustMsg(t, "epoch 1"))
	require.NoError(t, err)
	r := sc.Resume()
	last := uint32(1)
	for range 3 {
		sc2, sj2, err := chatPair(t, id, km, km, r, r, last, last)
		require.NoError(t, err)
		require.Equal(t, last+1, sc2.Epoch())
		require.Equal(t, code, sj2.SafetyCode())
		_, err = sj2.Open(old)
		require.ErrorIs(t, err, ErrChatEpoch)
		rec, err := sj2.Seal(mustMsg(t, "new"))
		require.NoError(t, err)
		_, err = sc2.Open(rec)
		require.NoError(t, err)
		last = sc2.Epoch()
	}
	// Without the resume secret, the link key alone cannot start a new epoch.
	_, _, err = chatPair(t, id, km, km, r, nil, last, 0)
	require.ErrorIs(t, err, ErrChatHandshake)
	// A hello refused for the missing resume secret changes nothing: it is refused before
	// the ECDH (a hostile review's I-a: it returned with the shared secret unzeroed).
	hj, _, err := NewChatHandshake(id, ChatRoleJoiner, km, nil, 0)
	require.NoError(t, err)
	_, helloC, err := NewChatHandshake(id, ChatRoleCreator, km, r, last)
	require.NoError(t, err)
	for range 2 {
		_, err = hj.Peer(helloC)
		require.ErrorIs(t, err, ErrChatHandshake)
		require.Zero(t, hj.epoch, "no epoch taken")
		require.Nil(t, hj.ikm, "no key material kept")
	}
	// A wrong resume secret fails the confirmation.
	_, _, err = chatPair(t, id, km, km, r, randKey(t), last, last)
	require.ErrorIs(t, err, ErrChatHandshake)
	// Another chat id (same keys) is another transcript.
	var other [16]byte
	hc, helloC, _ := NewChatHandshake(id, ChatRoleCreator, km, nil, 0)
	hj, helloJ, _ := NewChatHandshake(other, ChatRoleJoiner, km, nil, 0)
	_, _ = hc.Peer(helloJ)
	confJ, _ := hj.Peer(helloC)
	_, err = hc.Finish(confJ)
	require.ErrorIs(t, err, ErrChatHandshake)
	_ = sj
}

func mustMsg(t *testing.T, s string) []byte {
	b, err := EncodeChatMessage(ChatMsgText, []byte(s))
	require.NoError(t, err)
	return b
}

func TestChatRefusesBadInputs(t *testing.T) {
	var id [16]byte
	_, _, err := NewChatHandshake(id, 3, randKey(t), nil, 0)
	require.ErrorIs(t, err, ErrFormat)
	_, _, err = NewChatHandshake(id, ChatRoleCreator, make([]byte, 31), nil, 0)
	require.ErrorIs(t, err, ErrKey)
	h, _, err := NewChatHandshake(id, ChatRoleCreator, randKey(t), nil, 0)
	require.NoError(t, err)
	_, err = h.Finish(make([]byte, ChatConfirmSize))
	require.ErrorIs(t, err, ErrChatHandshake, "confirm before hello")
	_, err = EncodeChatMessage(ChatMsgText, make([]byte, ChatMaxMessage+1))
	require.ErrorIs(t, err, ErrFormat)
	for _, n := range []int{0, 1, 250, 251, 252, 4000, ChatMaxMessage} {
		p, err := EncodeChatMessage(ChatMsgFileChunk, make([]byte, n))
		require.NoError(t, err)
		require.LessOrEqual(t, len(p)+ChatDataHeader+TagSize, ChatMaxRecord)
		_, b, err := DecodeChatMessage(p)
		require.NoError(t, err)
		require.Len(t, b, n)
	}
	require.False(t, errors.Is(ErrChatEpoch, ErrFormat))
}

func FuzzChatOpen(f *testing.F) {
	f.Add([]byte{3, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0})
	var id [16]byte
	km := make([]byte, 32)
	f.Fuzz(func(t *testing.T, rec []byte) {
		hc, helloC, _ := NewChatHandshake(id, ChatRoleCreator, km, nil, 0)
		hj, helloJ, _ := NewChatHandshake(id, ChatRoleJoiner, km, nil, 0)
		cc, _ := hc.Peer(helloJ)
		cj, _ := hj.Peer(helloC)
		sc, err := hc.Finish(cj)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := hj.Finish(cc); err != nil {
			t.Fatal(err)
		}
		if _, err := sc.Open(rec); err == nil {
			t.Fatal("a record nobody sealed opened")
		}
		_, _, _ = DecodeChatMessage(rec)
	})
}
