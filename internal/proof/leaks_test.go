//go:build linux

package proof

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// leakPatterns are what no answer may carry: versions, paths, addresses, times, stacks.
var leakPatterns = map[string]*regexp.Regexp{
	"go version":   regexp.MustCompile(`go1\.\d|Go-http|(?i)golang`),
	"sealdrop ver": regexp.MustCompile(`sealdrop/\d`), // a software version; "sealdrop/v1 gate" is a protocol label
	"file path":    regexp.MustCompile(`/work\b|/root\b|/home/|/tmp/|\.go\b|\.go:\d`),
	"ipv4":         regexp.MustCompile(`\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b`),
	"ipv6":         regexp.MustCompile(`\[?::1\]?|(?i)\b[0-9a-f]{1,4}(:[0-9a-f]{1,4}){7}\b`),
	"time":         regexp.MustCompile(`\b\d{2}:\d{2}:\d{2}\b|\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} |\bGMT\b|\d{4}-\d{2}-\d{2}T`),
	"date header":  regexp.MustCompile(`(?i)\r\n(date|server|x-powered-by|etag|last-modified):`),
	"stack":        regexp.MustCompile(`goroutine|panic|runtime\.|runtime/|\bnet/http\b`),
	"echo":         regexp.MustCompile(`zq7`),
}

