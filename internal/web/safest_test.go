//go:build linux

package web_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/client"
	"github.com/sealdrop/sealdrop/internal/drop"
	"github.com/sealdrop/sealdrop/internal/memscan"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/internal/web"
	"github.com/sealdrop/sealdrop/vault"
)

// safestEnv is a site with drops and messages at Safest (real pages), and a Go client.
type safestEnv struct {
	srv *httptest.Server
	c   *client.Client
	v   *vault.Vault
}

func newSafestEnv(t *testing.T, maxBody int64, featured ...web.FeaturedDrop) *safestEnv {
	t.Helper()
	v, err := vault.New(vault.Config{Budget: 2 << 20, SweepEvery: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	ds, err := drop.New(drop.Config{Vault: v, TTL: 24 * time.Hour})
	require.NoError(t, err)
	h, err := web.New(web.WithFS(web.Config{Vault: v, Drops: ds, SafestMaxBody: maxBody, FeaturedDrops: featured}, nil, nil))
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = web.NewServer(h)
	srv.Start()
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL+"/", srv.Client())
	require.NoError(t, err)
	return &safestEnv{srv: srv, c: c, v: v}
}

// formPart is one part of a Safest form body: a field's name, whether it is a file, and its
// bytes.
type formPart struct {
	name string
	file bool
	data []byte
}

const safestBoundary = "---------------------------9051914041544843365972754266"

// formBody is a body as Firefox sends the form, built into one buffer of its exact size (no
// growing buffer leaves copies behind); at lists where each part's data starts.
func formBody(parts []formPart) (body []byte, at []int) {
	var heads []string
	n := 0
	for _, p := range parts {
		h := "--" + safestBoundary + "\r\nContent-Disposition: form-data; name=\"" + p.name + "\""
		if p.file {
			h += "; filename=\"IMG_0042 home.jpg\"\r\nContent-Type: image/jpeg"
		}
		h += "\r\n\r\n"
		heads = append(heads, h)
		n += len(h) + len(p.data) + 2
	}
	tail := "--" + safestBoundary + "--\r\n"
	body = make([]byte, n+len(tail))
	o := 0
	for i, p := range parts {
		o += copy(body[o:], heads[i])
		at = append(at, o)
		o += copy(body[o:], p.data)
		o += copy(body[o:], "\r\n")
	}
	copy(body[o:], tail)
	return body, at
}

// post sends body to path over a raw connection, clears body, and returns the answer.
func (e *safestEnv) post(t *testing.T, path string, body []byte) (int, string) {
	st, b, _ := e.postClosed(t, path, body)
	return st, b
}

// postClosed is post that also says whether the answer closed the connection.
func (e *safestEnv) postClosed(t *testing.T, path string, body []byte) (int, string, bool) {
	t.Helper()
	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(60*time.Second)))
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: sealdrop.test\r\nContent-Type: multipart/form-data; boundary=%s\r\nContent-Length: %d\r\nOrigin: http://sealdrop.test\r\nSec-Fetch-Site: same-origin\r\n\r\n",
		path, safestBoundary, len(body))
	_, err = io.WriteString(conn, head)
	require.NoError(t, err)
	_, err = conn.Write(body)
	clear(body)
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b), resp.Close
}

// pathOf is the drop link's path and query (what a browser sends; never the fragment).
func pathOf(t *testing.T, link string) string {
	u, err := url.Parse(link)
	require.NoError(t, err)
	return u.RequestURI()
}

// jpegWithCanaries is the GPS-tagged fixture with c1 written over part of its first scan's
// data (kept by the filter, so sealed and read by the journalist) and c2 in a comment segment
// added after the start marker (removed by the filter). It returns where each canary goes.
func jpegWithCanaries(t *testing.T) (img []byte, scanAt, comAt int) {
	b, err := os.ReadFile("../../static/test/fixtures/gps.jpg")
	require.NoError(t, err)
	com := append([]byte{0xff, 0xfe, 0x00, 0x22}, make([]byte, 32)...)
	img = append(append(append([]byte{}, b[:2]...), com...), b[2:]...)
	comAt = 6
	// The first scan: skip segments to SOS, then its header.
	i := 2
	for img[i+1] != 0xda {
		i += 2 + (int(img[i+2])<<8 | int(img[i+3]))
	}
	i += 2 + (int(img[i+2])<<8 | int(img[i+3]))
	for k := i + 8; k+40 < len(img); k++ {
		if img[k-1] != 0xff && !bytes.Contains(img[k:k+33], []byte{0xff}) {
			return img, k, comAt
		}
	}
	t.Fatal("no room for the canary in the scan data")
	return nil, 0, 0
}

