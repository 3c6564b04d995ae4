package browsertest

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/client"
	"github.com/sealdrop/sealdrop/internal/drop"
	"github.com/sealdrop/sealdrop/internal/web"
	"github.com/sealdrop/sealdrop/vault"
)

// TestDropSafestForm is issue 19's Safest scenario in Firefox with javascript.enabled=false:
// a drop made on /drop (at Safer) to accept messages at Safest shows, at Safest, a plain
// form that states the trade; the source types a message, attaches the GPS-tagged JPEG and
// sends; the answer says it was sent; the journalist reads it with the Go client (what
// `sealdrop inbox` runs); no planted value is left in the photo (its bytes, and exiftool when
// installed). The memory scan after the answer is TestSafestScenario's (internal/web): here
// the fake onion proxy in this process holds the request as tor would.
func TestDropSafestForm(t *testing.T) {
	RequireBrowser(t)
	v, err := vault.New(vault.Config{Budget: appBudget})
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	ds, err := drop.New(drop.Config{Vault: v, TTL: 24 * time.Hour})
	require.NoError(t, err)
	h, err := web.New(web.Config{Vault: v, Drops: ds, SafestMaxBody: 256 << 10})
	require.NoError(t, err)
	pool.Proxy.SetHandler(h)
	mark := pool.Proxy.Mark()

	hc := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: pool.Proxy.Addr()})}, Timeout: time.Minute}
	t.Cleanup(hc.CloseIdleConnections)
	c, err := client.New(pool.Proxy.Origin()+"/", hc)
	require.NoError(t, err)
	// The journalist makes the drop on /drop at Safer, ticking "Also accept messages … at Safest".
	journalist := pool.Person(t, Safer)
	ctx := ctxT(t, 6*pageTimeout)
	require.NoError(t, journalist.Navigate(ctx, pool.Proxy.Origin()+"/drop"))
	waitAny(t, journalist, pageTimeout, "make")
	require.NoError(t, journalist.SetValue(ctx, "#drop-name", "Ana at the Daily Ledger"))
	require.NoError(t, journalist.Click(ctx, "#drop-safest"))
	require.NoError(t, journalist.Click(ctx, "#make"))
	require.Equal(t, "result", waitAny(t, journalist, pageTimeout, "result", "error"))
	nd := struct{ DropLink, InboxLink, Route string }{DropLink: value(t, journalist, "drop-link"), InboxLink: value(t, journalist, "inbox-link")}
	u, err := url.Parse(nd.DropLink)
	require.NoError(t, err)
	nd.Route = strings.TrimPrefix(u.Path, "/d/")
	require.Len(t, u.Query().Get("s"), 176, "the link carries the keys for the server")
	d, err := c.ParseDropLink(nd.DropLink)
	require.NoError(t, err, "the Go client takes the page's link")
	require.True(t, d.AcceptsSafest())
	require.Equal(t, "Ana at the Daily Ledger", d.Name)

	safest := pool.Person(t, Safest)
	require.NoError(t, safest.Navigate(ctx, nd.DropLink))
	require.True(t, visible(t, safest, "safest-form"), "the form is shown at Safest")
	assert.False(t, visible(t, safest, "app"), "the script's page stays hidden")
	panel := text(t, safest, "safest")
	assert.Contains(t, panel, "For a moment, the server can read what you send.")
	assert.Contains(t, panel, "At “Safer”, your message and files are encrypted on your own device")
	assert.Contains(t, panel, "this page cannot show who receives your message")
	assert.NotContains(t, panel, "Ana at the Daily Ledger", "the name is in the fragment, which no page reads at Safest")
	screenshot(t, safest, "drop-safest-form")

	msg := "Safest message " + uniq(t)
	require.NoError(t, safest.SetValue(ctx, "#safest-text", msg+"\nsecond line"))
	require.NoError(t, safest.SetFiles(ctx, "#safest-files", []string{fixture(t, "gps.jpg")}))
	require.NoError(t, safest.Click(ctx, "#safest-send"))
	require.Equal(t, "safest-sent", waitAny(t, safest, pageTimeout, "safest-sent", "safest-not-sent"))
	assert.Contains(t, text(t, safest, "safest-sent"), "The server has deleted the copy it worked on.")
	screenshot(t, safest, "drop-safest-sent")

	posts := 0
	for _, r := range pool.Proxy.RecordsSince(mark) {
		assert.NotContains(t, r.URL, "/api/", "no script ran: %s %s", r.Method, r.URL)
		if r.Method == http.MethodPost {
			posts++
			assert.Contains(t, r.URL, "/d/"+nd.Route+"?s=", "the form posts to its own page, query included")
			assert.NotContains(t, r.URL, "#", "never the fragment")
		}
	}
	assert.Equal(t, 1, posts, "one request")
	assert.Empty(t, safest.Errors(), "no console errors or CSP violations")

	ib, err := c.OpenInbox(nd.InboxLink)
	require.NoError(t, err)
	defer ib.Close()
	l, err := ib.ListAll(context.Background())
	require.NoError(t, err)
	require.Len(t, l.Pending, 1)
	got, err := ib.Fetch(context.Background(), l.Pending[0].ID)
	require.NoError(t, err)
	assert.Equal(t, msg+"\nsecond line", got.Text)
	require.Len(t, got.Files, 1)
	photo := got.Files[0]
	assert.Equal(t, "photo-1.jpg", photo.Name)
	for _, p := range []string{"Jane Source", "CanonSecret", "EOS-Leak-5D", "SN123456789", "LeakyCam", "safehouse", "Hiddenville", "secret place", "2024:03:01", "gps.jpg"} {
		assert.NotContains(t, string(photo.Data), p)
	}
	if _, err := exec.LookPath("exiftool"); err == nil {
		p := filepath.Join(t.TempDir(), "photo.jpg")
		require.NoError(t, os.WriteFile(p, photo.Data, 0o600))
		out, err := exec.Command("exiftool", "-a", "-G1", "-u", "-ee", p).Output()
		require.NoError(t, err)
		for _, bad := range []string{"GPS", "Make", "Camera Model", "Jane Source", "Hiddenville"} {
			assert.False(t, strings.Contains(string(out), bad), "exiftool still reads %q", bad)
		}
	}
	assert.Zero(t, v.Stats().Entries[vault.KindSubmission], "read once, deleted")
}