// leakCorpus is requests that go wrong in every way we could think of; zq7 marks what the
// client sent, which must never be echoed.
func leakCorpus() map[string]string {
	id := "AAAAAAAAAAAAAAAAAAAAAA"
	post := func(path, ctype, body string) string {
		return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s", path, ctype, len(body), body)
	}
	c := map[string]string{
		"garbage":             "zq7 zq7 zq7\r\n\r\n",
		"binary":              "\x00\x01\x02zq7\xff\xfe\r\n\r\n",
		"http/0.9":            "GET /zq7\r\n\r\n",
		"http/1.0":            "GET /zq7 HTTP/1.0\r\n\r\n",
		"http/1.0 api":        "GET /api/v1/zq7 HTTP/1.0\r\n\r\n",
		"http/2 preface":      "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"http/9.9":            "GET / HTTP/9.9\r\nHost: x\r\n\r\n",
		"no host":             "GET /zq7 HTTP/1.1\r\n\r\n",
		"bad host":            "GET / HTTP/1.1\r\nHost: zq7 zq7\r\n\r\n",
		"two hosts":           "GET / HTTP/1.1\r\nHost: a\r\nHost: zq7\r\n\r\n",
		"absolute form":       "GET http://zq7.example/ HTTP/1.1\r\nHost: zq7.example\r\n\r\n",
		"absolute api":        "GET http://zq7.example/api/v1/limits HTTP/1.1\r\nHost: x\r\n\r\n",
		"asterisk":            "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
		"TRACE":               "TRACE /zq7 HTTP/1.1\r\nHost: x\r\nX-Zq7: zq7\r\n\r\n",
		"TRACE api":           "TRACE /api/v1/notes HTTP/1.1\r\nHost: x\r\n\r\n",
		"CONNECT":             "CONNECT zq7.example:443 HTTP/1.1\r\nHost: zq7.example:443\r\n\r\n",
		"PROPFIND":            "PROPFIND / HTTP/1.1\r\nHost: x\r\nDepth: 1\r\n\r\n",
		"lowercase get":       "get / HTTP/1.1\r\nHost: x\r\n\r\n",
		"DELETE note":         "DELETE /api/v1/notes/" + id + " HTTP/1.1\r\nHost: x\r\n\r\n",
		"OPTIONS api":         "OPTIONS /api/v1/notes HTTP/1.1\r\nHost: x\r\nOrigin: http://zq7.example\r\nAccess-Control-Request-Method: POST\r\n\r\n",
		"traversal":           "GET /static/../go.mod HTTP/1.1\r\nHost: x\r\n\r\n",
		"traversal encoded":   "GET /static/%2e%2e/go.mod HTTP/1.1\r\nHost: x\r\n\r\n",
		"traversal encoded 2": "GET /static/..%2f..%2fgo.mod HTTP/1.1\r\nHost: x\r\n\r\n",
		"traversal js":        "GET /static/js/../../cmd/sealdrop/main.go HTTP/1.1\r\nHost: x\r\n\r\n",
		"double slash":        "GET //etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
		"double slash static": "GET /static//js/protocol.js HTTP/1.1\r\nHost: x\r\n\r\n",
		"backslash":           "GET /static/..\\..\\go.mod HTTP/1.1\r\nHost: x\r\n\r\n",
		"static dir":          "GET /static/ HTTP/1.1\r\nHost: x\r\n\r\n",
		"static embed go":     "GET /static/static.go HTTP/1.1\r\nHost: x\r\n\r\n",
		"templates":           "GET /templates/error.html HTTP/1.1\r\nHost: x\r\n\r\n",
		"nul in path":         "GET /%00zq7 HTTP/1.1\r\nHost: x\r\n\r\n",
		"huge path":           "GET /" + strings.Repeat("zq7", 3000) + " HTTP/1.1\r\nHost: x\r\n\r\n",
		"huge header":         "GET / HTTP/1.1\r\nHost: x\r\nX-Zq7: " + strings.Repeat("a", 40000) + "\r\n\r\n",
		"many headers":        "GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-A: zq7\r\n", 3000) + "\r\n",
		"bad header":          "GET / HTTP/1.1\r\nHost: x\r\nzq7\r\n\r\n",
		"header nul":          "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00zq7\r\n\r\n",
		"invalid chunked":     "POST /api/v1/notes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nzq7\r\n0\r\n\r\n",
		"chunked huge size":   "POST /api/v1/notes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nzq7\r\n",
		"chunked append":      "POST /api/v1/notes/" + id + "/data HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nzq7\r\n0\r\n\r\n",
		"te gzip":             "POST /api/v1/notes HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		"cl and te":           "POST /api/v1/notes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"two cl":              "POST /api/v1/notes HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
		"negative cl":         "POST /api/v1/notes HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
		"huge cl":             "POST /api/v1/notes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99999999999999\r\n\r\n",
		"short body":          "POST /api/v1/notes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"zq7\"",
		// net/http answers this 417 itself, with a Date header, unless served on web.Listener.
		"expect weird":         "POST /api/v1/notes HTTP/1.1\r\nHost: x\r\nExpect: zq7\r\nContent-Length: 2\r\n\r\n{}",
		"create not json":      post("/api/v1/notes", "application/json", "zq7"),
		"create unknown field": post("/api/v1/notes", "application/json", `{"zq7":1}`),
		"create wrong types":   post("/api/v1/notes", "application/json", `{"length":"zq7","ttl":[1],"gate_hash":{}}`),
		"create huge length":   post("/api/v1/notes", "application/json", `{"length":1e300}`),
		"create form":          post("/api/v1/notes", "application/x-www-form-urlencoded", "length=zq7"),
		"create multipart":     post("/api/v1/notes", "multipart/form-data; boundary=zq7", "--zq7--"),
		"create text":          post("/api/v1/notes", "text/plain", "zq7"),
		"create big":           post("/api/v1/notes", "application/json", `{"length":1,"x":"`+strings.Repeat("zq7", 3000)+`"}`),
		"cross origin":         "POST /api/v1/notes HTTP/1.1\r\nHost: x\r\nOrigin: http://zq7.example\r\nSec-Fetch-Site: cross-site\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
		"open malformed id":    post("/api/v1/notes/zq7/open", "application/json", "{}"),
		"open dotdot id":       post("/api/v1/notes/../open", "application/json", "{}"),
		"open bad json":        post("/api/v1/notes/"+id+"/open", "application/json", `{"gate":"zq7","claim":"zq7","offset":-1}`),
		"open bad offset":      post("/api/v1/notes/"+id+"/open", "application/json", `{"gate":"`+strings.Repeat("A", 43)+`","claim":"`+strings.Repeat("A", 43)+`","offset":1e99}`),
		"append no manage":     post("/api/v1/notes/"+id+"/data", "application/octet-stream", "zq7"),
		"append bad offset":    "POST /api/v1/notes/" + id + "/data HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nSealdrop-Manage: zq7\r\nSealdrop-Offset: -zq7\r\nContent-Length: 3\r\n\r\nzq7",
		"append huge":          "POST /api/v1/notes/" + id + "/data HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nSealdrop-Manage: " + strings.Repeat("A", 43) + "\r\nSealdrop-Offset: 0\r\nContent-Length: 9999999999\r\n\r\n",
		"status bad":           post("/api/v1/notes/"+id+"/status", "application/json", `{"manage":"zq7"}`),
		"revoke GET":           "GET /api/v1/notes/" + id + "/revoke HTTP/1.1\r\nHost: x\r\n\r\n",
		"limits POST":          post("/api/v1/limits", "application/json", "{}"),
		"api v2":               "GET /api/v2/zq7 HTTP/1.1\r\nHost: x\r\n\r\n",
		"page unknown":         "GET /zq7 HTTP/1.1\r\nHost: x\r\n\r\n",
		"page HEAD":            "HEAD /n/zq7 HTTP/1.1\r\nHost: x\r\n\r\n",
		"range":                "GET /static/js/protocol.js HTTP/1.1\r\nHost: x\r\nRange: bytes=zq7\r\n\r\n",
		"if-modified-since":    "GET /static/js/protocol.js HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: Mon, 01 Jan 2024 00:00:00 GMT\r\nIf-None-Match: \"zq7\"\r\n\r\n",
		"upgrade":              "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nHTTP2-Settings: zq7\r\n\r\n",
		"websocket":            "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: zq7\r\nSec-WebSocket-Version: 13\r\n\r\n",
		"pipelined":            "GET /zq7 HTTP/1.1\r\nHost: x\r\n\r\nGET /api/v1/zq7 HTTP/1.1\r\nHost: x\r\n\r\nzq7\r\n\r\n",
		"x-forwarded":          "GET /api/v1/limits HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 10.9.8.7\r\nX-Real-IP: 10.9.8.7\r\nForwarded: for=10.9.8.7\r\n\r\n",
	}
	return c
}

