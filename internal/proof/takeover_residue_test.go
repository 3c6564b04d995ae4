//go:build linux

package proof

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/memscan"
)

// TestNoResidueRefusedBeforeTakeover: an upload or append refused before its route takes the
// connection from net/http (a Tor2web gateway's X-Tor2web, a cross-origin request, the
// router's 405 and 404, a chunked body to an unknown path, a Host not on the list) leaves none of its body's canaries
// in the server process, before or after a garbage collection, and the connection is closed
// after the answer. Answered through net/http, the body was drained (up to 256 KiB) through its
// pooled bufio.Reader and io.Discard's buffers, where the scan found them.
func TestNoResidueRefusedBeforeTakeover(t *testing.T) {
	const size = 200000 // under net/http's 256 KiB: it would drain all of it
	type variant struct {
		name, status string
		head         func(n *canaryNote) string
		chunked      bool
	}
	upload := func(method, extra string) func(n *canaryNote) string {
		return func(n *canaryNote) string {
			return method + " /api/v1/notes/upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n" + extra + n.uploadHeader(0)
		}
	}
	post := func(path, extra string) func(n *canaryNote) string {
		return func(n *canaryNote) string {
			return "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n" + extra +
				fmt.Sprintf("Sealdrop-Manage: %s\r\nSealdrop-Offset: 0\r\n", enc(n.manage))
		}
	}
	variants := []variant{
		{name: "tor2web upload", status: "403", head: upload("POST", "X-Tor2web: 1\r\n")},
		{name: "cross-site upload", status: "403", head: upload("POST", "Sec-Fetch-Site: cross-site\r\n")},
		{name: "cross-site append", status: "403", head: post("/api/v1/notes/AAAAAAAAAAAAAAAAAAAAAA/data", "Sec-Fetch-Site: cross-site\r\n")},
		{name: "405 upload", status: "405", head: upload("PUT", "")},
		{name: "404 api", status: "404", head: post("/api/v1/notes/upload/x", "")},
		{name: "404 chunked", status: "404", head: post("/nowhere", ""), chunked: true},
		// A Host not on the list (a DNS-rebinding page's name; or a Route A frontend whose
		// onion name the operator did not give with --host): every source's upload there.
		{name: "421 host upload", status: "421", head: func(n *canaryNote) string {
			return strings.Replace(upload("POST", "")(n), "Host: x", "Host: rebound.example", 1)
		}},
		{name: "421 host upload chunked", status: "421", chunked: true, head: func(n *canaryNote) string {
			return strings.Replace(upload("POST", "")(n), "Host: x", "Host: rebound.example", 1)
		}},
	}
	prooftest, _ := binaries(t)
	s := start(t, startOpts{bin: prooftest, args: []string{"--budget", "4M", "--host", "x", "--host", "sealdrop.test"}})
	pid := s.pid()
	bystander := newCanaryNote(size, false)
	s.uploadOne(bystander.note)
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			n := newCanaryNote(size, false)
			head, body := v.head(n), n.body
			if v.chunked {
				head += "Transfer-Encoding: chunked\r\n\r\n"
				body = append(fmt.Appendf(nil, "%x\r\n", len(body)), append(body, "\r\n0\r\n\r\n"...)...)
			} else {
				head += fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body))
			}
			// A second request after the body: net/http, keeping the connection, answered it.
			req := append(append([]byte(head), body...), "GET /api/v1/limits HTTP/1.1\r\nHost: x\r\n\r\n"...)
			c := s.dial()
			defer c.Close()
			go func() { _, _ = c.Write(req) }() // the server stops reading: write while reading the answer
			br := bufio.NewReader(c)
			res, err := http.ReadResponse(br, nil)
			require.NoError(t, err)
			_, _ = io.ReadAll(res.Body)
			require.Equal(t, v.status, strings.Fields(res.Status)[0])
			assert.True(t, res.Close, "answered with Connection: close")
			_, err = http.ReadResponse(br, nil)
			assert.Error(t, err, "the connection is closed after the refusal: no second request served")
			c.Close()

			hits, scanned, _ := memscan.ScanPID(t, pid, n.canaries)
			assert.Zero(t, memscan.Total(hits), "%s: canary hits %v (offsets %v) before gc, %.0f MiB scanned", v.name, hits, n.offsets, float64(scanned)/(1<<20))
			s.gc()
			hits, _, _ = memscan.ScanPID(t, pid, n.canaries)
			assert.Zero(t, memscan.Total(hits), "%s: canary hits %v after gc", v.name, hits)
		})
	}
	// The scan still finds the live bystander's canaries.
	bh, _, _ := memscan.ScanPID(t, pid, bystander.canaries)
	for i, h := range bh {
		require.GreaterOrEqual(t, h, 1, "the scan still finds the live bystander's canary %d", i)
	}
}
