//go:build linux

package proof

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/memscan"
)

// Envelope geometry (SECURITY.md): a 25-byte header, then chunks of 65,536 + 16 bytes.
const (
	envHeader   = 25
	cipherChunk = 65536 + 16
	piece       = 64 << 10 // append size: every append body starts with a canary
)

// canaryNote is a note whose ciphertext carries random 32-byte canaries at its start, at every
// envelope chunk boundary, at the start of every append body and at its end.
type canaryNote struct {
	*note
	canaries [][]byte
	offsets  []int
}

func newCanaryNote(size int, pin bool) *canaryNote {
	n := &canaryNote{note: newNote(size, pin)}
	offs := map[int]bool{0: true, size - 32: true}
	for b := envHeader + cipherChunk; b+32 <= size; b += cipherChunk {
		offs[b-16] = true // straddles the boundary: the tag of one chunk, the start of the next
	}
	for p := piece; p+32 <= size; p += piece {
		offs[p] = true
	}
	var sorted []int
	for o := range offs {
		sorted = append(sorted, o)
	}
	sort.Ints(sorted)
	last := -64
	for _, o := range sorted {
		if o-last < 32 {
			continue
		}
		c := make([]byte, 32)
		_, _ = rand.Read(c)
		copy(n.body[o:], c)
		n.canaries = append(n.canaries, c)
		n.offsets = append(n.offsets, o)
		last = o
	}
	return n
}

// refs are the values that identify a note rather than carry its content: they pass through
// Go strings and maps (the id as a map key and a URL path, the hashes in the entry), so they
// are reported, not asserted.
func (n *canaryNote) refs() (names []string, needles [][]byte) {
	gh, mh := hash(n.gate), hash(n.manage)
	names = []string{"gate hash", "manage hash", "gate token (text)", "manage secret (text)"}
	needles = [][]byte{gh[:], mh[:], []byte(enc(n.gate)), []byte(enc(n.manage))}
	if n.id == "" { // an upload cut before its answer: the test never learnt the id
		return names, needles
	}
	raw, err := b64.DecodeString(n.id)
	if err != nil {
		panic(err)
	}
	return append([]string{"id (text)", "id (16 bytes)"}, names...), append([][]byte{[]byte(n.id), raw}, needles...)
}

// refHits are the id and hash hits, by name, over the whole test run (for the report).
var refHits = map[string][]int{}

