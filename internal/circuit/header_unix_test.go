//go:build unix

package circuit

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// socketPair is a connected pair of unix stream sockets: what tor writes to and what sealdrop
// reads from.
func socketPair(t *testing.T) (tor, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("unix", t.TempDir()+"/s")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	tor, err = net.Dial("unix", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { tor.Close(); server.Close() })
	_ = server.SetReadDeadline(time.Now().Add(10 * time.Second))
	return tor, server
}

// On a socket, readHeader takes tor's line and not one byte more, however the line and the
// client's bytes after it arrive: at once, the line byte by byte, or the line cut anywhere
// with the client's bytes in the same write as its end.
func TestReadHeaderSocketLeavesTheRest(t *testing.T) {
	const rest = "POST /api/v1/notes/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n\x01\x02\x03"
	for _, id := range []uint32{1, 0x1abcd, 0xffffffff} {
		line := torLine(id, 80)
		// cut 0: the line byte by byte, then the client's bytes; any other: the line up to
		// cut, a pause, then the rest of it in one write with the client's bytes.
		for _, cut := range []int{0, 1, minHeader - 1, minHeader, minHeader + 1, len(line) - 2, len(line) - 1, len(line)} {
			tor, server := socketPair(t)
			go func() {
				if cut == 0 {
					for i := range len(line) {
						_, _ = io.WriteString(tor, line[i:i+1])
						time.Sleep(100 * time.Microsecond)
					}
					_, _ = io.WriteString(tor, rest)
					return
				}
				_, _ = io.WriteString(tor, line[:cut])
				time.Sleep(time.Millisecond)
				_, _ = io.WriteString(tor, line[cut:]+rest)
			}()
			got, looksHTTP, err := readHeader(server)
			if err != nil || got != id || looksHTTP {
				t.Fatalf("id %d, cut %d: %d, %v, %v", id, cut, got, looksHTTP, err)
			}
			left := make([]byte, len(rest))
			if _, err := io.ReadFull(server, left); err != nil || string(left) != rest {
				t.Fatalf("id %d, cut %d: left %q, %v; want the client's bytes untouched", id, cut, left, err)
			}
		}
	}
}

// A line that has arrived whole is taken in one read past the shortest line (the byte-wise
// reader needed one per byte: 25 or so for tor's lines), and what the look saw of the
// client's bytes is zeroed.
func TestPeekReaderTakesTheLineAtOnce(t *testing.T) {
	const rest = "GET / HTTP/1.1\r\nHost: secret-looking\r\n\r\n"
	line := torLine(0xdeadbeef, 443)
	tor, server := socketPair(t)
	if _, err := io.WriteString(tor, line+rest); err != nil {
		t.Fatal(err)
	}
	head := make([]byte, minHeader)
	if _, err := io.ReadFull(server, head); err != nil {
		t.Fatal(err)
	}
	lr := lineBounded(server)
	pr, ok := lr.(*peekReader)
	if !ok {
		t.Fatalf("a unix socket's line-bounded reader is %T, not the peeking one", lr)
	}
	p := make([]byte, MaxHeader)
	n, err := pr.Read(p)
	if err != nil || string(p[:n]) != line[minHeader:] {
		t.Fatalf("one Read gave %q, %v; want the rest of the line %q", p[:n], err, line[minHeader:])
	}
	if !bytes.Equal(pr.peek[:], make([]byte, MaxHeader)) {
		t.Fatalf("the look's buffer still holds %q", bytes.Trim(pr.peek[:], "\x00"))
	}
	left := make([]byte, len(rest))
	if _, err := io.ReadFull(server, left); err != nil || string(left) != rest {
		t.Fatalf("left %q, %v", left, err)
	}
}

// A client that closes before the line's end gives an error, not a header.
func TestPeekReaderCutOff(t *testing.T) {
	tor, server := socketPair(t)
	line := torLine(7, 80)
	if _, err := io.WriteString(tor, line[:len(line)-3]); err != nil {
		t.Fatal(err)
	}
	tor.Close()
	if id, _, err := readHeader(server); err == nil {
		t.Fatalf("a cut line read as %d", id)
	}
}
