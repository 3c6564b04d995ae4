package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/admin"
	"github.com/sealdrop/sealdrop/internal/client"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/onion"
)

// roundTrip creates a note with text and a file of size random bytes through c, opens it once
// (byte-identical) and checks that a second open is gone. It returns the note's ciphertext
// size and how long create+open+confirm took.
func roundTrip(t *testing.T, c *client.Client, size int64) (cipherLen int64, whole time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	data := make([]byte, size)
	_, _ = rand.Read(data)
	text := fmt.Sprintf("a note with %d bytes attached", size)
	files := []client.File{{Name: "evidence.bin", Type: "application/octet-stream", Size: size, R: bytes.NewReader(data)}}
	cipherLen, err := protocol.SealedNoteLen(text, []protocol.File{{Name: "evidence.bin", Type: "application/octet-stream", Size: size}})
	require.NoError(t, err)

	start := time.Now()
	created, err := c.CreateNote(ctx, text, files, "", "", 0)
	require.NoError(t, err)
	n, err := c.OpenNote(ctx, created.NoteURL, "")
	require.NoError(t, err)
	whole = time.Since(start)
	require.Equal(t, text, n.Text)
	require.Len(t, n.Files, 1)
	assert.Equal(t, "evidence.bin", n.Files[0].Name)
	require.True(t, bytes.Equal(data, n.Files[0].Data), "the file arrives byte-identical")

	_, err = c.OpenNote(ctx, created.NoteURL, "")
	require.ErrorIs(t, err, client.ErrGone, "a second open finds nothing")
	return cipherLen, whole
}

// measured collects one sample per round of each measurement.
type measured struct {
	reachable []time.Duration // process start -> first answer through the onion
	ratio1K   []float64       // open request / same-size static fetch, 1 KiB file
	ratio1M   []float64       // same, 1 MiB file
	open1K    []time.Duration
	blob1K    []time.Duration
	open1M    []time.Duration
	blob1M    []time.Duration
	whole1K   []time.Duration // create+open+confirm
	whole1M   []time.Duration
}

// measureOpen times the open request alone against a same-size static fetch on the same
// connection: the blob first, then the note's open (inside OpenNote), back to back.
func measureOpen(t *testing.T, c *client.Client, hc *http.Client, tm *timing, base string, size int64) (open, blob, whole time.Duration) {
	t.Helper()
	text := fmt.Sprintf("a note with %d bytes attached", size)
	cipherLen, err := protocol.SealedNoteLen(text, []protocol.File{{Name: "evidence.bin", Type: "application/octet-stream", Size: size}})
	require.NoError(t, err)
	fetchBlob(t, hc, base, cipherLen) // warm: the same connection and circuit for both
	fetchBlob(t, hc, base, cipherLen)
	blob = tm.take("blob")
	got, whole := roundTrip(t, c, size)
	require.Equal(t, cipherLen, got)
	open = tm.take("open") // the second open answered 404 and is not timed
	require.Positive(t, open)
	require.Positive(t, blob)
	return open, blob, whole
}

