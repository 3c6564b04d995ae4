package browsertest

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// CriticalPath on made-up records: what is in sequence, what runs beside, what waits for a new
// connection, and what falls outside the action's window.
func TestCriticalPath(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	req := func(url string, conn uint64, opened, start, end int) ProxyRecord {
		r := ProxyRecord{Method: http.MethodPost, URL: url, Conn: conn, ConnOpened: at(opened), Time: at(start)}
		if end >= 0 {
			r.End = at(end)
		}
		return r
	}
	recs := []ProxyRecord{
		req("/page", 1, 0, 1, 5),            // before the action, on connection 1
		req("/api/create", 1, 0, 100, 200),  // reuses connection 1: no new one
		req("/api/beside", 2, 90, 120, 250), // runs while create and append run: beside them
		req("/api/append", 1, 0, 210, 300),  // after create's answer, same connection
		{Method: http.MethodConnect, Conn: 3, ConnOpened: at(305), Time: at(306), End: at(307)},
		req("/api/commit", 3, 305, 310, 400),  // a connection opened after append's answer
		req("/api/ws", 4, 50, 410, -1),        // still running (a WebSocket), conn opened before
		req("/api/confirm", 5, 405, 450, 500), // after the result showed
		{Method: http.MethodGet, URL: "http://x.example/", Refused: true, Time: at(150)},
	}
	p := CriticalPath(recs, at(100), at(440))
	assert.Equal(t, 4, p.Requests, p.String())
	assert.Equal(t, 1, p.NewConns, p.String())
	assert.Equal(t, 5, p.All, "create, beside, append, commit, ws")
	var urls []string
	for _, s := range p.Steps {
		urls = append(urls, s.URL)
	}
	assert.Equal(t, []string{"/api/create", "/api/append", "/api/commit", "/api/ws"}, urls)
	assert.Equal(t, []bool{false, false, true, false}, p.NewConn)
	assert.Equal(t, 5, p.Trips())

	// A connection opened before the action, or before the previous answer (a spare one), costs
	// nothing on the path; one opened after the previous answer does.
	p = CriticalPath([]ProxyRecord{
		req("/a", 7, 90, 120, 150),  // opened before the action
		req("/b", 8, 155, 160, 170), // opened after /a's answer
		req("/c", 9, 165, 175, 190), // opened while /b ran
	}, at(100), at(200))
	assert.Equal(t, 3, p.Requests)
	assert.Equal(t, 1, p.NewConns, p.String())
	assert.Equal(t, []bool{false, true, false}, p.NewConn)

	// Nothing in the window.
	p = CriticalPath(recs, at(600), at(700))
	assert.Zero(t, p.Requests)
	assert.Empty(t, p.Steps)
}

// The proxy numbers connections, keeps a connection's number across its requests and inside a
// CONNECT tunnel, and records when each answer went out.
func TestFakeOnionProxyConnections(t *testing.T) {
	p, err := NewFakeOnionProxy("", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	require.NoError(t, err)
	defer p.Close()
	before := len(p.Conns())

	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	for range 2 {
		_, err = io.WriteString(c, "GET http://"+p.Host()+"/k HTTP/1.1\r\nHost: "+p.Host()+"\r\n\r\n")
		require.NoError(t, err)
		res, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	t2, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer t2.Close()
	_ = t2.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = io.WriteString(t2, "CONNECT "+p.Host()+":80 HTTP/1.1\r\nHost: "+p.Host()+":80\r\n\r\n")
	require.NoError(t, err)
	br2 := bufio.NewReader(t2)
	res, err := http.ReadResponse(br2, nil)
	require.NoError(t, err)
	require.Equal(t, 200, res.StatusCode)
	_, err = io.WriteString(t2, "GET /w HTTP/1.1\r\nHost: "+p.Host()+"\r\n\r\n")
	require.NoError(t, err)
	res, err = http.ReadResponse(br2, nil)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()

	conns := p.Conns()[before:]
	require.Len(t, conns, 2)
	recs := p.Records()
	require.Len(t, recs, 4)
	for i, want := range []struct {
		method string
		conn   uint64
	}{{"GET", conns[0].ID}, {"GET", conns[0].ID}, {"CONNECT", conns[1].ID}, {"GET", conns[1].ID}} {
		r := recs[i]
		assert.Equal(t, want.method, r.Method)
		assert.Equal(t, want.conn, r.Conn, "request %d's connection", i)
		assert.False(t, r.End.Before(r.Time), "request %d's answer ends after it began", i)
		assert.False(t, r.End.IsZero(), "request %d's end is recorded", i)
	}
	assert.NotEqual(t, conns[0].ID, conns[1].ID)
	assert.True(t, strings.HasSuffix(recs[3].URL, "/w"))
	// Both GETs on the first connection: the second is not the first on its connection.
	path := CriticalPath(recs, conns[0].Opened.Add(-time.Millisecond), time.Now().Add(time.Second))
	assert.Equal(t, 3, path.Requests, "two GETs and the tunnelled one, one after the other: %s", path)
	assert.Equal(t, 2, path.NewConns, "the first connection and the tunnel's were opened on the path: %s", path)
}
