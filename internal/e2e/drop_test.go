package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/client"
	"github.com/sealdrop/sealdrop/internal/protocol"
)

// dropPerson is a Go client for base that reaches the onion through ct's SOCKS port. who
// becomes the SOCKS user name, so tor gives each person circuits of their own (a source and
// a journalist never share one, as in life).
func dropPerson(t *testing.T, ct *clientTor, base, who string) *client.Client {
	t.Helper()
	c, err := client.New(base, &http.Client{Transport: ct.transportAs(t, who), Timeout: 3 * time.Minute})
	require.NoError(t, err)
	return c
}

// inboxCLI runs `sealdrop inbox ARGS... --link FILE --socks ADDR` with the link in a 0600
// file: the secret is in neither the argument list nor the environment. It returns stdout and
// asserts a clean exit with nothing on stderr.
func inboxCLI(t *testing.T, ct *clientTor, link string, args ...string) string {
	t.Helper()
	bin, err := buildBinary()
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "inbox-link")
	require.NoError(t, os.WriteFile(file, []byte(link+"\n"), 0o600))
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(append([]string{"inbox"}, args...), "--link", file, "--socks", ct.socks)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	secret := link[strings.Index(link, "#")+1:]
	for _, s := range append(cmd.Args, cmd.Env...) {
		require.NotContains(t, s, secret, "the inbox key is never in argv or the environment")
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "sealdrop inbox %v; stderr: %s", args, stderr.String())
	require.Empty(t, stderr.String(), "no warning: the link file is 0600")
	return stdout.String()
}

// dropTimes holds latency samples of whole Go-client operations through the onion (each is
// several HTTP round trips: submit = limits, pow, create, data, commit; list = challenge,
// list; fetch = challenge, fetch, challenge, confirm).
type dropTimes struct {
	submit, list, fetch []time.Duration
}

func (d *dropTimes) timeSubmit(t *testing.T, c *client.Client, link, text string, files []client.File, reply bool) *client.Submitted {
	t.Helper()
	start := time.Now()
	s, err := c.Submit(t.Context(), link, text, files, reply)
	require.NoError(t, err)
	d.submit = append(d.submit, time.Since(start))
	return s
}

func (d *dropTimes) timeList(t *testing.T, ib *client.Inbox) *client.Listing {
	t.Helper()
	start := time.Now()
	l, err := ib.List(t.Context())
	require.NoError(t, err)
	d.list = append(d.list, time.Since(start))
	return l
}

func (d *dropTimes) timeFetch(t *testing.T, ib *client.Inbox, id string) *client.Received {
	t.Helper()
	start := time.Now()
	r, err := ib.Fetch(t.Context(), id)
	require.NoError(t, err)
	d.fetch = append(d.fetch, time.Since(start))
	return r
}

func pendingIDs(l *client.Listing) []string {
	var ids []string
	for _, p := range l.Pending {
		ids = append(ids, p.ID)
	}
	return ids
}

