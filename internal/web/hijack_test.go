package web_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/web"
)

func rawAppend(id string, manage [32]byte, off int64, body []byte, extra string) string {
	return fmt.Sprintf("POST /api/v1/notes/%s/data HTTP/1.1\r\nHost: sealdrop.test\r\nContent-Type: application/octet-stream\r\n"+
		"Sealdrop-Manage: %s\r\nSealdrop-Offset: %d\r\nContent-Length: %d\r\n%sConnection: close\r\n\r\n%s",
		id, b64(manage[:]), off, len(body), extra, body)
}

// The ciphertext routes answer on the hijacked connection with exactly the bytes net/http
// writes: an append's gone is byte-identical to an open's gone (T11), and every answer keeps
// the header contract (T1) and closes the connection.
func TestHijackedAnswers(t *testing.T) {
	e := newEnv(t)
	n := e.createNote(1000, false)
	openGone := e.raw(rawPost("/api/v1/notes/"+randomID()+"/open", "application/json", mustJSON(n.openBody(rand32(), 0, nil))))
	appendGone := e.raw(rawAppend(randomID(), n.manage, 0, []byte("abc"), ""))
	require.Contains(t, string(openGone), "Connection: close\r\n")
	require.Equal(t, string(openGone), string(appendGone))

	// A committed note refuses appends with the same gone.
	require.Equal(t, string(openGone), string(e.raw(rawAppend(n.id, n.manage, 1000, []byte("x"), ""))))

	// Success on both routes: contract headers and Connection: close.
	p := newNoteSecrets(3000, false)
	r := e.postJSON("/api/v1/notes", p.createReq(3000, nil))
	require.Equal(t, http.StatusCreated, r.status)
	p.id = r.json(t)["id"].(string)
	r = e.appendData(p, 0, p.body[:1000])
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	requireContract(t, "append 200", r.header, false)
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
	raw := e.raw(rawAppend(p.id, p.manage, 1000, p.body[1000:2000], ""))
	require.True(t, strings.HasPrefix(string(raw), "HTTP/1.1 200 OK\r\n"), "%q", raw)
	require.Contains(t, string(raw), "\r\nConnection: close\r\n\r\n{\"received\":2000}")
	// Expect: 100-continue is honoured before the body is read.
	c, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	req := rawAppend(p.id, p.manage, 2000, p.body[2000:], "Expect: 100-continue\r\n")
	head, body, _ := strings.Cut(req, "\r\n\r\n")
	_, err = io.WriteString(c, head+"\r\n\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "HTTP/1.1 100 Continue\r\n", line)
	_, _ = br.ReadString('\n')
	_, err = io.WriteString(c, body)
	require.NoError(t, err)
	res, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	b, _ := io.ReadAll(res.Body)
	require.Equal(t, http.StatusOK, res.StatusCode, "%s", b)
	require.JSONEq(t, `{"received":3000}`, string(b))
	require.True(t, res.Close)
	requireContract(t, "append 100-continue", res.Header, false)

	require.Equal(t, http.StatusOK, e.postJSON("/api/v1/notes/"+p.id+"/commit", map[string]any{"manage": b64(p.manage[:])}).status)
	cl := rand32()
	raw = e.raw(rawPost("/api/v1/notes/"+p.id+"/open", "application/json", mustJSON(p.openBody(cl, 0, nil))))
	res, err = http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	require.NoError(t, err)
	got, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, p.body, got)
	require.True(t, res.Close, "the download closes its connection")
	requireContract(t, "open 200", res.Header, true)
	require.Equal(t, "3000", res.Header.Get("Sealdrop-Size"))
	require.Equal(t, "attachment", res.Header.Get("Content-Disposition"))
	// HTTP/1.0 gets an HTTP/1.0 answer without a Connection header, like net/http's.
	raw10 := e.raw(strings.Replace(rawAppend(randomID(), n.manage, 0, []byte("abc"), ""), "HTTP/1.1", "HTTP/1.0", 1))
	require.True(t, strings.HasPrefix(string(raw10), "HTTP/1.0 404 Not Found\r\n"), "%q", raw10)
	require.NotContains(t, string(raw10), "Connection:")
}

