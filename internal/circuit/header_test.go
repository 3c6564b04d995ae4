package circuit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// torLine is the line tor writes for circuit id and virtual port (tor's
// export_hs_client_circuit_id: "PROXY TCP6 %s:%x:%x %s %d %d\r\n").
func torLine(id uint32, vport int) string {
	return fmt.Sprintf("PROXY TCP6 fc00:dead:beef:4dad::%x:%x ::1 %d %d\r\n", id>>16, id&0xffff, id&0xffff, vport)
}

func TestParseHeaderTorLines(t *testing.T) {
	for _, id := range []uint32{1, 2, 42, 0xffff, 0x10000, 0x1abcd, 0xdeadbeef, 0xffffffff} {
		line := torLine(id, 80)
		got, err := ParseHeader([]byte(line))
		if err != nil || got != id {
			t.Errorf("%q: %d, %v; want %d", line, got, err, id)
		}
	}
	// tor's manual gives this one: the id 0xffffffff.
	if got, err := ParseHeader([]byte("PROXY TCP6 fc00:dead:beef:4dad::ffff:ffff ::1 65535 42\r\n")); err != nil || got != 0xffffffff {
		t.Errorf("the manual's example: %d, %v", got, err)
	}
	// Any textual form of the same address is the same address.
	if got, err := ParseHeader([]byte("PROXY TCP6 FC00:DEAD:BEEF:4DAD:0:0:0001:0002 ::1 2 80\r\n")); err != nil || got != 0x10002 {
		t.Errorf("long form: %d, %v", got, err)
	}
	if len(torLine(0xffffffff, 65535)) > MaxHeader {
		t.Error("tor's longest line is over MaxHeader")
	}
}

func TestParseHeaderRefuses(t *testing.T) {
	for _, line := range []string{
		"",
		"\r\n",
		"PROXY TCP6 fc00:dead:beef:4dad::1:2 ::1 2 80",         // no CRLF
		"PROXY TCP6 fc00:dead:beef:4dad::1:2 ::1 2 80\n",       // LF only
		"PROXY TCP6 fc00:dead:beef:4dad::1:2 ::1 2 80\r\n\r\n", // two lines
		"PROXY TCP6 fc00:dead:beef:4dad::1:2 ::1 2 80 \r\n",    // trailing space
		"PROXY  TCP6 fc00:dead:beef:4dad::1:2 ::1 2 80\r\n",    // two spaces
		"PROXY TCP4 127.0.0.1 127.0.0.1 2 80\r\n",              // not tor's
		"PROXY UNKNOWN\r\n", //
		"proxy TCP6 fc00:dead:beef:4dad::1:2 ::1 2 80\r\n",                                // lower case
		"PROXY TCP6 fc00:dead:beef:4dae::1:2 ::1 2 80\r\n",                                // another /64
		"PROXY TCP6 fc00:dead:beef:4dad:0:1:1:2 ::1 2 80\r\n",                             // not tor's /96
		"PROXY TCP6 ::ffff:1.2.3.4 ::1 2 80\r\n",                                          // v4-mapped
		"PROXY TCP6 fc00:dead:beef:4dad::1:2%eth0 ::1 2 80\r\n",                           // a zone
		"PROXY TCP6 fc00:dead:beef:4dad::1:2 ::2 2 80\r\n",                                // destination not ::1
		"PROXY TCP6 fc00:dead:beef:4dad::1:2 ::1 3 80\r\n",                                // port is not the id's low half
		"PROXY TCP6 fc00:dead:beef:4dad::1:2 ::1 02 80\r\n",                               // leading zero
		"PROXY TCP6 fc00:dead:beef:4dad::1:2 ::1 +2 80\r\n",                               // sign
		"PROXY TCP6 fc00:dead:beef:4dad::1:2 ::1 2 0\r\n",                                 // no virtual port
		"PROXY TCP6 fc00:dead:beef:4dad::1:2 ::1 2 65536\r\n",                             // over 16 bits
		"PROXY TCP6 fc00:dead:beef:4dad::0:0 ::1 0 80\r\n",                                // id 0: no circuit
		"PROXY TCP6 fc00:dead:beef:4dad::1:2 ::1 2 80\x00\r\n",                            // NUL
		"PROXY TCP6 fc00:dead:beef:4dad::1:2 ::1 2 80" + strings.Repeat(" ", 70) + "\r\n", // too long
	} {
		if id, err := ParseHeader([]byte(line)); !errors.Is(err, ErrHeader) {
			t.Errorf("%q: accepted as %d", line, id)
		}
	}
}

// oneByteReader hands out at most one byte per Read, like a slow socket.
type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return o.r.Read(p)
}

