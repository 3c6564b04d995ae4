package vault_test

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealdrop/sealdrop/vault"
	"github.com/stretchr/testify/require"
)

func TestThousandOpensOneWinner(t *testing.T) {
	v, _ := smallVault(t, vault.Config{})
	s := newSecrets(t, false, false)
	data := random(t, 5000)
	id := put(t, v, s, data, time.Hour)
	var (
		wins   atomic.Int32
		gone   atomic.Int32
		mu     sync.Mutex
		winner []byte
	)
	opens := make([]func(), 1000)
	for i := range opens {
		_, ch := claim(t)
		opens[i] = func() {
			got, err := readAll(v, id, vault.OpenRequest{Gate: s.gate, Claim: ch}, 0)
			switch {
			case err == nil:
				wins.Add(1)
				mu.Lock()
				winner = got
				mu.Unlock()
			case errors.Is(err, vault.ErrGone):
				gone.Add(1)
			}
		}
	}
	together(opens)
	require.EqualValues(t, 1, wins.Load())
	require.EqualValues(t, 999, gone.Load())
	require.Equal(t, data, winner)
}

func TestClaimResumeConfirm(t *testing.T) {
	v, c := smallVault(t, vault.Config{ClaimWindow: 10 * time.Minute})
	s := newSecrets(t, false, false)
	data := random(t, 300_000)
	id := put(t, v, s, data, time.Hour)
	check := vault.BlocksOf(v, id)
	nonce, ch := claim(t)
	req := vault.OpenRequest{Gate: s.gate, Claim: ch}

	// The circuit breaks after 65,552 bytes.
	r, err := v.Open(vault.KindNote, id, req)
	require.NoError(t, err)
	require.EqualValues(t, len(data), r.Size())
	var part bytes.Buffer
	n, err := r.WriteTo(&limitWriter{w: &part, n: 65_552}, 0)
	require.Error(t, err)
	require.EqualValues(t, 65_552, n)
	r.Close()

	// Someone else, even with the gate: gone. Same claim without the gate: gone.
	_, other := claim(t)
	_, err = v.Open(vault.KindNote, id, vault.OpenRequest{Gate: s.gate, Claim: other})
	require.ErrorIs(t, err, vault.ErrGone)
	_, err = v.Open(vault.KindNote, id, vault.OpenRequest{Gate: random(t, 32), Claim: ch})
	require.ErrorIs(t, err, vault.ErrGone)
	st, _, err := v.Status(vault.KindNote, id, s.manage)
	require.NoError(t, err)
	require.Equal(t, vault.StateOpened, st)

	// The same claim resumes within the window.
	c.Add(9 * time.Minute)
	rest, err := readAll(v, id, req, 65_552)
	require.NoError(t, err)
	require.Equal(t, data, append(part.Bytes(), rest...))

	// Bad offsets.
	r, err = v.Open(vault.KindNote, id, req)
	require.NoError(t, err)
	_, err = r.WriteTo(io.Discard, -1)
	require.ErrorIs(t, err, vault.ErrInvalid)
	_, err = r.WriteTo(io.Discard, int64(len(data))+1)
	require.ErrorIs(t, err, vault.ErrInvalid)
	n, err = r.WriteTo(io.Discard, int64(len(data)))
	require.NoError(t, err)
	require.Zero(t, n)
	r.Close()
	r.Close() // twice is harmless

	// Confirm needs the nonce itself and the gate.
	require.ErrorIs(t, v.Confirm(vault.KindNote, id, s.gate, ch[:]), vault.ErrGone)
	require.ErrorIs(t, v.Confirm(vault.KindNote, id, random(t, 32), nonce), vault.ErrGone)
	require.NoError(t, v.Confirm(vault.KindNote, id, s.gate, nonce))
	require.True(t, check(), "confirm zeroes at once")
	require.ErrorIs(t, v.Confirm(vault.KindNote, id, s.gate, nonce), vault.ErrGone)
	_, err = v.Open(vault.KindNote, id, req)
	require.ErrorIs(t, err, vault.ErrGone)
	st, _, err = v.Status(vault.KindNote, id, s.manage)
	require.NoError(t, err)
	require.Equal(t, vault.StateOpened, st)
}

