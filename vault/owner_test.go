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
	refused := make(chan error, 40)
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := v.CreateOwned(vault.CreateRequest{Kind: vault.KindSubmission, Owner: "drop", Length: 100, TTL: time.Hour, Caps: s.caps}, 3)
			if err == nil {
				ok.Add(1)
			} else {
				refused <- err
			}
		}()
	}
	wg.Wait()
	close(refused)
	for err := range refused {
		require.ErrorIs(t, err, vault.ErrFull)
	}
	require.Equal(t, int32(3), ok.Load())
	n, b := v.OwnerUsage(vault.KindSubmission, "drop")
	require.Equal(t, 3, n)
	require.Zero(t, b, "nothing is reserved before bytes arrive")
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
	require.Equal(t, []byte("one"), takeKind(t, v, vault.KindSubmission, a1, s))
	require.Equal(t, []vault.ID{a2}, ids("a"))
	n, _ := v.OwnerUsage(vault.KindSubmission, "a")
	require.Equal(t, 1, n)

	// Wipe of one owner leaves the other.
	require.Equal(t, 1, v.WipeOwner(vault.KindSubmission, "a"))
	require.Empty(t, ids("a"))
	n, b := v.OwnerUsage(vault.KindSubmission, "a")
	require.Zero(t, n)
	require.Zero(t, b)
	_, err := readAllKind(v, vault.KindSubmission, a2, vault.OpenRequest{Gate: s.gate, Claim: sha256Of([]byte("c"))}, 0)
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
			v, _ := smallVault(b, vault.Config{Budget: 4 << 20, BlockSize: 256}) // 10,010 one-block entries: 2.5 MiB
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

// ListPage is a window of List: for every cursor (none, each listed entry, one that is no
// longer listed, one that never existed) and page size, it returns exactly the entries of List
// that follow the cursor, at most n of them, and List's length as the total. Arrival is kept to
// the minute, so many entries tie on it and the id decides.
func TestListPageIsAWindowOfList(t *testing.T) {
	v, clk := smallVault(t, vault.Config{Budget: 4 << 20, BlockSize: 256})
	s := newSecrets(t, false, false)
	var opened vault.ID
	for i := range 250 {
		id := putOwned(t, v, "me", s, []byte("x"))
		if i == 7 {
			opened = id
		}
		if i%40 == 0 {
			clk.Add(time.Minute)
		}
	}
	putOwned(t, v, "other", s, []byte("y"))
	_, ch := claim(t)
	r, err := v.Open(vault.KindSubmission, opened, vault.OpenRequest{Gate: s.gate, Claim: ch})
	require.NoError(t, err)
	r.Close()

	all := v.List(vault.KindSubmission, "me")
	require.Len(t, all, 249, "the opened one is not listed")
	cursors := []vault.ID{{}, opened, {1, 2, 3}}
	for _, in := range all {
		cursors = append(cursors, in.ID)
	}
	for _, n := range []int{0, 1, 3, 100, 1000} {
		for _, after := range cursors {
			page, total := v.ListPage(vault.KindSubmission, "me", after, n)
			require.Equal(t, len(all), total)
			start := 0
			for i, in := range all {
				if in.ID == after {
					start = i + 1
				}
			}
			want := all[start:min(len(all), start+max(n, 0))]
			if len(want) == 0 {
				require.Empty(t, page, "n=%d after=%x", n, after)
				continue
			}
			require.Equal(t, want, page, "n=%d after=%x", n, after)
		}
	}
	// Paging through with the last id as the cursor visits every entry once, in order.
	var walked []vault.Info
	var after vault.ID
	for {
		page, _ := v.ListPage(vault.KindSubmission, "me", after, 100)
		if len(page) == 0 {
			break
		}
		walked = append(walked, page...)
		after = page[len(page)-1].ID
	}
	require.Equal(t, all, walked)
	// Past expiry nothing is listed.
	clk.Add(2 * time.Hour)
	page, total := v.ListPage(vault.KindSubmission, "me", vault.ID{}, 10)
	require.Empty(t, page)
	require.Zero(t, total)
}

// BenchmarkListPage: the first page of 100 with 10 and with 1,000 entries listed.
func BenchmarkListPage(b *testing.B) {
	for _, mine := range []int{10, 1000} {
		b.Run(fmt.Sprintf("entries=%d", mine), func(b *testing.B) {
			v, _ := smallVault(b, vault.Config{Budget: 4 << 20, BlockSize: 256}) // 10,010 one-block entries: 2.5 MiB
			s := newSecrets(b, false, false)
			for range mine {
				putOwned(b, v, "me", s, []byte("x"))
			}
			b.Run("List", func(b *testing.B) {
				for b.Loop() {
					if len(v.List(vault.KindSubmission, "me")) != mine {
						b.Fatal("wrong count")
					}
				}
			})
			b.Run("ListPage", func(b *testing.B) {
				for b.Loop() {
					if p, total := v.ListPage(vault.KindSubmission, "me", vault.ID{}, 100); total != mine || len(p) != min(mine, 100) {
						b.Fatal("wrong count")
					}
				}
			})
		})
	}
}