// TestManagedOnion is issue 4's scenarios 1 and 2: sealdrop starts its own tor on the private
// network (production code path; only the torrc's directory authorities differ), publishes,
// and the Go client creates and opens notes through the onion. It restarts twice with the same
// key file and tor DataDirectory: the same address each time, reachable again, notes from
// before the restart gone, new ones working. Each of the three rounds gives one sample of
// every measurement.
func TestManagedOnion(t *testing.T) {
	n := tn.Get(t)
	state := t.TempDir()
	key := filepath.Join(state, "onion.key")
	socks := shortDir(t)
	httpSock, adminSock := filepath.Join(socks, "http.sock"), filepath.Join(socks, "admin.sock")
	args := managedArgs(t, n, state, socks, "--admin-socket", adminSock, "--testing-blobs")

	var m measured
	var address, leftBehind string
	for round := range 3 {
		visitor := newClientTor(t, n) // bootstrapped before the clock starts
		hc, tm := torClient(t, visitor)
		start := time.Now()
		s := startSealdrop(t, args...)
		base := s.onionBase(t)
		reached := waitReachable(t, visitor, base)
		m.reachable = append(m.reachable, reached.Sub(start))

		if round == 0 {
			address = base
			fi, err := os.Stat(key)
			require.NoError(t, err, "the key file is created on first start")
			assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
			want, err := onion.AddressFromKey(key)
			require.NoError(t, err)
			assert.Equal(t, "http://"+want, base, "the printed address is the key file's")
			sock, err := os.Lstat(httpSock)
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o600), sock.Mode().Perm(), "managed mode's HTTP socket is 0600")
		} else {
			assert.Equal(t, address, base, "restart %d with the same key file keeps the address", round)
		}

		c, err := client.New(base, hc)
		require.NoError(t, err)
		if leftBehind != "" {
			_, err := c.OpenNote(t.Context(), leftBehind, "")
			assert.ErrorIs(t, err, client.ErrGone, "a note created before the restart is gone (RAM only)")
		}

		open, blob, whole := measureOpen(t, c, hc, tm, base, 1<<10)
		m.open1K, m.blob1K, m.whole1K = append(m.open1K, open), append(m.blob1K, blob), append(m.whole1K, whole)
		m.ratio1K = append(m.ratio1K, float64(open)/float64(blob))
		open, blob, whole = measureOpen(t, c, hc, tm, base, 1<<20)
		m.open1M, m.blob1M, m.whole1M = append(m.open1M, open), append(m.blob1M, blob), append(m.whole1M, whole)
		m.ratio1M = append(m.ratio1M, float64(open)/float64(blob))

		// The admin socket reports the published address and what is stored, nothing more.
		left, err := c.CreateNote(t.Context(), "left behind at restart", nil, "", "", 0)
		require.NoError(t, err)
		leftBehind = left.NoteURL
		st, err := admin.GetStatus(t.Context(), adminSock)
		require.NoError(t, err)
		assert.Equal(t, strings.TrimPrefix(base, "http://"), st.Onion)
		assert.Equal(t, 1, st.Notes)
		assert.Positive(t, st.Used)

		if round == 0 {
			checkManagedTor(t, s, filepath.Join(state, "tor"))
		}
		s.stop(t)
		for _, p := range []string{httpSock, adminSock, filepath.Join(state, "tor", "onion-service")} {
			_, err := os.Lstat(p)
			assert.True(t, os.IsNotExist(err), "%s removed at exit", p)
		}
	}

	t.Logf("MEASURE start->reachable: %s s (median %.2f s)", secs(m.reachable), median(m.reachable).Seconds())
	for _, row := range []struct {
		name       string
		open, blob []time.Duration
		ratio      []float64
		whole      []time.Duration
	}{
		{"1 KiB", m.open1K, m.blob1K, m.ratio1K, m.whole1K},
		{"1 MiB", m.open1M, m.blob1M, m.ratio1M, m.whole1M},
	} {
		t.Logf("MEASURE %s: open %s s (median %.3f), static %s s (median %.3f), ratio %s (median %.2f); create+open+confirm %s s (median %.2f)",
			row.name, secs(row.open), median(row.open).Seconds(), secs(row.blob), median(row.blob).Seconds(),
			ratios(row.ratio), medianF(row.ratio), secs(row.whole), median(row.whole).Seconds())
	}
}

func ratios(rs []float64) string {
	var parts []string
	for _, r := range rs {
		parts = append(parts, fmt.Sprintf("%.2f", r))
	}
	return strings.Join(parts, ", ")
}

func medianF(rs []float64) float64 {
	ds := make([]time.Duration, len(rs))
	for i, r := range rs {
		ds[i] = time.Duration(r * 1e6)
	}
	return float64(median(ds)) / 1e6
}
