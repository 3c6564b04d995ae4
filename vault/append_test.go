package vault_test

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
	"time"

	"github.com/sealdrop/sealdrop/vault"
	"github.com/stretchr/testify/require"
)

func create(t testing.TB, v *vault.Vault, s secrets, n int64, ttl time.Duration) vault.ID {
	t.Helper()
	id, _, err := v.Create(vault.CreateRequest{Kind: vault.KindNote, Length: n, TTL: ttl, Caps: s.caps})
	require.NoError(t, err)
	return id
}

func TestChunkedAppend(t *testing.T) {
	v, _ := smallVault(t, vault.Config{})
	s := newSecrets(t, false, false)
	data := random(t, 200_000)
	id := create(t, v, s, int64(len(data)), time.Hour)

	// Invisible to readers while pending.
	_, ch := claim(t)
	_, err := v.Open(vault.KindNote, id, vault.OpenRequest{Gate: s.gate, Claim: ch})
	require.ErrorIs(t, err, vault.ErrGone)

	got, err := v.Append(vault.KindNote, id, s.manage, 0, 70_000, bytes.NewReader(data[:70_000]))
	require.NoError(t, err)
	require.EqualValues(t, 70_000, got)

	// A wrong offset tells the writer where to resume.
	got, err = v.Append(vault.KindNote, id, s.manage, 60_000, 10, bytes.NewReader(data[60_000:]))
	require.ErrorIs(t, err, vault.ErrOffset)
	require.EqualValues(t, 70_000, got)
	got, err = v.Append(vault.KindNote, id, s.manage, 80_000, 10, bytes.NewReader(data[80_000:]))
	require.ErrorIs(t, err, vault.ErrOffset)
	require.EqualValues(t, 70_000, got)

	// Beyond the declared length.
	_, err = v.Append(vault.KindNote, id, s.manage, 70_000, int64(len(data))-70_000+1, bytes.NewReader(data[70_000:]))
	require.ErrorIs(t, err, vault.ErrTooLarge)

	// Wrong manage secret: gone, nothing changes.
	_, err = v.Append(vault.KindNote, id, random(t, 32), 70_000, 10, bytes.NewReader(data[70_000:]))
	require.ErrorIs(t, err, vault.ErrGone)

	// Incomplete cannot commit.
	_, err = v.Commit(vault.KindNote, id, s.manage)
	require.ErrorIs(t, err, vault.ErrIncomplete)

	// A broken body: what was read is kept, and the upload resumes from there.
	broken := io.MultiReader(bytes.NewReader(data[70_000:100_000]), iotest.ErrReader(errors.New("circuit died")))
	got, err = v.Append(vault.KindNote, id, s.manage, 70_000, 100_000, broken)
	require.Error(t, err)
	require.EqualValues(t, 100_000, got)
	// A short body: same.
	got, err = v.Append(vault.KindNote, id, s.manage, 100_000, 50_000, iotest.HalfReader(bytes.NewReader(data[100_000:120_000])))
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.EqualValues(t, 120_000, got)

	got, err = v.Append(vault.KindNote, id, s.manage, got, int64(len(data))-got, iotest.OneByteReader(bytes.NewReader(data[got:])))
	require.NoError(t, err)
	require.EqualValues(t, len(data), got)
	got, err = v.Append(vault.KindNote, id, s.manage, got, 0, bytes.NewReader(nil))
	require.NoError(t, err, "an empty append at the end is fine")
	require.EqualValues(t, len(data), got)

	exp, err := v.Commit(vault.KindNote, id, s.manage)
	require.NoError(t, err)
	exp2, err := v.Commit(vault.KindNote, id, s.manage)
	require.NoError(t, err, "a repeated commit (lost answer) succeeds")
	require.Equal(t, exp, exp2)
	_, err = v.Append(vault.KindNote, id, s.manage, int64(len(data)), 0, bytes.NewReader(nil))
	require.ErrorIs(t, err, vault.ErrGone, "no append after commit")

	require.Equal(t, data, take(t, v, id, s))
}

// blockingReader delivers its bytes only when released.
type blockingReader struct {
	started chan struct{}
	release chan struct{}
	data    []byte
}

func (b *blockingReader) Read(p []byte) (int, error) {
	if b.started != nil {
		close(b.started)
		b.started = nil
		<-b.release
	}
	if len(b.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p, b.data)
	b.data = b.data[n:]
	return n, nil
}

func TestAppendBusyAndRevokeDuring(t *testing.T) {
	v, _ := smallVault(t, vault.Config{})
	s := newSecrets(t, false, false)
	data := random(t, 5000)
	id := create(t, v, s, 5000, time.Hour)
	check := vault.BlocksOf(v, id)
	started := make(chan struct{})
	br := &blockingReader{started: started, release: make(chan struct{}), data: data}
	done := make(chan error)
	go func() {
		_, err := v.Append(vault.KindNote, id, s.manage, 0, 5000, br)
		done <- err
	}()
	<-started
	_, err := v.Append(vault.KindNote, id, s.manage, 0, 5000, bytes.NewReader(data))
	require.ErrorIs(t, err, vault.ErrBusy)
	_, err = v.Commit(vault.KindNote, id, s.manage)
	require.ErrorIs(t, err, vault.ErrBusy)
	// Revoke while the append still writes: the append ends gone and its blocks end zeroed.
	require.NoError(t, v.Revoke(vault.KindNote, id, s.manage))
	close(br.release)
	require.ErrorIs(t, <-done, vault.ErrGone)
	require.True(t, check())
	require.Zero(t, v.Stats().Used)
	require.Zero(t, vault.Busy(v))
}

func TestPendingIdleWipe(t *testing.T) {
	v, c := smallVault(t, vault.Config{PendingIdle: time.Minute})
	s := newSecrets(t, false, false)
	id := create(t, v, s, 3000, time.Hour)
	check := vault.BlocksOf(v, id)
	_, err := v.Append(vault.KindNote, id, s.manage, 0, 1000, bytes.NewReader(random(t, 1000)))
	require.NoError(t, err)
	c.Add(59 * time.Second)
	v.Sweep()
	_, err = v.Append(vault.KindNote, id, s.manage, 1000, 1000, bytes.NewReader(random(t, 1000)))
	require.NoError(t, err, "each append refreshes the idle timer")
	c.Add(59 * time.Second)
	v.Sweep()
	st, _, err := v.Status(vault.KindNote, id, s.manage)
	require.NoError(t, err)
	require.Equal(t, vault.StatePending, st)
	c.Add(time.Second)
	v.Sweep()
	require.True(t, check(), "idle pending entry zeroed by the sweeper")
	require.Zero(t, v.Stats().Used)
	st, _, err = v.Status(vault.KindNote, id, s.manage)
	require.NoError(t, err)
	require.Equal(t, vault.StateGone, st)
	_, err = v.Append(vault.KindNote, id, s.manage, 2000, 1000, bytes.NewReader(random(t, 1000)))
	require.ErrorIs(t, err, vault.ErrGone)
}

func TestPutShortReaderDiscards(t *testing.T) {
	v, _ := smallVault(t, vault.Config{})
	s := newSecrets(t, false, false)
	_, _, err := v.Put(vault.CreateRequest{Kind: vault.KindNote, Length: 4000, TTL: time.Hour, Caps: s.caps}, bytes.NewReader(random(t, 3999)))
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.Zero(t, v.Stats().Used)
	require.True(t, vault.FreeBlocksZero(v))
}
