package web_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestGoneIdentical (T11): every gone state gets the same bytes on the wire, status line,
// headers and body, for open, confirm, status, revoke, commit and unknown API routes.
func TestGoneIdentical(t *testing.T) {
	e := newEnv(t)
	js := "application/json"

	read := e.createNote(500, false)
	c := rand32()
	require.Equal(t, http.StatusOK, e.open(read, c, 0, nil).status)
	require.Equal(t, http.StatusNoContent, e.confirm(read, c).status)

	claimed := e.createNote(500, false) // opened, not confirmed: gone for everyone else
	require.Equal(t, http.StatusOK, e.open(claimed, rand32(), 0, nil).status)

	revoked := e.createNote(500, false)
	r := e.postJSON("/api/v1/notes/"+revoked.id+"/revoke", map[string]any{"manage": b64(revoked.manage[:])})
	require.Equal(t, http.StatusNoContent, r.status)

	destroyed := e.createNote(500, true)
	r = e.open(destroyed, rand32(), 0, &destroyed.destruct)
	require.Equal(t, http.StatusForbidden, r.status)
	for i := 0; i < 4; i++ { // the countdown goes on after a destruct match, down to gone
		require.Equal(t, http.StatusForbidden, e.open(destroyed, rand32(), 0, &destroyed.open).status)
	}

	wiped := e.createNote(500, true)
	for i := 0; i < 5; i++ {
		require.Equal(t, http.StatusForbidden, e.open(wiped, rand32(), 0, nil).status)
	}

	expired := newNoteSecrets(64, false)
	r = e.postJSON("/api/v1/notes", expired.createReq(64, 300))
	require.Equal(t, http.StatusCreated, r.status)
	expired.id = r.json(t)["id"].(string)
	require.Equal(t, http.StatusOK, e.appendData(expired, 0, expired.body).status)
	require.Equal(t, http.StatusOK, e.postJSON("/api/v1/notes/"+expired.id+"/commit", map[string]any{"manage": b64(expired.manage[:])}).status)

	live := e.createNote(500, false) // exists, but asked with a wrong gate or manage secret
	e.clk.Add(301 * time.Second)
	e.v.Sweep()

	body := func(v any) []byte { b, _ := json.Marshal(v); return b }
	openFor := func(n *note, gate [32]byte) []byte {
		typed := rand32()
		return body(map[string]any{"gate": b64(gate[:]), "claim": hash(rand32()), "open": b64(typed[:]), "destruct": b64(typed[:])})
	}
	var answers []struct {
		name string
		raw  []byte
	}
	add := func(name, path, ctype string, b []byte) {
		answers = append(answers, struct {
			name string
			raw  []byte
		}{name, e.raw(rawPost(path, ctype, b))})
	}
	for _, n := range []*note{read, claimed, revoked, destroyed, wiped, expired} {
		add("open "+n.id, "/api/v1/notes/"+n.id+"/open", js, openFor(n, n.gate))
		add("confirm "+n.id, "/api/v1/notes/"+n.id+"/confirm", js, body(map[string]any{"gate": b64(n.gate[:]), "nonce": b64(c[:])}))
	}
	for _, n := range []*note{read, revoked, destroyed, wiped, expired} {
		add("revoke "+n.id, "/api/v1/notes/"+n.id+"/revoke", js, body(map[string]any{"manage": b64(n.manage[:])}))
	}
	for _, n := range []*note{expired} {
		add("status "+n.id, "/api/v1/notes/"+n.id+"/status", js, body(map[string]any{"manage": b64(n.manage[:])}))
	}
	wrong := rand32()
	never := randomID()
	add("never existed", "/api/v1/notes/"+never+"/open", js, openFor(live, live.gate))
	add("wrong gate", "/api/v1/notes/"+live.id+"/open", js, openFor(live, wrong))
	add("wrong manage status", "/api/v1/notes/"+live.id+"/status", js, body(map[string]any{"manage": b64(wrong[:])}))
	add("wrong manage revoke", "/api/v1/notes/"+live.id+"/revoke", js, body(map[string]any{"manage": b64(wrong[:])}))
	add("wrong manage commit", "/api/v1/notes/"+live.id+"/commit", js, body(map[string]any{"manage": b64(wrong[:])}))
	add("wrong gate confirm", "/api/v1/notes/"+live.id+"/confirm", js, body(map[string]any{"gate": b64(wrong[:]), "nonce": b64(c[:])}))
	for _, bad := range []string{"x", ".", "..", "AAAAAAAAAAAAAAAAAAAAAB", "AAAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAA=", "AAAAAAAAAAAAAAAAAAAA+A", "%00"} {
		add("malformed id "+bad, "/api/v1/notes/"+bad+"/open", js, openFor(live, live.gate))
	}
	add("unknown api route", "/api/v1/notes/"+live.id+"/peek", js, []byte("{}"))
	add("unknown api version", "/api/v2/notes", js, []byte("{}"))

	want := answers[0].raw
	require.Contains(t, string(want), "HTTP/1.1 404 Not Found\r\n")
	require.Contains(t, string(want), "\r\n\r\n{\"error\":\"gone\"}")
	for _, a := range answers {
		require.Equal(t, string(want), string(a.raw), a.name)
	}

	// The live note was not harmed by any of that.
	cl := rand32()
	r = e.open(live, cl, 0, nil)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, live.body, r.body)
}
