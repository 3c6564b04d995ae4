package vault_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/sealdrop/sealdrop/internal/testclock"
	"github.com/sealdrop/sealdrop/vault"
	"github.com/stretchr/testify/require"
)

// clock is a fake clock for Config.Now.
type clock = testclock.Clock

func newClock() *clock { return testclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) }

// together runs each of fs in a goroutine of its own, releases them all at once, so that they
// meet in the vault as close together as the scheduler allows, and returns when all have
// returned. fs must not call t.FailNow (require): they run off the test goroutine.
func together(fs []func()) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, f := range fs {
		wg.Go(func() {
			<-start
			f()
		})
	}
	close(start)
	wg.Wait()
}

// secrets are the client-side proofs of one entry.
type secrets struct {
	gate, open, destruct, manage []byte
	caps                         vault.Caps
}

func random(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

func newSecrets(t testing.TB, pin, duress bool) secrets {
	t.Helper()
	s := secrets{gate: random(t, 32), manage: random(t, 32)}
	s.caps.Gate = sha256.Sum256(s.gate)
	s.caps.Manage = sha256.Sum256(s.manage)
	if pin {
		s.open = random(t, 32)
		s.caps.PIN = true
		s.caps.Open = sha256.Sum256(s.open)
	}
	if duress {
		s.destruct = random(t, 32)
		s.caps.Destruct = sha256.Sum256(s.destruct)
	}
	return s
}

// claim is a reader's fresh claim nonce and its hash.
func claim(t testing.TB) ([]byte, vault.Hash) {
	n := random(t, 32)
	return n, sha256.Sum256(n)
}

// claimOffTest is claim for a goroutine other than the test's, where a failed require would
// not stop the test: crypto/rand.Read never returns an error (since Go 1.24 it ends the
// program instead), so there is nothing to report.
func claimOffTest() ([]byte, vault.Hash) {
	n := make([]byte, 32)
	_, _ = rand.Read(n)
	return n, sha256.Sum256(n)
}

// smallVault is a vault with a small budget, a fake clock and no background sweeper.
func smallVault(t testing.TB, cfg vault.Config) (*vault.Vault, *clock) {
	t.Helper()
	c := newClock()
	if cfg.Budget == 0 {
		cfg.Budget = 1 << 20
	}
	if cfg.Now == nil {
		cfg.Now = c.Now
	}
	if cfg.SweepEvery == 0 {
		cfg.SweepEvery = -1
	}
	v, err := vault.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	return v, c
}

func put(t testing.TB, v *vault.Vault, s secrets, data []byte, ttl time.Duration) vault.ID {
	t.Helper()
	id, _, err := v.Put(vault.CreateRequest{Kind: vault.KindNote, Length: int64(len(data)), TTL: ttl, Caps: s.caps}, bytes.NewReader(data))
	require.NoError(t, err)
	return id
}

// readAll opens and reads an entry completely from offset, closing the Reading.
func readAll(v *vault.Vault, id vault.ID, req vault.OpenRequest, offset int64) ([]byte, error) {
	return readAllKind(v, vault.KindNote, id, req, offset)
}

func readAllKind(v *vault.Vault, kind vault.Kind, id vault.ID, req vault.OpenRequest, offset int64) ([]byte, error) {
	r, err := v.Open(kind, id, req)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var buf bytes.Buffer
	if _, err := r.WriteTo(&buf, offset); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// take opens, reads and confirms a note without a PIN.
func take(t testing.TB, v *vault.Vault, id vault.ID, s secrets) []byte {
	t.Helper()
	return takeKind(t, v, vault.KindNote, id, s)
}

// takeKind is take for an entry of kind.
func takeKind(t testing.TB, v *vault.Vault, kind vault.Kind, id vault.ID, s secrets) []byte {
	t.Helper()
	nonce, ch := claim(t)
	got, err := readAllKind(v, kind, id, vault.OpenRequest{Gate: s.gate, Open: s.open, Claim: ch}, 0)
	require.NoError(t, err)
	require.NoError(t, v.Confirm(kind, id, s.gate, nonce))
	return got
}

var _ = io.Discard

func sha256Of(b []byte) vault.Hash { return sha256.Sum256(b) }
