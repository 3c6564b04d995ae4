//go:build linux

package vault_test

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sealdrop/sealdrop/vault"
	"github.com/stretchr/testify/require"
)

// canary is a 32-byte value the test never holds whole: only as two random halves whose XOR it
// is, so that the scan finds copies in the vault, not in the test.
type canary struct{ a, b []byte }

func newCanary(t *testing.T) canary { return canary{random(t, 32), random(t, 32)} }

// writeInto puts the canary into p at off.
func (c canary) writeInto(p []byte, off int) {
	for i := range 32 {
		p[off+i] = c.a[i] ^ c.b[i]
	}
}

// count scans every readable mapping of this process through /proc/self/mem.
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
			continue // the race detector's shadow: terabytes of reservations, no data copies
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
				if c.matches(p[i:]) && (i < chunk || off+chunk >= end) { // the overlap is read twice
					hits++
				}
				i++
			}
			clear(buf)
		}
	}
	return hits
}

func (c canary) matches(p []byte) bool {
	for k := range 32 {
		if p[k] != c.a[k]^c.b[k] {
			return false
		}
	}
	return true
}

// After each way an entry ends, canaries written at its start, across a block boundary and at
// its end are no longer anywhere in the process's readable memory; a control scan before the
// wipe finds them.
func TestCanaryGoneFromProcessMemory(t *testing.T) {
	ways := map[string]func(t *testing.T, v *vault.Vault, c *clock, id vault.ID, s secrets){
		"take": func(t *testing.T, v *vault.Vault, _ *clock, id vault.ID, s secrets) {
			nonce, ch := claim(t)
			r, err := v.Open(vault.KindNote, id, vault.OpenRequest{Gate: s.gate, Open: s.open, Claim: ch})
			require.NoError(t, err)
			_, err = r.WriteTo(io.Discard, 0)
			require.NoError(t, err)
			r.Close()
			require.NoError(t, v.Confirm(vault.KindNote, id, s.gate, nonce))
		},
		"expiry": func(t *testing.T, v *vault.Vault, c *clock, _ vault.ID, _ secrets) {
			c.Add(2 * time.Hour)
			v.Sweep()
		},
		"revoke": func(t *testing.T, v *vault.Vault, _ *clock, id vault.ID, s secrets) {
			require.NoError(t, v.Revoke(vault.KindNote, id, s.manage))
		},
		"destruct": func(t *testing.T, v *vault.Vault, _ *clock, id vault.ID, s secrets) {
			_, ch := claim(t)
			_, err := v.Open(vault.KindNote, id, vault.OpenRequest{Gate: s.gate, Open: random(t, 32), Destruct: s.destruct, Claim: ch})
			require.ErrorIs(t, err, vault.ErrWrongPIN)
		},
	}
	for name, end := range ways {
		t.Run(name, func(t *testing.T) {
			v, c := smallVault(t, vault.Config{})
			s := newSecrets(t, true, true)
			cn := newCanary(t)
			data := random(t, 4000)
			for _, off := range []int{0, 1010, 4000 - 32} {
				cn.writeInto(data, off)
			}
			id, _, err := v.Put(vault.CreateRequest{Kind: vault.KindNote, Length: 4000, TTL: time.Hour, Caps: s.caps}, bytes.NewReader(data))
			require.NoError(t, err)
			clear(data)
			require.GreaterOrEqual(t, cn.count(t), 3, "control: the canaries are in the vault")
			end(t, v, c, id, s)
			v.Settle()
			require.Zero(t, cn.count(t), "canary still in memory after %s", name)
		})
	}
}

// A relay entry read again and again exists in process memory only once, in its blocks: a read
// streams the locked bytes to the writer and copies them nowhere. Each way it ends leaves no
// canary anywhere.
func TestRelayEntryHeldOnceInProcessMemory(t *testing.T) {
	ways := map[string]func(t *testing.T, v *vault.Vault, c *clock, id vault.ID, s secrets){
		"revoke": func(t *testing.T, v *vault.Vault, _ *clock, id vault.ID, s secrets) {
			require.NoError(t, v.Revoke(vault.KindChatFrame, id, s.manage))
		},
		"destroy": func(t *testing.T, v *vault.Vault, _ *clock, id vault.ID, s secrets) {
			require.NoError(t, v.Destroy(vault.KindChatFrame, id, s.manage))
		},
		"wipe owner": func(t *testing.T, v *vault.Vault, _ *clock, _ vault.ID, _ secrets) {
			require.Equal(t, 1, v.WipeOwner(vault.KindChatFrame, "chat"))
		},
		"expiry": func(t *testing.T, v *vault.Vault, c *clock, _ vault.ID, _ secrets) {
			c.Add(2 * time.Hour)
			v.Sweep()
		},
	}
	for name, end := range ways {
		t.Run(name, func(t *testing.T) {
			v, c := smallVault(t, vault.Config{ClaimWindow: time.Minute})
			s := relaySecrets(t)
			cn := newCanary(t)
			data := random(t, 4000)
			for _, off := range []int{0, 1010, 4000 - 32} {
				cn.writeInto(data, off)
			}
			id := putRelay(t, v, "chat", s, data, time.Hour)
			clear(data)
			require.Equal(t, 3, cn.count(t), "control: the canaries are in the vault, once each")
			for range 3 {
				r, err := v.ReadRelay(vault.KindChatFrame, id, s.manage)
				require.NoError(t, err)
				n, err := r.WriteTo(io.Discard, 0)
				require.NoError(t, err)
				require.EqualValues(t, 4000, n)
				r.Close()
				c.Add(time.Minute) // a claim window each time
				v.Sweep()
				require.Equal(t, 3, cn.count(t), "read again: still once each")
			}
			end(t, v, c, id, s)
			v.Settle()
			require.Zero(t, cn.count(t), "canary still in memory after %s", name)
		})
	}
}
