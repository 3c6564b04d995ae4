package vault_test

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/vault"
)

// The accounting paths (duress blank, Destroy, reserve/trim, PutUpTo, PendingMax, EmptyIdle)
// racing each other and Wipe/Sweep; afterwards every count is back to zero and every free
// block reads as zero.
func TestAccountingReturnsToZeroUnderConcurrency(t *testing.T) {
	v, clk := smallVault(t, vault.Config{Budget: 2 << 20, BlockSize: 1024, KindQuota: map[vault.Kind]int64{vault.KindNote: 1 << 20},
		OwnerQuota: map[vault.Kind]int64{vault.KindSubmission: 256 << 10}, MaxPending: 50})
	var wg sync.WaitGroup
	stop := time.Now().Add(2 * time.Second)
	for w := range 8 {
		s := newSecrets(t, true, true)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				switch (w + i) % 6 {
				case 0: // a PIN note, a duress try, a revoke
					id, _, err := v.Put(vault.CreateRequest{Kind: vault.KindNote, Length: int64(1 + i%40000), TTL: time.Hour, Caps: s.caps}, bytes.NewReader(make([]byte, 1+i%40000)))
					if err != nil {
						continue
					}
					_, ch := claimOffTest()
					_, _ = v.Open(vault.KindNote, id, vault.OpenRequest{Gate: s.gate, Open: s.destruct, Destruct: s.destruct, Claim: ch})
					if i%2 == 0 {
						_ = v.Revoke(vault.KindNote, id, s.manage)
					}
				case 1: // a pending upload cut short
					id, _, err := v.Create(vault.CreateRequest{Kind: vault.KindSubmission, Owner: "d", Length: 50000, TTL: time.Hour, Caps: s.caps})
					if err != nil {
						continue
					}
					_, _ = v.Append(vault.KindSubmission, id, s.manage, 0, 20000, bytes.NewReader(make([]byte, 7000)))
				case 2:
					_, _, _, _ = v.PutUpTo(vault.CreateRequest{Kind: vault.KindChatFrame, Owner: "c", Length: 3000, TTL: time.Hour, Caps: s.caps}, bytes.NewReader(make([]byte, i%4000)))
				case 3:
					id, _, err := v.Put(vault.CreateRequest{Kind: vault.KindChatFrame, Owner: "c", Length: 2000, TTL: time.Hour, Caps: s.caps}, bytes.NewReader(make([]byte, 2000)))
					if err == nil {
						_ = v.Destroy(vault.KindChatFrame, id, s.manage)
					}
				case 4:
					clk.Add(time.Duration(i%7) * time.Minute)
					v.Sweep()
				case 5:
					if i%50 == 0 {
						v.Wipe()
					}
				}
			}
		}()
	}
	wg.Wait()
	v.Wipe()
	v.Settle()
	st := v.Stats()
	require.Zero(t, st.Used)
	require.Empty(t, st.Entries)
	for _, k := range []vault.Kind{vault.KindNote, vault.KindChatFrame, vault.KindSubmission} {
		require.Equal(t, vault.Load{}, v.Load(k, "d"), "kind %d", k)
	}
	require.Zero(t, vault.Busy(v))
	require.True(t, vault.FreeBlocksZero(v))
}
