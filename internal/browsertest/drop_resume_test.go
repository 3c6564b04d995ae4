package browsertest

// Issue 8's leftovers at Tor Browser's Safer level: the submit page's proof-of-work bar moves
// from 0 to full while the browser hashes (with the server asking real work), and the inbox
// survives a download cut midway: it resumes with the same claim from a whole chunk and shows
// the whole, correct message.

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/drop"
	"github.com/sealdrop/sealdrop/internal/price"
	"github.com/sealdrop/sealdrop/internal/protocol"
)

const (
	// resumeLevel is the price level the server asks whatever its fill (price.Config.Floor), so
	// that the 3 MiB submission below pays 17 bits: seconds at Safer (no JIT), long enough to
	// watch the bar. The other drop scenarios run on an empty server, which asks nothing.
	resumeLevel = 6
	// solveBatch is how many nonces drop-protocol.js's solvePoW hashes between two progress
	// reports: a solution inside the first batch legitimately reports none.
	solveBatch = 256
	dropHead   = 65 + 25 // ephemeral key + envelope header: the first resumable offset
	dropChunk  = 65552
)

// startDropAppPoW is startDropApp asking at least the given price level, with room for the
// 3 MiB submission.
func startDropAppPoW(t *testing.T, level int) dropApp {
	t.Helper()
	p, err := price.New(price.Config{Floor: level})
	require.NoError(t, err)
	return startDropAppWith(t, 4<<20, drop.Config{TTL: 24 * time.Hour, Price: p})
}

func dropAligned(off int64) bool {
	return off == 0 || (off >= dropHead && (off-dropHead)%dropChunk == 0)
}

func isFetch(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/api/v1/drops/") && strings.HasSuffix(r.URL.Path, "/fetch")
}

type dropFetchBody struct {
	Auth      string `json:"auth"`
	Challenge string `json:"challenge"`
	MAC       string `json:"mac"`
	Claim     string `json:"claim"`
	Nonce     string `json:"nonce"`
	Offset    *int64 `json:"offset"`
}