// TestSafestScenario is the proof at the Go level: a source at Safest (a plain form
// post, no script) sends text and a GPS-tagged JPEG to a drop that opted in; the journalist
// reads it with the Go client; no planted value remains (bytes, and exiftool when installed);
// and right after the answer a scan of this process (server included) finds none of the
// plaintext canaries: the text's, the kept scan data's, the removed comment's.
func TestSafestScenario(t *testing.T) {
	e := newSafestEnv(t, 256<<10)
	nd, err := e.c.CreateSafestDrop("Ana at the Daily Ledger")
	require.NoError(t, err)
	path := pathOf(t, nd.DropLink)
	require.Contains(t, path, "?s=")

	// The page at that address shows the form, the trade in plain words and no name.
	res, err := e.srv.Client().Get(e.srv.URL + path)
	require.NoError(t, err)
	page, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	require.Contains(t, string(page), `<form id="safest-form" method="post" enctype="multipart/form-data"`)
	require.Contains(t, string(page), "For a moment, the server can read what you send.")
	require.Contains(t, string(page), "switch to “Safer”")
	require.NotContains(t, string(page), "Ana at the Daily Ledger")
	require.NotContains(t, string(page), "<script>")
	require.NotContains(t, string(page), "Encrypted on your own device.", "no footer that is false at Safest")
	// The ordinary drop page (no query) keeps the "lower the security level" panel.
	res, err = e.srv.Client().Get(e.srv.URL + "/d/" + nd.Route)
	require.NoError(t, err)
	plain, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	require.NotContains(t, string(plain), "safest-form")

	text := memscan.NewTextCanary(t)
	scan := memscan.NewCanaryWithout(t, 0xff)
	comment := memscan.NewCanary(t)
	img, scanAt, comAt := jpegWithCanaries(t)
	const prefix = "Meet me at the usual place.\r\nCode: "
	msg := make([]byte, len(prefix)+memscan.Size)
	body, at := formBody([]formPart{{name: "text", data: msg}, {name: "files", file: true, data: img}, {name: "files", file: true}})
	copy(body[at[0]:], prefix)
	text.WriteInto(body[at[0]+len(prefix):])
	scan.WriteInto(body[at[1]+scanAt:])
	comment.WriteInto(body[at[1]+comAt:])
	clear(img)

	status, answer, closed := e.postClosed(t, path, body)
	require.Equal(t, http.StatusOK, status, answer)
	require.True(t, closed, "one request, one answer, and the connection is closed")
	require.Contains(t, answer, "Your message was encrypted for the owner of this drop box.")

	// The answer is sent: no plaintext canary anywhere in this process.
	for name, c := range map[string]memscan.Canary{"text": text, "scan data": scan, "comment": comment} {
		require.Zero(t, c.Count(t), "%s canary left at %v", name, c.Where(t))
	}

	// The journalist reads it.
	ib, err := e.c.OpenInbox(nd.InboxLink)
	require.NoError(t, err)
	defer ib.Close()
	ctx := context.Background()
	l, err := ib.ListAll(ctx)
	require.NoError(t, err)
	require.Len(t, l.Pending, 1)
	got, err := ib.Fetch(ctx, l.Pending[0].ID)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(got.Text, "Meet me at the usual place.\nCode: "), "CRLF becomes LF as the script sends it")
	require.Len(t, got.Text, len(prefix)-1+memscan.Size)
	for i := range memscan.Size {
		require.Equal(t, text.At(i), got.Text[len(prefix)-1+i])
	}
	require.Len(t, got.Files, 1, "the empty file input sends nothing")
	f := got.Files[0]
	require.Equal(t, "photo-1.jpg", f.Name, "a neutral name, never the source's")
	require.Equal(t, "image/jpeg", f.Type)
	require.Positive(t, scan.Count(t), "the scan's canary arrived (and the scanner sees it)")
	require.Zero(t, comment.Count(t), "the comment was removed")
	for _, v := range []string{"Jane Source", "CanonSecret", "EOS-Leak-5D", "SN123456789", "LeakyCam", "safehouse", "Hiddenville", "secret place", "2024:03:01", "IMG_0042"} {
		require.NotContains(t, string(f.Data), v)
	}
	if _, err := exec.LookPath("exiftool"); err == nil {
		p := filepath.Join(t.TempDir(), "photo.jpg")
		require.NoError(t, os.WriteFile(p, f.Data, 0o600))
		out, err := exec.Command("exiftool", "-a", "-G1", "-u", "-ee", p).Output()
		require.NoError(t, err)
		for _, v := range []string{"GPS", "Make", "Camera Model", "Jane Source", "Hiddenville", "safehouse"} {
			require.NotContains(t, string(out), v)
		}
	} else {
		t.Log("exiftool not installed: checked the bytes only")
	}
}

