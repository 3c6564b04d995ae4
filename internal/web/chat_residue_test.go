//go:build linux

package web_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"

	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/chat"
	"github.com/sealdrop/sealdrop/internal/memscan"
	"github.com/sealdrop/sealdrop/internal/web"
	"github.com/sealdrop/sealdrop/vault"
)

// A chat record must exist in the server only in the vault's locked memory, also on its way
// through the WebSocket and the POST fallback: not in gorilla/websocket's read or write buffer,
// not in net/http's pooled buffers, not in a buffer of the relay. Records of every shape carry
// canaries (small ones that sit whole in a read buffer, ones that straddle a buffer's edge, many
// in a row); the sending client masks its frames with a key the test knows, so that the masked
// copy (what arrives on the wire) is searched for too. After the chat ends, this process's
// memory holds no copy of any canary, masked or not; a control scan while the records wait
// finds them in the vault.

// record describes one record: its size and where its canary sits.
type record struct{ size, at int }

var residueRecords = func() []record {
	rs := []record{
		{256, 100},   // a small record (the pages pad messages to 256 bytes): whole in a read buffer
		{6000, 4080}, // across the 4 KiB edge of the connection's buffers
		{70000, 65530},
	}
	for i := range 25 { // many in a row
		rs = append(rs, record{1000 + i, 500})
	}
	return rs
}()

// recordByte is byte j of a record whose canary is c at r.at: the canary there, a pattern
// elsewhere (byte 0 is a data record's type; the relay reads nothing else).
func recordByte(c memscan.Canary, r record, j int) byte {
	switch {
	case j == 0:
		return 3
	case j >= r.at && j < r.at+memscan.Size:
		return c.At(j - r.at)
	}
	return byte(j * 31)
}

// pieces hands out a record in pieces of at most 512 bytes (masked when mask is set), each in
// the same small buffer, cleared after use: the test never holds a record whole.
func pieces(c memscan.Canary, r record, mask *[4]byte, emit func([]byte) error) error {
	var buf [512]byte
	defer clear(buf[:])
	for off := 0; off < r.size; off += len(buf) {
		n := min(len(buf), r.size-off)
		for i := range n {
			b := recordByte(c, r, off+i)
			if mask != nil {
				b ^= mask[(off+i)%4]
			}
			buf[i] = b
		}
		err := emit(buf[:n])
		clear(buf[:n])
		if err != nil {
			return err
		}
	}
	return nil
}

// wipeClient overwrites a client-side bufio.Reader's whole buffer: the test's own copy of
// what it read must not be what the scan finds.
func wipeClient(br *bufio.Reader) {
	if n := br.Buffered(); n > 0 {
		p, _ := br.Peek(n)
		clear(p)
	}
	br.Reset(zeroReader{})
	_, _ = br.Peek(br.Size())
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// maskedCanary is the canary as a frame masked with mask shows it at record offset at.
func maskedCanary(c memscan.Canary, mask [4]byte, at int) memscan.Canary {
	var pad [memscan.Size]byte
	for i := range pad {
		pad[i] = mask[(at+i)%4]
	}
	return c.Xor(pad)
}

// wsConn is a minimal WebSocket client (RFC 6455) that masks with a fixed key and reads into a
// buffer it clears, so that it holds no record either.
type wsConn struct {
	t    testing.TB
	c    net.Conn
	br   *bufio.Reader
	mask [4]byte
	from byte // a room record's sending seat (the byte after the sequence number)
}

func dialWS(t *testing.T, srvURL, id, token string, mask [4]byte) *wsConn {
	t.Helper()
	return dialWSPath(t, srvURL, "/api/v1/chats/"+id+"/ws", token, mask)
}

// dialWSPath is dialWS for the socket at path (a chat's or a room's).
func dialWSPath(t testing.TB, srvURL, path, token string, mask [4]byte) *wsConn {
	t.Helper()
	c, br, res := upgrade(t, srvURL, path, token)
	t.Cleanup(func() { c.Close() })
	require.Equal(t, http.StatusSwitchingProtocols, res.StatusCode)
	return &wsConn{t: t, c: c, br: br, mask: mask}
}

// upgrade dials srvURL and asks for the WebSocket at path as the page does (same origin, the
// session token beside the subprotocol), and returns the connection, its reader and the
// answer. The caller closes the connection.
func upgrade(t testing.TB, srvURL, path, token string) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	host := strings.TrimPrefix(srvURL, "http://")
	c, err := net.Dial("tcp", host)
	require.NoError(t, err)
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nOrigin: http://%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: sealdrop.v1, sealdrop.v1.%s\r\n\r\n",
		path, host, host, token)
	br := bufio.NewReaderSize(c, 512)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
	}
	require.NoError(t, err)
	return c, br, res
}

