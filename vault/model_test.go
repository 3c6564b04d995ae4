package vault_test

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/sealdrop/sealdrop/vault"
	"github.com/stretchr/testify/require"
)

// mEntry is the simple model of one entry.
type mEntry struct {
	id        vault.ID
	s         secrets
	pin       bool
	duress    bool
	data      []byte
	expires   time.Time
	claimed   bool
	claimAt   time.Time
	nonce     []byte
	failures  int
	destroyed bool
	ended     vault.State // 0 while live
	zero      func() bool
}

const modelWindow = 10 * time.Minute

func (m *mEntry) expired(now time.Time) bool { return !now.Before(m.expires) }

// settle applies the claim window.
func (m *mEntry) settle(now time.Time) {
	if m.ended == 0 && m.claimed && now.Sub(m.claimAt) >= modelWindow {
		m.ended = vault.StateOpened
	}
}

func (m *mEntry) contentGone(now time.Time) bool {
	return m.expired(now) || m.ended != 0 || m.destroyed
}

// Random interleavings of take, resume, revoke, expiry, destruct and wrong PINs, checked
// against the model after every step.
func TestModelInterleavings(t *testing.T) {
	seed := time.Now().UnixNano()
	if s := os.Getenv("VAULT_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("reproduce with VAULT_SEED=%d", seed)
		}
	})
	rng := rand.New(rand.NewSource(seed))
	for round := range 40 {
		t.Run(fmt.Sprint(round), func(t *testing.T) { modelRound(t, rng) })
	}
}

func modelRound(t *testing.T, rng *rand.Rand) {
	v, c := smallVault(t, vault.Config{Budget: 256 << 10, ClaimWindow: modelWindow, PendingIdle: time.Hour})
	var es []*mEntry
	for range 6 {
		m := &mEntry{pin: rng.Intn(2) == 0}
		m.duress = m.pin && rng.Intn(2) == 0
		m.s = newSecrets(t, m.pin, m.duress)
		m.data = random(t, 1+rng.Intn(5000))
		ttl := time.Duration(5+rng.Intn(60)) * time.Minute
		m.id = put(t, v, m.s, m.data, ttl)
		m.expires = c.Now().Add(ttl)
		m.zero = vault.BlocksOf(v, m.id)
		es = append(es, m)
	}
	for step := range 60 {
		m := es[rng.Intn(len(es))]
		now := c.Now()
		m.settle(now)
		op := rng.Intn(8)
		desc := fmt.Sprintf("step %d op %d entry %v", step, op, m.id)
		switch op {
		case 0, 1: // open with the right proofs: a fresh claim, or the reader's own claim again
			nonce, ch := claim(t)
			if m.claimed && rng.Intn(2) == 0 {
				nonce = m.nonce
				ch = sha256Of(nonce)
			}
			got, err := readAll(v, m.id, vault.OpenRequest{Gate: m.s.gate, Open: m.s.open, Claim: ch}, 0)
			switch {
			case m.expired(now) || m.ended != 0:
				require.ErrorIs(t, err, vault.ErrGone, desc)
			case m.claimed:
				if bytes.Equal(nonce, m.nonce) {
					require.NoError(t, err, desc)
					require.Equal(t, m.data, got, desc)
				} else {
					require.ErrorIs(t, err, vault.ErrGone, desc)
				}
			case m.pin && m.destroyed:
				m.failures++
				left := 5 - m.failures
				require.Equal(t, &vault.PINError{Left: left}, err, desc)
				if left == 0 {
					m.ended = vault.StateGone
				}
			default:
				require.NoError(t, err, desc)
				require.Equal(t, m.data, got, desc)
				m.claimed, m.claimAt, m.nonce = true, now, nonce
			}
		case 2, 3: // wrong PIN, or the destruct PIN
			destruct := random(t, 32)
			if op == 3 && m.duress {
				destruct = m.s.destruct
			}
			nonce, ch := claim(t)
			r, err := v.Open(vault.KindNote, m.id, vault.OpenRequest{Gate: m.s.gate, Open: random(t, 32), Destruct: destruct, Claim: ch})
			if r != nil {
				r.Close()
			}
			switch {
			case m.expired(now) || m.ended != 0 || m.claimed:
				require.ErrorIs(t, err, vault.ErrGone, desc)
			case !m.pin: // PIN tokens are ignored without a PIN: this is a claim
				require.NoError(t, err, desc)
				m.claimed, m.claimAt, m.nonce = true, now, nonce
			default:
				m.failures++
				left := 5 - m.failures
				require.Equal(t, &vault.PINError{Left: left}, err, desc)
				if op == 3 && m.duress {
					m.destroyed = true
				}
				if left == 0 {
					m.ended = vault.StateGone
				}
			}
		case 4: // confirm
			if m.nonce == nil {
				continue
			}
			err := v.Confirm(vault.KindNote, m.id, m.s.gate, m.nonce)
			if m.expired(now) || m.ended != 0 {
				require.ErrorIs(t, err, vault.ErrGone, desc)
			} else {
				require.NoError(t, err, desc)
				m.ended = vault.StateOpened
			}
		case 5: // revoke
			err := v.Revoke(vault.KindNote, m.id, m.s.manage)
			if m.expired(now) || m.ended != 0 {
				require.ErrorIs(t, err, vault.ErrGone, desc)
			} else {
				require.NoError(t, err, desc)
				m.ended = vault.StateGone
			}
		case 6: // time passes, maybe a sweep
			c.Add(time.Duration(rng.Intn(8)) * time.Minute)
			if rng.Intn(2) == 0 {
				v.Sweep()
			}
			continue
		case 7: // status
		}
		// The manage secret's view must match the model after every step.
		now = c.Now()
		m.settle(now)
		st, _, err := v.Status(vault.KindNote, m.id, m.s.manage)
		switch {
		case m.expired(now):
			require.ErrorIs(t, err, vault.ErrGone, desc)
		case m.ended != 0:
			require.NoError(t, err, desc)
			require.Equal(t, m.ended, st, desc)
		case m.claimed:
			require.NoError(t, err, desc)
			require.Equal(t, vault.StateOpened, st, desc)
		default:
			// A destroyed entry reports what a wrong PIN would leave: still waiting.
			require.NoError(t, err, desc)
			require.Equal(t, vault.StateWaiting, st, desc)
		}
	}
	// Everything whose content should be gone reads back zero once swept.
	v.Sweep()
	v.Settle()
	now := c.Now()
	for _, m := range es {
		m.settle(now)
		if m.contentGone(now) {
			require.True(t, m.zero(), "entry %v should be zeroed", m.id)
		}
	}
}
