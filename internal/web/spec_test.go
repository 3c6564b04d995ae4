//go:build linux

package web_test

import (
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/vault"
)

// TestNoRouteTakesDelete (issue 18 item 6): every API route that changes state takes POST
// only; DELETE (or PUT, PATCH) is 405 {"error":"method"}, and so is any method but GET or HEAD
// on limits. The spec's table used to say "POST (or DELETE)".
func TestNoRouteTakesDelete(t *testing.T) {
	rc := newResidueChat(t)
	e := rc.e
	n := e.createNote(100, false)
	paths := []string{"/api/v1/notes", "/api/v1/notes/upload", "/api/v1/limits", "/api/v1/chats"}
	for _, a := range []string{"data", "commit", "open", "confirm", "status", "revoke"} {
		paths = append(paths, "/api/v1/notes/"+n.id+"/"+a)
	}
	for _, a := range []string{"join", "send", "poll", "end", "revoke"} {
		paths = append(paths, "/api/v1/chats/"+rc.id+"/"+a)
	}
	for _, p := range paths {
		for _, m := range []string{http.MethodDelete, http.MethodPut, http.MethodPatch} {
			r := e.do(m, p, "application/json", []byte(`{}`), nil)
			require.Equal(t, http.StatusMethodNotAllowed, r.status, "%s %s: %s", m, p, r.body)
			require.Equal(t, "method", r.json(t)["error"], "%s %s", m, p)
		}
	}
	e.requireOpens(n)
}

// TestJSONKeysExact (issue 18 item 8): a JSON body's members are matched exactly. A key in
// another case ("Manage" for "manage", which encoding/json alone would take), a repeated key,
// an unknown key and trailing data are 400 bad_request; a body over 4,096 bytes is 413
// too_large; a key written with escapes that unescape to the exact name is the name.
func TestJSONKeysExact(t *testing.T) {
	rc := newResidueChat(t)
	e := rc.e
	n := e.createNote(100, false)
	m := b64(n.manage[:])
	status := "/api/v1/notes/" + n.id + "/status"
	for _, tc := range []struct {
		name, body string
		status     int
		code       string
	}{
		{"Manage", `{"Manage":"` + m + `"}`, 400, "bad_request"},
		{"MANAGE", `{"MANAGE":"` + m + `"}`, 400, "bad_request"},
		{"mAnage", `{"mAnage":"` + m + `"}`, 400, "bad_request"},
		{"repeated", `{"manage":"` + m + `","manage":"` + m + `"}`, 400, "bad_request"},
		{"repeated, other value", `{"manage":"AAAA","manage":"` + m + `"}`, 400, "bad_request"},
		{"unknown", `{"manage":"` + m + `","x":1}`, 400, "bad_request"},
		{"trailing", `{"manage":"` + m + `"}{}`, 400, "bad_request"},
		{"array", `["manage"]`, 400, "bad_request"},
		{"too large", `{"manage":"` + m + `"}` + strings.Repeat(" ", 4097), 413, "too_large"},
	} {
		r := e.do(http.MethodPost, status, "application/json", []byte(tc.body), nil)
		require.Equal(t, tc.status, r.status, "%s: %s", tc.name, r.body)
		require.Equal(t, tc.code, r.json(t)["error"], tc.name)
	}
	for _, body := range []string{
		`{"manage":"` + m + `"}`,
		`{"\u006danage":"` + m + `"}`,
		`{"manage":"` + m + `"}` + strings.Repeat(" ", 4096-len(m)-14),
	} {
		r := e.do(http.MethodPost, status, "application/json", []byte(body), nil)
		require.Equal(t, http.StatusOK, r.status, "%s: %s", body, r.body)
	}
	// Embedded members (the payment of a create, a chat's session) are exact too.
	c := newNoteSecrets(64, false).createReq(64, nil)
	c["Price_token"] = "x"
	r := e.postJSON("/api/v1/notes", c)
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
	require.Equal(t, "bad_request", r.json(t)["error"])
	r = e.postJSON("/api/v1/chats/"+rc.id+"/poll", map[string]any{"Session": rc.joiner})
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
	require.Equal(t, "bad_request", r.json(t)["error"])
	r = e.postJSON("/api/v1/chats/"+rc.id+"/end", map[string]any{"session": rc.joiner})
	require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
}

