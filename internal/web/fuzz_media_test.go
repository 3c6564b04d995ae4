package web

import (
	"mime"
	"net/http"
	"testing"
)

// FuzzHasMediaType (T18): the Content-Type check never panics, and accepts a value only if it
// parses as exactly the wanted media type with at most a UTF-8 charset.
func FuzzHasMediaType(f *testing.F) {
	for _, s := range []string{"application/json", "application/json; charset=utf-8", "APPLICATION/JSON; CHARSET=UTF-8",
		"application/json; charset=latin1", "application/octet-stream", "text/plain", "", "application/json;;", "multipart/form-data; boundary=x",
		"application/json; charset=\"utf-8\"", "application/json, text/html"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ct string) {
		r := &http.Request{Header: http.Header{"Content-Type": {ct}}}
		for _, want := range []string{"application/json", "application/octet-stream"} {
			if !hasMediaType(r, want) {
				continue
			}
			mt, params, err := mime.ParseMediaType(ct)
			if err != nil || mt != want || len(params) > 1 {
				t.Fatalf("accepted %q as %s", ct, want)
			}
		}
	})
}
