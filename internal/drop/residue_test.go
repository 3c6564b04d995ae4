//go:build linux

package drop_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/drop"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/vault"
)

// canary is a 32-byte value the test never holds whole: only as two random halves whose XOR
// it is, so the scan finds copies made by the code under test (as in vault's memscan test).
type canary struct{ a, b [32]byte }

func newCanary() canary {
	var c canary
	_, _ = rand.Read(c.a[:])
	_, _ = rand.Read(c.b[:])
	return c
}

func (c canary) writeInto(p []byte) {
	for i := range 32 {
		p[i] = c.a[i] ^ c.b[i]
	}
}

func (c canary) matches(p []byte) bool {
	for k := range 32 {
		if p[k] != c.a[k]^c.b[k] {
			return false
		}
	}
	return true
}

func (c canary) count(t *testing.T) int {
	t.Helper()
	maps, err := os.ReadFile("/proc/self/maps")
	require.NoError(t, err)
	mem, err := os.Open("/proc/self/mem")
	require.NoError(t, err)
	defer mem.Close()
	const chunk = 1 << 20
	buf := make([]byte, chunk+31)
	first := c.a[0] ^ c.b[0]
	hits := 0
	sc := bufio.NewScanner(bytes.NewReader(maps))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[1][0] != 'r' {
			continue
		}
		if len(f) >= 6 && (f[5] == "[vvar]" || f[5] == "[vsyscall]" || f[5] == "[vvar_vclock]") {
			continue
		}
		lo, hi, _ := strings.Cut(f[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end-start > 4<<30 {
			continue
		}
		for off := start; off < end; off += chunk {
			n, _ := mem.ReadAt(buf[:min(chunk+31, end-off)], int64(off))
			p := buf[:n]
			for i := 0; ; {
				j := bytes.IndexByte(p[i:], first)
				if j < 0 {
					break
				}
				i += j
				if i+32 > len(p) {
					break
				}
				if c.matches(p[i:]) && (i < chunk || off+chunk >= end) {
					hits++
				}
				i++
			}
			clear(buf)
		}
	}
	return hits
}

// canaryReader yields n bytes of zeros with the canary at the given offsets, writing it only
// into the destination slice (the vault's locked blocks).
type canaryReader struct {
	c    canary
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
			r.c.writeInto(p[a-r.pos:])
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
	c := newCanary()
	const size = 200000
	tok, bits, err := e.s.PoW(r)
	require.NoError(t, err)
	nonce, _ := protocol.SolvePoW(context.Background(), tok, bits)
	manage := []byte("0123456789abcdef0123456789abcdef")
	id, _, err := e.s.Submit(r, drop.SubmitRequest{Length: size, Manage: sha256.Sum256(manage), Token: tok, Nonce: nonce[:]})
	require.NoError(t, err)
	_, err = e.v.Append(id, manage, 0, size, &canaryReader{c: c, at: []int{0, 70000, size - 32}, left: size})
	require.NoError(t, err)
	_, err = e.s.Commit(r, id, manage)
	require.NoError(t, err)
	require.GreaterOrEqual(t, c.count(t), 3, "control: the canaries are in the vault")

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
	require.Zero(t, c.count(t), "a canary is still in memory after fetch and confirm")
	_, err = e.s.Fetch(r, id, e.prove(t, k, protocol.DropActionFetch, id, claim), claim)
	require.ErrorIs(t, err, drop.ErrGone)
	_ = vault.ErrGone
}