// TestSafestRefusals: each refusal is its own plain page, stores nothing, and leaves no
// plaintext behind; a drop that did not opt in answers with the drop page (its panel says how
// to switch to "Safer"); a mangled link is the error page.
func TestSafestRefusals(t *testing.T) {
	e := newSafestEnv(t, 64<<10)
	nd, err := e.c.CreateSafestDrop("")
	require.NoError(t, err)
	path := pathOf(t, nd.DropLink)
	pdf := []byte("%PDF-1.4\n% secret report\n")
	for _, c := range []struct {
		parts  []formPart
		status int
		says   string
	}{
		{[]formPart{{name: "text", data: []byte("see attached")}, {name: "files", file: true, data: pdf}}, http.StatusUnprocessableEntity, "sealdrop can send only photos (JPEG), pictures (PNG) and plain text files"},
		{[]formPart{{name: "files", file: true, data: []byte("\xff\xd8\xff\xe0broken")}}, http.StatusUnprocessableEntity, "could not be checked for hidden details"},
		{[]formPart{{name: "text"}}, http.StatusBadRequest, "There was nothing to send."},
		{[]formPart{{name: "other", data: []byte("x")}}, http.StatusBadRequest, "There was nothing to send."},
		{[]formPart{{name: "text", data: make([]byte, 70<<10)}}, http.StatusRequestEntityTooLarge, "too large to send"},
		{seventeenFiles(), http.StatusRequestEntityTooLarge, "you can send up to 15 files at a time"},
	} {
		body, _ := formBody(c.parts)
		status, answer := e.post(t, path, body)
		require.Equal(t, c.status, status, c.says)
		require.Contains(t, answer, c.says)
		require.Contains(t, answer, "Nothing was sent.")
	}
	require.Zero(t, e.v.Stats().Entries[vault.KindSubmission], "no refusal stored anything")

	plainDrop, err := e.c.CreateDrop(false)
	require.NoError(t, err)
	k, err := e.c.ParseDropLink(plainDrop.DropLink)
	require.NoError(t, err)
	body, _ := formBody([]formPart{{name: "text", data: []byte("hello")}})
	status, answer := e.post(t, "/d/"+plainDrop.Route+"?s="+k.SafestQuery(), body)
	require.Equal(t, http.StatusForbidden, status)
	require.Contains(t, answer, "This page needs the “Safer” security level")
	body, _ = formBody([]formPart{{name: "text", data: []byte("hello")}})
	status, _ = e.post(t, "/d/"+plainDrop.Route, body)
	require.Equal(t, http.StatusForbidden, status)
	// Another drop's keys under this route: not found, nothing stored.
	body, _ = formBody([]formPart{{name: "text", data: []byte("hello")}})
	other, err := protocol.NewDropKeys(protocol.DropFlagSafest)
	require.NoError(t, err)
	status, _ = e.post(t, "/d/"+nd.Route+"?s="+other.Public().SafestQuery(), body)
	require.Equal(t, http.StatusNotFound, status)
	require.Zero(t, e.v.Stats().Entries[vault.KindSubmission])
}

