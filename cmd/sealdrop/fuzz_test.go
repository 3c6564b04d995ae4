package main

import (
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// sizeGrammar is what parseSize accepts once the input is trimmed and upper-cased: ASCII
// digits, then K, M or G optionally followed by B or IB, or B alone. No sign.
var sizeGrammar = regexp.MustCompile(`^()([0-9]+)(?:([KMG])(?:IB|B)?|B)?$`)

// FuzzParseSize checks parseSize against an independent model: it accepts exactly the grammar
// above with a value in [0, 2^62], returns that value, is blind to case and surrounding space,
// and round-trips; a refusal quotes the input.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{
		"0", "65536", "512K", "64M", "1G", "64MiB", "2gb", "1k", " 1K\t", "1KB", "1KI", "5B",
		"+5", "-0", "-1", "5I", "5iB", "5BI", "5ı", "", " ", "K", "KB", "iB", "1T", "1.5M", "0x10",
		"1_000", "１", "1 K", "4611686018427387904", "4611686018427387905", "4294967296G",
		"4294967297G", "4398046511104M", "9223372036854775807", "9223372036854775808",
		"00000000000000000000001G", "-9223372036854775808",
	} {
		f.Add(s)
	}
	limit := new(big.Int).Lsh(big.NewInt(1), 62)
	f.Fuzz(func(t *testing.T, v string) {
		n, err := parseSize(v)

		want, ok := (*big.Int)(nil), false
		m := sizeGrammar.FindStringSubmatch(strings.ToUpper(strings.TrimSpace(v)))
		// More than 20 significant digits is past 2^62 whatever the suffix (and big.Int's decimal
		// conversion is quadratic, which would stall the fuzzer on long inputs).
		if m != nil && len(strings.TrimLeft(m[2], "0")) <= 20 {
			d, _ := new(big.Int).SetString(m[2], 10)
			if m[1] == "-" {
				d.Neg(d)
			}
			shift := map[string]uint{"": 0, "K": 10, "M": 20, "G": 30}[m[3]]
			want = d.Lsh(d, shift)
			ok = want.Sign() >= 0 && want.Cmp(limit) <= 0
		}
		if !ok {
			require.Error(t, err, "accepted %q as %d", v, n)
			require.Zero(t, n)
			require.Contains(t, err.Error(), "bad size "+strconv.Quote(v))
			return
		}
		require.NoError(t, err, "refused %q", v)
		require.Equal(t, want.Int64(), n, "value of %q", v)

		again, err := parseSize(strconv.FormatInt(n, 10))
		require.NoError(t, err)
		require.Equal(t, n, again, "round trip of %q", v)
		lower, err := parseSize(" " + strings.ToLower(v) + "\n")
		require.NoError(t, err)
		require.Equal(t, n, lower, "case and space of %q", v)
	})
}
