package web_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConcurrentOpens (T7): 1,000 concurrent opens of one note over HTTP, each with its own
// claim: exactly one gets the ciphertext, whole; every other one gets gone.
func TestConcurrentOpens(t *testing.T) {
	e := newEnv(t)
	n := e.createNote(200000, false)
	const N = 1000
	tr := &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	var winners [][]byte
	start := make(chan struct{})
	for i := 0; i < N; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/notes/"+n.id+"/open",
				strings.NewReader(string(mustJSON(n.openBody(rand32(), 0, nil)))))
			req.Header.Set("Content-Type", "application/json")
			res, err := hc.Do(req)
			if !assert.NoError(t, err) {
				return
			}
			b, err := io.ReadAll(res.Body)
			res.Body.Close()
			assert.NoError(t, err)
			mu.Lock()
			defer mu.Unlock()
			codes[res.StatusCode]++
			if res.StatusCode == http.StatusOK {
				winners = append(winners, b)
			} else {
				assert.Equal(t, `{"error":"gone"}`, string(b))
			}
		}()
	}
	close(start)
	wg.Wait()
	require.Equal(t, map[int]int{200: 1, 404: N - 1}, codes)
	require.Equal(t, n.body, winners[0])
}

// TestParallelWrongPINs (T14): 100 parallel wrong PINs are never checked more than 5 times:
// the tries_left values are distinct and the rest is gone; afterwards the right PIN is gone too.
func TestParallelWrongPINs(t *testing.T) {
	e := newEnv(t)
	n := e.createNote(1000, true)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var left []int
	gone := 0
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := mustJSON(n.openBody(rand32(), 0, nil))
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/notes/"+n.id+"/open", strings.NewReader(string(b)))
			req.Header.Set("Content-Type", "application/json")
			res, err := e.hc.Do(req)
			if !assert.NoError(t, err) {
				return
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			mu.Lock()
			defer mu.Unlock()
			switch res.StatusCode {
			case http.StatusForbidden:
				var v struct {
					Error     string `json:"error"`
					TriesLeft int    `json:"tries_left"`
				}
				assert.NoError(t, json.Unmarshal(body, &v))
				assert.Equal(t, "wrong_pin", v.Error)
				left = append(left, v.TriesLeft)
			case http.StatusNotFound:
				gone++
			default:
				t.Errorf("unexpected %d %s", res.StatusCode, body)
			}
		}()
	}
	wg.Wait()
	require.ElementsMatch(t, []int{4, 3, 2, 1, 0}, left)
	require.Equal(t, 95, gone)
	requireGone(t, e.open(n, rand32(), 0, &n.open))
}

// TestDestructPIN (T14): the duress PIN answers exactly like a wrong PIN (same bytes but the
// count), wipes the note at once, and the right PIN afterwards does not open it.
func TestDestructPIN(t *testing.T) {
	e := newEnv(t)
	a := e.createNote(1000, true)
	b := e.createNote(1000, true)
	wrong := e.raw(rawPost("/api/v1/notes/"+a.id+"/open", "application/json", mustJSON(a.openBody(rand32(), 0, nil))))
	destruct := e.raw(rawPost("/api/v1/notes/"+b.id+"/open", "application/json", mustJSON(b.openBody(rand32(), 0, &b.destruct))))
	require.Contains(t, string(wrong), `{"error":"wrong_pin","tries_left":4}`)
	require.Equal(t, string(wrong), string(destruct))
	// After the destruct PIN, the right PIN is only another failure, down to gone.
	for want := 3; want >= 0; want-- {
		r := e.open(b, rand32(), 0, &b.open)
		require.Equal(t, http.StatusForbidden, r.status)
		require.EqualValues(t, want, r.json(t)["tries_left"])
	}
	requireGone(t, e.open(b, rand32(), 0, &b.open))
	// The other note is untouched and opens with its PIN.
	r := e.open(a, rand32(), 0, &a.open)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, a.body, r.body)
}

// TestResume: a download cut midway resumes with the same claim at a chunk boundary,
// decrypts whole, and after confirm the note is gone. Another claim cannot resume it.
func TestResume(t *testing.T) {
	e := newEnv(t)
	const chunk = 65552
	n := e.createNote(25+3*chunk+1000, false)
	c := rand32()
	// Read part of the answer, then drop the connection.
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/notes/"+n.id+"/open",
		strings.NewReader(string(mustJSON(n.openBody(c, 0, nil)))))
	req.Header.Set("Content-Type", "application/json")
	tr := &http.Transport{DisableKeepAlives: true}
	res, err := (&http.Client{Transport: tr}).Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, strconv.Itoa(len(n.body)), res.Header.Get("Sealdrop-Size"))
	got := make([]byte, 25+chunk+500)
	_, err = io.ReadFull(res.Body, got)
	require.NoError(t, err)
	res.Body.Close()
	tr.CloseIdleConnections()
	have := int64(25 + chunk) // whole chunks only

	// Misaligned offsets and foreign claims do not resume.
	r := e.open(n, c, have+1, nil)
	require.Equal(t, http.StatusBadRequest, r.status)
	requireGone(t, e.open(n, rand32(), have, nil))

	r = e.open(n, c, have, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, strconv.Itoa(len(n.body)), r.header.Get("Sealdrop-Size"))
	require.Equal(t, strconv.Itoa(len(n.body)-int(have)), r.header.Get("Content-Length"))
	full := append(got[:have:have], r.body...)
	require.Equal(t, n.body, full)

	requireGone(t, e.confirm(n, rand32())) // a wrong nonce confirms nothing
	require.Equal(t, http.StatusNoContent, e.confirm(n, c).status)
	requireGone(t, e.open(n, c, have, nil))
	requireGone(t, e.open(n, c, 0, nil))
}

