package web_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/web"
)

// Pipelined pieces (issue 17, SECURITY.md "Pipelined pieces"): a piece whose offset is where
// the running append to the same entry ends waits, unread, for that one, then goes on; when
// that one breaks off it is answered 409 with what the entry holds. These tests drive the
// pieces over raw connections, so that a piece can be left half sent.

// piece is one raw upload request on its own connection.
type piece struct {
	t *testing.T
	c net.Conn
}

// sendPiece opens a connection and sends the header of a request to path with h and as many
// of body's bytes as sent (the rest is left for more).
func (e *env) sendPiece(path string, h map[string]string, body []byte, sent int) *piece {
	e.t.Helper()
	c, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	require.NoError(e.t, err)
	e.t.Cleanup(func() { _ = c.Close() })
	_, err = io.WriteString(c, rawBinaryHeader(path, h, len(body), ""))
	require.NoError(e.t, err)
	_, err = c.Write(body[:sent])
	require.NoError(e.t, err)
	return &piece{t: e.t.(*testing.T), c: c}
}

// more sends the rest of a piece's body.
func (p *piece) more(b []byte) {
	p.t.Helper()
	_, err := p.c.Write(b)
	require.NoError(p.t, err)
}

// answer reads the piece's answer within d: its status and JSON body.
func (p *piece) answer(d time.Duration) (int, map[string]any) {
	p.t.Helper()
	require.NoError(p.t, p.c.SetReadDeadline(time.Now().Add(d)))
	res, err := http.ReadResponse(bufio.NewReader(p.c), nil)
	require.NoError(p.t, err, "an answer within %v", d)
	defer res.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(res.Body)
	_ = json.Unmarshal(b, &m)
	return res.StatusCode, m
}

// silent requires that no answer comes within d.
func (p *piece) silent(d time.Duration, what string) {
	p.t.Helper()
	require.NoError(p.t, p.c.SetReadDeadline(time.Now().Add(d)))
	var one [1]byte
	n, err := p.c.Read(one[:])
	require.Zero(p.t, n, "%s: no answer yet", what)
	var ne net.Error
	require.ErrorAs(p.t, err, &ne, "%s", what)
	require.True(p.t, ne.Timeout(), "%s: still open: %v", what, err)
}

// uploadPiece sends n's upload piece [off, end) with sent bytes of its body.
func (e *env) uploadPiece(n *note, off, end, sent int) *piece {
	e.t.Helper()
	return e.sendPiece("/api/v1/notes/upload", e.withToken(n).uploadHeader(int64(len(n.body)), int64(off)), n.body[off:end], sent)
}

// The next piece goes out while the one before it is still arriving: it waits, without
// reading its body, until that one is stored, then goes on; the last piece commits.
func TestPipelinedPieceWaitsThenGoesOn(t *testing.T) {
	e := newEnv(t, withWeb(func(c *web.Config) { c.MaxAppend = 4096 }))
	n := newNoteSecrets(10000, false)
	first := e.uploadPiece(n, 0, 4096, 1000)
	time.Sleep(100 * time.Millisecond) // the first piece is running
	second := e.uploadPiece(n, 4096, 8192, 4096)
	second.silent(300*time.Millisecond, "the second piece waits for the first")
	first.more(n.body[1000:4096])
	st, a := first.answer(10 * time.Second)
	require.Equal(t, http.StatusOK, st, "%v", a)
	require.EqualValues(t, 4096, a["received"])
	st, b := second.answer(10 * time.Second)
	require.Equal(t, http.StatusOK, st, "%v", b)
	require.EqualValues(t, 8192, b["received"])
	require.Equal(t, a["id"], b["id"], "found by its manage secret and token")
	n.id = a["id"].(string)
	r := e.upload(n, 8192, 10000, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, true, r.json(t)["committed"])
	e.requireOpens(n)
}

// A piece that comes before the one it follows began (two streams race to the server), even
// before that one made the note, waits for it.
func TestPipelinedPieceBeforeItsPredecessor(t *testing.T) {
	e := newEnv(t, withWeb(func(c *web.Config) { c.MaxAppend = 4096 }))
	n := newNoteSecrets(8000, false)
	second := e.uploadPiece(n, 4096, 8000, 8000-4096)
	second.silent(300*time.Millisecond, "no note yet: the second piece waits")
	first := e.uploadPiece(n, 0, 4096, 4096)
	st, a := first.answer(10 * time.Second)
	require.Equal(t, http.StatusOK, st, "%v", a)
	st, b := second.answer(10 * time.Second)
	require.Equal(t, http.StatusOK, st, "%v", b)
	require.Equal(t, true, b["committed"])
	n.id = b["id"].(string)
	e.requireOpens(n)
}

