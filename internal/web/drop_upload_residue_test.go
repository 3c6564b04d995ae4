//go:build linux

package web_test

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/memscan"
)

// discard keeps nothing of what passes through it.
type discard struct{ n int }

func (d *discard) Write(p []byte) (int, error) { d.n += len(p); return len(p), nil }

// sendCanaryUpload sends s's upload header and then, of a size-byte body that is zeros with
// the canary at the offsets at, the first upto bytes, in pieces of a small buffer cleared after
// each write: the test never holds the canary whole. The connection is closed after the answer
// when upto is the whole body (it returns the answer), else right after the bytes (a cut).
func sendCanaryUpload(t *testing.T, d *dropSite, s *sub, extra string, c memscan.Canary, at []int, size, upto int) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", d.srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte(d.withToken(s).rawHeader(0, size, extra)))
	require.NoError(t, err)
	var buf [512]byte
	defer clear(buf[:])
	for off := 0; off < upto; off += len(buf) {
		n := min(len(buf), upto-off)
		clear(buf[:n])
		for _, a := range at {
			for i := range memscan.Size {
				if j := a + i - off; j >= 0 && j < n {
					buf[j] = c.At(i)
				}
			}
		}
		if _, err := conn.Write(buf[:n]); err != nil {
			break // a refusal closed the connection: the rest is never read
		}
	}
	clear(buf[:])
	if upto < size {
		time.Sleep(100 * time.Millisecond)
		return nil
	}
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	return res
}

// TestDropUploadNoResidue: a submission sent in one request leaves no copy of its bytes in
// this process (the server's) once it is read and confirmed, once it was cut mid-body and its
// pending entry expired, and when it was refused with a 402 before a byte was stored (the part
// of the body net/http had buffered is wiped with the connection). The control scan finds the
// canaries in the vault before each wipe.
func TestDropUploadNoResidue(t *testing.T) {
	const size = 150000
	at := []int{0, 70000, size - memscan.Size}
	for _, v := range []string{"one request, fetched", "cut mid-body, expired", "priced, refused"} {
		t.Run(v, func(t *testing.T) {
			floor := 0
			if strings.HasPrefix(v, "priced") {
				floor = 8
			}
			d := newDropSite(t, floor)
			k := dropKeys(t, 0)
			s := newSub(t, k, 0)
			s.body = make([]byte, size) // only its length is used: the bytes are the canary's
			c := memscan.NewCanary(t)
			switch v {
			case "one request, fetched":
				res := sendCanaryUpload(t, d, s, "", c, at, size, size)
				require.Equal(t, http.StatusOK, res.StatusCode)
				require.NoError(t, res.Body.Close())
				require.Equal(t, 1, d.submissions())
				settle()
				require.GreaterOrEqual(t, c.Count(t), len(at), "control: the canaries are in the vault")
				ids := d.listed(t, k)
				require.Len(t, ids, 1)
				var sink discard
				d.fetch(t, k, ids[0], &sink)
				require.Equal(t, size, sink.n)
			case "cut mid-body, expired":
				sendCanaryUpload(t, d, s, "", c, at, size, 100000)
				require.Eventually(t, func() bool { return d.v.Stats().Used > 0 }, 5*time.Second, 10*time.Millisecond)
				settle()
				require.GreaterOrEqual(t, c.Count(t), 2, "control: what arrived is in the vault")
				d.clk.Add(d.v.PendingMax() + time.Minute)
				d.v.Sweep()
			case "priced, refused":
				res := sendCanaryUpload(t, d, s, "", c, at, size, size)
				require.Equal(t, http.StatusPaymentRequired, res.StatusCode)
				require.NoError(t, res.Body.Close())
				require.Zero(t, d.v.Stats().Used, "nothing stored")
			}
			d.v.Settle()
			settle()
			require.Zero(t, c.Count(t), "%s: the canary is still in memory at %v", v, c.Where(t))
			require.Equal(t, 0, d.submissions())
		})
	}
}