func (w *wsConn) header(op byte, n int) []byte {
	h := []byte{0x80 | op}
	switch {
	case n < 126:
		h = append(h, 0x80|byte(n))
	case n < 1<<16:
		h = append(h, 0x80|126, byte(n>>8), byte(n))
	default:
		h = append(h, 0x80|127)
		h = binary.BigEndian.AppendUint64(h, uint64(n))
	}
	return append(h, w.mask[:]...)
}

// sendRecord sends r as one masked binary frame, in pieces.
func (w *wsConn) sendRecord(c memscan.Canary, r record) {
	_, err := w.c.Write(w.header(2, r.size))
	require.NoError(w.t, err)
	require.NoError(w.t, pieces(c, r, &w.mask, func(p []byte) error { _, err := w.c.Write(p); return err }))
}

func (w *wsConn) sendText(v any) {
	b, err := json.Marshal(v)
	require.NoError(w.t, err)
	for i := range b {
		b[i] ^= w.mask[i%4]
	}
	_, err = w.c.Write(append(w.header(1, len(b)), b...))
	require.NoError(w.t, err)
}

// next reads one message (its frames: the server splits a record larger than its write buffer
// into continuation frames): a text message is returned; a binary one is read through a
// cleared buffer and only its sequence number is kept.
func (w *wsConn) next() (op byte, text []byte, seq uint64) {
	var got uint64 // payload bytes of the message read so far
	for first := true; ; first = false {
		require.NoError(w.t, w.c.SetReadDeadline(time.Now().Add(10*time.Second)))
		var h [2]byte
		_, err := io.ReadFull(w.br, h[:])
		require.NoError(w.t, err)
		fin, fop := h[0]&0x80 != 0, h[0]&0x0f
		if first {
			op = fop
		} else {
			require.Zero(w.t, fop, "a continuation frame")
		}
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var e [2]byte
			_, err = io.ReadFull(w.br, e[:])
			n = uint64(binary.BigEndian.Uint16(e[:]))
		case 127:
			var e [8]byte
			_, err = io.ReadFull(w.br, e[:])
			n = binary.BigEndian.Uint64(e[:])
		}
		require.NoError(w.t, err)
		if op != 2 {
			b := make([]byte, n)
			_, err = io.ReadFull(w.br, b)
			require.NoError(w.t, err)
			text = append(text, b...)
		} else {
			var buf [512]byte
			for end := got + n; got < end; {
				k, err := w.br.Read(buf[:min(uint64(len(buf)), end-got)])
				require.NoError(w.t, err)
				for i := 0; i < k && got+uint64(i) < 9; i++ {
					if got+uint64(i) == 8 {
						w.from = buf[i]
						continue
					}
					seq = seq<<8 | uint64(buf[i])
				}
				clear(buf[:k])
				got += uint64(k)
			}
		}
		if fin {
			return op, text, seq
		}
	}
}

// residueChat is a site with chats, a created and joined chat, and both session tokens.
type residueChat struct {
	e                *env
	id               string
	creator, joiner  string
	manage           [32]byte
	records, needles []memscan.Canary
}

