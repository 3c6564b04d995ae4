package protocol

import (
	"bytes"
	"encoding/binary"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"io"
	"testing"
)

// checkVectors recomputes every vector from its inputs and checks the stored outputs, and
// checks every expected failure, so the Go code and the file cannot disagree.
func checkVectors(t *testing.T, v *vectors) {
	stretchCache := map[string][]byte{}
	stretch := func(k []byte, pin string) []byte {
		key := string(k) + "\x00" + pin
		if p, ok := stretchCache[key]; ok {
			return p
		}
		p := StretchPIN(k, pin)
		stretchCache[key] = p
		return p
	}

	t.Run("b64url", func(t *testing.T) {
		require.NotEmpty(t, v.B64.Valid)
		for _, c := range v.B64.Valid {
			assert.Equal(t, c.B64, B64Encode(unhex(t, c.Hex)))
			got, err := B64Decode(c.B64)
			require.NoError(t, err, c.B64)
			assert.Equal(t, c.Hex, hx(got))
		}
		for _, s := range v.B64.Invalid {
			_, err := B64Decode(s)
			assert.ErrorIs(t, err, ErrEncoding, "%q", s)
		}
	})
	t.Run("fragment", func(t *testing.T) {
		for _, c := range v.Fragment.Valid {
			f := Fragment{Version: c.Version, Flags: c.Flags, Secret: [32]byte(unhex(t, c.SecretHex))}
			assert.Equal(t, c.Encoded, f.String())
			assert.Len(t, c.Encoded, 46)
			for _, s := range []string{c.Encoded, "#" + c.Encoded} {
				got, err := ParseFragment(s)
				require.NoError(t, err)
				assert.Equal(t, f, got)
			}
		}
		for _, c := range v.Fragment.Invalid {
			_, err := ParseFragment(c.Input)
			assert.ErrorIs(t, err, ErrFragment, "%s: %q", c.Why, c.Input)
		}
		// A manage link accepts exactly the valid fragments without flags.
		require.Greater(t, len(v.Fragment.ManageInvalid), len(v.Fragment.Invalid))
		for _, c := range v.Fragment.Valid {
			got, err := ParseManageFragment(c.Encoded)
			if c.Flags == 0 {
				require.NoError(t, err)
				assert.Equal(t, c.SecretHex, hx(got.Secret[:]))
			} else {
				assert.ErrorIs(t, err, ErrFragment, "flags %d", c.Flags)
			}
		}
		for _, c := range v.Fragment.ManageInvalid {
			_, err := ParseManageFragment(c.Input)
			assert.ErrorIs(t, err, ErrFragment, "%s: %q", c.Why, c.Input)
		}
	})
	t.Run("pin", func(t *testing.T) {
		// The frozen digit table is exactly what the vectors publish for every client.
		assert.Equal(t, v.PIN.DigitZeros, digitZeros[:])
		for _, c := range v.PIN.Valid {
			got, err := NormalizePIN(c.Input)
			require.NoError(t, err, c.Input)
			assert.Equal(t, c.Normalized, got)
		}
		for _, c := range v.PIN.Invalid {
			_, err := NormalizePIN(c.Input)
			assert.ErrorIs(t, err, ErrPIN, "%s: %q", c.Why, c.Input)
		}
		for _, c := range v.CheckPINs {
			err := CheckPINs(c.PIN, c.DPIN)
			if c.OK {
				assert.NoError(t, err, "%q %q", c.PIN, c.DPIN)
			} else {
				assert.ErrorIs(t, err, ErrPIN, "%q %q", c.PIN, c.DPIN)
			}
		}
	})
	t.Run("keys", func(t *testing.T) {
		require.NotEmpty(t, v.Keys)
		for _, c := range v.Keys {
			k := unhex(t, c.KHex)
			assert.Equal(t, c.PINSaltHex, hx(PINSalt(k)))
			assert.Equal(t, c.GateHex, hx(GateToken(k)))
			g := Hash(unhex(t, c.GateHex))
			assert.Equal(t, c.GateHashHex, hx(g[:]))
			var p []byte
			if c.PIN != "" {
				p = stretch(k, c.PIN)
				assert.Equal(t, c.PHex, hx(p))
				assert.Equal(t, c.OpenHex, hx(OpenToken(k, p)))
				assert.Equal(t, c.DestructHex, hx(DestructToken(k, p)))
			}
			assert.Equal(t, c.PayloadHex, hx(PayloadKey(k, p)))
		}
	})
	t.Run("padme", func(t *testing.T) {
		for _, c := range v.Padme {
			assert.Equal(t, c.Padded, Padme(c.N), "n=%d", c.N)
		}
	})
	t.Run("envelopes", func(t *testing.T) {
		require.Len(t, v.Envelopes, 4)
		for _, c := range v.Envelopes {
			pt := genPlaintext(c.PlaintextLen)
			key := unhex(t, c.KeyHex)
			env := sealFixed(t, key, c.Kind, unhex(t, c.EntryNonceHex), unhex(t, c.PrefixHex), pt)
			assert.Equal(t, c.EnvelopeHex, hx(env), c.Name)
			assert.EqualValues(t, SealedLen(c.PlaintextLen), len(env), c.Name)
			var out bytes.Buffer
			require.NoError(t, Open(&out, key, c.Kind, bytes.NewReader(unhex(t, c.EnvelopeHex))), c.Name)
			assert.Equal(t, pt, out.Bytes(), c.Name)
		}
	})
	t.Run("tamper", func(t *testing.T) {
		require.NotEmpty(t, v.Tamper)
		for _, c := range v.Tamper {
			env := assemble(t, v.Envelopes, c.Parts)
			err := Open(&bytes.Buffer{}, unhex(t, c.KeyHex), c.Kind, bytes.NewReader(env))
			require.Error(t, err, c.Name)
			assert.Equal(t, c.Error, errClass(err), c.Name)
		}
	})
	t.Run("plaintexts", func(t *testing.T) {
		for _, c := range v.Plaintexts {
			pt, n := notePlaintext(t, c.Text, c.Files)
			assert.Equal(t, c.PlaintextHex, hx(pt), c.Name)
			assert.Equal(t, Padme(int64(4+len(c.Manifest))+filesLen(t, c.Files)), n)
			assert.EqualValues(t, len(c.Manifest), binary.BigEndian.Uint32(pt))
			checkParsed(t, pt, c.Text, c.Files)
		}
		require.NotEmpty(t, v.Accepted)
		for _, c := range v.Accepted {
			checkParsed(t, unhex(t, c.PlaintextHex), c.Text, c.Files)
		}
		for _, c := range v.BadPlain {
			_, _, err := ParsePlaintext(unhex(t, c.PlaintextHex))
			assert.ErrorIs(t, err, ErrFormat, c.Name)
			_, err = ReadPlaintext(bytes.NewReader(unhex(t, c.PlaintextHex)), func(File) (io.Writer, error) { return &bytes.Buffer{}, nil })
			assert.ErrorIs(t, err, ErrFormat, c.Name)
		}
	})
	t.Run("notes", func(t *testing.T) {
		require.Len(t, v.Notes, 2)
		for _, c := range v.Notes {
			k, m := unhex(t, c.KHex), unhex(t, c.MHex)
			f, err := ParseFragment(c.Fragment)
			require.NoError(t, err)
			assert.Equal(t, k, f.Secret[:])
			assert.Equal(t, c.PIN != "", f.Flags&FlagPIN != 0)
			mf, err := ParseFragment(c.ManageFragment)
			require.NoError(t, err)
			assert.Equal(t, m, mf.Secret[:])
			assert.Zero(t, mf.Flags)
			g := Hash(GateToken(k))
			assert.Equal(t, c.GateHashHex, hx(g[:]))
			mh := Hash(m)
			assert.Equal(t, c.ManageHashHex, hx(mh[:]))

			var p []byte
			if c.PIN != "" {
				p = stretch(k, c.PIN)
				o := Hash(OpenToken(k, p))
				assert.Equal(t, c.OpenHashHex, hx(o[:]))
			} else {
				assert.Empty(t, c.OpenHashHex)
			}
			if c.DPIN != "" {
				d := Hash(DestructToken(k, stretch(k, c.DPIN)))
				assert.Equal(t, c.DestructHashHex, hx(d[:]))
			}
			for _, ty := range c.Typed {
				tp := stretch(k, ty.PIN)
				o, d := Hash(OpenToken(k, tp)), Hash(DestructToken(k, tp))
				assert.Equal(t, ty.Opens, hx(o[:]) == c.OpenHashHex, ty.PIN)
				assert.Equal(t, ty.DestructMatches, hx(d[:]) == c.DestructHashHex, ty.PIN)
			}

			// The sender side reproduces the ciphertext exactly.
			pt, _ := notePlaintext(t, c.Text, c.Files)
			env := sealFixed(t, PayloadKey(k, p), KindNote, unhex(t, c.EntryNonceHex), unhex(t, c.PrefixHex), pt)
			assert.Equal(t, c.EnvelopeHex, hx(env))

			var out bytes.Buffer
			require.NoError(t, Open(&out, PayloadKey(k, p), KindNote, bytes.NewReader(env)))
			checkParsed(t, out.Bytes(), c.Text, c.Files)
			if c.PIN != "" {
				// Without the PIN the payload key is different: the link alone is not enough.
				err := Open(&bytes.Buffer{}, PayloadKey(k, nil), KindNote, bytes.NewReader(env))
				assert.ErrorIs(t, err, ErrAuth)
			} else {
				man, files, err := OpenNote(bytes.NewReader(env), k, "")
				require.NoError(t, err)
				assert.Equal(t, c.Text, man.Text)
				assert.Len(t, files, len(c.Files))
			}
		}
	})
}

func filesLen(t *testing.T, files []vFile) int64 {
	var n int64
	for _, f := range files {
		n += int64(len(unhex(t, f.DataHex)))
	}
	return n
}

func checkParsed(t *testing.T, pt []byte, text string, files []vFile) {
	t.Helper()
	m, data, err := ParsePlaintext(pt)
	require.NoError(t, err)
	assert.Equal(t, text, m.Text)
	require.Len(t, m.Files, len(files))
	require.Len(t, data, len(files))
	for i, f := range files {
		assert.Equal(t, f.Name, m.Files[i].Name)
		assert.Equal(t, f.Type, m.Files[i].Type)
		assert.Equal(t, f.DataHex, hx(data[i]))
		assert.EqualValues(t, len(data[i]), m.Files[i].Size)
	}
	// The streaming parser agrees.
	var got []*bytes.Buffer
	m2, err := ReadPlaintext(bytes.NewReader(pt), func(File) (io.Writer, error) {
		b := &bytes.Buffer{}
		got = append(got, b)
		return b, nil
	})
	require.NoError(t, err)
	assert.Equal(t, m, m2)
	for i, f := range files {
		assert.Equal(t, f.DataHex, hx(got[i].Bytes()))
	}
}