// TestDestructHashOptional (issue 18 item 4): destruct_hash may be left out of a create (and
// Sealdrop-Destruct-Hash out of an upload). The vault then stores a random hash, exactly what a
// client without a duress PIN sends, so such a note answers every request as one with a
// random hash does: a wrong PIN counts the same, status is the same, the right PIN opens it.
func TestDestructHashOptional(t *testing.T) {
	e := newEnv(t)
	with, without, uploaded := newNoteSecrets(64, true), newNoteSecrets(64, true), newNoteSecrets(64, true)
	r := e.postJSON("/api/v1/notes", with.createReq(64, nil))
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	with.id = r.json(t)["id"].(string)
	body := without.createReq(64, nil)
	delete(body, "destruct_hash")
	r = e.postJSON("/api/v1/notes", body)
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	without.id = r.json(t)["id"].(string)
	for _, n := range []*note{with, without} {
		r := e.appendData(n, 0, n.body)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		r = e.postJSON("/api/v1/notes/"+n.id+"/commit", map[string]any{"manage": b64(n.manage[:])})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	}
	r = e.upload(uploaded, 0, len(uploaded.body), map[string]string{"Sealdrop-Destruct-Hash": ""})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	uploaded.id = r.json(t)["id"].(string)
	for _, n := range []*note{with, without, uploaded} {
		st := e.postJSON("/api/v1/notes/"+n.id+"/status", map[string]any{"manage": b64(n.manage[:])})
		require.JSONEq(t, `{"state":"waiting","expires_in":604800}`, string(st.body))
		zero := [32]byte{}
		for _, typed := range []*[32]byte{nil, &zero} {
			r := e.open(n, rand32(), 0, typed)
			require.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
			require.Equal(t, "wrong_pin", r.json(t)["error"])
		}
		e.requireOpens(n)
	}
}

// TestResumeNeedsTheClaimNotThePIN (issue 18 item 5): a resume is bound to the claim of the
// first read, which had to pass the PIN: it needs the gate and the same claim hash, and
// nothing else. The PIN tokens of a resume are not looked at (none, wrong or the destruct
// token: 200, and no failure is counted), since SHA-256(C) is a 256-bit secret only the
// reader who presented the PIN holds. Whoever has the link and even the PIN, but another
// claim, gets gone and counts nothing. Offsets: 0, or 25 + k × 65,552 up to the size (the
// size itself when the last chunk is full: an empty answer); anything else is bad_parameter.
func TestResumeNeedsTheClaimNotThePIN(t *testing.T) {
	e := newEnv(t)
	const chunk = 65552
	n := e.createNote(25+2*chunk, true)
	c := rand32()
	r := e.open(n, c, 0, &n.open)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, n.body, r.body)

	zero := [32]byte{}
	for _, typed := range []*[32]byte{&n.open, nil, &n.destruct, &zero} {
		r := e.open(n, c, 25, typed)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		require.Equal(t, n.body[25:], r.body)
	}
	noPIN := n.openBody(c, 25+chunk, nil)
	delete(noPIN, "open")
	delete(noPIN, "destruct")
	r = e.postJSON("/api/v1/notes/"+n.id+"/open", noPIN)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, n.body[25+chunk:], r.body)
	// The size itself, on a note whose last chunk is full: nothing left to send.
	r = e.open(n, c, int64(len(n.body)), nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Empty(t, r.body)
	require.Equal(t, strconv.Itoa(len(n.body)), r.header.Get("Sealdrop-Size"))
	for _, off := range []int64{1, 24, 26, 25 + chunk - 1, 25 + 3*chunk, -25} {
		r := e.open(n, c, off, nil)
		require.Equal(t, http.StatusBadRequest, r.status, "offset %d: %s", off, r.body)
		require.Equal(t, "bad_parameter", r.json(t)["error"])
	}
	// A stranger with the link and the PIN but not the claim: gone, whatever it types, and
	// nothing counted: six tries later the reader still resumes.
	for range 6 {
		requireGone(t, e.open(n, rand32(), 0, &n.open))
		requireGone(t, e.open(n, rand32(), 25, nil))
	}
	r = e.open(n, c, 0, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	// Without the gate, the claim alone resumes nothing.
	other := n.openBody(c, 0, nil)
	g := rand32()
	other["gate"] = b64(g[:])
	requireGone(t, e.postJSON("/api/v1/notes/"+n.id+"/open", other))
	require.Equal(t, http.StatusNoContent, e.confirm(n, c).status)
	requireGone(t, e.open(n, c, 0, &n.open))
}
