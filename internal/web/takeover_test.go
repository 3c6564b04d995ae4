package web_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/api"
	"github.com/sealdrop/sealdrop/internal/web"
)

// preTakeoverRefusals are requests with a body that are refused before any route takes the
// connection over: by the outer wrapper (Tor2web), cross-origin protection (on the note
// fast path and on the router), the router's 404 and 405, and the static files' 404. Each is
// a header block; the body follows.
func preTakeoverRefusals(n *note, s *sub, length int) []struct {
	name   string
	head   string
	status int
} {
	subData := api.SubmissionPath(s.k.RouteID(), "AAAAAAAAAAAAAAAAAAAAAA", api.SubmissionData)
	return []struct {
		name   string
		head   string
		status int
	}{
		{"tor2web upload", rawUpload(n, int64(length), 0, length, "X-Tor2web: encrypted\r\n"), http.StatusForbidden},
		{"cross-site upload", rawUpload(n, int64(length), 0, length, "Sec-Fetch-Site: cross-site\r\n"), http.StatusForbidden},
		{"cross-site note append", rawBinaryHeader("/api/v1/notes/AAAAAAAAAAAAAAAAAAAAAA/data", nil, length, "Sec-Fetch-Site: cross-site\r\n"), http.StatusForbidden},
		{"cross-site drop upload", s.rawHeader(0, length, "Sec-Fetch-Site: cross-site\r\n"), http.StatusForbidden},
		{"tor2web submission append", rawBinaryHeader(subData, nil, length, "X-Tor2web: 1\r\n"), http.StatusForbidden},
		{"405 upload", strings.Replace(rawUpload(n, int64(length), 0, length, ""), "POST", "PUT", 1), http.StatusMethodNotAllowed},
		{"404 api", rawBinaryHeader("/api/v1/notes/upload/more", nil, length, ""), http.StatusNotFound},
		{"404 page", rawBinaryHeader("/nowhere", nil, length, ""), http.StatusNotFound},
		{"404 static", strings.Replace(rawBinaryHeader("/static/nothing.js", nil, length, ""), "POST", "GET", 1), http.StatusNotFound},
	}
}

// TestPreTakeoverRefusalCloses: a request with a body refused before any route takes the
// connection over is answered with Connection: close on a connection taken from net/http, and
// nothing after its body is served: net/http would otherwise have read and discarded the body
// (up to 256 KiB) through its pooled buffers and answered the pipelined request after it.
func TestPreTakeoverRefusalCloses(t *testing.T) {
	d := newDropSite(t, 0)
	const length = 100000
	n := newNoteSecrets(length, false)
	s := newSub(t, dropKeys(t, 0), length)
	for _, tc := range preTakeoverRefusals(n, s, length) {
		t.Run(tc.name, func(t *testing.T) {
			for _, chunked := range []bool{false, true} {
				head, body := tc.head, n.body
				if chunked { // no Content-Length: net/http would drain a chunked body too
					head = strings.Replace(head, fmt.Sprintf("Content-Length: %d\r\n", length), "Transfer-Encoding: chunked\r\n", 1)
					body = append(fmt.Appendf(nil, "%x\r\n", length), append(body, "\r\n0\r\n\r\n"...)...)
				}
				c, err := net.Dial("tcp", d.srv.Listener.Addr().String())
				require.NoError(t, err)
				require.NoError(t, c.SetDeadline(time.Now().Add(20*time.Second)))
				go func() { // the server stops reading: write while reading the answer
					_, _ = io.WriteString(c, head+string(body)+"GET /api/v1/limits HTTP/1.1\r\nHost: sealdrop.test\r\n\r\n")
				}()
				br := bufio.NewReader(c)
				res, err := http.ReadResponse(br, nil)
				require.NoError(t, err)
				_, err = io.ReadAll(res.Body)
				require.NoError(t, err)
				require.Equal(t, tc.status, res.StatusCode, "chunked %v", chunked)
				require.True(t, res.Close, "Connection: close (chunked %v)", chunked)
				_, err = http.ReadResponse(br, nil)
				require.Error(t, err, "no second request served on the connection (chunked %v)", chunked)
				c.Close()
			}
		})
	}
	require.Zero(t, d.noteCount())
	require.Zero(t, d.submissions())
}

