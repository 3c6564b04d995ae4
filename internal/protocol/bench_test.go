package protocol

import (
	"io"
	"testing"
)

func BenchmarkSeal1MiB(b *testing.B) {
	key := seq(1, 32)
	b.SetBytes(1 << 20)
	for b.Loop() {
		if err := Seal(io.Discard, key, KindNote, io.LimitReader(zeroReader{}, 1<<20), 1<<20); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen1MiB(b *testing.B) {
	key := seq(1, 32)
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(Seal(pw, key, KindNote, io.LimitReader(zeroReader{}, 1<<20), 1<<20)) }()
	env, _ := io.ReadAll(pr)
	b.SetBytes(1 << 20)
	for b.Loop() {
		if err := Open(io.Discard, key, KindNote, &sliceReader{b: env}); err != nil {
			b.Fatal(err)
		}
	}
}

type sliceReader struct{ b []byte }

func (s *sliceReader) Read(p []byte) (int, error) {
	if len(s.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.b)
	s.b = s.b[n:]
	return n, nil
}

func BenchmarkStretchPIN(b *testing.B) {
	k := seq(1, 32)
	for b.Loop() {
		StretchPIN(k, "123456")
	}
}
