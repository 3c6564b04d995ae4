package protocol

import (
	"bytes"
	"io"
	"testing"
)

func FuzzB64Decode(f *testing.F) {
	for _, s := range []string{"", "AA", "AA==", "_w", "+w", "A\nA", "AQ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := B64Decode(s)
		if err != nil {
			return
		}
		// Accepted means canonical: exactly one spelling per value.
		if B64Encode(b) != s {
			t.Fatalf("accepted non-canonical %q", s)
		}
	})
}

func FuzzParseFragment(f *testing.F) {
	f.Add(Fragment{Version: 1, Flags: 1}.String())
	f.Add("#" + Fragment{Version: 1}.String())
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		fr, err := ParseFragment(s)
		if err != nil {
			return
		}
		if fr.Version != Version || fr.Flags&^FlagPIN != 0 {
			t.Fatalf("accepted %+v", fr)
		}
		if g, err := ParseFragment(fr.String()); err != nil || g != fr {
			t.Fatalf("round trip of %q: %v", s, err)
		}
	})
}

func FuzzNormalizePIN(f *testing.F) {
	for _, s := range []string{"123456", "١٢٣٤٥٦", "12 3456", "", "１２３４５６"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := NormalizePIN(s)
		if err != nil {
			return
		}
		if len(n) < MinPINDigits {
			t.Fatalf("short PIN %q accepted", n)
		}
		for _, c := range []byte(n) {
			if c < '0' || c > '9' {
				t.Fatalf("non-ASCII-digit output %q", n)
			}
		}
		if n2, err := NormalizePIN(n); err != nil || n2 != n {
			t.Fatalf("not idempotent: %q", n)
		}
		if mapDigits(s) != n {
			t.Fatalf("mapDigits disagrees on %q", s)
		}
	})
}

// FuzzOpen feeds arbitrary bytes to the envelope parser: it must never panic, and anything
// it accepts must re-seal (with the same header) to exactly the input.
func FuzzOpen(f *testing.F) {
	key := seq(7, 32)
	var b bytes.Buffer
	_ = sealWith(&b, key, KindNote, [16]byte{1}, [7]byte{2}, bytes.NewReader([]byte("hello")), 5)
	f.Add(b.Bytes())
	f.Add(b.Bytes()[:HeaderSize])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, env []byte) {
		var out bytes.Buffer
		if err := Open(&out, key, KindNote, bytes.NewReader(env)); err != nil {
			return
		}
		var again bytes.Buffer
		var entry [16]byte
		var prefix [7]byte
		copy(entry[:], env[2:18])
		copy(prefix[:], env[18:HeaderSize])
		if err := sealWith(&again, key, KindNote, entry, prefix, &out, int64(out.Len())); err != nil ||
			!bytes.Equal(again.Bytes(), env) {
			t.Fatalf("accepted an envelope that does not re-seal to itself")
		}
	})
}

// FuzzPlaintext checks that both parsers agree, never panic, and that whatever they accept
// has files within bounds.
func FuzzPlaintext(f *testing.F) {
	r, _, _ := PlaintextReader("hi", []FileInput{{Name: "a", Type: "t", Size: 2, R: bytes.NewReader([]byte("xy"))}})
	p, _ := io.ReadAll(r)
	f.Add(p)
	f.Add([]byte{0, 0, 0, 2, '{', '}'})
	f.Fuzz(func(t *testing.T, p []byte) {
		m, files, err := ParsePlaintext(p)
		m2, err2 := ReadPlaintext(bytes.NewReader(p), func(File) (io.Writer, error) { return io.Discard, nil })
		if (err == nil) != (err2 == nil) {
			t.Fatalf("parsers disagree: %v / %v", err, err2)
		}
		if err != nil {
			return
		}
		if len(files) != len(m.Files) || len(m2.Files) != len(m.Files) || m2.Text != m.Text {
			t.Fatal("inconsistent parse")
		}
		for i, f := range m.Files {
			if int64(len(files[i])) != f.Size {
				t.Fatal("file size mismatch")
			}
		}
	})
}
