package drop_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/drop"
	"github.com/sealdrop/sealdrop/internal/memlocktest"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/vault"
)

// TestMeasureCapacity counts how many submissions the default 256 MiB budget holds with the
// quotas serve gives drops, for 64 KiB and 10 MiB files. It allocates 256 MiB of locked
// memory, so it runs only with SEALDROP_MEASURE=1; the numbers go in the README.
func TestMeasureCapacity(t *testing.T) {
	if os.Getenv("SEALDROP_MEASURE") != "1" {
		t.Skip("set SEALDROP_MEASURE=1 to measure (locks 256 MiB)")
	}
	const budget = 256 << 20
	sh := vault.DefaultShares(budget)
	kind, perDrop := sh.Submission, sh.PerOwner
	for _, size := range []int64{64 << 10, 10 << 20} {
		pt, err := protocol.PlaintextLen("", []protocol.File{{Name: "document.pdf", Type: "application/pdf", Size: size}})
		require.NoError(t, err)
		sealed := protocol.SealedSubmissionLen(pt)
		for _, drops := range []int{1, 1000} {
			v, err := vault.New(vault.Config{Budget: budget, MaxTTL: drop.DefaultTTL, SweepEvery: -1,
				KindQuota: map[vault.Kind]int64{vault.KindSubmission: kind}, OwnerQuota: map[vault.Kind]int64{vault.KindSubmission: perDrop}})
			require.NoError(t, err)
			caps := vault.Caps{Gate: sha256.Sum256([]byte("g")), Manage: sha256.Sum256([]byte("m"))}
			n := 0
			for i := 0; ; i++ {
				_, _, err := v.CreateOwned(vault.CreateRequest{Kind: vault.KindSubmission, Owner: fmt.Sprintf("drop%d", i%drops),
					Length: sealed, TTL: time.Hour, Caps: caps}, drop.DefaultMaxPending)
				if err != nil {
					require.ErrorIs(t, err, vault.ErrFull)
					break
				}
				n++
			}
			t.Logf("file %d B (sealed %d B): %d drop(s) hold %d submissions", size, sealed, drops, n)
			_ = v.Close()
		}
	}
}

// benchDrop is a drop server with one drop holding n committed submissions of 1 KiB, in a
// 64 MiB vault (less where the process may not lock that much, but room for the n).
func benchDrop(b *testing.B, n int) (*drop.Server, *vault.Vault, *protocol.DropKeys, drop.Route) {
	budget := memlocktest.Budget(b, 64<<20, int64(n)<<10)
	v, err := vault.New(vault.Config{Budget: budget, BlockSize: 256, MaxTTL: drop.DefaultTTL, SweepEvery: -1})
	require.NoError(b, err)
	b.Cleanup(func() { _ = v.Close() })
	s, err := drop.New(drop.Config{Vault: v, MaxPending: 100000})
	require.NoError(b, err)
	k, err := protocol.NewDropKeys(0)
	require.NoError(b, err)
	r, err := s.CheckRoute(k.RouteID(), k.Auth[:], 0)
	require.NoError(b, err)
	ct := make([]byte, 1024)
	for range n {
		m := make([]byte, 32)
		_, _ = rand.Read(m)
		req := drop.SubmitRequest{Length: 1024, Manage: sha256.Sum256(m)}
		pr := protocol.PriceRequest{Kind: protocol.PriceSubmission, Scope: r.ID(), Manage: req.Manage, Length: 1024, TTL: s.Config().TTL}
		tok, _ := s.Config().Price.Token()
		nonce, _ := protocol.SolvePrice(b.Context(), tok[:], pr, protocol.PriceBits(s.Level(r), 1024, pr.TTL))
		req.PriceToken, req.PriceNonce = tok[:], nonce[:]
		id, _, err := s.Submit(r, req)
		require.NoError(b, err)
		_, err = v.Append(vault.KindSubmission, id, m, 0, 1024, bytes.NewReader(ct))
		require.NoError(b, err)
		_, err = s.Commit(r, id, m)
		require.NoError(b, err)
	}
	return s, v, k, r
}

func benchProof(b *testing.B, s *drop.Server, k *protocol.DropKeys, r drop.Route, action byte, id vault.ID, arg [32]byte) drop.Proof {
	n, pub, _, err := s.Challenge(r)
	require.NoError(b, err)
	mac, err := k.InboxMAC(n[:], pub, action, id, arg)
	require.NoError(b, err)
	return drop.Proof{Challenge: n[:], MAC: mac}
}

// BenchmarkInboxList: challenge, proof and list (the first page) of a drop holding 10, 100 or
// 1,000 submissions.
func BenchmarkInboxList(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("pending=%d", n), func(b *testing.B) {
			s, _, k, r := benchDrop(b, n)
			for b.Loop() {
				l, err := s.List(r, benchProof(b, s, k, r, protocol.DropActionList, vault.ID{}, [32]byte{}), vault.ID{})
				if err != nil || len(l.Items) != min(n, drop.ListPage) || l.Pending != n {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkInboxFetch: challenge, proof, claim, stream and confirm (two proofs) of one
// submission while the drop holds 10 or 1,000.
func BenchmarkInboxFetch(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("pending=%d", n), func(b *testing.B) {
			// n stay pending throughout: b.N more are made up front and fetched one by one.
			s, v, k, r := benchDrop(b, n+b.N)
			infos := v.List(vault.KindSubmission, r.String())
			var sink bytes.Buffer
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				id := infos[i].ID
				nonce := make([]byte, 32)
				_, _ = rand.Read(nonce)
				claim := sha256.Sum256(nonce)
				rd, err := s.Fetch(r, id, benchProof(b, s, k, r, protocol.DropActionFetch, id, claim), claim)
				if err != nil {
					b.Fatal(err)
				}
				sink.Reset()
				_, _ = rd.WriteTo(&sink, 0)
				rd.Close()
				if err := s.Confirm(r, id, benchProof(b, s, k, r, protocol.DropActionConfirm, id, claim), nonce); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
