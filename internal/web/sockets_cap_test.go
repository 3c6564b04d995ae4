package web_test

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

	"github.com/sealdrop/sealdrop/internal/wsrelay"
)

// One room session gets at most wsrelay.MaxSockets sockets: the next upgrade is answered 429
// "busy" before any message of it is read, and a closed socket makes room for another (a
// hostile review's R5: 64 sockets were served for one session, each a taken-over connection
// outside the connection cap, kept alive by pongs).
func TestSocketsPerSessionRefused(t *testing.T) {
	rr := newRoomSite(t, 2)
	require.Equal(t, 2, wsrelay.MaxSockets, "SECURITY.md states two sockets per session")
	var open []*wsConn
	for range 2 {
		w := rr.dial(t, 1, [4]byte{1, 2, 3, 4})
		w.text(`"seats"`)
		open = append(open, w)
	}
	status, body := rawUpgrade(t, rr.e.srv.URL, "/api/v1/rooms/"+rr.id+"/ws", rr.sessions[0])
	require.Equal(t, http.StatusTooManyRequests, status, "%s", body)
	require.Contains(t, body, `"busy"`)
	open[0].c.Close()
	require.Eventually(t, func() bool {
		s, _ := rawUpgrade(t, rr.e.srv.URL, "/api/v1/rooms/"+rr.id+"/ws", rr.sessions[0])
		return s == http.StatusSwitchingProtocols
	}, 10*time.Second, 20*time.Millisecond, "a closed socket makes room for another")
}

// rawUpgrade asks for a WebSocket with a session token and returns the answer's status and
// body (the body only when it is not an upgrade).
func rawUpgrade(t *testing.T, srvURL, path, token string) (int, string) {
	t.Helper()
	host := strings.TrimPrefix(srvURL, "http://")
	c, err := net.Dial("tcp", host)
	require.NoError(t, err)
	defer c.Close()
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nOrigin: http://%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: sealdrop.v1, sealdrop.v1.%s\r\n\r\n",
		path, host, host, token)
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	defer res.Body.Close()
	if res.StatusCode == http.StatusSwitchingProtocols {
		return res.StatusCode, ""
	}
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}