// TestChatTransportAsSpecified (issue 18 item 9): the join answers exactly {"session":S}; every
// socket's first message is {"t":"peer"} or {"t":"nopeer"}; the server's text messages are a
// JSON object and "\n"; a client's may end in "\n" or not.
func TestChatTransportAsSpecified(t *testing.T) {
	rc := newResidueChat(t)
	e := rc.e
	gate := rand32()
	mh := rand32()
	r := e.postJSON("/api/v1/chats", map[string]any{"gate_hash": hash(gate), "manage_hash": hash(mh), "destruct_hash": hash(rand32())})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	created := r.json(t)
	require.Len(t, created, 3, "%s", r.body)
	id, creator := created["id"].(string), created["session"].(string)
	require.Contains(t, created, "expires_in")
	r = e.postJSON("/api/v1/chats/"+id+"/join", map[string]any{"gate": b64(gate[:])})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	joined := r.json(t)
	require.Len(t, joined, 1, "%s", r.body)
	joiner := joined["session"].(string)
	require.Len(t, joiner, 43)

	mask := [4]byte{1, 2, 3, 4}
	c := dialWS(t, e.srv.URL, id, creator, mask)
	op, text, _ := c.next()
	require.Equal(t, byte(1), op)
	require.Equal(t, "{\"t\":\"nopeer\"}\n", string(text))
	j := dialWS(t, e.srv.URL, id, joiner, mask)
	op, text, _ = j.next()
	require.Equal(t, byte(1), op)
	require.Equal(t, "{\"t\":\"peer\"}\n", string(text))
	op, text, _ = c.next()
	require.Equal(t, byte(1), op)
	require.Equal(t, "{\"t\":\"peer\"}\n", string(text))
	// A text message with and without the newline: both taken (the socket stays, and the end
	// is answered).
	c.sendTextRaw([]byte("{\"t\":\"ack\",\"next\":0}\n"))
	c.sendTextRaw([]byte(`{"t":"end"}`))
	op, text, _ = c.next()
	require.Equal(t, byte(1), op)
	require.Equal(t, "{\"t\":\"end\",\"reason\":\"ended\"}\n", string(text))

	// A chat's destruct_hash is optional, as a note's (TestDestructHashOptional): absent, the
	// chat's lock holds a random one, and a wrong PIN counts as on any other chat.
	pinGate, open := rand32(), rand32()
	r = e.postJSON("/api/v1/chats", map[string]any{"gate_hash": hash(pinGate), "manage_hash": hash(rand32()), "open_hash": hash(open)})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	id = r.json(t)["id"].(string)
	wrong := rand32()
	r = e.postJSON("/api/v1/chats/"+id+"/join", map[string]any{"gate": b64(pinGate[:]), "open": b64(wrong[:]), "destruct": b64(wrong[:])})
	require.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
	require.EqualValues(t, 4, r.json(t)["tries_left"])
	r = e.postJSON("/api/v1/chats/"+id+"/join", map[string]any{"gate": b64(pinGate[:]), "open": b64(open[:]), "destruct": b64(open[:])})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
}

// sendTextRaw sends b as one masked text frame.
func (w *wsConn) sendTextRaw(b []byte) {
	m := append([]byte(nil), b...)
	for i := range m {
		m[i] ^= w.mask[i%4]
	}
	_, err := w.c.Write(append(w.header(1, len(m)), m...))
	require.NoError(w.t, err)
}

// TestSpecPendingTimes (issue 18 item 11): the spec's pending wipe times are the vault's.
func TestSpecPendingTimes(t *testing.T) {
	b, err := os.ReadFile("../../SECURITY.md")
	require.NoError(t, err)
	s := string(b)
	for name, d := range map[string]time.Duration{"DefaultEmptyIdle": vault.DefaultEmptyIdle,
		"DefaultPendingIdle": vault.DefaultPendingIdle, "DefaultPendingMax": vault.DefaultPendingMax} {
		// "<n> minute(s) … (`vault.<name>`", the number nearest before the constant's name.
		m := regexp.MustCompile(`(\d+) minutes?[^(]*\(` + "`vault." + name + "`").FindStringSubmatch(s)
		require.NotNil(t, m, "%s is not named after its minutes in the spec", name)
		require.Equal(t, strconv.Itoa(int(d/time.Minute)), m[1], name)
	}
}

// TestStatusOpenedAfterTheWindow (issue 18 item 13): status says opened from the claim on,
// after a confirm and equally after an unconfirmed claim's window ends (the content wiped).
func TestStatusOpenedAfterTheWindow(t *testing.T) {
	e := newEnv(t)
	status := func(n *note) string {
		r := e.postJSON("/api/v1/notes/"+n.id+"/status", map[string]any{"manage": b64(n.manage[:])})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		return r.json(t)["state"].(string)
	}
	unconfirmed, confirmed := e.createNote(100, false), e.createNote(100, false)
	c := rand32()
	require.Equal(t, http.StatusOK, e.open(unconfirmed, c, 0, nil).status)
	require.Equal(t, "opened", status(unconfirmed))
	d := rand32()
	require.Equal(t, http.StatusOK, e.open(confirmed, d, 0, nil).status)
	require.Equal(t, http.StatusNoContent, e.confirm(confirmed, d).status)
	require.Equal(t, "opened", status(confirmed))
	e.clk.Add(e.v.ClaimWindow() + time.Second)
	requireGone(t, e.open(unconfirmed, c, 0, nil))
	require.Equal(t, "opened", status(unconfirmed))
	require.Equal(t, "opened", status(confirmed))
}
