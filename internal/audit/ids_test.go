package audit_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/vault"
)

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// TestIDsUnique (T12): a million fresh ids, no duplicate, each of the canonical form, and
// every bit position takes both values (no stuck bits from a broken source).
func TestIDsUnique(t *testing.T) {
	const n = 1_000_000
	seen := make(map[vault.ID]struct{}, n)
	var ones [128]int
	for range n {
		id, err := vault.NewID()
		require.NoError(t, err)
		if _, dup := seen[id]; dup {
			t.Fatalf("duplicate id after %d", len(seen))
		}
		seen[id] = struct{}{}
		for i := range 128 {
			ones[i] += int(id[i/8] >> (i % 8) & 1)
		}
	}
	for i, c := range ones {
		// Binomial(10^6, 1/2): 6 standard deviations is ±3000.
		assert.InDelta(t, n/2, c, 3000, "bit %d set in %d of %d ids", i, c, n)
	}
}

// TestIDCanonical (T12): ParseID accepts exactly the 22-character base64url form that String
// produces: every other length, every byte outside the alphabet at every position, and
// every non-zero value of the last character's 4 unused bits are refused.
func TestIDCanonical(t *testing.T) {
	id, err := vault.NewID()
	require.NoError(t, err)
	good := id.String()
	got, err := vault.ParseID(good)
	require.NoError(t, err)
	require.Equal(t, id, got)
	for l := 0; l <= 64; l++ {
		if l == 22 {
			continue
		}
		s := strings.Repeat("A", l)
		_, err := vault.ParseID(s)
		assert.ErrorIs(t, err, vault.ErrGone, "length %d", l)
	}
	for pos := range 22 {
		for b := 0; b < 256; b++ {
			if strings.IndexByte(alphabet, byte(b)) >= 0 {
				continue
			}
			s := good[:pos] + string([]byte{byte(b)}) + good[pos+1:]
			_, err := vault.ParseID(s)
			require.ErrorIs(t, err, vault.ErrGone, "byte %#x at %d", b, pos)
		}
	}
	// The last character carries 2 bits of the id and 4 bits that must be zero: exactly 4 of
	// the 64 letters are canonical there.
	accepted := 0
	for _, c := range alphabet {
		s := good[:21] + string(c)
		parsed, err := vault.ParseID(s)
		if err == nil {
			accepted++
			assert.Equal(t, s, parsed.String(), "accepted only what re-encodes to itself")
			assert.Zero(t, strings.IndexRune(alphabet, c)&0xf, "canonical last character %q", c)
		}
	}
	assert.Equal(t, 4, accepted)
	// Padding, the standard alphabet, whitespace and the padded form of the same bytes.
	for _, s := range []string{good + "==", base64.URLEncoding.EncodeToString(id[:]), base64.StdEncoding.EncodeToString(id[:]), " " + good[1:], good[:21] + "\n", "\u00c0" + good[2:]} {
		if s == good {
			continue
		}
		_, err := vault.ParseID(s)
		assert.ErrorIs(t, err, vault.ErrGone, "%q", s)
	}
}
