package web

import (
	"net"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// A connection taken over by hijack counts until its release, once; a second hijack attempt
// on it (which fails) leaves the first one's mark; one taken by anything else (the chat's
// WebSocket) is counted out when it is handed over.
func TestConnCapKeepRelease(t *testing.T) {
	c := newConnCap(4)
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c.track(a, http.StateNew)
	c.track(b, http.StateNew)
	c.track(a, http.StateActive)
	c.track(b, http.StateActive)
	ha := &capHold{c: c, conn: a}
	require.True(t, ha.keep())
	c.track(a, http.StateHijacked)
	require.Equal(t, 2, c.count(), "taken over by hijack: still counted")
	require.False(t, ha.keep(), "a second attempt does not mark it again (and so never unmarks it)")
	c.track(b, http.StateHijacked)
	require.Equal(t, 1, c.count(), "taken by another hijacker: counted out at once")
	ha.release()
	require.Equal(t, 0, c.count())
	ha.release()
	require.Equal(t, 0, c.count(), "released once")
	var none *capHold // a server not made by NewServer
	require.False(t, none.keep())
	none.unkeep()
	none.release()
}