// TestDropOverOnion is issue 8's onion end-to-end run with Go clients: sealdrop in managed
// mode on the private network; a journalist makes a drop locally, a source submits text and
// a file asking for a reply, the journalist lists (and the `sealdrop inbox list` command
// agrees), fetches once byte-identical (a second fetch is gone) and replies once; the source
// reads the reply once. Then sealdrop restarts with the same key file: the pending
// submission is gone (RAM only), and the drop link from before the restart takes a new
// submission. It reports submit, list and fetch latency through the onion and asserts no
// speed.
func TestDropOverOnion(t *testing.T) {
	n := tn.Get(t)
	args := managedArgs(t, n, t.TempDir(), shortDir(t))
	visitor := newClientTor(t, n)
	s := startSealdrop(t, args...)
	base := s.onionBase(t)
	waitReachable(t, visitor, base)

	journalist := dropPerson(t, visitor, base, "journalist")
	source := dropPerson(t, visitor, base, "source")
	var tm dropTimes

	// The journalist's keys are made here; the server hears of the drop only at the first
	// submission.
	d, err := journalist.CreateDrop(false)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(d.DropLink, base+"/d/"+d.Route+"#"), "the drop link is on the onion: %q", d.DropLink)
	require.True(t, strings.HasPrefix(d.InboxLink, base+"/i/"+d.Route+"#"), "the inbox link is on the onion")

	// Text and a 64 KiB file, with a reply request.
	file := make([]byte, 64<<10)
	_, _ = rand.Read(file)
	text := "documents attached — ünïcode ✓"
	sub := tm.timeSubmit(t, source, d.DropLink, text,
		[]client.File{{Name: "leak.pdf", Type: "application/pdf", Size: int64(len(file)), R: bytes.NewReader(file)}}, true)
	require.NotEmpty(t, sub.ID)
	require.True(t, strings.HasPrefix(sub.ReplyInboxLink, base+"/r/"), "the source gets a reply link (the reply page) on the onion: %q", sub.ReplyInboxLink)

	ib, err := journalist.OpenInbox(d.InboxLink)
	require.NoError(t, err)
	defer ib.Close()
	l := tm.timeList(t, ib)
	require.Equal(t, []string{sub.ID}, pendingIDs(l), "one submission waits")
	require.Equal(t, 0, l.FetchedSinceList, "nothing fetched before the first list")

	// The CLI, the keys only in its own memory, sees the same inbox through the SOCKS port.
	out := inboxCLI(t, visitor, d.InboxLink, "list")
	const today = `\d{4}-\d{2}-\d{2}` // the server's UTC day (not ours: midnight may fall between)
	require.Regexp(t, `\A1 waiting\n`+regexp.QuoteMeta(sub.ID)+`  +0h old  up to \d+ bytes\n\n`+
		`Visits to this inbox [^\n]*\n  `+today+`  0 read\n[^\n]*\n[^\n]*\n`+
		`\(since the server started: 2 lists, 0 read;[^\n]*\)\n\z`, out)

	got := tm.timeFetch(t, ib, sub.ID)
	require.Equal(t, text, got.Text)
	require.Len(t, got.Files, 1)
	require.Equal(t, "leak.pdf", got.Files[0].Name)
	require.Equal(t, "application/pdf", got.Files[0].Type)
	require.True(t, bytes.Equal(file, got.Files[0].Data), "the file arrives byte-identical")
	require.NotNil(t, got.ReplyBox, "the source asked for a reply")
	_, err = ib.Fetch(t.Context(), sub.ID)
	require.ErrorIs(t, err, client.ErrGone, "a second fetch finds nothing")

	// The CLI's visit log now shows the read against today's visit: a journalist who did not
	// read it would know someone else has the inbox link.
	out = inboxCLI(t, visitor, d.InboxLink, "list")
	require.Regexp(t, `\A0 waiting\n\nVisits to this inbox [^\n]*\n  `+today+`  1 read\n[^\n]*\n[^\n]*\n`+
		`\(since the server started: 3 lists, 1 read;`, out)

	require.NoError(t, journalist.Reply(t.Context(), got.ReplyBox, "thank you, received", nil))
	require.ErrorIs(t, journalist.Reply(t.Context(), got.ReplyBox, "again", nil), client.ErrGone, "a reply box takes one")

	rib, err := source.OpenInbox(sub.ReplyInboxLink)
	require.NoError(t, err)
	defer rib.Close()
	rl, err := rib.List(t.Context())
	require.NoError(t, err)
	require.Len(t, rl.Pending, 1, "the reply waits for the source")
	reply, err := rib.Fetch(t.Context(), rl.Pending[0].ID)
	require.NoError(t, err)
	require.Equal(t, "thank you, received", reply.Text)
	require.Nil(t, reply.ReplyBox, "a reply carries no reply box")
	_, err = rib.Fetch(t.Context(), rl.Pending[0].ID)
	require.ErrorIs(t, err, client.ErrGone, "a second read of the reply finds nothing")

	// More samples: small submissions (1 KiB file), lists, fetches.
	small := make([]byte, 1<<10)
	_, _ = rand.Read(small)
	var ids []string
	for i := range 4 {
		sm := tm.timeSubmit(t, source, d.DropLink, fmt.Sprintf("sample %d", i),
			[]client.File{{Name: "s.bin", Type: "application/octet-stream", Size: int64(len(small)), R: bytes.NewReader(small)}}, false)
		require.Empty(t, sm.ReplyInboxLink)
		ids = append(ids, sm.ID)
	}
	for range 3 {
		require.ElementsMatch(t, ids, pendingIDs(tm.timeList(t, ib)))
	}
	for i, id := range ids[:3] {
		r := tm.timeFetch(t, ib, id)
		require.Equal(t, fmt.Sprintf("sample %d", i), r.Text)
		require.True(t, bytes.Equal(small, r.Files[0].Data))
	}
	left := ids[3] // left pending over the restart

	// Restart with the same key file: the same address, the queue gone, the drop link alive.
	s.stop(t)
	visitor2 := newClientTor(t, n)
	s2 := startSealdrop(t, args...)
	require.Equal(t, base, s2.onionBase(t), "the same key file keeps the address")
	waitReachable(t, visitor2, base)
	journalist2 := dropPerson(t, visitor2, base, "journalist")
	source2 := dropPerson(t, visitor2, base, "source")

	ib2, err := journalist2.OpenInbox(d.InboxLink)
	require.NoError(t, err)
	defer ib2.Close()
	l = tm.timeList(t, ib2)
	require.Empty(t, l.Pending, "the submission pending at the restart is gone (RAM only): %s", left)
	_, err = ib2.Fetch(t.Context(), left)
	require.ErrorIs(t, err, client.ErrGone)

	after := tm.timeSubmit(t, source2, d.DropLink, "after the restart", nil, false)
	l = tm.timeList(t, ib2)
	require.Equal(t, []string{after.ID}, pendingIDs(l), "the drop link from before the restart takes a submission")
	got = tm.timeFetch(t, ib2, after.ID)
	require.Equal(t, "after the restart", got.Text)
	require.Empty(t, got.Files)

	// A price, once the server is more than half full, is solved natively by this client: what
	// 16 bits cost here (an attacker's native rate; SECURITY.md compares it with a browser's).
	var pow []time.Duration
	for range 5 {
		tok := make([]byte, protocol.PriceTokenSize)
		_, _ = rand.Read(tok)
		pr := protocol.PriceRequest{Kind: protocol.PriceSubmission, Length: 1024, TTL: time.Hour}
		_, _ = rand.Read(pr.Manage[:])
		start := time.Now()
		_, err := protocol.SolvePrice(t.Context(), tok, pr, 16)
		require.NoError(t, err)
		pow = append(pow, time.Since(start))
	}

	t.Logf("MEASURE drop over the onion: submit %s s (median %.2f; first has a 64 KiB file and a reply box, others 1 KiB or text only)",
		secs(tm.submit), median(tm.submit).Seconds())
	t.Logf("MEASURE drop over the onion: inbox list %s s (median %.2f); fetch (claim+download+confirm) %s s (median %.2f; first 64 KiB)",
		secs(tm.list), median(tm.list).Seconds(), secs(tm.fetch), median(tm.fetch).Seconds())
	t.Logf("MEASURE a 16-bit price in Go (this build): %s ms (median %s)", msList(pow), ms(median(pow)))
	s2.stop(t)
}

func msList(ds []time.Duration) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)))
	}
	return strings.Join(parts, ", ")
}
