//go:build linux

package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
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