// TestNoLeaks (T3): every answer to the corpus, from the release binary on a loopback TCP
// listener (where an address could leak), carries no version, path, IP address, time, stack or
// echo of the request.
func TestNoLeaks(t *testing.T) {
	_, release := binaries(t)
	s := start(t, startOpts{bin: release, tcp: true, args: []string{"--budget", "1M"}})
	answered := 0
	for name, req := range leakCorpus() {
		out := string(s.raw([]byte(req)))
		if out != "" {
			answered++
		}
		for what, re := range leakPatterns {
			if m := re.FindString(out); m != "" {
				assert.Failf(t, "leak", "%s: answer carries %s %q:\n%.600q", name, what, m, out)
			}
		}
	}
	assert.Greater(t, answered, len(leakCorpus())*3/4, "most requests got an answer to check")
	// Control: the patterns do match what they are meant to catch.
	for what, sample := range map[string]string{
		"go version": "Go-http-client/1.1", "file path": "/work/main/x.go:12", "ipv4": "from 127.0.0.1:4321",
		"ipv6": "[::1]:80", "time": "Date: Mon, 02 Jan 2006 15:04:05 GMT", "stack": "goroutine 1 [running]",
		"date header": "\r\nDate: x", "sealdrop ver": "sealdrop/1.0", "echo": "zq7",
	} {
		assert.Regexp(t, leakPatterns[what], sample, what)
	}
}
