package chat_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/chat"
	"github.com/sealdrop/sealdrop/vault"
)

// What one chat may hold undelivered is the vault's per-chat quota, not a second number that
// has to be kept equal to it: the relay takes it as its MaxBytes, and refuses a larger one,
// which it would promise and the vault refuse as full.
func TestMaxBytesIsTheVaultsPerChatQuota(t *testing.T) {
	newVault := func(quota map[vault.Kind]int64) *vault.Vault {
		v, err := vault.New(vault.Config{Budget: 1 << 20, SweepEvery: -1, OwnerQuota: quota})
		require.NoError(t, err)
		t.Cleanup(func() { _ = v.Close() })
		return v
	}
	v := newVault(map[vault.Kind]int64{vault.KindChatFrame: 256 << 10})
	s, err := chat.New(chat.Config{Vault: v, SweepEvery: -1})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	require.EqualValues(t, 256<<10, s.Config().MaxBytes)
	s2, err := chat.New(chat.Config{Vault: v, SweepEvery: -1, MaxBytes: 128 << 10})
	require.NoError(t, err, "less than the quota is fine")
	t.Cleanup(s2.Close)
	_, err = chat.New(chat.Config{Vault: v, SweepEvery: -1, MaxBytes: 512 << 10})
	require.ErrorIs(t, err, chat.ErrInvalid)

	s3, err := chat.New(chat.Config{Vault: newVault(nil), SweepEvery: -1})
	require.NoError(t, err)
	t.Cleanup(s3.Close)
	require.EqualValues(t, chat.DefaultMaxBytes, s3.Config().MaxBytes, "no quota: the relay's default")
}
