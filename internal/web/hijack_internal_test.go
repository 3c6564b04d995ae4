package web

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// internalBuf reads the whole internal array of a bufio.Reader or Writer (field "buf").
func internalBuf(v any) []byte {
	f := reflect.ValueOf(v).Elem().FieldByName("buf")
	out := make([]byte, f.Len())
	for i := range out {
		out[i] = byte(f.Index(i).Uint())
	}
	return out
}

// The wipe covers the whole array: consumed bytes (request line, headers), the unread
// remainder and bytes left over from earlier use of a pooled buffer.
func TestWipeBuffers(t *testing.T) {
	secret := bytes.Repeat([]byte("CIPHERTEXT!"), 1000)
	br := bufio.NewReaderSize(bytes.NewReader(secret), 4096)
	_, err := br.Discard(100) // some consumed, most still buffered
	require.NoError(t, err)
	require.Contains(t, string(internalBuf(br)), "CIPHERTEXT!", "control: the buffer holds the bytes")
	wipeReader(br)
	require.Equal(t, make([]byte, 4096), internalBuf(br))
	require.Zero(t, br.Buffered())

	bw := bufio.NewWriterSize(io.Discard, 4096)
	_, _ = bw.Write(secret[:3000])
	require.NoError(t, bw.Flush())
	require.Contains(t, string(internalBuf(bw)), "CIPHERTEXT!")
	wipeWriter(bw)
	require.Equal(t, make([]byte, 4096), internalBuf(bw))
	require.Zero(t, bw.Buffered())
}

// A panic on a hijacked connection before the answer is the uniform 500 with the header
// contract; after the answer started, the connection is just closed. Nothing is printed.
func TestHijackedPanic(t *testing.T) {
	s := &server{internalBody: errorBody("internal", "the server could not answer this request")}
	var after bool
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hj, ok := hijack(w, r, 0)
		if !assert.True(t, ok, "the connection could be hijacked") { // the handler's goroutine: no FailNow here
			return
		}
		s.serveHijacked(hj, true, func(w http.ResponseWriter) {
			if after {
				w.Header().Set("Content-Length", "10")
				w.WriteHeader(http.StatusOK)
				_, _ = w.Write([]byte("12345"))
			}
			panic("zq7boom")
		})
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	res, err := http.Post(srv.URL, "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusInternalServerError, res.StatusCode)
	require.JSONEq(t, `{"error":"internal","message":"the server could not answer this request"}`, string(b))
	require.Equal(t, "no-store", res.Header.Get("Cache-Control"))
	require.Empty(t, res.Header.Values("Date"))
	require.True(t, res.Close)

	after = true
	res, err = http.Post(srv.URL, "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	_, err = io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Error(t, err, "the cut answer is short of its Content-Length")
}
