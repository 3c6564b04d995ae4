package web_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/price"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/internal/web"
	"github.com/sealdrop/sealdrop/vault"
)

// uploadHeader is the header of n's upload (POST /api/v1/notes/upload) of a length-byte note
// whose body starts at off.
func (n *note) uploadHeader(length, off int64) map[string]string {
	h := map[string]string{
		"Sealdrop-Manage": b64(n.manage[:]), "Sealdrop-Length": strconv.FormatInt(length, 10),
		"Sealdrop-Offset": strconv.FormatInt(off, 10), "Sealdrop-Gate-Hash": hash(n.gate),
		"Sealdrop-Destruct-Hash": hash(n.destruct),
	}
	if n.pin {
		h["Sealdrop-Open-Hash"] = hash(n.open)
	}
	if n.token != "" {
		h["Sealdrop-Price-Token"] = n.token
	}
	return h
}

// upload sends n's upload of the bytes of n.body from off to end, with hdr's changes (an
// empty value deletes a header).
func (e *env) upload(n *note, off, end int, hdr map[string]string) *resp {
	e.t.Helper()
	h := e.withToken(n).uploadHeader(int64(len(n.body)), int64(off))
	for k, v := range hdr {
		h[k] = v
	}
	for k, v := range h {
		if v == "" {
			delete(h, k)
		}
	}
	return e.do(http.MethodPost, "/api/v1/notes/upload", "application/octet-stream", n.body[off:end], h)
}

// rawUpload is the raw request of an upload, header only; the caller sends the body.
func rawUpload(n *note, length, off int64, contentLength int, extra string) string {
	return rawBinaryHeader("/api/v1/notes/upload", n.uploadHeader(length, off), contentLength, extra)
}

// rawBinaryHeader is the raw header of a POST of an octet-stream body to path with the
// headers h (sorted) and the lines extra; the caller sends the body.
func rawBinaryHeader(path string, h map[string]string, contentLength int, extra string) string {
	var keys []string
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: sealdrop.test\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n", path, contentLength)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\r\n", k, h[k])
	}
	return b.String() + extra + "\r\n"
}

// changeHeader applies changes to the upload header h (an empty value deletes the header)
// and returns the Content-Type, application/octet-stream unless changes names another.
func changeHeader(h, changes map[string]string) string {
	ctype := "application/octet-stream"
	for k, v := range changes {
		switch {
		case k == "Content-Type":
			ctype = v
		case v == "":
			delete(h, k)
		default:
			h[k] = v
		}
	}
	return ctype
}

// noteCount is how many notes the vault holds, of any state.
func (e *env) noteCount() int { return e.v.Stats().Entries[vault.KindNote] }

// requireOpens opens n with a fresh claim and requires its whole body.
func (e *env) requireOpens(n *note) {
	e.t.Helper()
	c := rand32()
	var typed *[32]byte
	if n.pin {
		typed = &n.open
	}
	r := e.open(n, c, 0, typed)
	require.Equal(e.t, http.StatusOK, r.status, "open: %s", r.body)
	require.Equal(e.t, n.body, r.body)
	require.Equal(e.t, http.StatusNoContent, e.confirm(n, c).status)
}

