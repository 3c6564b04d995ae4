package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/client"
	"github.com/sealdrop/sealdrop/internal/drop"
	"github.com/sealdrop/sealdrop/internal/web"
	"github.com/sealdrop/sealdrop/vault"
)

// dropSite serves the whole site (vault, drops, web) in process over loopback. Its vault is
// 2 MiB: the tests submit only short messages, and TestVerifyStatic keeps two sites alive
// inside an ordinary user's 8 MiB memlock limit.
func dropSite(t *testing.T, wrap func(http.Handler) http.Handler) (string, *client.Client) {
	t.Helper()
	v, err := vault.New(vault.Config{Budget: 2 << 20, MaxTTL: drop.DefaultTTL, SweepEvery: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	ds, err := drop.New(drop.Config{Vault: v})
	require.NoError(t, err)
	h, err := web.New(web.Config{Vault: v, Drops: ds})
	require.NoError(t, err)
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL, srv.Client())
	require.NoError(t, err)
	return srv.URL, c
}

func runCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := run(ctx, args, &out, &errb)
	return out.String() + errb.String(), err
}

// The CLI inbox reads what the Go client submitted, replies, and the source reads the reply.
func TestInboxCommand(t *testing.T) {
	ctx := context.Background()
	_, c := dropSite(t, nil)
	d, err := c.CreateDrop(false)
	require.NoError(t, err)
	dir := t.TempDir()
	linkFile := filepath.Join(dir, "inbox.link")
	require.NoError(t, os.WriteFile(linkFile, []byte(d.InboxLink+"\n"), 0o600))

	photo := []byte("\xff\xd8 a jpeg, say")
	sub, err := c.Submit(ctx, d.DropLink, "meet at noon", []client.File{{Name: "../../etc/photo.jpg", Type: "image/jpeg", Size: int64(len(photo)), R: bytes.NewReader(photo)}}, true)
	require.NoError(t, err)

	// The list shows the visit log: today, 0 read so far.
	today := time.Now().UTC().Format(time.DateOnly)
	out, err := runCmd(t, "inbox", "list", "--link", linkFile)
	require.NoError(t, err)
	require.Contains(t, out, "1 waiting")
	require.Contains(t, out, sub.ID)
	require.Contains(t, out, "Visits to this inbox")
	require.Contains(t, out, "  "+today+"  0 read\n")

	outDir := filepath.Join(dir, "out")
	out, err = runCmd(t, "inbox", "fetch", "--link", linkFile, "--out", outDir)
	require.NoError(t, err, out)
	require.Contains(t, out, "meet at noon")
	got, err := os.ReadFile(filepath.Join(outDir, sub.ID+"-photo.jpg"))
	require.NoError(t, err, "the file is saved under --out with a safe name")
	require.Equal(t, photo, got)
	box := filepath.Join(outDir, sub.ID+".reply")
	require.FileExists(t, box)

	// A second fetch of the same id is gone.
	out, err = runCmd(t, "inbox", "fetch", "--link", linkFile, "--out", outDir, "--id", sub.ID)
	require.ErrorContains(t, err, "gone")

	msg := filepath.Join(dir, "reply.txt")
	require.NoError(t, os.WriteFile(msg, []byte("received, thank you"), 0o600))
	out, err = runCmd(t, "inbox", "reply", "--box", box, "--message", msg)
	require.NoError(t, err, out)
	_, err = runCmd(t, "inbox", "reply", "--box", box, "--message", msg)
	require.ErrorContains(t, err, "gone", "a reply box takes one reply")

	rib, err := c.OpenInbox(sub.ReplyInboxLink)
	require.NoError(t, err)
	rl, err := rib.List(ctx)
	require.NoError(t, err)
	require.Len(t, rl.Pending, 1)
	reply, err := rib.Fetch(ctx, rl.Pending[0].ID)
	require.NoError(t, err)
	require.Equal(t, "received, thank you", reply.Text)

	out, err = runCmd(t, "inbox", "list", "--link", linkFile)
	require.NoError(t, err)
	require.Contains(t, out, "0 waiting")
	require.Contains(t, out, "  "+today+"  1 read\n", "the read shows against the day's visit")

	_, err = runCmd(t, "inbox", "wipe", "--link", linkFile)
	require.ErrorContains(t, err, "--yes")
	out, err = runCmd(t, "inbox", "wipe", "--link", linkFile, "--yes")
	require.NoError(t, err)
	require.Contains(t, out, "wiped 0")
}

