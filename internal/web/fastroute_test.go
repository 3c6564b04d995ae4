package web_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/web"
)

// muxOnlyServer serves e's vault through gorilla/mux alone (no notesRouter).
func muxOnlyServer(t *testing.T, e *env) *env {
	h, err := web.New(web.WithMuxOnly(e.cfg))
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = web.NewServer(h)
	srv.Start()
	t.Cleanup(srv.Close)
	c := *e
	c.srv = srv
	return &c
}

// TestNotesRouterMatchesMux sends the same raw requests to the server with its note API fast
// path and to one that routes everything through gorilla/mux: every answer must be the same,
// byte for byte, for every path shape around the note routes, every method, cross-origin and
// malformed requests, and a whole note's life.
func TestNotesRouterMatchesMux(t *testing.T) {
	fast := newEnv(t)
	slow := muxOnlyServer(t, fast)
	id := randomID()
	body, _ := json.Marshal(map[string]string{"gate": hash(rand32()), "claim": hash(rand32())})
	var paths []string
	for _, p := range []string{"", "/", "/x", "x", "/" + id, "/" + id + "/", "//open", "/" + id + "//open", "/upload", "/upload/", "/uploads", "/Upload", "/upload/open"} {
		paths = append(paths, "/api/v1/notes"+p)
	}
	for _, a := range []string{"data", "commit", "open", "confirm", "status", "revoke", "Open", "opens", "ws", "join"} {
		paths = append(paths, "/api/v1/notes/"+id+"/"+a, "/api/v1/notes/"+id+"/"+a+"/", "/api/v1/notes/"+id+"/"+a+"/x",
			"/api/v1/notes/a/b/"+a, "/api/v1/notes/a%2Fb/"+a, "/api/v1/notes/./"+a, "/api/v1/notes/%2E%2E/"+a,
			"/api/v1/notes/"+id+"%2F"+a, "/api/v1/notesx/"+id+"/"+a, "/api/v1/note/"+id+"/"+a, "/API/v1/notes/"+id+"/"+a)
	}
	type variant struct {
		method, ctype, extra string
	}
	variants := []variant{
		{"POST", "application/json", ""},
		{"POST", "application/octet-stream", "Sealdrop-Manage: " + hash(rand32()) + "\r\nSealdrop-Offset: 0\r\n"},
		{"POST", "application/x-www-form-urlencoded", ""},
		{"POST", "application/json", "Sec-Fetch-Site: cross-site\r\n"},
		{"POST", "application/json", "Origin: http://evil.example\r\n"},
		{"POST", "application/json", "Sec-Fetch-Site: same-origin\r\n"},
		{"GET", "", ""},
		{"HEAD", "", ""},
		{"PUT", "application/json", ""},
		{"OPTIONS", "", ""},
		{"post", "application/json", ""},
	}
	n := 0
	for _, p := range paths {
		for _, v := range variants {
			req := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: sealdrop.test\r\n%sContent-Length: %d\r\nConnection: close\r\n", v.method, p, v.extra, len(body))
			if v.ctype != "" {
				req += "Content-Type: " + v.ctype + "\r\n"
			}
			req += "\r\n" + string(body)
			a, b := fast.raw(req), slow.raw(req)
			require.NotEmpty(t, a, "%s %s", v.method, p)
			require.Equal(t, string(b), string(a), "%s %s (%s)", v.method, p, v.extra)
			n++
		}
	}
	t.Logf("%d requests answered alike", n)

	// A note's whole life on each server (the answers differ only in the id).
	life := func(e *env) []string {
		nt := newNoteSecrets(3000, true)
		nt.body = bytes.Repeat([]byte{7}, 3000)
		cr, _ := json.Marshal(nt.createReq(3000, nil))
		var out []string
		send := func(path, ctype, extra string, b []byte) string {
			a := string(e.raw(fmt.Sprintf("POST %s HTTP/1.1\r\nHost: sealdrop.test\r\nContent-Type: %s\r\n%sContent-Length: %d\r\nConnection: close\r\n\r\n%s", path, ctype, extra, len(b), b)))
			if nt.id != "" {
				a = strings.ReplaceAll(a, nt.id, "ID")
			}
			out = append(out, a)
			return a
		}
		a := send("/api/v1/notes", "application/json", "", cr)
		require.Contains(t, a, "201 Created")
		var created struct{ ID string }
		require.NoError(t, json.Unmarshal([]byte(a[strings.Index(a, "\r\n\r\n")+4:]), &created))
		nt.id = created.ID
		out[0] = strings.ReplaceAll(out[0], nt.id, "ID")
		base := "/api/v1/notes/" + nt.id
		mg, _ := json.Marshal(map[string]string{"manage": b64(nt.manage[:])})
		send(base+"/status", "application/json", "", mg)
		send(base+"/data", "application/octet-stream", "Sealdrop-Manage: "+b64(nt.manage[:])+"\r\nSealdrop-Offset: 0\r\n", nt.body[:1000])
		send(base+"/commit", "application/json", "", mg) // incomplete
		send(base+"/data", "application/octet-stream", "Sealdrop-Manage: "+b64(nt.manage[:])+"\r\nSealdrop-Offset: 1000\r\n", nt.body[1000:])
		send(base+"/commit", "application/json", "", mg)
		claim := rand32()
		wrong := rand32()
		op, _ := json.Marshal(map[string]string{"gate": b64(nt.gate[:]), "claim": hash(claim), "open": b64(wrong[:])})
		send(base+"/open", "application/json", "", op) // wrong PIN: 403 with tries left
		op, _ = json.Marshal(map[string]string{"gate": b64(nt.gate[:]), "claim": hash(claim), "open": b64(nt.open[:])})
		a = send(base+"/open", "application/json", "", op)
		require.Contains(t, a, "200 OK")
		require.True(t, strings.HasSuffix(a, string(nt.body)))
		cf, _ := json.Marshal(map[string]string{"gate": b64(nt.gate[:]), "nonce": b64(claim[:])})
		require.Contains(t, send(base+"/confirm", "application/json", "", cf), "204 No Content")
		send(base+"/status", "application/json", "", mg)
		send(base+"/revoke", "application/json", "", mg)
		send(base+"/open", "application/json", "", op)
		return out
	}
	require.Equal(t, life(slow), life(fast))

	// A note's upload in two pieces, the last committing it, then its open.
	uploadLife := func(e *env) []string {
		nt := newNoteSecrets(3000, false)
		nt.body = bytes.Repeat([]byte{9}, 3000)
		e.withToken(nt)
		var out []string
		send := func(req string) string {
			a := string(e.raw(req))
			if nt.id != "" {
				a = strings.ReplaceAll(a, nt.id, "ID")
			}
			out = append(out, a)
			return a
		}
		a := send(rawUpload(nt, 3000, 0, 1000, "Connection: close\r\n") + string(nt.body[:1000]))
		require.Contains(t, a, "200 OK")
		var up struct{ ID string }
		require.NoError(t, json.Unmarshal([]byte(a[strings.Index(a, "\r\n\r\n")+4:]), &up))
		nt.id = up.ID
		out[0] = strings.ReplaceAll(out[0], nt.id, "ID")
		a = send(rawUpload(nt, 3000, 1000, 2000, "Connection: close\r\n") + string(nt.body[1000:])) // the same route goes on
		require.Contains(t, a, `"committed":true`)
		claim := rand32()
		op, _ := json.Marshal(map[string]string{"gate": b64(nt.gate[:]), "claim": hash(claim)})
		a = send(fmt.Sprintf("POST /api/v1/notes/%s/open HTTP/1.1\r\nHost: sealdrop.test\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", nt.id, len(op), op))
		require.True(t, strings.HasSuffix(a, string(nt.body)))
		return out
	}
	require.Equal(t, uploadLife(slow), uploadLife(fast))
}
