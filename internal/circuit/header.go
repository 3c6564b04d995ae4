package circuit

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"strconv"
)

// MaxHeader is the longest PROXY protocol v1 line, CRLF included (proxy-protocol.txt, 2.1).
// tor's own is at most 59 bytes.
const MaxHeader = 107

// minHeader is the shortest well-formed TCP6 line, "PROXY TCP6 :: :: 0 0\r\n": reading that
// much at once can never take a byte of what follows the header.
const minHeader = 22

// ErrHeader is returned for a connection whose first line is not tor's PROXY header.
var ErrHeader = errors.New("circuit: no valid PROXY header from tor")

// torPrefix is the /96 tor puts in front of a circuit id: fc00:dead:beef:4dad::/64, then 32 zero
// bits (tor writes "fc00:dead:beef:4dad::%x:%x" with the id's two 16-bit halves).
var torPrefix = netip.MustParseAddr("fc00:dead:beef:4dad::").As16()

// ParseHeader reads the circuit id from one PROXY protocol v1 line as tor writes it with
// HiddenServiceExportCircuitID haproxy (tor's export_hs_client_circuit_id):
//
//	PROXY TCP6 fc00:dead:beef:4dad::AABB:CCDD ::1 <id & 0xffff> <virtual port>\r\n
//
// The global circuit id is 0xAABBCCDD. The line must end in CRLF and hold exactly six fields
// separated by single spaces; the source must lie in tor's /96, the destination be ::1, the
// source port equal the id's low 16 bits and the destination port be a port. Anything else,
// and the id 0 (tor's value for a stream without a circuit, never sent for an onion
// service's stream), is ErrHeader. The id is returned for the limiter only: it must never be
// printed, logged or stored with anything a client sent.
func ParseHeader(line []byte) (uint32, error) {
	body, ok := bytes.CutSuffix(line, []byte("\r\n"))
	if !ok || len(line) > MaxHeader || bytes.ContainsAny(body, "\r\n") {
		return 0, ErrHeader
	}
	f := bytes.Split(body, []byte(" "))
	if len(f) != 6 || string(f[0]) != "PROXY" || string(f[1]) != "TCP6" {
		return 0, ErrHeader
	}
	src, err := netip.ParseAddr(string(f[2]))
	if err != nil || !src.Is6() || src.Zone() != "" {
		return 0, ErrHeader
	}
	dst, err := netip.ParseAddr(string(f[3]))
	if err != nil || dst != netip.IPv6Loopback() {
		return 0, ErrHeader
	}
	a := src.As16()
	if [12]byte(a[:12]) != [12]byte(torPrefix[:12]) {
		return 0, ErrHeader
	}
	id := uint32(a[12])<<24 | uint32(a[13])<<16 | uint32(a[14])<<8 | uint32(a[15])
	sport, ok1 := port(f[4])
	dport, ok2 := port(f[5])
	if id == 0 || !ok1 || !ok2 || sport != id&0xffff || dport == 0 {
		return 0, ErrHeader
	}
	return id, nil
}

// port parses a decimal port, 0-65535, without sign or leading zeros.
func port(b []byte) (uint32, bool) {
	if len(b) == 0 || len(b) > 5 || (len(b) > 1 && b[0] == '0') {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(string(b), 10, 16)
	return uint32(n), err == nil
}

// readHeader reads the PROXY line at the start of r and nothing after it: it reads the
// shortest possible line at once, then up to the line's end, with reads that r bounds at the
// next LF (lineBounded), so that the client's first bytes stay in the socket for the HTTP
// server (and, being possibly ciphertext, are never kept in a buffer of this package). It
// stops at the first byte that cannot belong to a PROXY line. looksHTTP reports a connection
// that began with an HTTP request instead: a tor that does not export circuit ids.
func readHeader(r io.Reader) (id uint32, looksHTTP bool, err error) {
	var buf [MaxHeader]byte
	n, err := io.ReadFull(r, buf[:len("PROXY ")])
	if err != nil {
		return 0, false, ErrHeader
	}
	if string(buf[:n]) != "PROXY " {
		return 0, httpMethod(buf[:n]), ErrHeader
	}
	if _, err := io.ReadFull(r, buf[n:minHeader]); err != nil {
		return 0, false, ErrHeader
	}
	n = minHeader
	lr := lineBounded(r)
	for checked := 0; ; {
		done, ok := scanLine(buf[:n], checked)
		if !ok {
			return 0, false, ErrHeader
		}
		if done {
			break
		}
		if n == MaxHeader {
			return 0, false, ErrHeader
		}
		m, err := lr.Read(buf[n:])
		if m == 0 && err == nil {
			err = io.ErrNoProgress
		}
		if err != nil && m == 0 {
			return 0, false, ErrHeader
		}
		checked, n = n, n+m
	}
	id, err = ParseHeader(buf[:n])
	return id, false, err
}

// oneByte hands out at most one byte per Read: the line-bounded reader of anything but a
// socket (peekReader).
type oneByte struct{ r io.Reader }

func (o oneByte) Read(p []byte) (int, error) { return o.r.Read(p[:min(len(p), 1)]) }

// scanLine checks b[from:], the bytes read since the last call: done when b ends with the
// line's CRLF, !ok at a byte that cannot be part of a PROXY TCP6 line (anything but the
// letters of "PROXY TCP", hex digits, ':', '.', space, and a CR directly before the final LF).
func scanLine(b []byte, from int) (done, ok bool) {
	for i := from; i < len(b); i++ {
		c := b[i]
		if i > 0 && b[i-1] == '\r' {
			return c == '\n' && i == len(b)-1, c == '\n' && i == len(b)-1
		}
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'Z',
			c == ':', c == '.', c == ' ', c == '\r':
		default:
			return false, false
		}
	}
	return false, true
}

// httpMethod reports whether b starts like an HTTP request line: an upper-case token and a
// space ("GET ", "POST ", "OPTIONS ").
func httpMethod(b []byte) bool {
	i := bytes.IndexByte(b, ' ')
	if i <= 0 {
		return len(b) > 0 && allUpper(b) // a method longer than what was read
	}
	return allUpper(b[:i])
}

func allUpper(b []byte) bool {
	for _, c := range b {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}