// TestNoResidue (T15): after a note is opened and confirmed, expires, is revoked, is destroyed by
// the destruct PIN, is abandoned mid-upload, or an append of it is refused, and after a note
// sent in one request is opened, or is cut mid-body and expires, a scan of the server
// process's readable memory finds none of its ciphertext canaries; the same scan finds every
// one before (control), and still finds a bystander note's canaries after (the scan still works).
func TestNoResidue(t *testing.T) {
	type variant struct {
		name   string
		args   []string
		pin    bool
		upload bool // a committed note (false: the variant uploads itself)
		one    bool // uploaded in one request (the create carries the ciphertext)
		cut    bool // the variant leaves the note half uploaded; it expires
		end    func(t *testing.T, s *server, n *canaryNote)
	}
	const size = 3*cipherChunk + 5000 // four chunks, four appends
	waitExpiry := func(t *testing.T, s *server, n *canaryNote) {
		time.Sleep(2500 * time.Millisecond) // TTL 2s; the sweeper runs every 500ms
		a := s.postJSON("/api/v1/notes/"+n.id+"/status", map[string]any{"manage": enc(n.manage)})
		require.Equal(t, http.StatusNotFound, a.status, "expired: %s", a.body)
	}
	variants := []variant{
		{name: "opened", upload: true, end: func(t *testing.T, s *server, n *canaryNote) {
			a := s.openNote(n.note, nil)
			require.Equal(t, http.StatusOK, a.status)
			require.Equal(t, n.body, a.body)
			require.Equal(t, http.StatusNoContent, s.confirm(n.note).status)
		}},
		{name: "expired", args: []string{"--max-ttl", "2s"}, upload: true, end: waitExpiry},
		{name: "one request, opened", upload: true, one: true, end: func(t *testing.T, s *server, n *canaryNote) {
			a := s.openNote(n.note, nil)
			require.Equal(t, http.StatusOK, a.status)
			require.Equal(t, n.body, a.body)
			require.Equal(t, http.StatusNoContent, s.confirm(n.note).status)
		}},
		{name: "one request cut mid-body", args: []string{"--max-ttl", "2s"}, cut: true, one: true, end: func(t *testing.T, s *server, n *canaryNote) {
			// The create with the whole note declared, a piece and a half of it, then the
			// client vanishes.
			req := "POST /api/v1/notes/upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n" +
				s.withToken(n.note).uploadHeader(0) + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(n.body))
			c := s.dial()
			_, err := c.Write(append([]byte(req), n.body[:piece+piece/2]...))
			require.NoError(t, err)
			time.Sleep(200 * time.Millisecond)
			c.Close()
		}},
		{name: "revoked", upload: true, end: func(t *testing.T, s *server, n *canaryNote) {
			require.Equal(t, http.StatusNoContent, s.revoke(n.note).status)
		}},
		{name: "destruct PIN", pin: true, upload: true, end: func(t *testing.T, s *server, n *canaryNote) {
			a := s.openNote(n.note, &n.destruct)
			require.Equal(t, http.StatusForbidden, a.status, "%s", a.body)
			// The countdown goes on: a later correct PIN is a failure too (the content is gone).
			a = s.openNote(n.note, &n.open)
			require.Equal(t, http.StatusForbidden, a.status, "%s", a.body)
			require.JSONEq(t, `{"error":"wrong_pin","tries_left":3}`, string(a.body))
		}},
		{name: "abandoned mid-upload", args: []string{"--max-ttl", "2s"}, cut: true, end: func(t *testing.T, s *server, n *canaryNote) {
			require.Equal(t, http.StatusCreated, s.create(n.note).status)
			a, err := s.appendData(n.note, 0, n.body[:piece])
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, a.status)
			// Half of the second append, then the client vanishes.
			req := fmt.Sprintf("POST /api/v1/notes/%s/data HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"+
				"Sealdrop-Manage: %s\r\nSealdrop-Offset: %d\r\nContent-Length: %d\r\n\r\n", n.id, enc(n.manage), piece, piece)
			c := s.dial()
			_, err = c.Write(append([]byte(req), n.body[piece:piece+piece/2]...))
			require.NoError(t, err)
			time.Sleep(200 * time.Millisecond)
			c.Close()
			// The control scan of this variant runs now, with the note half uploaded.
		}},
		{name: "refused append", end: func(t *testing.T, s *server, n *canaryNote) {
			require.Equal(t, http.StatusCreated, s.create(n.note).status)
			// Bodies at the wrong offset and under a wrong manage secret are refused unread.
			for _, hdr := range []string{
				fmt.Sprintf("Sealdrop-Manage: %s\r\nSealdrop-Offset: 65536\r\n", enc(n.manage)),
				fmt.Sprintf("Sealdrop-Manage: %s\r\nSealdrop-Offset: 0\r\n", enc(rand32())),
			} {
				req := fmt.Sprintf("POST /api/v1/notes/%s/data HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"+
					"%sContent-Length: %d\r\n\r\n", n.id, hdr, piece)
				out := s.raw(append([]byte(req), n.body[:piece]...))
				require.Regexp(t, regexp.MustCompile(`^HTTP/1.1 (409|404) `), string(out))
			}
		}},
	}
	prooftest, _ := binaries(t)
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			s := start(t, startOpts{bin: prooftest, args: append([]string{"--budget", "4M"}, v.args...)})
			pid := s.pid()
			bystander := newCanaryNote(size, false)
			if v.name != "expired" && !v.cut {
				s.upload(bystander.note, piece)
			}
			n := newCanaryNote(size, v.pin)
			switch {
			case v.upload && v.one:
				s.uploadOne(n.note)
			case v.upload:
				s.upload(n.note, piece)
			case v.cut:
				v.end(t, s, n)
			}
			// Control: the canaries are in the server (in the vault) before the wipe. A
			// refused append never stores anything, so its control is the sent body itself.
			s.gc()
			hits, scanned, _ := memscan.ScanPID(t, pid, n.canaries)
			switch v.name {
			case "refused append":
			case "abandoned mid-upload", "one request cut mid-body":
				// Every canary in the piece and a half that arrived.
				for i, o := range n.offsets {
					if o+32 <= piece+piece/2 {
						require.GreaterOrEqual(t, hits[i], 1, "control: canary at %d of what arrived", o)
					}
				}
			default:
				for i, h := range hits {
					require.GreaterOrEqual(t, h, 1, "control: canary %d of %d not found before the wipe (%d bytes scanned)", i, len(hits), scanned)
				}
			}
			if !v.cut {
				v.end(t, s, n)
			} else if v.one {
				// The cut upload's answer never came, so the test has no id. The upload resumed
				// at an offset the note does not hold (one zero byte at 1) finds the note by its
				// manage secret without storing anything: a 409 naming what it holds while it
				// lives, a 404 once it expired (a resume never makes a note).
				resume := func() *answer {
					return s.mustDo(http.MethodPost, "/api/v1/notes/upload", "application/octet-stream", []byte{0}, headerMap(n.uploadHeader(1)))
				}
				a := resume()
				require.Equal(t, http.StatusConflict, a.status, "pending: %s", a.body)
				require.JSONEq(t, fmt.Sprintf(`{"error":"offset","received":%d}`, piece+piece/2), string(a.body))
				time.Sleep(2500 * time.Millisecond) // TTL 2s; the sweeper runs every 500ms
				a = resume()
				require.Equal(t, http.StatusNotFound, a.status, "expired: %s", a.body)
			} else {
				waitExpiry(t, s, n)
			}
			s.gc()
			hits, scanned, skipped := memscan.ScanPID(t, pid, n.canaries)
			assert.Zero(t, memscan.Total(hits), "%s: canary hits %v after the wipe (%d bytes scanned, %d mappings unreadable)", v.name, hits, scanned, skipped)
			if bystander.id != "" {
				bh, _, _ := memscan.ScanPID(t, pid, bystander.canaries)
				for i, h := range bh {
					require.GreaterOrEqual(t, h, 1, "the scan still finds the live bystander's canary %d", i)
				}
			}
			names, needles := n.refs()
			rh, _, _ := memscan.ScanPID(t, pid, needles)
			var parts []string
			for i, name := range names {
				parts = append(parts, fmt.Sprintf("%s %d", name, rh[i]))
				refHits[v.name] = rh
			}
			t.Logf("%s: %d canaries, 0 expected after the wipe, found %d; %.1f MiB scanned; ids and hashes (reported, not asserted): %s",
				v.name, len(n.canaries), memscan.Total(hits), float64(scanned)/(1<<20), strings.Join(parts, ", "))
		})
	}
}

