package protocol

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDropFlagsSafest(t *testing.T) {
	for flags, ok := range map[byte]bool{0: true, DropFlagReply: true, DropFlagSafest: true, DropFlagReply | DropFlagSafest: false, 4: false, 0x82: false} {
		require.Equal(t, ok, ValidDropFlags(flags), "flags %#x", flags)
		_, err := NewDropKeys(flags)
		require.Equal(t, ok, err == nil, "flags %#x", flags)
	}
	k, err := NewDropKeys(DropFlagSafest)
	require.NoError(t, err)
	k.Name = "Desk"
	d := k.Public()
	require.True(t, d.AcceptsSafest())
	// The fragment round-trips with the new flag, and the query carries the keys, never the name.
	back, err := ParseDropFragment(d.Fragment())
	require.NoError(t, err)
	require.Equal(t, *d, *back)
	q := d.SafestQuery()
	require.Len(t, q, DropFragmentLen)
	require.True(t, strings.HasPrefix(d.Fragment(), q+"."))
	pq, err := ParseSafestQuery(q)
	require.NoError(t, err)
	require.Equal(t, d.Enc, pq.Enc)
	require.Equal(t, d.Auth, pq.Auth)
	require.Equal(t, "", pq.Name)
	require.Equal(t, d.Route(), pq.Route())
	// A drop that did not opt in has no query to parse.
	plain, err := NewDropKeys(0)
	require.NoError(t, err)
	_, err = ParseSafestQuery(plain.Public().SafestQuery())
	require.ErrorIs(t, err, ErrDrop)
	for _, bad := range []string{"", q + ".", q[:len(q)-1], "#" + q, q + "A"} {
		_, err = ParseSafestQuery(bad)
		require.ErrorIs(t, err, ErrDrop, "%q", bad)
	}
}

func TestAppendManifestMatches(t *testing.T) {
	texts := []string{"", "hello", "a\"b\\c", "line\r\nnext\ttab\b\f\x00\x01\x1f\x7f", "<html>&amp;</html>",
		"\u2028\u2029 é 日本 🙂", strings.Repeat("x", 70000)}
	files := [][]File{nil, {}, {{Name: "photo-1.jpg", Type: "image/jpeg", Size: 1234}},
		{{Name: "a\"b", Type: "text/plain", Size: 0}, {Name: "é\u2028", Type: "x", Size: maxSafeInt}}}
	for _, tx := range texts {
		for _, fs := range files {
			want, err := encodeManifest(tx, fs)
			require.NoError(t, err)
			n, err := ManifestJSONLen([]byte(tx), fs)
			require.NoError(t, err)
			require.Equal(t, len(want), n)
			buf := make([]byte, n)
			m, err := AppendManifest(buf, []byte(tx), fs)
			require.NoError(t, err)
			require.Equal(t, string(want), string(buf[:m]))
			_, err = AppendManifest(buf[:n-1], []byte(tx), fs)
			require.Error(t, err, "a short buffer is refused, never grown")
		}
	}
	_, err := ManifestJSONLen([]byte{0xff}, nil)
	require.Error(t, err)
}

func FuzzAppendManifest(f *testing.F) {
	f.Add([]byte("hello\n\u2028\""), "photo-1.jpg")
	f.Fuzz(func(t *testing.T, text []byte, name string) {
		fs := []File{{Name: name, Type: "image/png", Size: int64(len(text))}}
		n, err := ManifestJSONLen(text, fs)
		if err != nil {
			return
		}
		want, err := encodeManifest(string(text), fs)
		require.NoError(t, err)
		buf := make([]byte, n)
		m, err := AppendManifest(buf, text, fs)
		require.NoError(t, err)
		require.Equal(t, string(want), string(buf[:m]))
	})
}

func TestSealSubmissionToMatches(t *testing.T) {
	k, err := NewDropKeys(DropFlagSafest)
	require.NoError(t, err)
	d := k.Public()
	for _, size := range []int{1, 100, ChunkSize, ChunkSize + 1, 3*ChunkSize + 17} {
		pt := make([]byte, size)
		_, _ = rand.Read(pt)
		eph, err := ecdh.P256().GenerateKey(rand.Reader)
		require.NoError(t, err)
		entry := [16]byte(fixedBytes("e", 16))
		prefix := [7]byte(fixedBytes("p", 7))
		var want bytes.Buffer
		require.NoError(t, sealSubmissionWith(&want, d, eph, entry, prefix, bytes.NewReader(pt), int64(size)))
		out := make([]byte, SealedSubmissionLen(int64(size)))
		require.NoError(t, sealSubmissionToWith(out, d, eph, entry, prefix, pt))
		require.Equal(t, want.Bytes(), out, "size %d", size)
		require.Error(t, sealSubmissionToWith(out[:len(out)-1], d, eph, entry, prefix, pt))
	}
	// And the journalist opens what SealSubmissionTo made.
	r, n, err := SubmissionPlaintext("hi", nil, nil)
	require.NoError(t, err)
	pt, err := readAllN(r, n)
	require.NoError(t, err)
	out := make([]byte, SealedSubmissionLen(n))
	require.NoError(t, SealSubmissionTo(out, d, pt))
	s, err := OpenSubmission(bytes.NewReader(out), k)
	require.NoError(t, err)
	require.Equal(t, "hi", s.Text)
}
