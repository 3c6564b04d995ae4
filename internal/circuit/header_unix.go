//go:build unix

package circuit

import (
	"bytes"
	"io"
	"syscall"
)

// lineBounded returns a reader of r whose every Read stops at the next LF: the socket's own
// reader that looks before it takes (peekReader), one byte at a time for any other reader.
func lineBounded(r io.Reader) io.Reader {
	if sc, ok := r.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			return &peekReader{rc: rc}
		}
	}
	return oneByte{r}
}

// peekReader reads a socket up to its next LF without taking a byte past it: it looks at what
// has arrived (MSG_PEEK) and then takes exactly the bytes up to the LF, or all of them when no
// LF has arrived yet. A header that arrived whole costs two reads, not one per byte past
// minHeader (about 25 for tor's lines, and read syscalls were then most of sealdrop's behind
// tor). What the look copies past the LF (the first bytes of the client's request, possibly
// ciphertext) lands in peek, on the heap (a goroutine's stack may be copied when it grows,
// leaving the old copy behind), and is zeroed before Read returns.
type peekReader struct {
	rc   syscall.RawConn
	peek *[MaxHeader]byte
}

func (pr *peekReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if pr.peek == nil {
		pr.peek = new([MaxHeader]byte)
	}
	look := pr.peek[:min(len(p), MaxHeader)]
	defer clear(look)
	var n int
	var rerr error
	err := pr.rc.Read(func(fd uintptr) bool {
		for {
			n, _, rerr = syscall.Recvfrom(int(fd), look, syscall.MSG_PEEK)
			if rerr != syscall.EINTR {
				return rerr != syscall.EAGAIN // EAGAIN: wait until the socket is readable
			}
		}
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		return 0, err
	}
	if n <= 0 {
		return 0, io.EOF
	}
	if i := bytes.IndexByte(look[:n], '\n'); i >= 0 {
		n = i + 1
	}
	// Take the n bytes the look saw: they are in the socket, and nobody else reads it.
	var m int
	err = pr.rc.Read(func(fd uintptr) bool {
		for {
			m, rerr = syscall.Read(int(fd), p[:n])
			if rerr != syscall.EINTR {
				return rerr != syscall.EAGAIN
			}
		}
	})
	if err == nil {
		err = rerr
	}
	return max(m, 0), err
}
