package vault_test

import (
	"bytes"
	"crypto/sha256"
	"io"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/sealdrop/sealdrop/internal/memlocktest"
	"github.com/sealdrop/sealdrop/vault"
	"github.com/stretchr/testify/require"
)

// heapInuse is runtime.MemStats.HeapInuse after two collections.
func heapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// TestMeasureHeapPerEntry fills a vault with n unopened 1 KiB notes, the way the note routes
// store one (Create, Append, Commit), and reports the ordinary Go heap each live entry costs
// (HeapInuse after GC, less what it was before the fill, over n), the rate of that fill, and the
// rate of put+take pairs (Put, Open, stream out, Confirm) while the n entries stay live. It locks
// up to 256 MiB (n = 250,000 fits only where the process may lock that much: root, CI) and takes
// a minute, so it runs only with SEALDROP_MEASURE=1; sizes that do not fit what this process may
// lock are skipped, saying so. The numbers go in the README ("Measured numbers", Vault).
//
// It asserts only what the fill must achieve (every entry stored and readable); the figures are
// measurements, compared by a person between builds run side by side.
func TestMeasureHeapPerEntry(t *testing.T) {
	if os.Getenv("SEALDROP_MEASURE") != "1" {
		t.Skip("set SEALDROP_MEASURE=1 to measure (locks up to 256 MiB)")
	}
	const size, pairs = 1 << 10, 20_000
	for _, n := range []int{1_000, 10_000, 100_000, 250_000} {
		want := int64(n+64) * size
		if avail := memlocktest.Lockable(t); avail < want {
			t.Logf("n=%d: skipped, needs %s locked and this process may lock %s", n,
				memlocktest.Size(want), memlocktest.Size(avail))
			continue
		}
		v, err := vault.New(vault.Config{Budget: want, SweepEvery: -1})
		require.NoError(t, err)
		s := newSecrets(t, false, false)
		src := random(t, size)
		req := vault.CreateRequest{Kind: vault.KindNote, Length: size, TTL: time.Hour, Caps: s.caps}
		ids := make([]vault.ID, 0, n)
		rd := bytes.NewReader(src)

		before := heapInuse()
		start := time.Now()
		for range n {
			id, _, err := v.Create(req)
			require.NoError(t, err)
			rd.Reset(src)
			_, err = v.Append(vault.KindNote, id, s.manage, 0, size, rd)
			require.NoError(t, err)
			_, err = v.Commit(vault.KindNote, id, s.manage)
			require.NoError(t, err)
			ids = append(ids, id)
		}
		fill := time.Since(start)
		after := heapInuse()
		require.Equal(t, n, v.Stats().Entries[vault.KindNote])

		nonce := random(t, 32)
		ch := sha256.Sum256(nonce)
		start = time.Now()
		for range pairs {
			rd.Reset(src)
			id, _, err := v.Put(req, rd)
			require.NoError(t, err)
			r, err := v.Open(vault.KindNote, id, vault.OpenRequest{Gate: s.gate, Claim: ch})
			require.NoError(t, err)
			_, err = r.WriteTo(io.Discard, 0)
			require.NoError(t, err)
			r.Close()
			require.NoError(t, v.Confirm(vault.KindNote, id, s.gate, nonce))
		}
		pair := time.Since(start)
		require.Equal(t, src, take(t, v, ids[n-1], s))
		require.Equal(t, n-1, v.Stats().Entries[vault.KindNote])

		per := (float64(after) - float64(before)) / float64(n)
		t.Logf("n=%7d  heap/entry %6.0f B  fill %7.0f entries/s  put+take %7.0f pairs/s",
			n, per, float64(n)/fill.Seconds(), pairs/pair.Seconds())
		v.Close()
		runtime.KeepAlive(ids)
	}
}
