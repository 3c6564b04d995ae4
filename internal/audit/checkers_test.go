package audit_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/audit"
)

// Each checker catches a small bad snippet and passes a good one: none of them is a check
// that cannot fail.

func snippet(t *testing.T, code string) *audit.Source {
	t.Helper()
	s, err := audit.ParseSnippet("x/x.go", code)
	require.NoError(t, err)
	return s
}

func whats(fs []audit.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.What)
	}
	return out
}

func TestCheckerImports(t *testing.T) {
	s := snippet(t, `package x
import (
	mr "math/rand"
	"math/rand/v2"
	"crypto/rand"
)
var _, _, _ = mr.Int, rand.Int, v2
`)
	assert.Equal(t, []string{"imports math/rand", "imports math/rand/v2"}, whats(s.ForbiddenImports("math/rand")))
}

func TestCheckerPackageUses(t *testing.T) {
	s := snippet(t, `package x
import (
	h "crypto/hmac"
	"crypto/sha256"
)
func f(a, b []byte) bool {
	m := h.New(sha256.New, a)
	return h.Equal(m.Sum(nil), b)
}
`)
	assert.Equal(t, []string{"crypto/hmac.Equal"}, whats(s.PackageUses("crypto/hmac", "Equal")))
	assert.Empty(t, s.PackageUses("crypto/subtle", "ConstantTimeCompare"), "a package the file does not import")
}

func TestCheckerPrints(t *testing.T) {
	s := snippet(t, `package x
import (
	"fmt"
	"io"
	l "log"
	"os"
)
var quiet = l.New(io.Discard, "", 0)
func f(stdout io.Writer, w io.Writer) {
	l.Printf("x")
	fmt.Println("x")
	fmt.Fprintln(os.Stderr, "x")
	fmt.Fprintf(stdout, "x")
	io.WriteString(stdout, "x")
	println("x")
	fmt.Fprintf(w, "fine: any writer but the process's streams")
	_ = fmt.Sprintf("fine")
}
`)
	got := whats(s.Prints())
	assert.Equal(t, []string{"log.Printf", "fmt.Println", "os.Stderr", "fmt.Fprintf(stdout)", "io.WriteString(stdout)", "println"}, got)
	assert.Equal(t, "x/x.go:f", s.Prints()[0].Site("."))
}

func TestCheckerRemoteAddr(t *testing.T) {
	s := snippet(t, `package x
import "net/http"
func f(r *http.Request) string { return r.RemoteAddr }
`)
	assert.Equal(t, []string{"RemoteAddr"}, whats(s.RemoteAddr()))
}

func TestCheckerCookies(t *testing.T) {
	s := snippet(t, `package x
import (
	"net/http"
	jar "net/http/cookiejar"
)
const name = "set-cookie"
func f(w http.ResponseWriter, r *http.Request) {
	c, _ := r.Cookie("s")
	_ = r.Header.Get("Cookie")
	http.SetCookie(w, &http.Cookie{Name: "s"})
	w.Header()["Set-Cookie"] = nil
	_ = r.Cookies()
	_, _ = jar.New(nil)
	_ = c
	// Fine: tor's control cookie, a word in a sentence, another header.
	_ = "cannot read tor's cookie file"
	_ = r.Header.Get("Cache-Control")
}
`)
	assert.Equal(t, []string{"imports net/http/cookiejar", "header \"set-cookie\"", ".Cookie", "header \"Cookie\"",
		".SetCookie", ".Cookie", "header \"Set-Cookie\"", ".Cookies"}, whats(s.Cookies()))
	assert.Empty(t, snippet(t, `package x
import "net/http"
func f(w http.ResponseWriter) { w.Header().Set("Cache-Control", "no-store"); _ = "a cookie" }
`).Cookies())
}

func TestCheckerSelector(t *testing.T) {
	s := snippet(t, `package x
import "example.com/circuit"
func f(b []byte) uint32 { id, _ := circuit.ParseHeader(b); return id }
func g() {}
`)
	assert.Equal(t, []string{"ParseHeader"}, whats(s.Selector("ParseHeader")))
	assert.Empty(t, s.Selector("g"))
}

func TestCheckerGoroutines(t *testing.T) {
	s := snippet(t, `package x
func work() {}
func safe() { defer func() { _ = recover() }(); work() }
func f() {
	go work()
	go func() { work() }()
	go func() { defer func() { recover() }(); work() }()
	go safe()
	go func() { defer work(); work() }()
}
`)
	assert.Equal(t, []string{
		"goroutine without a deferred recover: go work",
		"goroutine without a deferred recover: go func(){...}",
		"goroutine without a deferred recover: go func(){...}",
	}, whats(s.UnrecoveredGoroutines()))
}

func TestCheckerSecretCompares(t *testing.T) {
	fs, err := audit.SecretComparesSnippet(`package x
import "bytes"
type Hash = [32]byte
type ID [16]byte
func f(a, b Hash, p, q []byte, i, j ID, s, u string, n, m int) bool {
	return a == b || // caught: array
		bytes.Equal(p, q) || // caught
		string(p) == string(q) || // caught: conversion
		i != j || // caught: named array
		bytes.Compare(p, q) == 0 || // caught
		a == (Hash{}) || // fine: a check for an absent value
		s == u || n == m || // fine: not bytes
		a == Hash(b) // audit:ok test of the allow comment
}
`)
	require.NoError(t, err)
	assert.Equal(t, []string{
		"== on snippet.Hash is not constant time",
		"bytes.Equal is not constant time",
		"== on string is not constant time",
		"!= on snippet.ID is not constant time",
		"bytes.Compare is not constant time",
	}, whats(fs))
}

func TestCheckerGoMod(t *testing.T) {
	mod := `module m

go 1.26

require (
	golang.org/x/crypto v0.57.9 // indirect
	golang.org/x/net v0.62.0
)

require golang.org/x/sys v0.50.0-rc.1
`
	got := audit.GoModBelow(mod, []audit.Requirement{
		{Path: "golang.org/x/crypto", Min: "v0.58.0"},
		{Path: "golang.org/x/net", Min: "v0.62.0"},
		{Path: "golang.org/x/sys", Min: "v0.49.0"},
		{Path: "golang.org/x/text", Min: "v0.1.0"},
	})
	assert.Equal(t, []string{"golang.org/x/crypto v0.57.9 is below v0.58.0", "golang.org/x/text is not required"}, got)
	assert.Equal(t, []string{"golang.org/x/sys v0.50.0-rc.1 is below v0.50.0"},
		audit.GoModBelow(mod, []audit.Requirement{{Path: "golang.org/x/sys", Min: "v0.50.0"}}))
}
