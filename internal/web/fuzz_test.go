package web

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"testing/fstest"

	"github.com/sealdrop/sealdrop/internal/api"
	"github.com/sealdrop/sealdrop/vault"
)

func FuzzParseOffset(f *testing.F) {
	for _, s := range []string{"0", "25", "65577", "-1", "01", "+1", "1e3", " 1", "999999999999999", "9999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseOffset(s)
		if err != nil {
			return
		}
		if n < 0 || strconv.FormatInt(n, 10) != s {
			t.Fatalf("parseOffset(%q) = %d: not canonical", s, n)
		}
	})
}

func FuzzParse32(f *testing.F) {
	for _, s := range []string{"", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "++++++++++++++++++++++++++++++++++++++++++8"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, present, err := parse32(s)
		if err != nil || !present {
			return
		}
		if base64.RawURLEncoding.EncodeToString(v[:]) != s {
			t.Fatalf("parse32(%q) accepted a non-canonical form", s)
		}
	})
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"gate":"x","claim":"y","offset":25}`, `{}`, `null`, `[]`, `{"gate":1}`, `{"x":1}`, `{} {}`, "{\"gate\":\"\\u0000\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var o api.OpenNote
		err := decodeJSON(bytes.NewReader(b), int64(len(b)), &o)
		if err == nil && len(b) > maxJSON {
			t.Fatalf("accepted %d bytes", len(b))
		}
	})
}

// FuzzOpenRequest sends arbitrary ids, bodies, content types and offsets through the whole
// handler to the open route of a real note: never a 500, always the header contract, and the
// note survives (a fuzzer cannot guess its gate).
func FuzzOpenRequest(f *testing.F) {
	v, err := vault.New(vault.Config{Budget: 4 << 20, SweepEvery: -1})
	if err != nil {
		f.Fatal(err)
	}
	defer v.Close()
	page := []byte("<!doctype html><title>x</title>")
	h, err := New(Config{Vault: v, templates: fstest.MapFS{"create.html": {Data: page}, "open.html": {Data: page},
		"manage.html": {Data: page}, "error.html": {Data: page}}, static: fstest.MapFS{}})
	if err != nil {
		f.Fatal(err)
	}
	var gate, manage [32]byte
	gate[0], manage[0] = 1, 2
	id, _, err := v.Put(vault.CreateRequest{Kind: vault.KindNote, Length: 100, TTL: 3600e9,
		Caps: vault.Caps{Gate: sha(gate), Manage: sha(manage)}}, bytes.NewReader(make([]byte, 100)))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(id.String(), "application/json", []byte(`{"gate":"`+base64.RawURLEncoding.EncodeToString(make([]byte, 32))+`","claim":"`+base64.RawURLEncoding.EncodeToString(make([]byte, 32))+`"}`))
	f.Add("x", "application/json", []byte(`{}`))
	f.Add(id.String(), "text/plain", []byte(`{}`))
	f.Add(id.String(), "application/json", []byte(`{"gate":"AA","offset":-5}`))
	f.Add(id.String(), "application/json", []byte(`{"offset":1e30}`))
	f.Fuzz(func(t *testing.T, rid, ctype string, body []byte) {
		req, err := http.NewRequest(http.MethodPost, "http://sealdrop.test/", bytes.NewReader(body))
		if err != nil {
			return
		}
		req.URL.Path = "/api/v1/notes/" + rid + "/open"
		req.Header.Set("Content-Type", ctype)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case 200:
			t.Fatalf("a fuzzed request opened the note: %q", body)
		case 400, 403, 404, 405, 413, 415:
		default:
			t.Fatalf("status %d for id %q type %q body %q", rec.Code, rid, ctype, body)
		}
		if rec.Header().Get("Content-Security-Policy") != CSP || rec.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("headers missing on %d", rec.Code)
		}
	})
}
