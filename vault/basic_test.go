package vault_test

import (
	"testing"
	"time"

	"github.com/sealdrop/sealdrop/vault"
	"github.com/stretchr/testify/require"
)

func TestPutTake(t *testing.T) {
	v, _ := smallVault(t, vault.Config{})
	s := newSecrets(t, false, false)
	for _, n := range []int{1, 1023, 1024, 1025, 70000} {
		data := random(t, n)
		id := put(t, v, s, data, time.Hour)
		check := vault.BlocksOf(v, id)
		require.Equal(t, data, take(t, v, id, s))
		require.True(t, check(), "blocks zero after take")
		_, err := v.Open(vault.KindNote, id, vault.OpenRequest{Gate: s.gate, Claim: [32]byte{1}})
		require.ErrorIs(t, err, vault.ErrGone)
	}
	require.True(t, vault.FreeBlocksZero(v))
	require.Zero(t, v.Stats().Used)
}
