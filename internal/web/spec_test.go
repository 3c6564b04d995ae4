//go:build linux

package web_test

import (
	"net/http"
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