func TestClaimWindowEnds(t *testing.T) {
	v, c := smallVault(t, vault.Config{ClaimWindow: time.Minute})
	s := newSecrets(t, false, false)
	id := put(t, v, s, random(t, 4000), time.Hour)
	check := vault.BlocksOf(v, id)
	nonce, ch := claim(t)
	req := vault.OpenRequest{Gate: s.gate, Claim: ch}
	_, err := readAll(v, id, req, 0)
	require.NoError(t, err)
	c.Add(time.Minute - time.Nanosecond)
	_, err = readAll(v, id, req, 0)
	require.NoError(t, err, "inside the window")
	c.Add(time.Nanosecond)
	v.Sweep()
	require.True(t, check(), "unconfirmed claim wiped when the window ends")
	_, err = readAll(v, id, req, 0)
	require.ErrorIs(t, err, vault.ErrGone)
	require.ErrorIs(t, v.Confirm(vault.KindNote, id, s.gate, nonce), vault.ErrGone)
	st, _, err := v.Status(vault.KindNote, id, s.manage)
	require.NoError(t, err)
	require.Equal(t, vault.StateOpened, st)
}

func TestZeroClaimRefused(t *testing.T) {
	v, _ := smallVault(t, vault.Config{})
	s := newSecrets(t, false, false)
	id := put(t, v, s, random(t, 10), time.Hour)
	_, err := v.Open(vault.KindNote, id, vault.OpenRequest{Gate: s.gate})
	require.ErrorIs(t, err, vault.ErrInvalid)
	_ = take(t, v, id, s)
}

func TestWrongGateIsGone(t *testing.T) {
	v, _ := smallVault(t, vault.Config{})
	s := newSecrets(t, true, true)
	id := put(t, v, s, random(t, 10), time.Hour)
	_, ch := claim(t)
	for range 10 { // a wrong gate never counts as a PIN failure
		_, err := v.Open(vault.KindNote, id, vault.OpenRequest{Gate: random(t, 32), Open: s.open, Destruct: s.destruct, Claim: ch})
		require.ErrorIs(t, err, vault.ErrGone)
	}
	got, err := readAll(v, id, vault.OpenRequest{Gate: s.gate, Open: s.open, Claim: ch}, 0)
	require.NoError(t, err)
	require.Len(t, got, 10)
}

func TestPINCountdown(t *testing.T) {
	v, _ := smallVault(t, vault.Config{})
	s := newSecrets(t, true, false)
	id := put(t, v, s, random(t, 3000), time.Hour)
	check := vault.BlocksOf(v, id)
	_, ch := claim(t)
	for left := 4; left >= 0; left-- {
		_, err := v.Open(vault.KindNote, id, vault.OpenRequest{Gate: s.gate, Open: random(t, 32), Destruct: random(t, 32), Claim: ch})
		var pe *vault.PINError
		require.ErrorAs(t, err, &pe)
		require.ErrorIs(t, err, vault.ErrWrongPIN)
		require.Equal(t, left, pe.Left)
	}
	v.Settle()
	require.True(t, check(), "wiped at the fifth failure")
	_, err := v.Open(vault.KindNote, id, vault.OpenRequest{Gate: s.gate, Open: s.open, Claim: ch})
	require.ErrorIs(t, err, vault.ErrGone, "even the right PIN is too late")
	st, _, err := v.Status(vault.KindNote, id, s.manage)
	require.NoError(t, err)
	require.Equal(t, vault.StateGone, st)
}

func TestRightPINAfterFailures(t *testing.T) {
	v, _ := smallVault(t, vault.Config{})
	s := newSecrets(t, true, true)
	data := random(t, 3000)
	id := put(t, v, s, data, time.Hour)
	_, ch := claim(t)
	for range 4 {
		_, err := v.Open(vault.KindNote, id, vault.OpenRequest{Gate: s.gate, Open: random(t, 32), Claim: ch})
		require.ErrorIs(t, err, vault.ErrWrongPIN)
	}
	got, err := readAll(v, id, vault.OpenRequest{Gate: s.gate, Open: s.open, Claim: ch}, 0)
	require.NoError(t, err)
	require.Equal(t, data, got)
	// The claim resumes without PIN tokens.
	got, err = readAll(v, id, vault.OpenRequest{Gate: s.gate, Claim: ch}, 0)
	require.NoError(t, err)
	require.Equal(t, data, got)
}