// TestOversizeHeadersOnly (T19): an append over max_append is answered 413 while the client has
// sent only its headers, and the connection is closed without waiting for the body.
func TestOversizeHeadersOnly(t *testing.T) {
	e := newEnv(t)
	n := newNoteSecrets(64, false)
	r := e.postJSON("/api/v1/notes", n.createReq(1000, nil))
	require.Equal(t, http.StatusCreated, r.status)
	n.id = r.json(t)["id"].(string)
	c, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = fmt.Fprintf(c, "POST /api/v1/notes/%s/data HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"+
		"Sealdrop-Manage: %s\r\nSealdrop-Offset: 0\r\nContent-Length: %d\r\n\r\n", n.id, b64(n.manage[:]), 1<<30)
	require.NoError(t, err)
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
	require.True(t, res.Close)
	_, _ = io.ReadAll(res.Body)
	// The server closes its side: the next read ends.
	_, err = c.Read(make([]byte, 1))
	require.Error(t, err)
}

func shortServer(t *testing.T, h http.Handler, opts ...web.ServerOption) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = web.NewServer(h, opts...)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// timeToClose returns how long the server takes to close c.
func timeToClose(t *testing.T, c net.Conn) time.Duration {
	t.Helper()
	start := time.Now()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(30*time.Second)))
	_, err := io.Copy(io.Discard, c)
	// A close with unread input in the server's socket (the slowloris keeps trickling) arrives
	// as a reset rather than an EOF: both are the server cutting us off. Only our own deadline
	// is a failure.
	if errors.Is(err, syscall.ECONNRESET) {
		err = nil
	}
	require.NoError(t, err, "the server closed the connection (EOF or reset), not our deadline")
	return time.Since(start)
}

// TestSlowClientsCutOff (T19): a client that trickles its headers (slowloris), or stalls in
// an append body, is cut off by the server's timeouts. The timeouts are shortened through
// NewServer's options; the production values are the package constants.
func TestSlowClientsCutOff(t *testing.T) {
	e := newEnv(t)
	srv := shortServer(t, e.srv.Config.Handler, web.WithTimeouts(300*time.Millisecond, 800*time.Millisecond, 2*time.Second, time.Second))
	addr := srv.Listener.Addr().String()

	t.Run("slow headers", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		_, err = io.WriteString(c, "POST /api/v1/notes HTTP/1.1\r\nHost: x\r\n")
		require.NoError(t, err)
		go func() { // one more header byte now and then, never the end of the headers
			for range 20 {
				time.Sleep(100 * time.Millisecond)
				if _, err := io.WriteString(c, "X"); err != nil {
					return
				}
			}
		}()
		d := timeToClose(t, c)
		assert.Less(t, d, 1500*time.Millisecond, "slow headers cut off after the header timeout")
	})
	t.Run("slow append body", func(t *testing.T) {
		n := newNoteSecrets(10000, false)
		r := e.postJSON("/api/v1/notes", n.createReq(10000, nil))
		require.Equal(t, http.StatusCreated, r.status)
		n.id = r.json(t)["id"].(string)
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		req := rawAppend(n.id, n.manage, 0, n.body, "")
		_, err = io.WriteString(c, req[:len(req)-9000]) // headers and 1000 body bytes, then silence
		require.NoError(t, err)
		d := timeToClose(t, c)
		assert.Less(t, d, 2500*time.Millisecond, "a stalled body is cut off after the read timeout")
		// What arrived is kept, so the upload resumes where it broke.
		st := e.postJSON("/api/v1/notes/"+n.id+"/status", map[string]any{"manage": b64(n.manage[:])})
		require.Equal(t, http.StatusOK, st.status)
		conflict := e.appendData(n, 0, n.body)
		require.Equal(t, http.StatusConflict, conflict.status)
		assert.EqualValues(t, 1000, conflict.json(t)["received"])
	})
	t.Run("idle keep-alive", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		_, err = io.WriteString(c, "GET /api/v1/limits HTTP/1.1\r\nHost: x\r\n\r\n")
		require.NoError(t, err)
		d := timeToClose(t, c)
		assert.Less(t, d, 2500*time.Millisecond, "an idle kept-alive connection is closed")
	})
}