func TestDropPoWProgressAndFetchResumeSafer(t *testing.T) {
	RequireBrowser(t)
	start := time.Now()
	app := startDropAppPoW(t, resumeLevel)
	journalist := pool.Person(t, Safer)
	source := pool.Person(t, Safer)
	dropLink, inbox := createDrop(t, journalist, false)
	id := uniq(t)
	ctx := ctxT(t, 12*pageTimeout)

	// (a) The source sends a message and a 3 MiB file; the PoW bar is watched by a
	// MutationObserver, which sees every value the page sets (polling could miss a short run).
	big := randomBytes(t, 3<<20)
	name := "big-" + id + ".bin"
	file := writeFile(t, t.TempDir(), name, big)
	msg := "resume test " + id
	require.NoError(t, source.Navigate(ctx, dropLink))
	waitAny(t, source, pageTimeout, "send", "gone")
	require.NoError(t, source.SetValue(ctx, "#text", msg))
	require.NoError(t, source.SetFiles(ctx, "#files", []string{file}))
	waitAny(t, source, pageTimeout, "strip-report")
	var armed bool
	require.NoError(t, source.CallFunction(ctx, `() => {
		const bar = document.getElementById('progress-pow');
		const seen = [[bar.value, bar.max]];
		window.__powSeen = seen;
		new MutationObserver(() => { seen.push([bar.value, bar.max]); }).observe(bar, { attributes: true });
		return true;
	}`, &armed))
	require.True(t, armed)
	mark := pool.Proxy.Mark()
	sendStart := time.Now()
	require.NoError(t, source.Click(ctx, "#send"))
	got := waitAny(t, source, 8*pageTimeout, "sent", "error", "gone")
	sendTook := time.Since(sendStart)
	require.Equal(t, "sent", got, "submit failed: %s", text(t, source, "error"))
	var seen [][2]float64
	require.NoError(t, source.CallFunction(ctx, `() => window.__powSeen`, &seen))
	require.Equal(t, 1, app.submissions(), "the submission landed")

	// The payment the browser sent pays the price the server asks for this submission: it is
	// in the headers of the upload's first request (the one at offset 0, which creates it).
	var creates []ProxyRecord
	var route string
	for _, r := range pool.Proxy.RecordsSince(mark) {
		if p := strings.SplitN(r.URL, "?", 2)[0]; r.Method == http.MethodPost && strings.HasSuffix(p, "/upload") && r.Header.Get("Sealdrop-Offset") == "0" {
			creates = append(creates, r)
			route = strings.TrimSuffix(p[strings.Index(p, "/api/v1/drops/")+len("/api/v1/drops/"):], "/upload")
		}
	}
	require.Len(t, creates, 1, "one create request: the limits the page came with predicted the price")
	hdr := creates[0].Header
	token, err := base64.RawURLEncoding.DecodeString(hdr.Get("Sealdrop-Price-Token"))
	require.NoError(t, err)
	nonce, err := base64.RawURLEncoding.DecodeString(hdr.Get("Sealdrop-Price-Nonce"))
	require.NoError(t, err)
	require.Len(t, nonce, 8)
	m, err := base64.RawURLEncoding.DecodeString(hdr.Get("Sealdrop-Manage"))
	require.NoError(t, err)
	length, err := strconv.ParseInt(hdr.Get("Sealdrop-Length"), 10, 64)
	require.NoError(t, err)
	scope, err := base64.RawURLEncoding.DecodeString(route)
	require.NoError(t, err)
	pr := protocol.PriceRequest{Kind: protocol.PriceSubmission, Scope: [16]byte(scope), Manage: sha256.Sum256(m), Length: length, TTL: 24 * time.Hour}
	asked := protocol.PriceBits(resumeLevel, length, pr.TTL)
	require.GreaterOrEqual(t, asked, 16, "enough work to watch")
	assert.True(t, protocol.CheckPrice(token, pr, nonce, asked), "the browser's payment meets the price")
	tried := binary.BigEndian.Uint64(nonce) + 1
	expected := float64(uint64(1) << asked)
	t.Logf("Safer: %d-bit price solved at nonce %d; send (encrypt 3 MiB, PoW, upload) took %v; bar values %d", asked, tried-1, sendTook.Round(time.Millisecond), len(seen))

	require.NotEmpty(t, seen)
	var atStart, moved, full bool
	for i, s := range seen {
		v, m := s[0], s[1]
		atStart = atStart || (v == 0 && (m == 1 || m == expected))
		if m == expected && v > 0 && v < m {
			moved = true
		}
		if i > 0 && m == seen[i-1][1] {
			assert.GreaterOrEqual(t, v, seen[i-1][0], "the bar never goes back: %v", seen)
		}
	}
	last := seen[len(seen)-1]
	full = last[0] == expected && last[1] == expected
	assert.True(t, atStart, "the bar starts at 0: %v", seen[:min(len(seen), 5)])
	assert.True(t, full, "the bar ends full (%v of %v): last %v", expected, expected, last)
	if tried > solveBatch {
		assert.True(t, moved, "the bar moves between 0 and full while hashing (%d tries): %v", tried, seen[:min(len(seen), 10)])
	} else {
		t.Logf("the solution came in the first batch (%d tries): no intermediate value is expected", tried)
	}

	// (b) The journalist reads it; the proxy cuts the download after 1 MiB, once.
	openInbox(t, journalist, inbox)
	require.Equal(t, 1, listed(t, journalist))
	const cutAfter = 1<<20 + 12345
	pool.Proxy.CutNext(isFetch, cutAfter)
	mark = pool.Proxy.Mark()
	readStart := time.Now()
	readFirst(t, journalist)
	readTook := time.Since(readStart)
	assert.Equal(t, msg, text(t, journalist, "msg-text"))
	p, err := journalist.Download(ctx, fmt.Sprintf(`#msg-files a[download=%q]`, name), name, 2*pageTimeout)
	require.NoError(t, err)
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, sha256.Sum256(big), sha256.Sum256(b), "the 3 MiB file arrives whole and correct after the cut")

	var fetches []dropFetchBody
	var cut []bool
	var confirm *dropFetchBody
	for _, r := range pool.Proxy.RecordsSince(mark) {
		path := strings.SplitN(r.URL, "?", 2)[0]
		if r.Method != http.MethodPost || !strings.Contains(path, "/api/v1/drops/") {
			continue
		}
		var f dropFetchBody
		switch {
		case strings.HasSuffix(path, "/fetch"):
			require.NoError(t, json.Unmarshal(r.Body, &f))
			fetches = append(fetches, f)
			cut = append(cut, r.Cut)
		case strings.HasSuffix(path, "/confirm"):
			require.NoError(t, json.Unmarshal(r.Body, &f))
			confirm = &f
		}
	}
	require.Len(t, fetches, 2, "one cut fetch and one resumed fetch")
	assert.Equal(t, []bool{true, false}, cut, "the first was cut")
	require.NotNil(t, fetches[1].Offset)
	off := *fetches[1].Offset
	assert.Positive(t, off, "the resumed fetch starts after what arrived")
	assert.True(t, dropAligned(off), "offset %d is 0, 90 or 90 + k·65552", off)
	assert.LessOrEqual(t, off, int64(cutAfter), "it resumes from what it holds")
	assert.Equal(t, fetches[0].Claim, fetches[1].Claim, "the same claim")
	assert.NotEqual(t, fetches[0].Challenge, fetches[1].Challenge, "a new challenge")
	assert.NotEqual(t, fetches[0].MAC, fetches[1].MAC)
	require.NotNil(t, confirm, "the inbox confirmed")
	cn, err := base64.RawURLEncoding.DecodeString(confirm.Nonce)
	require.NoError(t, err)
	h := sha256.Sum256(cn)
	assert.Equal(t, fetches[0].Claim, base64.RawURLEncoding.EncodeToString(h[:]), "confirm sends the nonce whose SHA-256 was the claim")
	assert.Equal(t, 0, app.submissions(), "read once and wiped")
	t.Logf("Safer: read with one cut at %d bytes took %v (resumed at %d); scenario %v", cutAfter, readTook.Round(time.Millisecond), off, time.Since(start).Round(time.Millisecond))

	assertClean(t, app.mark, inboxSecrets(t, inbox), nil, journalist, source)
	assertNoFragment(t, app.mark, inbox)
}