// A note up to max_append is created, stored and committed by one request, and opens.
func TestUploadOneRequest(t *testing.T) {
	e := newEnv(t)
	for _, pin := range []bool{false, true} {
		n := newNoteSecrets(3000, pin)
		r := e.upload(n, 0, len(n.body), nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		require.True(t, r.close, "the ciphertext route closes its connection")
		a := r.json(t)
		require.Len(t, a, 4, "id, received, committed, expires_in: %s", r.body)
		require.EqualValues(t, 3000, a["received"])
		require.Equal(t, true, a["committed"])
		require.EqualValues(t, 7*24*3600, a["expires_in"])
		n.id = a["id"].(string)
		_, err := vault.ParseID(n.id)
		require.NoError(t, err, "an id of the usual form")
		st := e.postJSON("/api/v1/notes/"+n.id+"/status", map[string]any{"manage": b64(n.manage[:])})
		require.JSONEq(t, `{"state":"waiting","expires_in":604800}`, string(st.body))
		e.requireOpens(n)
	}
	// A lifetime in the header.
	n := newNoteSecrets(64, false)
	r := e.upload(n, 0, 64, map[string]string{"Sealdrop-Ttl": "300"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.EqualValues(t, 300, r.json(t)["expires_in"])
	// The offset header may be left out on the first request.
	n = newNoteSecrets(64, false)
	r = e.upload(n, 0, 64, map[string]string{"Sealdrop-Offset": ""})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, true, r.json(t)["committed"])
}

// A larger note: the upload carries the first piece, then one append per piece, the last of
// them committing the note (Sealdrop-Commit); an append that asks to commit before the end
// only says what arrived.
func TestUploadThenAppendsCommitTheLast(t *testing.T) {
	e := newEnv(t, withWeb(func(c *web.Config) { c.MaxAppend = 4096 }))
	n := newNoteSecrets(10000, false)
	r := e.upload(n, 0, 4096, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	a := r.json(t)
	require.EqualValues(t, 4096, a["received"])
	require.NotContains(t, a, "committed")
	n.id = a["id"].(string)
	require.EqualValues(t, 7*24*3600, a["expires_in"])
	st := e.postJSON("/api/v1/notes/"+n.id+"/status", map[string]any{"manage": b64(n.manage[:])})
	require.JSONEq(t, `{"state":"pending","expires_in":604800,"received":4096}`, string(st.body))
	require.Equal(t, http.StatusNotFound, e.open(n, rand32(), 0, nil).status, "pending: invisible to readers")

	commit := func(off, end int) *resp {
		return e.do(http.MethodPost, "/api/v1/notes/"+n.id+"/data", "application/octet-stream", n.body[off:end],
			map[string]string{"Sealdrop-Manage": b64(n.manage[:]), "Sealdrop-Offset": strconv.Itoa(off), "Sealdrop-Commit": "1"})
	}
	r = commit(4096, 8192)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.JSONEq(t, `{"received":8192}`, string(r.body), "not complete: not committed")
	r = commit(8192, 10000)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	done := `{"id":"` + n.id + `","received":10000,"committed":true,"expires_in":604800}`
	require.JSONEq(t, done, string(r.body))
	// That answer was lost on its way back: the same append again answers as it did and
	// stores nothing (the note is committed already), as a whole upload sent again does.
	used := e.v.Stats().Used
	r = commit(8192, 10000)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.True(t, r.close)
	require.JSONEq(t, done, string(r.body))
	require.Equal(t, used, e.v.Stats().Used)
	// Not to an append that does not ask to commit, nor under another manage secret.
	requireGone(t, e.appendData(n, 8192, n.body[8192:]))
	requireGone(t, e.do(http.MethodPost, "/api/v1/notes/"+n.id+"/data", "application/octet-stream", n.body[8192:],
		map[string]string{"Sealdrop-Manage": hash(rand32()), "Sealdrop-Offset": "8192", "Sealdrop-Commit": "1"}))
	e.requireOpens(n)
	// Once the note is opened, the committing append is gone like every other.
	requireGone(t, commit(8192, 10000))

	// A malformed commit header is refused before anything is read.
	m := newNoteSecrets(64, false)
	r = e.upload(m, 0, 5, nil)
	require.Equal(t, http.StatusOK, r.status)
	m.id = r.json(t)["id"].(string)
	r = e.do(http.MethodPost, "/api/v1/notes/"+m.id+"/data", "application/octet-stream", m.body[5:],
		map[string]string{"Sealdrop-Manage": b64(m.manage[:]), "Sealdrop-Offset": "5", "Sealdrop-Commit": "yes"})
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
	// The old three-request route still commits.
	r = e.appendData(m, 5, m.body[5:])
	require.JSONEq(t, `{"received":64}`, string(r.body))
	r = e.postJSON("/api/v1/notes/"+m.id+"/commit", map[string]any{"manage": b64(m.manage[:])})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	e.requireOpens(m)
}

// An upload whose connection is cut mid-body keeps what arrived; the same request sent again
// learns it (409 with received) without knowing the id, and the rest completes the note. A
// retry whose first try's stream is still open on the server cuts that one off. A retry of a
// whole upload whose answer was lost answers as the upload did.
func TestUploadResumesAfterCut(t *testing.T) {
	e := newEnv(t)
	n := e.withToken(newNoteSecrets(200000, true))
	addr := e.srv.Listener.Addr().String()
	send := func(upto int) net.Conn {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		_, err = io.WriteString(c, rawUpload(n, int64(len(n.body)), 0, len(n.body), ""))
		require.NoError(t, err)
		_, err = c.Write(n.body[:upto])
		require.NoError(t, err)
		return c
	}
	// The first try dies after 70,000 bytes: the client closes its end.
	c := send(70000)
	time.Sleep(100 * time.Millisecond)
	require.NoError(t, c.Close())
	var received int64
	require.Eventually(t, func() bool {
		r := e.upload(n, 0, len(n.body), nil)
		if r.status != http.StatusConflict {
			return false
		}
		require.Equal(t, "offset", r.json(t)["error"], "%s", r.body)
		received = int64(r.json(t)["received"].(float64))
		return received == 70000
	}, 5*time.Second, 20*time.Millisecond)
	require.Equal(t, 1, e.noteCount(), "one note, not one per try")

	// A second try stalls with its stream open (a dead circuit the server cannot see).
	stalled := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		_, err = io.WriteString(c, rawUpload(n, int64(len(n.body)), received, len(n.body)-int(received), ""))
		require.NoError(t, err)
		_, err = c.Write(n.body[received : received+10000])
		require.NoError(t, err)
		return c
	}()
	defer stalled.Close()
	require.Eventually(t, func() bool {
		r := e.upload(n, 0, len(n.body), nil)
		if r.status == http.StatusConflict && r.json(t)["error"] == "offset" {
			received = int64(r.json(t)["received"].(float64))
		}
		return received == 80000
	}, 5*time.Second, 20*time.Millisecond, "the retry cuts the stalled try off and learns what it stored")

	r := e.upload(n, int(received), len(n.body), nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	a := r.json(t)
	require.Equal(t, true, a["committed"])
	require.EqualValues(t, len(n.body), a["received"])
	n.id = a["id"].(string)
	require.Equal(t, 1, e.noteCount())

	// The answer was lost: the whole upload again answers as the commit did, stores nothing.
	r = e.upload(n, 0, len(n.body), nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.JSONEq(t, `{"id":"`+n.id+`","received":200000,"committed":true,"expires_in":604800}`, string(r.body))
	require.Equal(t, 1, e.noteCount())
	e.requireOpens(n)
	// Once opened, the manage secret makes no other note: gone.
	requireGone(t, e.upload(n, 0, len(n.body), nil))
	require.Equal(t, 0, e.noteCount())
}

// Every malformed or oversized upload is refused before a byte is stored, and without the
// body being read when it could be large.
func TestUploadRefusals(t *testing.T) {
	e := newEnv(t)
	n := newNoteSecrets(1000, false)
	wrong := rand32()
	cases := []struct {
		name   string
		hdr    map[string]string
		body   []byte
		status int
		code   string
	}{
		{"no manage", map[string]string{"Sealdrop-Manage": ""}, nil, 400, "bad_parameter"},
		{"short manage", map[string]string{"Sealdrop-Manage": "AAAA"}, nil, 400, "bad_parameter"},
		{"no length", map[string]string{"Sealdrop-Length": ""}, nil, 400, "bad_parameter"},
		{"zero length", map[string]string{"Sealdrop-Length": "0"}, nil, 400, "bad_parameter"},
		{"length below an envelope", map[string]string{"Sealdrop-Length": "41"}, nil, 400, "bad_parameter"},
		{"signed length", map[string]string{"Sealdrop-Length": "+1000"}, nil, 400, "bad_parameter"},
		{"length over max_entry", map[string]string{"Sealdrop-Length": strconv.FormatInt(e.v.MaxEntry()+1, 10)}, nil, 413, "too_large"},
		{"body longer than the length", map[string]string{"Sealdrop-Length": "999"}, nil, 413, "too_large"},
		{"body beyond the length from the offset", map[string]string{"Sealdrop-Offset": "1"}, nil, 413, "too_large"},
		{"malformed offset", map[string]string{"Sealdrop-Offset": "01"}, nil, 400, "bad_parameter"},
		{"no gate hash", map[string]string{"Sealdrop-Gate-Hash": ""}, nil, 400, "bad_parameter"},
		{"malformed open hash", map[string]string{"Sealdrop-Open-Hash": "x"}, nil, 400, "bad_parameter"},
		{"malformed destruct hash", map[string]string{"Sealdrop-Destruct-Hash": b64(wrong[:5])}, nil, 400, "bad_parameter"},
		{"ttl not offered", map[string]string{"Sealdrop-Ttl": "301"}, nil, 400, "bad_ttl"},
		{"empty body", nil, []byte{}, 400, "bad_parameter"},
		{"form content type", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, nil, 415, "content_type"},
		{"cross-origin", map[string]string{"Sec-Fetch-Site": "cross-site"}, nil, 403, "cross_origin"},
		{"resume of nothing", map[string]string{"Sealdrop-Offset": "500", "Sealdrop-Length": "1500"}, nil, 404, "gone"},
	}
	for _, tc := range cases {
		h := n.uploadHeader(1000, 0)
		ctype := changeHeader(h, tc.hdr)
		body := n.body
		if tc.body != nil {
			body = tc.body
		}
		r := e.do(http.MethodPost, "/api/v1/notes/upload", ctype, body, h)
		require.Equal(t, tc.status, r.status, "%s: %s", tc.name, r.body)
		require.Equal(t, tc.code, r.json(t)["error"], tc.name)
		require.Equal(t, 0, e.noteCount(), "%s: nothing stored", tc.name)
		require.Zero(t, e.v.Stats().Used, tc.name)
	}
	// A body over max_append is refused unread, on the declared length alone.
	c, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, rawUpload(n, 2<<20, 0, 1<<20+1, ""))
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
	require.Equal(t, 0, e.noteCount())
}

// A create that must pay gets its 402 before a byte of its body is stored: the answer comes
// at once and the connection is closed; with Expect: 100-continue the body is never even
// asked for. Paid, the same upload goes through, and a retry of it pays nothing again.
func TestUploadPriceBeforeStoring(t *testing.T) {
	p, err := price.New(price.Config{Floor: 8})
	require.NoError(t, err)
	e := newEnv(t, withWeb(func(c *web.Config) { c.Price = p }))
	n := newNoteSecrets(3000, false)

	// Expect: 100-continue: the answer is the 402, no 100 Continue, and the connection ends.
	out := e.raw(rawUpload(n, 3000, 0, 3000, "Expect: 100-continue\r\n"))
	require.Regexp(t, `^HTTP/1.1 402 Payment Required\r\n`, string(out))
	require.NotContains(t, string(out), "100 Continue")
	require.Contains(t, string(out), "\r\nConnection: close\r\n")
	require.Equal(t, 0, e.noteCount())

	// The whole body sent at once: the 402 all the same, nothing stored.
	r := e.upload(n, 0, len(n.body), nil)
	require.Equal(t, http.StatusPaymentRequired, r.status, "%s", r.body)
	require.True(t, r.close, "answer and close")
	a := r.json(t)
	require.Equal(t, "price", a["error"])
	require.Equal(t, 0, e.noteCount())
	require.Zero(t, e.v.Stats().Used)

	tok, err := base64.RawURLEncoding.DecodeString(a["token"].(string))
	require.NoError(t, err)
	pr := protocol.PriceRequest{Kind: protocol.PriceNote, Manage: sha256.Sum256(n.manage[:]), Length: 3000, TTL: 7 * 24 * time.Hour}
	nonce, err := protocol.SolvePrice(t.Context(), tok, pr, int(a["bits"].(float64)))
	require.NoError(t, err)
	paid := map[string]string{"Sealdrop-Price-Token": a["token"].(string), "Sealdrop-Price-Nonce": b64(nonce[:])}
	// A payment for another length does not pay for this one.
	other := newNoteSecrets(3001, false)
	other.manage = n.manage
	r = e.upload(other, 0, 3001, paid)
	require.Equal(t, http.StatusPaymentRequired, r.status, "%s", r.body)
	require.Equal(t, 0, e.noteCount())

	// Paid, cut after 1000 bytes, resumed: one payment for the note.
	c, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	require.NoError(t, err)
	n.token = paid["Sealdrop-Price-Token"]
	_, err = io.WriteString(c, rawUpload(n, 3000, 0, 3000, "Sealdrop-Price-Nonce: "+paid["Sealdrop-Price-Nonce"]+"\r\n"))
	require.NoError(t, err)
	_, err = c.Write(n.body[:1000])
	require.NoError(t, err)
	require.Eventually(t, func() bool { return e.v.Stats().Used > 0 }, 5*time.Second, 10*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, c.Close())
	var got float64
	require.Eventually(t, func() bool {
		r := e.upload(n, 0, 3000, paid) // the spent payment again: not charged, the note exists
		if r.status == http.StatusConflict {
			got = r.json(t)["received"].(float64)
		}
		return got == 1000
	}, 5*time.Second, 20*time.Millisecond)
	r = e.upload(n, 1000, 3000, nil) // a retry needs no payment at all
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, true, r.json(t)["committed"])
	n.id = r.json(t)["id"].(string)
	e.requireOpens(n)
}

// The upload's gone answers are the one gone answer, byte for byte.
func TestUploadGoneIdentical(t *testing.T) {
	e := newEnv(t)
	want := e.raw(rawPost("/api/v1/notes/"+randomID()+"/open", "application/json", []byte(`{"gate":"`+hash(rand32())+`","claim":"`+hash(rand32())+`"}`)))
	require.Contains(t, string(want), "HTTP/1.1 404 Not Found\r\n")

	resume := newNoteSecrets(100, false) // nothing to resume
	read := newNoteSecrets(100, false)   // its note was opened
	r := e.upload(read, 0, 100, nil)
	require.Equal(t, http.StatusOK, r.status)
	read.id = r.json(t)["id"].(string)
	e.requireOpens(read)
	revoked := newNoteSecrets(100, false)
	r = e.upload(revoked, 0, 50, nil)
	require.Equal(t, http.StatusOK, r.status)
	revoked.id = r.json(t)["id"].(string)
	require.Equal(t, http.StatusNoContent, e.postJSON("/api/v1/notes/"+revoked.id+"/revoke", map[string]any{"manage": b64(revoked.manage[:])}).status)

	for name, req := range map[string]string{
		"resume of nothing":   rawUpload(resume, 100, 50, 50, "Connection: close\r\n") + string(resume.body[50:]),
		"opened note":         rawUpload(read, 100, 0, 100, "Connection: close\r\n") + string(read.body),
		"revoked note":        rawUpload(revoked, 100, 0, 100, "Connection: close\r\n") + string(revoked.body),
		"revoked note resume": rawUpload(revoked, 100, 50, 50, "Connection: close\r\n") + string(revoked.body[50:]),
	} {
		require.Equal(t, string(want), string(e.raw(req)), name)
	}
	require.Equal(t, 0, e.noteCount())
}

// TestStatusSaysWhatAPendingNoteReceived (issue 18 item 7): after an append whose answer was
// lost, the sender asks status with the manage secret: while the note is pending the answer
// carries "received", where the next append goes on; a zero-length append stays refused (it
// is no probe), and once the note is committed status has no "received".
func TestStatusSaysWhatAPendingNoteReceived(t *testing.T) {
	e := newEnv(t)
	n := newNoteSecrets(3000, false)
	r := e.postJSON("/api/v1/notes", n.createReq(3000, nil))
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	n.id = r.json(t)["id"].(string)
	status := func() *resp {
		return e.postJSON("/api/v1/notes/"+n.id+"/status", map[string]any{"manage": b64(n.manage[:])})
	}
	require.JSONEq(t, `{"state":"pending","expires_in":604800,"received":0}`, string(status().body))
	r = e.appendData(n, 0, n.body[:1000])
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	// The answer to that append "was lost": status says what arrived.
	require.JSONEq(t, `{"state":"pending","expires_in":604800,"received":1000}`, string(status().body))
	r = e.appendData(n, 1000, []byte{})
	require.Equal(t, http.StatusBadRequest, r.status, "a zero-length append is refused: %s", r.body)
	r = e.appendData(n, 1000, n.body[1000:])
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = e.postJSON("/api/v1/notes/"+n.id+"/commit", map[string]any{"manage": b64(n.manage[:])})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.JSONEq(t, `{"state":"waiting","expires_in":604800}`, string(status().body))
	// Another manage secret learns nothing.
	requireGone(t, e.postJSON("/api/v1/notes/"+n.id+"/status", map[string]any{"manage": hash(rand32())}))
}
