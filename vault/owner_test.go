package vault_test

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealdrop/sealdrop/vault"
	"github.com/stretchr/testify/require"
)

func putOwned(t testing.TB, v *vault.Vault, owner string, s secrets, data []byte) vault.ID {
	t.Helper()
	id, _, err := v.Put(vault.CreateRequest{Kind: vault.KindSubmission, Owner: owner, Length: int64(len(data)), TTL: time.Hour, Caps: s.caps}, bytes.NewReader(data))
	require.NoError(t, err)
	return id
}

func TestCreateOwnedCapIsAtomic(t *testing.T) {
	v, _ := smallVault(t, vault.Config{})
	s := newSecrets(t, false, false)
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := v.CreateOwned(vault.CreateRequest{Kind: vault.KindSubmission, Owner: "drop", Length: 100, TTL: time.Hour, Caps: s.caps}, 3)
			if err == nil {
				ok.Add(1)
			} else {
				require.ErrorIs(t, err, vault.ErrFull)
			}
		}()
	}
	wg.Wait()
	require.Equal(t, int32(3), ok.Load())
	n, b := v.OwnerUsage(vault.KindSubmission, "drop")
	require.Equal(t, 3, n)
	require.Equal(t, int64(300), b)
	// Another owner and another kind are not limited by this one.
	_, _, err := v.CreateOwned(vault.CreateRequest{Kind: vault.KindSubmission, Owner: "other", Length: 100, TTL: time.Hour, Caps: s.caps}, 3)
	require.NoError(t, err)
	_, _, err = v.CreateOwned(vault.CreateRequest{Kind: vault.KindSubmission, Length: 100, TTL: time.Hour, Caps: s.caps}, 3)
	require.ErrorIs(t, err, vault.ErrInvalid)
}

func TestOwnerIndexFollowsLifecycle(t *testing.T) {
	v, clk := smallVault(t, vault.Config{})
	s := newSecrets(t, false, false)
	a1 := putOwned(t, v, "a", s, []byte("one"))
	a2 := putOwned(t, v, "a", s, []byte("two"))
	b1 := putOwned(t, v, "b", s, []byte("three"))
	ids := func(owner string) []vault.ID {
		var out []vault.ID
		for _, in := range v.List(vault.KindSubmission, owner) {
			out = append(out, in.ID)
		}
		return out
	}
	require.ElementsMatch(t, []vault.ID{a1, a2}, ids("a"))
	require.Equal(t, []vault.ID{b1}, ids("b"))
	require.Empty(t, v.List(vault.KindNote, "a"), "the index is per kind")

	// Taking one removes it; the cap then admits a new one.
	require.Equal(t, []byte("one"), take(t, v, a1, s))
	require.Equal(t, []vault.ID{a2}, ids("a"))
	n, _ := v.OwnerUsage(vault.KindSubmission, "a")
	require.Equal(t, 1, n)

	// Wipe of one owner leaves the other.
	require.Equal(t, 1, v.WipeOwner(vault.KindSubmission, "a"))
	require.Empty(t, ids("a"))
	n, b := v.OwnerUsage(vault.KindSubmission, "a")
	require.Zero(t, n)
	require.Zero(t, b)
	_, err := readAll(v, a2, vault.OpenRequest{Gate: s.gate, Claim: sha256Of([]byte("c"))}, 0)
	require.ErrorIs(t, err, vault.ErrGone)
	require.Equal(t, []vault.ID{b1}, ids("b"))

	// Expiry removes it from the index too (after the sweep, and from List at once).
	clk.Add(2 * time.Hour)
	require.Empty(t, ids("b"))
	v.Sweep()
	n, _ = v.OwnerUsage(vault.KindSubmission, "b")
	require.Zero(t, n)
	require.Zero(t, v.WipeOwner(vault.KindSubmission, "b"))
}

// BenchmarkListOwner shows that listing one owner does not depend on how many entries other
// owners hold (run with -bench ListOwner).
func BenchmarkListOwner(b *testing.B) {
	for _, others := range []int{10, 10000} {
		b.Run(fmt.Sprintf("others=%d", others), func(b *testing.B) {
			v, _ := smallVault(b, vault.Config{Budget: 64 << 20, BlockSize: 256})
			s := newSecrets(b, false, false)
			for i := range others {
				putOwned(b, v, fmt.Sprintf("o%d", i), s, []byte("x"))
			}
			for range 10 {
				putOwned(b, v, "me", s, []byte("x"))
			}
			b.ResetTimer()
			for b.Loop() {
				if len(v.List(vault.KindSubmission, "me")) != 10 {
					b.Fatal("wrong count")
				}
			}
		})
	}
}