// TestMemoryPosture (T16): the server turns core dumps off itself (started with an unlimited
// core limit), and its notes are in locked memory (VmLck > 0) while they live.
func TestMemoryPosture(t *testing.T) {
	if _, err := os.Stat("/usr/bin/prlimit"); err != nil {
		t.Skip("prlimit (util-linux) not installed")
	}
	s := start(t, startOpts{wrap: []string{"prlimit", "--core=unlimited", "--"}, args: []string{"--budget", "4M"}})
	pid := s.pid()
	limits, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	require.NoError(t, err)
	core := regexp.MustCompile(`(?m)^Max core file size\s+(\S+)\s+(\S+)`).FindStringSubmatch(string(limits))
	require.NotNil(t, core, "%s", limits)
	assert.Equal(t, []string{"0", "0"}, core[1:], "core file size soft and hard limits")
	n := newCanaryNote(100000, false)
	s.upload(n.note, piece)
	lck := procStatus(t, pid, "VmLck")
	assert.Greater(t, lck, int64(0), "VmLck while a note lives")
	// The budget is locked up front: at least the 4 MiB budget, far more than the note.
	assert.GreaterOrEqual(t, lck, int64(4<<10), "VmLck kB covers the budget")
	t.Logf("VmLck %d kB with a 4 MiB budget; core limit %v", lck, core[1:])
}