// inbox list pages through more than one list answer.
func TestInboxCommandPages(t *testing.T) {
	ctx := context.Background()
	_, c := dropSite(t, nil)
	d, err := c.CreateDrop(false)
	require.NoError(t, err)
	linkFile := filepath.Join(t.TempDir(), "inbox.link")
	require.NoError(t, os.WriteFile(linkFile, []byte(d.InboxLink+"\n"), 0o600))
	const n = drop.ListPage + 3
	ids := make([]string, 0, n)
	for range n {
		sub, err := c.Submit(ctx, d.DropLink, "x", nil, false)
		require.NoError(t, err)
		ids = append(ids, sub.ID)
	}
	out, err := runCmd(t, "inbox", "list", "--link", linkFile)
	require.NoError(t, err)
	require.Contains(t, out, fmt.Sprintf("%d waiting\n", n))
	for _, id := range ids {
		require.Equal(t, 1, strings.Count(out, id), "every submission listed once")
	}
}

func TestInboxCommandRefusals(t *testing.T) {
	_, err := runCmd(t, "inbox", "list")
	require.ErrorContains(t, err, "--link")
	_, err = runCmd(t, "inbox", "list", "--link", "http://x.onion/i/abc#def")
	require.Error(t, err, "a link is not a file name")
	dir := t.TempDir()
	f := filepath.Join(dir, "l")
	require.NoError(t, os.WriteFile(f, []byte("http://abcdefghijklmnop.onion/i/x#y"), 0o600))
	_, err = runCmd(t, "inbox", "list", "--link", f)
	require.ErrorContains(t, err, "--socks", "an onion server is never reached directly")
	_, err = runCmd(t, "inbox", "frobnicate", "--link", f)
	require.ErrorContains(t, err, "unknown action")
}

func TestVerifyStatic(t *testing.T) {
	url, _ := dropSite(t, nil)
	out, err := runCmd(t, "verify-static", url)
	require.NoError(t, err, out)
	require.Contains(t, out, "match this binary")
	require.Contains(t, out, "ok       js/drop-protocol.js")

	// A server that sends a different script is caught.
	evil, _ := dropSite(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/static/js/drop-protocol.js" {
				_, _ = w.Write([]byte("fetch('/steal?' + location.hash)"))
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	out, err = runCmd(t, "verify-static", evil)
	require.Error(t, err)
	require.Contains(t, out, "MISMATCH js/drop-protocol.js")
	_, err = runCmd(t, "verify-static", "http://example.org")
	require.ErrorContains(t, err, "--socks")
}

func TestFeaturedDropsFlag(t *testing.T) {
	dir := t.TempDir()
	_, c := dropSite(t, nil)
	d, err := c.CreateDrop(false)
	require.NoError(t, err)
	good := filepath.Join(dir, "good")
	path := d.DropLink[strings.Index(d.DropLink, "/d/"):]
	require.NoError(t, os.WriteFile(good, []byte("# desks\nNews desk\t"+path+"\n"), 0o644))
	list, err := loadFeatured(good)
	require.NoError(t, err)
	// The front page's link carries the listed name, for the drop page to show.
	named, err := c.ParseDropLink(path)
	require.NoError(t, err)
	named.Name = "News desk"
	require.Equal(t, []web.FeaturedDrop{{Name: "News desk", Link: "/d/" + d.Route + "#" + named.Fragment()}}, list)

	bad := filepath.Join(dir, "bad")
	require.NoError(t, os.WriteFile(bad, []byte("News desk\t"+path+"\nBroken line\n"), 0o644))
	// serve stops before anything starts, naming the line.
	out, err := runCmd(t, "serve", "--listen", "127.0.0.1:0", "--budget", "1M", "--featured-drops", bad)
	require.ErrorContains(t, err, "line 2", out)
}