// TestSafestSlowSenderHoldsNothing (a hostile review: one request of 200 bytes, headers and
// no body, held the one workspace for the 120 s read timeout and every honest message got
// "busy"): the workspace is taken only once the body begins to arrive, and kept only while
// each piece arrives in time.
func TestSafestSlowSenderHoldsNothing(t *testing.T) {
	web.SetSafestWaits(t, 600*time.Millisecond, 400*time.Millisecond)
	e := newSafestEnv(t, 64<<10)
	nd, err := e.c.CreateSafestDrop("")
	require.NoError(t, err)
	path := pathOf(t, nd.DropLink)
	honest := func() int {
		body, _ := formBody([]formPart{{name: "text", data: []byte("hello from a source")}})
		status, _ := e.post(t, path, body)
		return status
	}
	stall := func(bodyBytes int) (net.Conn, *bufio.Reader) {
		conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
		require.NoError(t, err)
		t.Cleanup(func() { conn.Close() })
		require.NoError(t, conn.SetDeadline(time.Now().Add(30*time.Second)))
		body, _ := formBody([]formPart{{name: "text", data: make([]byte, 60<<10)}})
		head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: sealdrop.test\r\nContent-Type: multipart/form-data; boundary=%s\r\nContent-Length: %d\r\nOrigin: http://sealdrop.test\r\nSec-Fetch-Site: same-origin\r\n\r\n",
			path, safestBoundary, len(body))
		_, err = conn.Write(append([]byte(head), body[:bodyBytes]...))
		require.NoError(t, err)
		return conn, bufio.NewReader(conn)
	}
	answer := func(br *bufio.Reader) int {
		res, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		res.Body.Close()
		return res.StatusCode
	}

	// Headers and no body: the workspace stays free, and the sender is answered.
	_, silent := stall(0)
	require.Equal(t, http.StatusOK, honest(), "an honest message while a sender sends no body")
	require.Equal(t, http.StatusRequestTimeout, answer(silent))

	// A body begun and stopped holds the workspace only for one piece's wait.
	_, trickle := stall(100)
	time.Sleep(100 * time.Millisecond)
	require.Equal(t, http.StatusServiceUnavailable, honest(), "busy while the body is arriving")
	require.Equal(t, http.StatusBadRequest, answer(trickle), "cut off when a piece does not come in time")
	require.Equal(t, http.StatusOK, honest(), "free again after the stalled sender is cut off")
	require.Equal(t, 2, e.v.Stats().Entries[vault.KindSubmission], "only the honest messages were stored")
}

// seventeenFiles is a text field and 16 files: one part more than the form parser takes (a
// review found the answer said "There was nothing to send").
func seventeenFiles() []formPart {
	parts := []formPart{{name: "text", data: []byte("seventeen parts")}}
	for range 16 {
		parts = append(parts, formPart{name: "files", file: true, data: []byte("a line of plain text\n")})
	}
	return parts
}

// TestSafestOffByDefault: without Config.SafestMaxBody no drop takes messages at Safest.
func TestSafestOffByDefault(t *testing.T) {
	e := newSafestEnv(t, 0)
	nd, err := e.c.CreateSafestDrop("")
	require.NoError(t, err)
	res, err := e.srv.Client().Get(e.srv.URL + pathOf(t, nd.DropLink))
	require.NoError(t, err)
	page, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	require.NotContains(t, string(page), "safest-form")
	body, _ := formBody([]formPart{{name: "text", data: []byte("hello")}})
	status, _ := e.post(t, pathOf(t, nd.DropLink), body)
	require.NotEqual(t, http.StatusOK, status)
	require.Zero(t, e.v.Stats().Entries[vault.KindSubmission])
}

// TestSafestFeaturedName: at Safest the page cannot read the name in the fragment, but a drop
// the front page lists shows its listed name, which the server publishes anyway.
func TestSafestFeaturedName(t *testing.T) {
	k, err := protocol.NewDropKeys(protocol.DropFlagSafest)
	require.NoError(t, err)
	link := "/d/" + k.RouteID() + "?s=" + k.Public().SafestQuery() + "#" + k.Fragment()
	e := newSafestEnv(t, 64<<10, web.FeaturedDrop{Name: "The <Daily> Ledger", Link: link})
	for path, want := range map[string]string{link: "The &lt;Daily&gt; Ledger", "/d/" + randomID() + "?s=" + k.Public().SafestQuery(): "this page cannot show who receives your message"} {
		res, err := e.srv.Client().Get(e.srv.URL + strings.Split(path, "#")[0])
		require.NoError(t, err)
		page, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		require.Contains(t, string(page), want, path)
	}
}