func newResidueChat(t *testing.T) *residueChat {
	t.Helper()
	var cs *chat.Server
	// 2 MiB: the records are about 100 KB in all.
	e := newEnv(t, withBudget(2<<20), withRealPages(), func(vc *vault.Config, wc *web.Config) {
		vc.SweepEvery = -1
	}, withWeb(func(wc *web.Config) {}))
	// The chat server needs the vault the env made: build the site again around it.
	var err error
	// The memory scans take minutes under -race on a loaded machine, while a socket of the test
	// reads nothing and so answers no ping: a read timeout far beyond them keeps the server from
	// cutting it (internal/client's TestSilentChatStaysOpen proves the timeout itself).
	cs, err = chat.New(chat.Config{Vault: e.v, Now: e.clk.Now, SweepEvery: -1, ReadTimeout: 15 * time.Minute})
	require.NoError(t, err)
	t.Cleanup(cs.Close)
	cfg := e.cfg
	cfg.Chat = cs
	cfg.Price = cs.Config().Price
	h, err := web.New(cfg)
	require.NoError(t, err)
	e.srv.Config.Handler = h
	rc := &residueChat{e: e, manage: rand32()}
	gate := rand32()
	gh, mh, dh := sha256.Sum256(gate[:]), sha256.Sum256(rc.manage[:]), rand32()
	r := e.postJSON("/api/v1/chats", map[string]any{"gate_hash": b64(gh[:]), "manage_hash": b64(mh[:]), "destruct_hash": b64(dh[:])})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	m := r.json(t)
	rc.id, rc.creator = m["id"].(string), m["session"].(string)
	r = e.postJSON("/api/v1/chats/"+rc.id+"/join", map[string]any{"gate": b64(gate[:])})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	rc.joiner = r.json(t)["session"].(string)
	return rc
}

func (rc *residueChat) canaries(t *testing.T, mask *[4]byte) {
	for _, r := range residueRecords {
		c := memscan.NewCanary(t)
		rc.records = append(rc.records, c)
		rc.needles = append(rc.needles, c)
		if mask != nil {
			rc.needles = append(rc.needles, maskedCanary(c, *mask, r.at))
		}
	}
}

// settle lets the server's goroutines finish and the collector run, so that a copy held only
// by garbage would still be found (it is not zeroed by being collected).
func settle() {
	time.Sleep(200 * time.Millisecond)
	runtime.GC()
}

// assertNone checks that no needle is left anywhere in this process, when what.
func (rc *residueChat) assertNone(t *testing.T, what string) {
	t.Helper()
	settle()
	for i, c := range rc.needles {
		require.Zero(t, c.Count(t), "needle %d left in memory %s, at %v", i, what, c.Where(t))
	}
}

// waitDelivered waits until the vault holds no record of the chat: every acknowledgement has
// been processed.
func (rc *residueChat) waitDelivered(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for rc.e.v.Stats().Entries[vault.KindChatFrame] > 0 {
		require.True(t, time.Now().Before(deadline), "the acknowledged records were not wiped")
		time.Sleep(10 * time.Millisecond)
	}
}

func TestChatRecordsLeaveNoResidueWebSocket(t *testing.T) {
	rc := newResidueChat(t)
	mask := [4]byte{0x5a, 0xc3, 0x17, 0x99}
	rc.canaries(t, &mask)
	a := dialWS(t, rc.e.srv.URL, rc.id, rc.creator, mask)
	b := dialWS(t, rc.e.srv.URL, rc.id, rc.joiner, [4]byte{1, 2, 3, 4})
	sent := 0
	for i, r := range residueRecords {
		a.sendRecord(rc.records[i], r)
		// The creator's socket answers {"t":"sent"} for each; peer notices may come first.
		for {
			op, text, _ := a.next()
			if op == 1 && strings.Contains(string(text), `"sent"`) {
				sent++
				break
			}
		}
	}
	require.Equal(t, len(residueRecords), sent)
	// Control: the records are in the vault, unread.
	for i := range rc.records {
		require.GreaterOrEqual(t, rc.records[i].Count(t), 1, "control: record %d is held", i)
	}
	// The joiner receives every record and acknowledges them (by the next one it expects).
	var last uint64
	for got := 0; got < len(residueRecords); {
		op, _, seq := b.next()
		if op == 2 {
			got++
			last = seq
			b.sendText(map[string]any{"t": "ack", "next": seq + 1})
		}
	}
	require.EqualValues(t, len(residueRecords)-1, last)
	// While the chat goes on, the records it delivered are nowhere: not in the vault (wiped at
	// the acknowledgement), not in the sockets' buffers.
	rc.waitDelivered(t)
	wipeClient(b.br)
	rc.assertNone(t, "once delivered, while the chat goes on")
	a.sendText(map[string]any{"t": "end"})
	a.c.Close()
	b.c.Close()
	wipeClient(a.br)
	wipeClient(b.br)
	rc.assertNone(t, "after the chat ended")
}