// TestConnCap (T19): over the connection cap, the oldest idle connections are closed so that
// a real request still gets through, and the server never holds more than the cap.
func TestConnCap(t *testing.T) {
	e := newEnv(t)
	const max = 16
	srv := shortServer(t, e.srv.Config.Handler, web.WithMaxConns(max))
	addr := srv.Listener.Addr().String()
	var conns []net.Conn
	for range 4 * max {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		conns = append(conns, c)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	res, err := http.Get(srv.URL + "/api/v1/limits")
	require.NoError(t, err)
	_, _ = io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	// Count the idle connections the server closed: a read returns EOF on those.
	closed := 0
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); err == io.EOF {
			closed++
		}
	}
	assert.GreaterOrEqual(t, closed, 3*max, "the oldest idle connections were closed")
	assert.Less(t, closed, 4*max, "not every connection was closed")
}

// The hijacked append keeps what arrived before the client vanished mid-body.
func TestAbandonedAppendKeepsReceived(t *testing.T) {
	e := newEnv(t)
	n := newNoteSecrets(5000, false)
	r := e.postJSON("/api/v1/notes", n.createReq(5000, nil))
	require.Equal(t, http.StatusCreated, r.status)
	n.id = r.json(t)["id"].(string)
	c, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	require.NoError(t, err)
	req := rawAppend(n.id, n.manage, 0, n.body, "")
	_, err = io.WriteString(c, req[:len(req)-3000])
	require.NoError(t, err)
	time.Sleep(100 * time.Millisecond)
	c.Close()
	require.Eventually(t, func() bool {
		r := e.appendData(n, 0, n.body[:1])
		return r.status == http.StatusConflict && r.json(t)["received"] == float64(2000)
	}, 5*time.Second, 50*time.Millisecond)
	r = e.appendData(n, 2000, n.body[2000:])
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, strconv.Itoa(5000), fmt.Sprint(r.json(t)["received"]))
}

// A circuit that dies mid-append can leave the server's end of the stream open, waiting for a
// body that will never come. The client's retry must not be refused as busy until the read
// timeout (two minutes): it cuts the stalled append off, learns how much the server kept, and
// the upload completes with every byte right.
func TestRetryCutsStalledAppend(t *testing.T) {
	e := newEnv(t)
	n := newNoteSecrets(5000, false)
	r := e.postJSON("/api/v1/notes", n.createReq(5000, nil))
	require.Equal(t, http.StatusCreated, r.status)
	n.id = r.json(t)["id"].(string)

	stalled, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	require.NoError(t, err)
	defer stalled.Close()
	req := rawAppend(n.id, n.manage, 0, n.body, "")
	_, err = io.WriteString(stalled, req[:len(req)-3000]) // 2,000 bytes of body, then silence
	require.NoError(t, err)
	time.Sleep(200 * time.Millisecond)

	// The retry starts where its client last heard from the server: offset 0.
	start := time.Now()
	r = e.appendData(n, 0, n.body)
	took := time.Since(start)
	require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
	got := r.json(t)
	require.Equal(t, "offset", got["error"], "not refused as busy")
	received := int64(got["received"].(float64))
	require.True(t, received >= 0 && received <= 2000, "received %d", received)
	require.Less(t, took, 30*time.Second, "answered long before the two-minute read timeout")

	// The stalled connection was closed by the server (with its error answer).
	require.NoError(t, stalled.SetReadDeadline(time.Now().Add(30*time.Second)))
	answer, err := io.ReadAll(stalled)
	require.NoError(t, err, "the server closed it; no timeout on our side")
	require.True(t, strings.HasPrefix(string(answer), "HTTP/1.1 400 "), "%q", answer)

	r = e.appendData(n, received, n.body[received:])
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.EqualValues(t, 5000, r.json(t)["received"])
	r = e.postJSON("/api/v1/notes/"+n.id+"/commit", map[string]any{"manage": b64(n.manage[:])})
	require.Equal(t, http.StatusOK, r.status)
	c := rand32()
	r = e.open(n, c, 0, nil)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, n.body, r.body, "the bytes of both appends, in order")
}

