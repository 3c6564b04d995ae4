package web_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/web"
)

// TestHostAllowList: once the list is set, a request whose Host is not on it (a DNS
// rebinding page's own name, no Host at all) gets 421 and reaches nothing, pages and API
// alike; the names on it are answered whatever their case, port or final dot. Before the list
// is set (a unix socket before the onion address is known), every name is answered.
func TestHostAllowList(t *testing.T) {
	var hosts web.Hosts
	e := newEnv(t, withWeb(func(c *web.Config) { c.Hosts = &hosts }))
	n := e.createNote(100, false)
	ask := func(host, path string) int {
		raw := e.raw("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n")
		res := string(raw)
		code := strings.Fields(res)[1]
		switch code {
		case "421":
			require.Contains(t, res, "serve --host")
			return 421
		case "200":
			return 200
		}
		t.Fatalf("%s %s: %q", host, path, res)
		return 0
	}
	require.Equal(t, 200, ask("rebound.example", "/api/v1/limits"), "no list yet: every name")

	hosts.Set("abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvwx.onion", "127.0.0.1:8080", "[::1]:8080", "localhost", "Front.Example.")
	for _, h := range []string{"abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvwx.onion",
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567ABCDEFGHIJKLMNOPQRSTUVWX.onion:80", "127.0.0.1", "127.0.0.1:9999",
		"[::1]:8080", "localhost:8080", "front.example", "front.example."} {
		require.Equal(t, 200, ask(h, "/api/v1/limits"), h)
		require.Equal(t, 200, ask(h, "/"), h)
	}
	for _, h := range []string{"rebound.example", "rebound.example:8080", "127.0.0.2", "other.onion", "localhost.rebound.example"} {
		require.Equal(t, 421, ask(h, "/api/v1/limits"), h)
		require.Equal(t, 421, ask(h, "/"), h)
	}
	// No Host at all (HTTP/1.0).
	r := e.raw("GET /api/v1/limits HTTP/1.0\r\n\r\n")
	require.True(t, strings.HasPrefix(string(r), "HTTP/1.0 421 ") || strings.HasPrefix(string(r), "HTTP/1.1 421 "), "%q", r)
	// A state-changing request with a refused name touches nothing: the note is still there.
	r = e.raw(rawPost("/api/v1/notes/"+n.id+"/revoke", "application/json", []byte(`{"manage":"`+b64(n.manage[:])+`"}`)))
	require.True(t, strings.HasPrefix(string(r), "HTTP/1.1 421 "), "%q", r)
	hosts.Set("127.0.0.1") // the test server's own address, as serve sets a TCP listener's
	e.requireOpens(n)
}
