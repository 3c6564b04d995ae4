package vault_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/sealdrop/sealdrop/vault"
	"github.com/stretchr/testify/require"
)

// FuzzCapsAndLengths feeds arbitrary lengths, offsets, append sizes and proofs. Whatever the
// input: no panic, only documented errors, and the content is readable only with the real
// gate (and open token), exactly as written.
func FuzzCapsAndLengths(f *testing.F) {
	f.Add(int64(100), int64(0), int64(100), []byte("gate"), []byte("gate"), []byte("pin"), []byte("pin"), true)
	f.Add(int64(5000), int64(0), int64(4000), []byte("g"), []byte("x"), []byte(""), []byte(""), false)
	f.Add(int64(-1), int64(-5), int64(1<<62), []byte{}, []byte{}, []byte{0}, []byte{0}, true)
	f.Add(int64(1<<40), int64(1<<40), int64(-1), []byte{1}, []byte{1}, []byte{}, []byte{1}, false)
	v, err := vault.New(vault.Config{Budget: 256 << 10, MaxEntry: 64 << 10, SweepEvery: -1})
	require.NoError(f, err)
	f.Cleanup(func() { _ = v.Close() })
	documented := []error{vault.ErrInvalid, vault.ErrTooLarge, vault.ErrFull, vault.ErrOffset, vault.ErrGone, vault.ErrIncomplete, vault.ErrWrongPIN}
	isDocumented := func(err error) bool {
		for _, d := range documented {
			if errors.Is(err, d) {
				return true
			}
		}
		return false
	}
	f.Fuzz(func(t *testing.T, length, offset, n int64, gate, tryGate, open, tryOpen []byte, pin bool) {
		defer v.Wipe()
		manage := []byte("manage")
		caps := vault.Caps{Gate: sha256.Sum256(gate), Manage: sha256.Sum256(manage), PIN: pin}
		if pin {
			caps.Open = sha256.Sum256(open)
		}
		id, _, err := v.Create(vault.CreateRequest{Kind: vault.KindNote, Length: length, TTL: time.Hour, Caps: caps})
		if err != nil {
			require.True(t, isDocumented(err), "%v", err)
			require.Zero(t, v.Stats().Used)
			return
		}
		data := bytes.Repeat([]byte{0xa5}, int(length))
		src := data[:max(0, min(n, length-max(0, offset)))]
		got, err := v.Append(vault.KindNote, id, manage, offset, n, bytes.NewReader(src))
		if err != nil {
			require.True(t, isDocumented(err) || errors.Is(err, io.ErrUnexpectedEOF), "%v", err)
		}
		require.GreaterOrEqual(t, got, int64(0))
		require.LessOrEqual(t, got, length)
		_, err = v.Commit(vault.KindNote, id, manage)
		if got != length {
			require.ErrorIs(t, err, vault.ErrIncomplete)
			return
		}
		require.NoError(t, err)
		_, ch := claim(t)
		out, err := readAll(v, id, vault.OpenRequest{Gate: tryGate, Open: tryOpen, Claim: ch}, 0)
		switch {
		case !bytes.Equal(gate, tryGate):
			require.ErrorIs(t, err, vault.ErrGone)
		case pin && !bytes.Equal(open, tryOpen):
			require.ErrorIs(t, err, vault.ErrWrongPIN)
		default:
			require.NoError(t, err)
			require.Equal(t, data, out)
		}
	})
}