// When the running piece breaks off, the piece waiting behind it is answered 409 with what
// the note holds, and the upload goes on from there.
func TestPipelinedPieceAfterAFailure(t *testing.T) {
	e := newEnv(t, withWeb(func(c *web.Config) { c.MaxAppend = 4096 }))
	n := newNoteSecrets(10000, false)
	first := e.uploadPiece(n, 0, 4096, 4096)
	st, a := first.answer(10 * time.Second)
	require.Equal(t, http.StatusOK, st, "%v", a)
	n.id = a["id"].(string)
	running := e.uploadPiece(n, 4096, 8192, 1500)
	time.Sleep(100 * time.Millisecond)
	waiting := e.uploadPiece(n, 8192, 10000, 10000-8192)
	waiting.silent(300*time.Millisecond, "waits behind the running piece")
	require.NoError(t, running.c.Close()) // its circuit died half way
	st, w := waiting.answer(10 * time.Second)
	require.Equal(t, http.StatusConflict, st, "%v", w)
	require.Equal(t, "offset", w["error"])
	require.EqualValues(t, 4096+1500, w["received"])
	r := e.upload(n, 4096+1500, 4096+1500+4096, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = e.upload(n, 4096+1500+4096, 10000, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, true, r.json(t)["committed"])
	e.requireOpens(n)
}

// A retry (a piece at or before the running one's start) still cuts the running one off, as
// after a dead circuit; the piece that waited behind the cut one is answered 409.
func TestPipelinedRetryStillCuts(t *testing.T) {
	e := newEnv(t, withWeb(func(c *web.Config) { c.MaxAppend = 4096 }))
	n := newNoteSecrets(10000, false)
	stalled := e.uploadPiece(n, 0, 4096, 2000)
	time.Sleep(100 * time.Millisecond)
	waiting := e.uploadPiece(n, 4096, 8192, 4096)
	waiting.silent(200*time.Millisecond, "waits behind the stalled piece")
	start := time.Now()
	r := e.upload(n, 0, 4096, nil) // the client's retry on a new circuit
	require.Less(t, time.Since(start), 10*time.Second)
	require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
	require.Equal(t, "offset", r.json(t)["error"])
	require.EqualValues(t, 2000, r.json(t)["received"])
	st, w := waiting.answer(10 * time.Second)
	require.Equal(t, http.StatusConflict, st, "%v", w)
	require.EqualValues(t, 2000, w["received"])
	st, _ = stalled.answer(10 * time.Second)
	require.Equal(t, http.StatusBadRequest, st, "the stalled piece was cut off")
}

// Abuse: only the holder of the manage secret can queue (a stranger who knows the id is gone
// at once and takes nobody's place); one piece waits per note; a waiting piece whose note never
// gets to its offset ends by its deadline, and holds no block of the vault meanwhile.
func TestPipelinedPieceBounds(t *testing.T) {
	web.SetPieceWaits(t, 1500*time.Millisecond, 3*time.Second)
	e := newEnv(t, withWeb(func(c *web.Config) { c.MaxAppend = 4096 }))
	n := newNoteSecrets(12000, false)
	first := e.uploadPiece(n, 0, 4096, 4096)
	st, a := first.answer(10 * time.Second)
	require.Equal(t, http.StatusOK, st, "%v", a)
	n.id = a["id"].(string)
	used := e.v.Stats().Used
	running := e.uploadPiece(n, 4096, 8192, 100)
	time.Sleep(100 * time.Millisecond)

	// A stranger with the id and another secret, at the successor's offset: gone at once.
	stranger := e.sendPiece("/api/v1/notes/"+n.id+"/data", map[string]string{
		"Sealdrop-Manage": hash(rand32()), "Sealdrop-Offset": "8192"}, n.body[8192:12000], 12000-8192)
	start := time.Now()
	st, _ = stranger.answer(5 * time.Second)
	require.Equal(t, http.StatusNotFound, st)
	require.Less(t, time.Since(start), time.Second, "not held")

	waiting := e.uploadPiece(n, 8192, 12000, 12000-8192)
	waiting.silent(200*time.Millisecond, "the honest successor waits")
	// A second piece for another offset does not wait beside it, nor cut the running one.
	third := e.sendPiece("/api/v1/notes/"+n.id+"/data", map[string]string{
		"Sealdrop-Manage": b64(n.manage[:]), "Sealdrop-Offset": "9000"}, n.body[9000:12000], 3000)
	st, th := third.answer(5 * time.Second)
	require.Equal(t, http.StatusConflict, st, "%v", th)

	// The running piece never sends more: the waiting one ends by its deadline (3 s here),
	// having held no block of the vault beyond what the running one took.
	require.LessOrEqual(t, e.v.Stats().Used, used+4096, "the waiting piece holds no block")
	st, w := waiting.answer(10 * time.Second)
	require.Equal(t, http.StatusConflict, st, "%v", w)
	require.Equal(t, "busy", w["error"], "its wait ran out")

	// A piece ahead of a note that nothing fills ends by the shorter deadline.
	ahead := e.sendPiece("/api/v1/notes/"+n.id+"/data", map[string]string{
		"Sealdrop-Manage": b64(n.manage[:]), "Sealdrop-Offset": strconv.Itoa(11000)}, n.body[11000:12000], 1000)
	_ = running.c.Close()
	start = time.Now()
	st, ah := ahead.answer(10 * time.Second)
	require.Equal(t, http.StatusConflict, st, "%v", ah)
	require.Equal(t, "offset", ah["error"])
	require.Less(t, time.Since(start), 5*time.Second)
}
