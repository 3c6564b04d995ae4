package vault_test

import (
	"strings"
	"testing"

	"github.com/sealdrop/sealdrop/vault"
	"github.com/stretchr/testify/require"
)

func TestIDRoundTrip(t *testing.T) {
	seen := map[vault.ID]bool{}
	for range 1000 {
		id, err := vault.NewID()
		require.NoError(t, err)
		require.False(t, seen[id], "duplicate id")
		seen[id] = true
		s := id.String()
		require.Len(t, s, 22)
		got, err := vault.ParseID(s)
		require.NoError(t, err)
		require.Equal(t, id, got)
	}
}

func TestParseIDStrict(t *testing.T) {
	good := vault.ID{0xfb, 0xff, 0xbf, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0xf0}.String()
	_, err := vault.ParseID(good)
	require.NoError(t, err)
	require.Contains(t, good, "-") // the URL-safe alphabet is in use
	require.Contains(t, good, "_")
	for name, s := range map[string]string{
		"empty":          "",
		"short":          good[:21],
		"long":           good + "A",
		"padding":        good[:20] + "==",
		"std alphabet +": strings.ReplaceAll(good, "-", "+"),
		"std alphabet /": strings.ReplaceAll(good, "_", "/"),
		"space":          " " + good[1:],
		"trailing bits":  good[:21] + "B", // last char carries 2 bits; 4 must be zero
		"non-ascii":      good[:20] + "é",
		"newline":        good[:21] + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := vault.ParseID(s)
			require.ErrorIs(t, err, vault.ErrGone)
		})
	}
}

func FuzzParseID(f *testing.F) {
	f.Add("AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("_____________________w")
	f.Add("_____________________x")
	f.Add("AAAAAAAAAAAAAAAAAAAA==")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := vault.ParseID(s)
		if err != nil {
			require.ErrorIs(t, err, vault.ErrGone)
			return
		}
		require.Equal(t, s, id.String(), "accepted a non-canonical id")
	})
}
