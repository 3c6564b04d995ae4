package vault_test

import (
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/vault"
)

// Equal is true for equal hashes only: a difference in any one bit of any byte is found.
func TestEqualFindsEveryDifference(t *testing.T) {
	a := sha256Of(random(t, 32))
	b := a
	require.True(t, vault.Equal(&a, &b))
	for i := range len(a) {
		for bit := range 8 {
			c := a
			c[i] ^= 1 << bit
			require.False(t, vault.Equal(&a, &c), "byte %d bit %d", i, bit)
			require.False(t, vault.Equal(&c, &a), "byte %d bit %d", i, bit)
		}
	}
	var zero vault.Hash
	require.True(t, vault.Equal(&zero, &vault.Hash{}))
	require.False(t, vault.Equal(&zero, &a))
}

func mustLock(t *testing.T, s secrets) *vault.Lock {
	t.Helper()
	l, err := vault.NewLock(s.caps)
	require.NoError(t, err)
	return &l
}

func try(l *vault.Lock, gate, open, destruct []byte) (bool, error) {
	p := vault.NewProof(gate, open, destruct)
	return l.Try(l.Check(&p), 5)
}

// The one check of a one-time capability, as the vault's Open and the chat's join use it.
func TestLockOneTimeCapability(t *testing.T) {
	t.Run("no PIN: the gate alone opens, a wrong gate counts nothing", func(t *testing.T) {
		s := newSecrets(t, false, false)
		l := mustLock(t, s)
		for range 10 {
			_, err := try(l, random(t, 32), nil, nil)
			require.ErrorIs(t, err, vault.ErrGone)
		}
		require.Zero(t, l.Failures())
		destruct, err := try(l, s.gate, random(t, 32), random(t, 32))
		require.NoError(t, err, "tokens a lock without a PIN does not ask for are ignored")
		require.False(t, destruct)
	})
	t.Run("PIN: wrong ones count down, the right one opens", func(t *testing.T) {
		s := newSecrets(t, true, true)
		l := mustLock(t, s)
		_, err := try(l, random(t, 32), s.open, nil)
		require.ErrorIs(t, err, vault.ErrGone, "the right PIN behind a wrong gate")
		require.Zero(t, l.Failures())
		for left := 4; left >= 3; left-- {
			destruct, err := try(l, s.gate, random(t, 32), random(t, 32))
			var pe *vault.PINError
			require.ErrorAs(t, err, &pe)
			require.Equal(t, left, pe.Left)
			require.False(t, destruct)
		}
		_, err = try(l, s.gate, nil, nil)
		require.ErrorIs(t, err, vault.ErrWrongPIN, "no PIN at all")
		require.Equal(t, 3, l.Failures())
		destruct, err := try(l, s.gate, s.open, random(t, 32))
		require.NoError(t, err)
		require.False(t, destruct)
		require.Equal(t, 3, l.Failures(), "a right PIN counts nothing")
	})
	t.Run("duress PIN: answered as a typo, destroys once, the right PIN no longer opens", func(t *testing.T) {
		s := newSecrets(t, true, true)
		l := mustLock(t, s)
		typo := mustLock(t, s)
		destruct, err := try(l, s.gate, random(t, 32), s.destruct)
		_, typoErr := try(typo, s.gate, random(t, 32), random(t, 32))
		require.True(t, destruct, "the caller zeroes the content now")
		require.Equal(t, typoErr, err, "the same answer as a typo")
		require.True(t, l.Destroyed())
		require.False(t, typo.Destroyed())
		destruct, err = try(l, s.gate, random(t, 32), s.destruct)
		require.False(t, destruct, "destroyed once only")
		require.Equal(t, &vault.PINError{Left: 3}, err)
		for left := 2; left >= 0; left-- {
			destruct, err = try(l, s.gate, s.open, nil)
			require.False(t, destruct)
			require.Equal(t, &vault.PINError{Left: left}, err, "the right PIN counts as wrong")
		}
		_, err = try(l, s.gate, s.open, nil)
		require.Equal(t, &vault.PINError{Left: 0}, err, "at 0 the owner ends what the lock guards")
	})
	t.Run("Destroy: the right PIN counts as wrong, nothing counted by Destroy itself", func(t *testing.T) {
		s := newSecrets(t, true, true)
		l := mustLock(t, s)
		l.Destroy()
		require.True(t, l.Destroyed())
		require.Zero(t, l.Failures())
		destruct, err := try(l, s.gate, s.open, nil)
		require.False(t, destruct)
		require.Equal(t, &vault.PINError{Left: 4}, err, "the right PIN counts as wrong, the countdown from its start")
		destruct, err = try(l, s.gate, random(t, 32), s.destruct)
		require.False(t, destruct, "its own destruct PIN destroys nothing more")
		require.Equal(t, &vault.PINError{Left: 3}, err)
	})
	t.Run("a zero destruct hash is random: no token matches it", func(t *testing.T) {
		s := newSecrets(t, true, false)
		l := mustLock(t, s)
		destruct, err := try(l, s.gate, random(t, 32), nil)
		require.False(t, destruct, "the empty token")
		require.ErrorIs(t, err, vault.ErrWrongPIN)
		empty := sha256.Sum256(nil)
		s.caps.Destruct = empty
		l = mustLock(t, s)
		destruct, _ = try(l, s.gate, random(t, 32), nil)
		require.True(t, destruct, "control: a destruct hash that is set is honoured")
	})
	t.Run("the dummy never opens", func(t *testing.T) {
		l, err := vault.DummyLock()
		require.NoError(t, err)
		for _, g := range [][]byte{nil, {}, random(t, 32), make([]byte, 32)} {
			_, err := try(&l, g, nil, nil)
			require.ErrorIs(t, err, vault.ErrGone)
		}
		require.Zero(t, l.Failures())
	})
	t.Run("invalid caps", func(t *testing.T) {
		s := newSecrets(t, true, true)
		c := s.caps
		c.Gate = vault.Hash{}
		_, err := vault.NewLock(c)
		require.ErrorIs(t, err, vault.ErrInvalid)
		c = s.caps
		c.Open = vault.Hash{}
		_, err = vault.NewLock(c)
		require.ErrorIs(t, err, vault.ErrInvalid)
	})
}

// A Lock keeps its count of wrong PINs in 16 bits. A limit above that counts as 65,535: the
// count never wraps round to give a guesser fresh tries, and the last try still ends the lock.
func TestLockFailureCountDoesNotWrap(t *testing.T) {
	s := newSecrets(t, true, false)
	l, err := vault.NewLock(s.caps)
	require.NoError(t, err)
	wrong := vault.NewProof(s.gate, random(t, 32), random(t, 32))
	const limit = 1 << 20
	for i := 1; i <= 1<<16-1; i++ {
		_, err := l.Try(l.Check(&wrong), limit)
		var pe *vault.PINError
		require.ErrorAs(t, err, &pe)
		if pe.Left != 1<<16-1-i {
			t.Fatalf("try %d: %d left, want %d", i, pe.Left, 1<<16-1-i)
		}
	}
	require.Equal(t, 1<<16-1, l.Failures())
	for range 3 {
		_, err := l.Try(l.Check(&wrong), limit)
		var pe *vault.PINError
		require.ErrorAs(t, err, &pe)
		require.Zero(t, pe.Left, "past the count's limit, no try is left")
	}
	require.Equal(t, 1<<16-1, l.Failures(), "the count stays at its limit, never wraps")
	right := vault.NewProof(s.gate, s.open, nil)
	_, err = l.Try(l.Check(&right), limit)
	require.NoError(t, err, "the lock itself does not end: its owner ends what it guards at 0")
}
