//go:build linux

package proof

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/memscan"
)

// TestNoResiduePipelinedPiece (T15, SECURITY.md "Pipelined pieces"): a piece sent while the
// piece before it is still arriving waits on the server with its whole body on its connection,
// unread by the vault (net/http may have buffered the start of it with the headers). Whether
// it then goes on (the piece before it completes) or is refused (that piece is cut: 409
// offset), once the note is opened, or has expired, a scan of the server process's memory
// finds none of the note's canaries: not those of the waiting piece's body either, and those of
// a refused piece not even before a garbage collection. Before the
// wipe the same scan finds what the vault holds (control), and after it a live bystander
// note's canaries (the scan still works).
func TestNoResiduePipelinedPiece(t *testing.T) {
	const size = 3*cipherChunk + 5000 // four pieces of 64 KiB
	prooftest, _ := binaries(t)
	for _, v := range []struct {
		name    string
		goesOn  bool
		expires []string
	}{
		{name: "waited, then went on; opened", goesOn: true},
		{name: "waited, then refused (the piece before cut); expired", expires: []string{"--max-ttl", "2s"}},
	} {
		t.Run(v.name, func(t *testing.T) {
			s := start(t, startOpts{bin: prooftest, args: append([]string{"--budget", "4M"}, v.expires...)})
			pid := s.pid()
			bystander := newCanaryNote(size, false)
			if v.goesOn { // the other variant waits out its TTL: a bystander would expire too
				s.upload(bystander.note, piece)
			}
			n := newCanaryNote(size, false)
			s.withToken(n.note)
			// The first piece, half of it; then the second, whole, behind it.
			first := s.sendUpload(n, 0, piece, piece/2)
			time.Sleep(200 * time.Millisecond) // the first piece is running
			second := s.sendUpload(n, piece, 2*piece, piece)
			time.Sleep(300 * time.Millisecond) // the second waits for the first
			require.NoError(t, second.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
			var one [1]byte
			_, err := second.Read(one[:])
			var ne net.Error
			require.ErrorAs(t, err, &ne, "the second piece waits, unanswered")
			require.True(t, ne.Timeout(), "the second piece waits, unanswered: %v", err)

			var stored int // what the vault holds of the note now
			if v.goesOn {
				_, err := first.Write(n.body[piece/2 : piece])
				require.NoError(t, err)
				st, a := readUploadAnswer(t, first)
				require.Equal(t, http.StatusOK, st, "%v", a)
				st, a = readUploadAnswer(t, second)
				require.Equal(t, http.StatusOK, st, "%v", a)
				require.EqualValues(t, 2*piece, a.Received, "the second piece went on")
				// The rest in one more request, which commits the note.
				rest := s.sendUpload(n, 2*piece, size, size-2*piece)
				st, a = readUploadAnswer(t, rest)
				require.Equal(t, http.StatusOK, st, "%v", a)
				require.True(t, a.Committed, "%v", a)
				n.id = a.ID
				stored = size
			} else {
				first.Close() // the circuit of the first piece dies
				st, a := readUploadAnswer(t, second)
				require.Equal(t, http.StatusConflict, st, "the second piece refused: %v", a)
				require.Equal(t, "offset", a.Error)
				require.Less(t, a.Received, int64(piece), "the first piece broke off")
				stored = int(a.Received)
				// The server closes the refused piece's connection once it wiped net/http's
				// buffers of it; from then on, before any garbage collection, none of that
				// piece's canaries is in the process (it never reached the vault).
				require.NoError(t, second.SetReadDeadline(time.Now().Add(10*time.Second)))
				_, err := io.Copy(io.Discard, second)
				require.NoError(t, err, "closed by the server")
				var names []string
				var needles [][]byte
				for i, o := range n.offsets {
					if o >= piece && o+32 <= 2*piece {
						names, needles = append(names, fmt.Sprint(o)), append(needles, n.canaries[i])
					}
				}
				require.NotEmpty(t, needles)
				hits, _, _ := memscan.ScanPID(t, pid, needles)
				assert.Zero(t, memscan.Total(hits), "the refused piece's canaries (offsets %v) before gc: hits %v", names, hits)
			}
			first.Close()
			second.Close()

			// Control: the canaries the vault holds are in the process before the wipe.
			s.gc()
			hits, scanned, _ := memscan.ScanPID(t, pid, n.canaries)
			for i, o := range n.offsets {
				if o+32 <= stored {
					require.GreaterOrEqual(t, hits[i], 1, "control: canary at %d of what the vault holds (%d bytes scanned)", o, scanned)
				}
			}

			if v.goesOn {
				a := s.openNote(n.note, nil)
				require.Equal(t, http.StatusOK, a.status)
				require.Equal(t, n.body, a.body)
				require.Equal(t, http.StatusNoContent, s.confirm(n.note).status)
			} else {
				time.Sleep(2500 * time.Millisecond) // TTL 2s; the sweeper runs every 500ms
				a := s.mustDo(http.MethodPost, "/api/v1/notes/upload", "application/octet-stream", []byte{0}, headerMap(n.uploadHeader(1)))
				require.Equal(t, http.StatusNotFound, a.status, "expired: %s", a.body)
			}
			s.gc()
			hits, scanned, skipped := memscan.ScanPID(t, pid, n.canaries)
			assert.Zero(t, memscan.Total(hits), "%s: canary hits %v (offsets %v) after the wipe (%d bytes scanned, %d mappings unreadable)",
				v.name, hits, n.offsets, scanned, skipped)
			if bystander.id != "" {
				bh, _, _ := memscan.ScanPID(t, pid, bystander.canaries)
				for i, h := range bh {
					require.GreaterOrEqual(t, h, 1, "the scan still finds the live bystander's canary %d", i)
				}
			}
			t.Logf("%s: %d canaries, %d bytes stored before the wipe, found %d after; %.1f MiB scanned",
				v.name, len(n.canaries), stored, memscan.Total(hits), float64(scanned)/(1<<20))
		})
	}
}

// sendUpload opens a connection and sends n's upload piece [off, end) with sent bytes of its
// body (the rest is the caller's to write).
func (s *server) sendUpload(n *canaryNote, off, end, sent int) net.Conn {
	s.t.Helper()
	c := s.dial()
	s.t.Cleanup(func() { _ = c.Close() })
	head := "POST /api/v1/notes/upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n" +
		n.uploadHeader(off) + fmt.Sprintf("Content-Length: %d\r\n\r\n", end-off)
	_, err := c.Write(append([]byte(head), n.body[off:off+sent]...))
	require.NoError(s.t, err)
	return c
}

// uploadAnswer is an upload's answer, or its refusal.
type uploadAnswer struct {
	ID        string `json:"id"`
	Received  int64  `json:"received"`
	Committed bool   `json:"committed"`
	Error     string `json:"error"`
}

// readUploadAnswer reads the answer on c within 10 s.
func readUploadAnswer(t *testing.T, c net.Conn) (int, uploadAnswer) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	defer res.Body.Close()
	var a uploadAnswer
	require.NoError(t, json.NewDecoder(res.Body).Decode(&a))
	return res.StatusCode, a
}
