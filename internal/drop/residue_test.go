//go:build linux

package drop_test

import (
	"crypto/rand"
	"crypto/sha256"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/drop"
	"github.com/sealdrop/sealdrop/internal/memscan"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/vault"
)

// canaryReader yields n bytes of zeros with the canary at the given offsets, writing it only
// into the destination slice (the vault's locked blocks).
type canaryReader struct {
	c    memscan.Canary
	at   []int
	pos  int
	left int
}

func (r *canaryReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.left)
	clear(p[:n])
	for _, a := range r.at {
		if a >= r.pos && a+32 <= r.pos+n {
			r.c.WriteInto(p[a-r.pos:])
		}
	}
	r.pos += n
	r.left -= n
	return n, nil
}

// hashWriter keeps nothing of what passes through it.
type hashWriter struct{ n int }

func (h *hashWriter) Write(p []byte) (int, error) { h.n += len(p); return len(p), nil }

// After a fetch and its confirm, no copy of the submission's bytes is left anywhere in the
// process's readable memory; a control scan before finds them in the vault.
func TestResidueAfterFetch(t *testing.T) {
	e := newEnv(t, drop.Config{})
	k := keys(t, 0)
	r := route(t, e.s, k)
	c := memscan.NewCanary(t)
	const size = 200000
	manage := []byte("0123456789abcdef0123456789abcdef")
	req := drop.SubmitRequest{Length: size, Manage: sha256.Sum256(manage)}
	e.pay(t, r, &req)
	id, _, err := e.s.Submit(r, req)
	require.NoError(t, err)
	_, err = e.v.Append(vault.KindSubmission, id, manage, 0, size, &canaryReader{c: c, at: []int{0, 70000, size - 32}, left: size})
	require.NoError(t, err)
	_, err = e.s.Commit(r, id, manage)
	require.NoError(t, err)
	require.GreaterOrEqual(t, c.Count(t), 3, "control: the canaries are in the vault")

	cn := make([]byte, 32)
	_, _ = rand.Read(cn)
	claim := sha256.Sum256(cn)
	rd, err := e.s.Fetch(r, id, e.prove(t, k, protocol.DropActionFetch, id, claim), claim)
	require.NoError(t, err)
	var sink hashWriter
	_, err = rd.WriteTo(&sink, 0)
	require.NoError(t, err)
	rd.Close()
	require.Equal(t, size, sink.n)
	require.NoError(t, e.s.Confirm(r, id, e.prove(t, k, protocol.DropActionConfirm, id, sha256.Sum256(cn)), cn))
	e.v.Settle()
	require.Zero(t, c.Count(t), "a canary is still in memory after fetch and confirm")
	_, err = e.s.Fetch(r, id, e.prove(t, k, protocol.DropActionFetch, id, claim), claim)
	require.ErrorIs(t, err, drop.ErrGone)
	_ = vault.ErrGone
}
