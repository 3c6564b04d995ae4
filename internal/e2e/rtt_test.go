package e2e

// Issue 17's "before": seconds per action through the onion on a private Tor network whose
// every link waits a real relay hop's one-way delay (testnet.Options.Delayed), and the same
// actions with the delay off, in one run. Timings are logged as MEASURE lines and never
// asserted; the test asserts that each action did what it should and that the delayed run's
// traffic did cross the delaying proxies.

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/client"
	"github.com/sealdrop/sealdrop/internal/testnet"
)

// defaultHopDelay is the one-way delay per link of the delayed run, of the order of one real
// relay hop; SEALDROP_E2E_HOP_DELAY (a Go duration such as 40ms) changes it.
const defaultHopDelay = 30 * time.Millisecond

// rttRounds is how many times each action is timed per delay.
const rttRounds = 3

func hopDelay(t *testing.T) time.Duration {
	t.Helper()
	s := os.Getenv("SEALDROP_E2E_HOP_DELAY")
	if s == "" {
		return defaultHopDelay
	}
	d, err := time.ParseDuration(s)
	require.NoError(t, err, "SEALDROP_E2E_HOP_DELAY")
	require.True(t, d > 0 && d <= time.Second, "SEALDROP_E2E_HOP_DELAY %v: between 0 and 1s", d)
	return d
}

// counted is one person's client through the visitor tor, counting the HTTP requests it sends
// and the streams it opens (each a SOCKS connection to tor: over the onion, a new stream).
type counted struct {
	tr    http.RoundTripper
	hc    *http.Client
	dial  func(ctx context.Context, network, addr string) (net.Conn, error)
	reqs  atomic.Int64
	dials atomic.Int64
}

func (c *counted) RoundTrip(r *http.Request) (*http.Response, error) {
	c.reqs.Add(1)
	return c.tr.RoundTrip(r)
}

// countedPerson is a person with circuits of their own (the SOCKS user name isolates them).
func countedPerson(t *testing.T, ct *clientTor, who string) *counted {
	t.Helper()
	dial := ct.dialAs(t, who)
	c := &counted{}
	c.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c.dials.Add(1)
		return dial(ctx, network, addr)
	}
	tr := &http.Transport{DialContext: c.dial}
	t.Cleanup(tr.CloseIdleConnections)
	c.tr = tr
	c.hc = &http.Client{Transport: c, Timeout: 3 * time.Minute}
	return c
}

// Unwrap is the transport the counter wraps: the client's chat dials its WebSocket through it
// (its counted dialer), as it would through a bare *http.Transport.
func (c *counted) Unwrap() http.RoundTripper { return c.tr }

// snapshot is what the person had sent and opened so far.
func (c *counted) snapshot() [2]int64 { return [2]int64{c.reqs.Load(), c.dials.Load()} }

// sample is one timed action: how long, and the requests and streams it took.
type sample struct {
	d           time.Duration
	reqs, dials int64
}

func since(start time.Time, before [2]int64, c *counted) sample {
	now := c.snapshot()
	return sample{d: time.Since(start), reqs: now[0] - before[0], dials: now[1] - before[1]}
}

// warm sends one request as the person, so that their circuit to the onion exists before an
// action is timed: the actions are measured after the page has loaded.
func (c *counted) warm(t *testing.T, base string) {
	t.Helper()
	res, err := c.hc.Get(base + "/api/v1/limits")
	// A new SOCKS identity is a new circuit, and a circuit of the small private network now
	// and then fails to build ("general SOCKS server failure"): that is setup, not what is
	// measured, so it is tried again, a few times.
	for try := 1; err != nil && try < 4; try++ {
		time.Sleep(time.Second)
		res, err = c.hc.Get(base + "/api/v1/limits")
	}
	require.NoError(t, err)
	_, err = io.Copy(io.Discard, res.Body) // read to the end, so the connection stays open
	res.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode)
}

