package browsertest

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSecurityLevelPrefs(t *testing.T) {
	for _, tc := range []struct {
		l          Level
		jit, svg   bool
		jsDisabled bool
	}{{Standard, true, false, false}, {Safer, false, false, false}, {Safest, false, true, true}} {
		p, err := Prefs(tc.l, "127.0.0.1:9", nil)
		require.NoError(t, err)
		for _, k := range []string{"javascript.options.ion", "javascript.options.baselinejit", "javascript.options.native_regexp",
			"javascript.options.asmjs", "javascript.options.wasm", "gfx.font_rendering.graphite.enabled", "gfx.font_rendering.opentype_svg.enabled"} {
			assert.Equal(t, tc.jit, p[k], "%s %s", tc.l, k)
		}
		assert.Equal(t, !tc.jit, p["mathml.disabled"], tc.l.String())
		assert.Equal(t, tc.svg, p["svg.disabled"], tc.l.String())
		js, has := p["javascript.enabled"]
		assert.Equal(t, tc.jsDisabled, has && js == false, tc.l.String())
		assert.Equal(t, true, p["dom.securecontext.allowlist_onions"])
		assert.Equal(t, "127.0.0.1", p["network.proxy.http"])
		assert.Equal(t, 9, p["network.proxy.http_port"])
		assert.Equal(t, "", p["network.proxy.no_proxies_on"])
		assert.Equal(t, false, p["media.gmp-manager.updateEnabled"])
	}
	p, err := Prefs(Safer, "", map[string]any{"svg.disabled": true})
	require.NoError(t, err)
	assert.Equal(t, true, p["svg.disabled"], "extra prefs win")
	js, err := userJS(map[string]any{"a.b": true, "c": "x\"y", "d": 3})
	require.NoError(t, err)
	assert.Equal(t, "user_pref(\"a.b\", true);\nuser_pref(\"c\", \"x\\\"y\");\nuser_pref(\"d\", 3);\n", js)
	_, err = userJS(map[string]any{"f": 1.5})
	assert.Error(t, err)
}

// The key check must be able to fail: every encoding a page could plausibly put on the wire
// contains one of the needles.
func TestKeyNeedlesFindEveryEncoding(t *testing.T) {
	k := randomBytes(t, 32)
	frag := base64.RawURLEncoding.EncodeToString(append([]byte{1, 0}, k...))
	for name, hay := range map[string]string{
		"fragment":         frag,
		"b64 std":          base64.StdEncoding.EncodeToString(k),
		"b64url in json":   `{"k":"` + base64.RawURLEncoding.EncodeToString(append([]byte{7}, k...)) + `"}`,
		"hex":              fmt.Sprintf("%x", k),
		"HEX":              fmt.Sprintf("%X", k),
		"raw":              "x" + string(k) + "y",
		"b64 after 2 byte": base64.StdEncoding.EncodeToString(append([]byte{1, 2}, k...)),
	} {
		found := false
		for _, n := range keyNeedles(k) {
			found = found || strings.Contains(hay, string(n))
		}
		assert.True(t, found, name)
	}
	other := randomBytes(t, 32)
	for _, n := range keyNeedles(k) {
		assert.NotContains(t, base64.StdEncoding.EncodeToString(other), string(n))
	}
}

func TestFakeOnionProxy(t *testing.T) {
	p, err := NewFakeOnionProxy("", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s %s", r.Method, r.Host, r.RequestURI, b)
	}))
	require.NoError(t, err)
	defer p.Close()
	assert.Len(t, strings.TrimSuffix(p.Host(), ".onion"), 56)

	send := func(raw string) string {
		c, err := net.Dial("tcp", p.Addr())
		require.NoError(t, err)
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		_, err = io.WriteString(c, raw)
		require.NoError(t, err)
		b, _ := io.ReadAll(c)
		return string(b)
	}
	// Absolute form: served by the app in origin form, body recorded.
	out := send("POST http://" + p.Host() + "/a?b=1 HTTP/1.1\r\nHost: " + p.Host() + "\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
	assert.Contains(t, out, "200 OK")
	assert.Contains(t, out, "POST "+p.Host()+" /a?b=1 hello")
	// Other hosts and https to the onion: refused.
	assert.Contains(t, send("GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n"), "403")
	assert.Contains(t, send("CONNECT "+p.Host()+":443 HTTP/1.1\r\nHost: "+p.Host()+":443\r\n\r\n"), "403")
	assert.Contains(t, send("CONNECT example.com:80 HTTP/1.1\r\nHost: example.com:80\r\n\r\n"), "403")

	// A tunnel to the onion's port 80 carries plain HTTP to the app.
	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = io.WriteString(c, "CONNECT "+p.Host()+":80 HTTP/1.1\r\nHost: "+p.Host()+":80\r\n\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	assert.Equal(t, 200, resp.StatusCode)
	_, err = io.WriteString(c, "PUT /t HTTP/1.1\r\nHost: "+p.Host()+"\r\nContent-Length: 3\r\n\r\nabc")
	require.NoError(t, err)
	resp, err = http.ReadResponse(br, nil)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	assert.Equal(t, "PUT "+p.Host()+" /t abc", string(b))

	recs := p.Records()
	foreign := Foreign(recs, p.Host())
	require.Len(t, foreign, 2)
	for _, r := range foreign {
		assert.True(t, r.Refused)
		assert.Contains(t, r.Host, "example.com")
	}
	var bodies []string
	for _, r := range recs {
		if len(r.Body) > 0 {
			bodies = append(bodies, string(r.Body))
		}
	}
	assert.Equal(t, []string{"hello", "abc"}, bodies)
}

// Close must leave no Firefox process behind, content processes included.
func TestCloseKillsProcessGroup(t *testing.T) {
	RequireBrowser(t)
	ctx, cancel := context.WithTimeout(context.Background(), LaunchTimeout)
	defer cancel()
	b, err := Launch(ctx, Options{Level: Safer, ProxyAddr: pool.Proxy.Addr()})
	require.NoError(t, err)
	pgid := b.cmd.Process.Pid
	require.NoError(t, syscall.Kill(-pgid, 0), "the group exists while running")
	profile := b.profile
	b.Close()
	b.Close() // idempotent
	assert.ErrorIs(t, syscall.Kill(-pgid, 0), syscall.ESRCH, "no process may be left in the group")
	_, err = os.Stat(profile)
	assert.ErrorIs(t, err, os.ErrNotExist, "the temporary profile is removed")
	assert.ErrorIs(t, b.Call(ctx, "session.status", nil, nil), ErrClosed)
}