// A HEAD refused with a body gets the header alone, and the connection closes.
func TestPreTakeoverRefusalHead(t *testing.T) {
	e := newEnv(t)
	c, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	_, err = io.WriteString(c, "HEAD /nowhere HTTP/1.1\r\nHost: sealdrop.test\r\nContent-Length: 5\r\n\r\nhello")
	require.NoError(t, err)
	out, err := io.ReadAll(c)
	require.NoError(t, err, "the connection is closed after the answer")
	head, rest, ok := strings.Cut(string(out), "\r\n\r\n")
	require.True(t, ok, "%q", out)
	require.True(t, strings.HasPrefix(head, "HTTP/1.1 404 "), "%q", head)
	require.Contains(t, head, "\r\nConnection: close")
	require.Empty(t, rest)
}

// TestStalledTakeoversCloseNoHonest (a hostile review's attack on counting taken-over
// connections): uploads stalled mid-body, as many as the cap, are not counted, so a person
// whose first request takes a Tor round trip to arrive is still answered while another
// connection arrives meanwhile; the idle connections are not closed for them either. After
// churn (uploads cut off, refused before and after the takeover) the count returns to zero.
func TestStalledTakeoversCloseNoHonest(t *testing.T) {
	e := newEnv(t)
	const max = 4
	srv, count := web.NewServerCounted(e.srv.Config.Handler, web.WithMaxConns(max))
	ts := httptest.NewUnstartedServer(nil)
	ts.Config = srv
	ts.Start()
	t.Cleanup(ts.Close)
	addr := ts.Listener.Addr().String()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		return c
	}
	get := func(c net.Conn) error {
		if _, err := io.WriteString(c, "GET /api/v1/limits HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return err
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		_, _ = io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", res.StatusCode)
		}
		return nil
	}
	var stalled []net.Conn
	for i := range max {
		n := e.withToken(newNoteSecrets(100, false))
		c := dial()
		_, err := io.WriteString(c, rawUpload(n, 100, 0, 100, "")+string(n.body[:10]))
		require.NoError(t, err)
		stalled = append(stalled, c)
		// Taken over and waiting for the rest of the body before the next one comes.
		require.Eventually(t, func() bool { return e.noteCount() == i+1 }, 5*time.Second, 10*time.Millisecond)
	}
	require.Eventually(t, func() bool { return count() == 0 }, 5*time.Second, 10*time.Millisecond,
		"stalled uploads are not counted")
	for i := range 3 {
		honest := dial()
		other := dial() // arrives while the honest request is on its way, sends nothing
		time.Sleep(300 * time.Millisecond)
		require.NoError(t, get(honest), "honest request %d answered beside %d stalled uploads", i, max)
		honest.Close()
		other.Close()
	}
	closed := func(c net.Conn) bool {
		_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		_, err := c.Read(make([]byte, 1))
		return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
	}
	for i, c := range stalled {
		require.False(t, closed(c), "stalled upload %d still held until its read deadline", i)
	}

	// Cut the stalled uploads off, and send more, some cut mid-body, some refused before the
	// takeover, some refused after it: each connection is counted out once.
	for _, c := range stalled {
		c.Close()
	}
	for i := range 30 {
		n := e.withToken(newNoteSecrets(1000, false))
		c := dial()
		extra := ""
		switch i % 3 {
		case 1:
			extra = "X-Tor2web: 1\r\n"
		case 2:
			extra = "Sec-Fetch-Site: cross-site\r\n"
		}
		_, err := io.WriteString(c, rawUpload(n, 1000, 0, 1000, extra)+string(n.body[:500]))
		require.NoError(t, err)
		if i%3 != 0 {
			res, err := http.ReadResponse(bufio.NewReader(c), nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusForbidden, res.StatusCode)
		}
		c.Close()
	}
	require.Eventually(t, func() bool { return count() == 0 }, 10*time.Second, 20*time.Millisecond,
		"every connection counted out once")
}