// The cut itself, without a browser: a hijacked answer (as the app streams ciphertext) and a
// plain one both stop at the cut, once; the next request goes through whole.
func TestFakeOnionProxyCutNext(t *testing.T) {
	payload := strings.Repeat("0123456789", 50000)
	p, err := NewFakeOnionProxy("", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/plain" {
			w.Header().Set("Content-Length", fmt.Sprint(len(payload)))
			_, _ = io.WriteString(w, payload)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		defer conn.Close()
		if _, ok := conn.(interface{ NetConn() net.Conn }); ok {
			t.Errorf("the cut connection must not expose the socket beneath it")
		}
		_, _ = fmt.Fprintf(brw, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", len(payload))
		_ = brw.Flush()
		_, _ = io.WriteString(conn, payload)
	}))
	require.NoError(t, err)
	defer p.Close()

	get := func(path string) (int, error) {
		c, err := net.Dial("tcp", p.Addr())
		require.NoError(t, err)
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		_, err = fmt.Fprintf(c, "GET http://%s%s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", p.Host(), path, p.Host())
		require.NoError(t, err)
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		require.NoError(t, err)
		b, err := io.ReadAll(res.Body)
		return len(b), err
	}
	for _, path := range []string{"/hijacked", "/plain"} {
		mark := p.Mark()
		p.CutNext(func(r *http.Request) bool { return r.URL.Path == path }, 100000)
		n, err := get(path)
		require.Error(t, err, "%s: the body is truncated", path)
		assert.Less(t, n, len(payload), path)
		assert.Greater(t, n, 90000, "%s: about 100,000 bytes got through before the cut", path)
		n, err = get(path)
		require.NoError(t, err, "%s: the cut applies once", path)
		assert.Equal(t, len(payload), n, path)
		recs := p.RecordsSince(mark)
		require.Len(t, recs, 2)
		assert.True(t, recs[0].Cut, path)
		assert.False(t, recs[1].Cut, path)
	}
	// A rule that matches nothing stays armed and cuts nothing.
	p.CutNext(func(r *http.Request) bool { return false }, 10)
	n, err := get("/plain")
	require.NoError(t, err)
	assert.Equal(t, len(payload), n)
}
