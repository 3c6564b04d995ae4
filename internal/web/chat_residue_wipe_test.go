//go:build linux

package web_test

// No chat ciphertext left: the connection's buffers are wiped after a record followed by a
// control message in one segment, and after a fallback send to a chat that has ended.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/memscan"
	"github.com/sealdrop/sealdrop/vault"
)

// A side that sends a record and, in the same TCP segment, a control message (an
// acknowledgement of what it received: both happen at once whenever both sides type) used to
// leave the masked record, with the mask key in the frame header in front of it, in the
// connection's read buffer until that side sent another record. The buffer is wiped after every
// message now, keeping the bytes not read yet.
func TestRecordThenControlLeavesNoCopy(t *testing.T) {
	rc := newResidueChat(t)
	mask := [4]byte{0x5a, 0xc3, 0x17, 0x99}
	r := record{256, 100}
	c := memscan.NewCanary(t)
	rc.records = append(rc.records, c)
	rc.needles = append(rc.needles, c, maskedCanary(c, mask, r.at))
	a := dialWS(t, rc.e.srv.URL, rc.id, rc.creator, mask)
	b := dialWS(t, rc.e.srv.URL, rc.id, rc.joiner, [4]byte{1, 2, 3, 4})

	// One write: the masked record frame, then a masked {"t":"ack","next":0} (acknowledges nothing).
	ack := []byte(`{"t":"ack","next":0}`)
	seg := make([]byte, 0, 1024) // no reallocation: the test leaves no copy of its own
	seg = append(seg, a.header(2, r.size)...)
	require.NoError(t, pieces(c, r, &mask, func(p []byte) error { seg = append(seg, p...); return nil }))
	seg = append(seg, a.header(1, len(ack))...)
	for i, x := range ack {
		seg = append(seg, x^mask[i%4])
	}
	_, err := a.c.Write(seg)
	clear(seg)
	require.NoError(t, err)
	for {
		op, text, _ := a.next()
		if op == 1 && strings.Contains(string(text), `"sent"`) {
			break
		}
	}
	for {
		op, _, seq := b.next()
		if op == 2 {
			b.sendText(map[string]any{"t": "ack", "next": seq + 1})
			break
		}
	}
	rc.waitDelivered(t)
	wipeClient(a.br)
	wipeClient(b.br)
	rc.assertNone(t, "once delivered, while the chat goes on")
}

// A record sent through the fallback to a chat that has just ended (the other side ended it,
// it went idle, or a duress PIN ended it while this side was typing) used to be answered "gone"
// before the connection was taken from net/http, which then read the body into its pooled
// buffers. The connection is taken over first now.
func TestFallbackSendToEndedChatLeavesNoCopy(t *testing.T) {
	rc := newResidueChat(t)
	host := strings.TrimPrefix(rc.e.srv.URL, "http://")
	var open []net.Conn // the connections stay open (kept alive) until the scan
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	post := func(path, ctype, extra string, body func(io.Writer) error, n int) int {
		conn, err := net.Dial("tcp", host)
		require.NoError(t, err)
		open = append(open, conn)
		_, err = fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nOrigin: http://%s\r\nContent-Type: %s\r\n%sContent-Length: %d\r\n\r\n",
			path, host, host, ctype, extra, n)
		require.NoError(t, err)
		require.NoError(t, body(conn))
		br := bufio.NewReaderSize(conn, 512)
		res, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		wipeClient(br)
		return res.StatusCode
	}
	end := fmt.Sprintf(`{"session":%q}`, rc.creator)
	require.Equal(t, http.StatusNoContent, post("/api/v1/chats/"+rc.id+"/end", "application/json", "",
		func(w io.Writer) error { _, err := io.WriteString(w, end); return err }, len(end)))
	for _, r := range []record{{256, 100}, {2000, 1000}, {256, 100}, {2000, 1000}} {
		c := memscan.NewCanary(t)
		rc.needles = append(rc.needles, c)
		st := post("/api/v1/chats/"+rc.id+"/send", "application/octet-stream", "Sealdrop-Session: "+rc.joiner+"\r\n",
			func(w io.Writer) error {
				return pieces(c, r, nil, func(p []byte) error { _, err := w.Write(p); return err })
			}, r.size)
		require.Equal(t, http.StatusNotFound, st)
	}
	time.Sleep(100 * time.Millisecond)
	require.Zero(t, rc.e.v.Stats().Entries[vault.KindChatFrame])
	// No collection first: the copies are in sync.Pool buffers, which a collection may free and
	// the scan's own allocations then reuse.
	left := 0
	for _, c := range rc.needles {
		left += c.Count(t)
	}
	require.Zero(t, left, "copies of %d records refused for an ended chat left in the heap", len(rc.needles))
}