func TestParallelWrongPINs(t *testing.T) {
	v, _ := smallVault(t, vault.Config{})
	s := newSecrets(t, true, false)
	id := put(t, v, s, random(t, 3000), time.Hour)
	var (
		counted, goneN atomic.Int32
		lefts          sync.Map
	)
	opens := make([]func(), 100)
	for i := range opens {
		_, ch := claim(t)
		wrong := random(t, 32)
		opens[i] = func() {
			_, err := v.Open(vault.KindNote, id, vault.OpenRequest{Gate: s.gate, Open: wrong, Destruct: wrong, Claim: ch})
			var pe *vault.PINError
			switch {
			case errors.As(err, &pe):
				counted.Add(1)
				_, dup := lefts.LoadOrStore(pe.Left, true)
				if dup {
					counted.Add(1000) // the same "tries left" twice means a lost update
				}
			case errors.Is(err, vault.ErrGone):
				goneN.Add(1)
			}
		}
	}
	together(opens)
	require.EqualValues(t, 5, counted.Load())
	require.EqualValues(t, 95, goneN.Load())
}

// A destruct match answers exactly like a wrong PIN, wipes the content at once, and the
// countdown continues to gone; the right PIN afterwards is a failure too.
func TestDestructLooksLikeWrongPIN(t *testing.T) {
	v, _ := smallVault(t, vault.Config{})
	typo := newSecrets(t, true, true)
	duress := newSecrets(t, true, true)
	idT := put(t, v, typo, random(t, 3000), time.Hour)
	idD := put(t, v, duress, random(t, 3000), time.Hour)
	checkD := vault.BlocksOf(v, idD)
	_, ch := claim(t)

	_, errT := v.Open(vault.KindNote, idT, vault.OpenRequest{Gate: typo.gate, Open: random(t, 32), Destruct: random(t, 32), Claim: ch})
	_, errD := v.Open(vault.KindNote, idD, vault.OpenRequest{Gate: duress.gate, Open: random(t, 32), Destruct: duress.destruct, Claim: ch})
	require.Equal(t, errT, errD)
	require.Equal(t, errT.Error(), errD.Error())
	v.Settle()
	require.True(t, checkD(), "destruct zeroes the content")

	for left := 3; left >= 0; left-- {
		var o []byte = duress.open // the right PIN: still a failure once destroyed
		_, errT = v.Open(vault.KindNote, idT, vault.OpenRequest{Gate: typo.gate, Open: random(t, 32), Destruct: random(t, 32), Claim: ch})
		_, errD = v.Open(vault.KindNote, idD, vault.OpenRequest{Gate: duress.gate, Open: o, Destruct: random(t, 32), Claim: ch})
		require.Equal(t, &vault.PINError{Left: left}, errT)
		require.Equal(t, errT, errD)
	}
	_, errT = v.Open(vault.KindNote, idT, vault.OpenRequest{Gate: typo.gate, Open: typo.open, Claim: ch})
	_, errD = v.Open(vault.KindNote, idD, vault.OpenRequest{Gate: duress.gate, Open: duress.open, Claim: ch})
	require.ErrorIs(t, errT, vault.ErrGone)
	require.ErrorIs(t, errD, vault.ErrGone)
}

// limitWriter accepts n bytes, then fails like a broken connection.
type limitWriter struct {
	w io.Writer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if len(p) > l.n {
		k, _ := l.w.Write(p[:l.n])
		l.n = 0
		return k, errors.New("broken pipe")
	}
	l.n -= len(p)
	return l.w.Write(p)
}

// revokingWriter revokes the entry after the first write.
type revokingWriter struct {
	revoke func()
	n      int
}

func (r *revokingWriter) Write(p []byte) (int, error) {
	if r.n == 0 {
		r.revoke()
	}
	r.n += len(p)
	return len(p), nil
}

func TestWipedWhileStreaming(t *testing.T) {
	v, _ := smallVault(t, vault.Config{})
	s := newSecrets(t, false, false)
	id := put(t, v, s, random(t, 500_000), time.Hour)
	check := vault.BlocksOf(v, id)
	_, ch := claim(t)
	r, err := v.Open(vault.KindNote, id, vault.OpenRequest{Gate: s.gate, Claim: ch})
	require.NoError(t, err)
	w := &revokingWriter{revoke: func() { require.NoError(t, v.Revoke(vault.KindNote, id, s.manage)) }}
	n, err := r.WriteTo(w, 0)
	require.ErrorIs(t, err, vault.ErrGone)
	require.Less(t, n, int64(500_000))
	require.True(t, check(), "zeroed while the reading is still open")
	require.NotZero(t, v.Stats().Used, "but not reused until the reading closes")
	r.Close()
	require.Zero(t, v.Stats().Used)
	require.Zero(t, vault.Busy(v))
}