func TestActionSecondsOverDelayedOnion(t *testing.T) {
	testnet.RequireOffline(t)
	delay := hopDelay(t)
	dir, err := os.MkdirTemp("", "sealdrop-testnet-delayed-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	n, err := testnet.StartWith(ctx, dir, testnet.Options{Delayed: true})
	cancel()
	require.NoError(t, err, "a private network behind delaying proxies")
	t.Cleanup(func() { _ = n.Close() })
	links, _ := n.HopTraffic()
	require.Positive(t, links, "the shared client reached the relays through their advertised, delayed ORPorts")

	socks := shortDir(t)
	// A budget that takes a 5 MiB note (the notes' share is 3/8 of it).
	args := managedArgs(t, n, t.TempDir(), socks, "--admin-socket", filepath.Join(socks, "admin.sock"), "--budget", "24M")
	visitor := newClientTor(t, n)
	s := startSealdrop(t, args...)
	base := s.onionBase(t)
	waitReachable(t, visitor, base)

	type row struct{ one, create, open, chat, submit, file1, file2, fileOpen []sample }
	file := make([]byte, 5<<20)
	_, err = rand.Read(file)
	require.NoError(t, err)
	rows := map[time.Duration]*row{}
	for _, d := range []time.Duration{0, delay} {
		require.NoError(t, n.SetHopDelay(d))
		_, bytesBefore := n.HopTraffic()
		r := &row{}
		rows[d] = r
		for round := range rttRounds {
			tag := fmt.Sprintf("%v-%d-%d", d, round, time.Now().UnixNano())
			person := countedPerson(t, visitor, "notes-"+tag)
			person.warm(t, base)
			// One request on the connection just opened: what one round trip costs.
			before, start := person.snapshot(), time.Now()
			person.warm(t, base)
			r.one = append(r.one, since(start, before, person))
			c, err := client.New(base, person.hc)
			require.NoError(t, err)
			actx, cancel := context.WithTimeout(t.Context(), 6*time.Minute)

			// A 1 KiB note: create, then open once.
			text := strings.Repeat("n", 1<<10)
			before, start = person.snapshot(), time.Now()
			created, err := c.CreateNote(actx, text, nil, "", "", 0)
			require.NoError(t, err)
			r.create = append(r.create, since(start, before, person))
			before, start = person.snapshot(), time.Now()
			note, err := c.OpenNote(actx, created.NoteURL, "")
			require.NoError(t, err)
			r.open = append(r.open, since(start, before, person))
			require.Equal(t, text, note.Text)
			_, err = c.OpenNote(actx, created.NoteURL, "")
			require.ErrorIs(t, err, client.ErrGone, "a note opens once")

			// A 5 MiB file note, its pieces (1 MiB, max_append) sent one at a time (window 1,
			// as before pipelined pieces) and two on their way at once (window 2, the default),
			// in turn first; each opens once, byte-identical.
			for _, w := range [][]int{{1, 2}, {2, 1}}[round%2] {
				before, start = person.snapshot(), time.Now()
				created, err := c.WithUploadWindow(w).CreateNote(actx, "", []client.File{
					{Name: "f.bin", Type: "application/octet-stream", Size: int64(len(file)), R: bytes.NewReader(file)}}, "", "", 0)
				require.NoError(t, err, "a 5 MiB note, window %d", w)
				if w == 1 {
					r.file1 = append(r.file1, since(start, before, person))
				} else {
					r.file2 = append(r.file2, since(start, before, person))
				}
				before, start = person.snapshot(), time.Now()
				note, err := c.OpenNote(actx, created.NoteURL, "")
				require.NoError(t, err)
				r.fileOpen = append(r.fileOpen, since(start, before, person))
				require.Len(t, note.Files, 1)
				require.True(t, bytes.Equal(file, note.Files[0].Data), "the 5 MiB file byte-identical")
			}

			// A chat: start, join, the first message arrives.
			a := countedPerson(t, visitor, "creator-"+tag)
			b := countedPerson(t, visitor, "joiner-"+tag)
			a.warm(t, base)
			b.warm(t, base)
			ca, err := client.New(base, a.hc)
			require.NoError(t, err)
			cb, err := client.New(base, b.hc)
			require.NoError(t, err)
			before, start = a.snapshot(), time.Now()
			beforeB := b.snapshot()
			chA, err := ca.StartChat(actx, client.ChatOptions{})
			require.NoError(t, err)
			require.NoError(t, chA.Connect(actx))
			chB, err := cb.JoinChat(actx, chA.Link, "")
			require.NoError(t, err)
			require.NoError(t, chB.Connect(actx))
			codeA, err := chA.WaitReady(actx)
			require.NoError(t, err)
			codeB, err := chB.WaitReady(actx)
			require.NoError(t, err)
			require.Equal(t, codeA, codeB, "the same safety code")
			msg := "first " + tag
			require.NoError(t, chA.SendText(actx, msg))
			require.Equal(t, msg, nextChatEvent(t, chB, 2*time.Minute).Text)
			sm := since(start, before, a)
			nowB := b.snapshot()
			sm.reqs += nowB[0] - beforeB[0]
			sm.dials += nowB[1] - beforeB[1]
			r.chat = append(r.chat, sm)
			require.NoError(t, chA.End())
			chA.Close()
			chB.Close()

			// A drop submission without a reply box (the drop itself is made locally).
			journalist := countedPerson(t, visitor, "journalist-"+tag)
			jc, err := client.New(base, journalist.hc)
			require.NoError(t, err)
			drop, err := jc.CreateDrop(false)
			require.NoError(t, err)
			source := countedPerson(t, visitor, "source-"+tag)
			source.warm(t, base)
			sc, err := client.New(base, source.hc)
			require.NoError(t, err)
			before, start = source.snapshot(), time.Now()
			_, err = sc.Submit(actx, drop.DropLink, "a tip "+tag, nil, false)
			require.NoError(t, err)
			r.submit = append(r.submit, since(start, before, source))
			if round == 0 {
				ib, err := jc.OpenInbox(drop.InboxLink)
				require.NoError(t, err)
				l, err := ib.List(actx)
				require.NoError(t, err)
				require.Len(t, l.Pending, 1, "the submission waits in the drop")
				ib.Close()
			}
			cancel()
		}
		_, bytesAfter := n.HopTraffic()
		require.Greater(t, bytesAfter, bytesBefore, "the actions' traffic crossed the delaying proxies (hop delay %v)", d)
	}

	for _, d := range []time.Duration{0, delay} {
		r := rows[d]
		label := "no hop delay"
		if d > 0 {
			label = fmt.Sprintf("hop delay %v one way per link", d)
		}
		for _, a := range []struct {
			name string
			s    []sample
		}{
			{"one request on an open connection (GET /api/v1/limits)", r.one},
			{"create 1 KiB note", r.create},
			{"open it", r.open},
			{"chat start+join+first message", r.chat},
			{"drop submit", r.submit},
			{"create 5 MiB file note, window 1 (one piece at a time)", r.file1},
			{"create 5 MiB file note, window 2 (two pieces on their way)", r.file2},
			{"open a 5 MiB file note", r.fileOpen},
		} {
			ds := make([]time.Duration, len(a.s))
			for i, s := range a.s {
				ds[i] = s.d
			}
			t.Logf("MEASURE %s, %s: %s s (median %.2f s); %d requests, %d new streams",
				label, a.name, secs(ds), median(ds).Seconds(), a.s[0].reqs, a.s[0].dials)
		}
	}
}