// readHeader reads the header and not one byte more: the client's bytes stay for the server.
func TestReadHeaderLeavesTheRest(t *testing.T) {
	const rest = "POST /api/v1/notes HTTP/1.1\r\nHost: x\r\n\r\n{\"ciphertext\"}"
	for _, id := range []uint32{1, 0x1abcd, 0xffffffff} {
		for name, wrap := range map[string]func(io.Reader) io.Reader{
			"whole":    func(r io.Reader) io.Reader { return r },
			"one byte": func(r io.Reader) io.Reader { return oneByteReader{r} },
		} {
			r := strings.NewReader(torLine(id, 80) + rest)
			got, looksHTTP, err := readHeader(wrap(r))
			if err != nil || got != id || looksHTTP {
				t.Fatalf("%s, id %d: %d, %v, %v", name, id, got, looksHTTP, err)
			}
			left, _ := io.ReadAll(r)
			if string(left) != rest {
				t.Fatalf("%s, id %d: left %q, want the client's bytes untouched", name, id, left)
			}
		}
	}
}

func TestReadHeaderRefuses(t *testing.T) {
	for _, tc := range []struct {
		in        string
		looksHTTP bool
	}{
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", true},
		{"POST /api/v1/notes HTTP/1.1\r\n", true},
		{"OPTIONS * HTTP/1.1\r\n", true},
		{"\x16\x03\x01\x02\x00", false}, // a TLS hello
		{"PROXY TCP6 fc00:dead:beef:4dad::1:2 ::1 2 80\n", false},
		{"PROXY TCP6 fc00:dead:beef:4dad::1:2 ::1 2 80\rX", false},
		{"PROXY TCP6 fc00:dead:beef:4dad::1:2 ::1 2 80", false}, // cut off
		{"PROXY TCP6 " + strings.Repeat("f", 200) + "\r\n", false},
		{"PROXY TCP6 fc00:dead:beef:4dad::1:2 ::1 2 8\x000\r\n", false},
		{"PROXY \r\n", false},
		{"", false},
	} {
		r := strings.NewReader(tc.in)
		_, looksHTTP, err := readHeader(r)
		if !errors.Is(err, ErrHeader) || looksHTTP != tc.looksHTTP {
			t.Errorf("%q: %v, looksHTTP %v; want ErrHeader, %v", tc.in, err, looksHTTP, tc.looksHTTP)
		}
		if read := len(tc.in) - r.Len(); read > MaxHeader {
			t.Errorf("%q: read %d bytes, over MaxHeader", tc.in, read)
		}
	}
}

// FuzzParseHeader: no input panics or is read past its CRLF; what is accepted is a line of tor's
// form whose id survives being written the way tor writes it.
func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{
		torLine(1, 80), torLine(0xffffffff, 65535), torLine(0x12345, 443),
		"PROXY TCP6 fc00:dead:beef:4dad::ffff:ffff ::1 65535 42\r\n",
		"PROXY TCP6 fc00:dead:beef:4dad:0:0:1:2 ::1 2 80\r\n",
		"GET / HTTP/1.1\r\n\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", "PROXY UNKNOWN\r\n",
		"PROXY TCP6 fc00:dead:beef:4dad::1:2 ::1 2 80\r\nGET / HTTP/1.1\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := ParseHeader(b)
		if err == nil {
			if id == 0 || len(b) > MaxHeader || !bytes.HasSuffix(b, []byte("\r\n")) {
				t.Fatalf("accepted %q as %d", b, id)
			}
			vport := b[bytes.LastIndexByte(b[:len(b)-2], ' ')+1 : len(b)-2]
			var p int
			fmt.Sscan(string(vport), &p)
			if again, err := ParseHeader([]byte(torLine(id, p))); err != nil || again != id {
				t.Fatalf("%q: id %d, tor's form of it gives %d, %v", b, id, again, err)
			}
		}
		r := bytes.NewReader(b)
		rid, _, rerr := readHeader(r)
		read := b[:len(b)-r.Len()]
		if len(read) > MaxHeader {
			t.Fatalf("%q: read %d bytes", b, len(read))
		}
		if rerr == nil {
			// readHeader accepts exactly the lines ParseHeader accepts, and stops at the CRLF.
			if pid, perr := ParseHeader(read); perr != nil || pid != rid || !bytes.HasSuffix(read, []byte("\r\n")) || bytes.Count(read, []byte("\n")) != 1 {
				t.Fatalf("%q: readHeader read %q as %d", b, read, rid)
			}
		}
		if i := bytes.Index(b, []byte("\r\n")); err == nil && i == len(b)-2 && rerr != nil {
			t.Fatalf("%q: ParseHeader accepts it, readHeader refuses it: %v", b, rerr)
		}
	})
}