func TestChatRecordsLeaveNoResidueFallback(t *testing.T) {
	rc := newResidueChat(t)
	rc.canaries(t, nil)
	host := strings.TrimPrefix(rc.e.srv.URL, "http://")
	raw := func(head string, body func(io.Writer) error) (*http.Response, []byte) {
		return rawHTTP(t, host, head, body)
	}
	for i, r := range residueRecords {
		res, body := raw(fmt.Sprintf("POST /api/v1/chats/%s/send HTTP/1.1\r\nHost: %s\r\nOrigin: http://%s\r\nContent-Type: application/octet-stream\r\n"+
			"Sealdrop-Session: %s\r\nContent-Length: %d\r\n\r\n", rc.id, host, host, rc.creator, r.size),
			func(w io.Writer) error {
				return pieces(rc.records[i], r, nil, func(p []byte) error { _, err := w.Write(p); return err })
			})
		require.Equal(t, http.StatusOK, res.StatusCode, "%s", body)
	}
	for i := range rc.records {
		require.GreaterOrEqual(t, rc.records[i].Count(t), 1, "control: record %d is held", i)
	}
	var next uint64
	for got := 0; got < len(residueRecords); got++ {
		req := fmt.Sprintf(`{"session":%q,"next":%d}`, rc.joiner, next)
		res, _ := raw(fmt.Sprintf("POST /api/v1/chats/%s/poll HTTP/1.1\r\nHost: %s\r\nOrigin: http://%s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			rc.id, host, host, len(req), req), nil)
		require.Equal(t, http.StatusOK, res.StatusCode)
		seq, err := strconv.ParseUint(res.Header.Get("Sealdrop-Seq"), 10, 64)
		require.NoError(t, err)
		require.Equal(t, next, seq)
		next = seq + 1
	}
	// Acknowledge the last one too, then nothing of the records is left while the chat goes on.
	ack := fmt.Sprintf(`{"session":%q,"next":%d}`, rc.joiner, next)
	res, _ := raw(fmt.Sprintf("POST /api/v1/chats/%s/poll HTTP/1.1\r\nHost: %s\r\nOrigin: http://%s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		rc.id, host, host, len(ack), ack), nil)
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	rc.waitDelivered(t)
	rc.assertNone(t, "once delivered, while the chat goes on")
	end := fmt.Sprintf(`{"session":%q}`, rc.creator)
	res, _ = raw(fmt.Sprintf("POST /api/v1/chats/%s/end HTTP/1.1\r\nHost: %s\r\nOrigin: http://%s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		rc.id, host, host, len(end), end), nil)
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	rc.assertNone(t, "after the chat ended")
}

// rawHTTP sends one request (head, then body if any) on a connection of its own and reads the
// answer: a JSON body is returned, any other is read through a cleared buffer and dropped, and
// the reader's buffer is wiped, so that the test holds no copy of a record.
func rawHTTP(t *testing.T, host, head string, body func(io.Writer) error) (*http.Response, []byte) {
	t.Helper()
	c, err := net.Dial("tcp", host)
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, head)
	require.NoError(t, err)
	if body != nil {
		require.NoError(t, body(c))
	}
	br := bufio.NewReaderSize(c, 512)
	res, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	var out []byte
	if res.Header.Get("Content-Type") == "application/json" {
		out, err = io.ReadAll(res.Body)
		require.NoError(t, err)
	} else {
		var buf [512]byte
		for {
			n, err := res.Body.Read(buf[:])
			clear(buf[:n])
			if err != nil {
				break
			}
		}
	}
	res.Body.Close()
	wipeClient(br)
	return res, out
}

var _ = base64.RawURLEncoding
