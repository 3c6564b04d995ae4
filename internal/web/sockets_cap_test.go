package web_test

import (
	"io"
	"net/http"
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

// The chat's socket is served by the same code: its sessions are capped alike.
func TestChatSocketsPerSessionRefused(t *testing.T) {
	rc := newResidueChat(t)
	for range 2 {
		dialWS(t, rc.e.srv.URL, rc.id, rc.creator, [4]byte{1, 2, 3, 4})
	}
	status, body := rawUpgrade(t, rc.e.srv.URL, "/api/v1/chats/"+rc.id+"/ws", rc.creator)
	require.Equal(t, http.StatusTooManyRequests, status, "%s", body)
	require.Contains(t, body, `"busy"`)
	status, body = rawUpgrade(t, rc.e.srv.URL, "/api/v1/chats/"+rc.id+"/ws", rc.joiner)
	require.Equal(t, http.StatusSwitchingProtocols, status, "the cap is per session: %s", body)
}

// rawUpgrade asks for a WebSocket with a session token and returns the answer's status and
// body (the body only when it is not an upgrade); the connection is closed on return.
func rawUpgrade(t *testing.T, srvURL, path, token string) (int, string) {
	t.Helper()
	c, _, res := upgrade(t, srvURL, path, token)
	defer c.Close()
	defer res.Body.Close()
	if res.StatusCode == http.StatusSwitchingProtocols {
		return res.StatusCode, ""
	}
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}
