package protocol

import "io"

// wipeBuffer is a growing byte buffer that zeroes its old backing array each time it grows,
// so decrypting a note leaves no stray copy of the plaintext in memory the garbage collector
// frees later (bytes.Buffer and io.ReadAll abandon their old arrays as they are). It reads
// straight into its own array, so no intermediate copy buffer exists either.
type wipeBuffer struct{ b []byte }

func (w *wipeBuffer) grow(n int) {
	if cap(w.b)-len(w.b) >= n {
		return
	}
	c := max(2*cap(w.b), len(w.b)+n, 512)
	nb := make([]byte, len(w.b), c)
	copy(nb, w.b)
	clear(w.b[:cap(w.b)])
	w.b = nb
}

// Write appends p.
func (w *wipeBuffer) Write(p []byte) (int, error) {
	w.grow(len(p))
	w.b = append(w.b, p...)
	return len(p), nil
}

// ReadFrom appends everything r delivers until io.EOF.
func (w *wipeBuffer) ReadFrom(r io.Reader) (int64, error) {
	var total int64
	for {
		if len(w.b) == cap(w.b) {
			w.grow(1)
		}
		n, err := r.Read(w.b[len(w.b):cap(w.b)])
		w.b = w.b[:len(w.b)+n]
		total += int64(n)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// wipe zeroes the whole backing array and empties the buffer.
func (w *wipeBuffer) wipe() {
	clear(w.b[:cap(w.b)])
	w.b = w.b[:0]
}