// Only the holder of the manage secret can cut an append: a wrong secret is gone, and the
// running append is untouched.
func TestWrongManageCannotCutAppend(t *testing.T) {
	e := newEnv(t)
	n := newNoteSecrets(5000, false)
	r := e.postJSON("/api/v1/notes", n.createReq(5000, nil))
	require.Equal(t, http.StatusCreated, r.status)
	n.id = r.json(t)["id"].(string)
	slow, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	require.NoError(t, err)
	defer slow.Close()
	req := rawAppend(n.id, n.manage, 0, n.body, "")
	head := len(req) - len(n.body)
	_, err = io.WriteString(slow, req[:head+2000])
	require.NoError(t, err)
	time.Sleep(200 * time.Millisecond)

	other := *n
	other.manage = rand32()
	requireGone(t, e.appendData(&other, 0, n.body))

	// The first append goes on and completes.
	_, err = io.WriteString(slow, req[head+2000:])
	require.NoError(t, err)
	require.NoError(t, slow.SetReadDeadline(time.Now().Add(30*time.Second)))
	answer, err := io.ReadAll(slow)
	require.NoError(t, err)
	require.Contains(t, string(answer), `{"received":5000}`)
}

// TestNoDateAnywhere (T1, T3): the answers net/http writes itself before any handler (417 for
// an unknown Expect, "OPTIONS *") carry no Date header when served through web.Listener; the
// control shows net/http does add one without it.
func TestNoDateAnywhere(t *testing.T) {
	e := newEnv(t)
	h := e.srv.Config.Handler
	serve := func(wrap bool) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		srv := web.NewServer(h)
		if wrap {
			go func() { _ = srv.Serve(web.Listener(ln)) }()
		} else {
			go func() { _ = srv.Serve(ln) }()
		}
		t.Cleanup(func() { _ = srv.Close() })
		return ln.Addr().String()
	}
	send := func(addr, req string) string {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
		_, _ = io.WriteString(c, req)
		b, _ := io.ReadAll(c)
		return string(b)
	}
	expect := "POST /api/v1/notes HTTP/1.1\r\nHost: x\r\nExpect: zq7\r\nContent-Length: 2\r\n\r\n{}"
	options := "OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	plain, wrapped := serve(false), serve(true)
	assert.Contains(t, send(plain, expect), "\r\nDate: ", "control: net/http dates its own 417")
	for name, req := range map[string]string{"expect": expect, "options *": options} {
		out := send(wrapped, req)
		require.True(t, strings.HasPrefix(out, "HTTP/1.1 4"), "%s: %q", name, out)
		assert.NotContains(t, out, "Date:", name)
	}
	// Everything else is unchanged through the wrapper, the hijacked routes included.
	n := newNoteSecrets(70000, false)
	c := &http.Client{Timeout: 10 * time.Second}
	post := func(path, ctype string, body []byte, hdr map[string]string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodPost, "http://"+wrapped+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := c.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}
	res, b := post("/api/v1/notes", "application/json", mustJSON(n.createReq(70000, nil)), nil)
	require.Equal(t, http.StatusCreated, res.StatusCode, "%s", b)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	n.id = m["id"].(string)
	res, b = post("/api/v1/notes/"+n.id+"/data", "application/octet-stream", n.body, map[string]string{"Sealdrop-Manage": b64(n.manage[:]), "Sealdrop-Offset": "0"})
	require.Equal(t, http.StatusOK, res.StatusCode, "%s", b)
	res, _ = post("/api/v1/notes/"+n.id+"/commit", "application/json", mustJSON(map[string]any{"manage": b64(n.manage[:])}), nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, b = post("/api/v1/notes/"+n.id+"/open", "application/json", mustJSON(n.openBody(rand32(), 0, nil)), nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, n.body, b)
	assert.Empty(t, res.Header.Values("Date"))
}
