package main

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/client"
	"github.com/sealdrop/sealdrop/internal/drop"
	"github.com/sealdrop/sealdrop/internal/web"
	"github.com/sealdrop/sealdrop/vault"
)

// A message sent at Safest (the plain form's POST, no script) is read with `sealdrop inbox`:
// the text, and the photo under its neutral name with no planted detail left.
func TestInboxReadsSafestMessage(t *testing.T) {
	v, err := vault.New(vault.Config{Budget: 2 << 20, MaxTTL: drop.DefaultTTL, SweepEvery: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	ds, err := drop.New(drop.Config{Vault: v})
	require.NoError(t, err)
	h, err := web.New(web.Config{Vault: v, Drops: ds, SafestMaxBody: 128 << 10})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL, srv.Client())
	require.NoError(t, err)
	d, err := c.CreateSafestDrop("Desk")
	require.NoError(t, err)

	photo, err := os.ReadFile("../../static/test/fixtures/gps.jpg")
	require.NoError(t, err)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	require.NoError(t, mw.WriteField("text", "sent at Safest\r\nsecond line"))
	fw, err := mw.CreateFormFile("files", "IMG_2024 at home.jpg")
	require.NoError(t, err)
	_, _ = fw.Write(photo)
	require.NoError(t, mw.Close())
	u, err := url.Parse(d.DropLink)
	require.NoError(t, err)
	res, err := srv.Client().Post(srv.URL+u.RequestURI(), mw.FormDataContentType(), &body)
	require.NoError(t, err)
	_ = res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)

	dir := t.TempDir()
	linkFile := filepath.Join(dir, "inbox.link")
	require.NoError(t, os.WriteFile(linkFile, []byte(d.InboxLink+"\n"), 0o600))
	outDir := filepath.Join(dir, "out")
	out, err := runCmd(t, "inbox", "fetch", "--link", linkFile, "--out", outDir)
	require.NoError(t, err, out)
	require.Contains(t, out, "sent at Safest\nsecond line")
	saved, err := filepath.Glob(filepath.Join(outDir, "*-photo-1.jpg"))
	require.NoError(t, err)
	require.Len(t, saved, 1, "saved under its neutral name: %s", out)
	got, err := os.ReadFile(saved[0])
	require.NoError(t, err)
	for _, p := range []string{"Jane Source", "CanonSecret", "EOS-Leak-5D", "SN123456789", "Hiddenville", "safehouse", "2024:03:01", "IMG_2024"} {
		require.NotContains(t, string(got), p)
	}
	if _, err := exec.LookPath("exiftool"); err == nil {
		x, err := exec.Command("exiftool", "-a", "-G1", "-u", "-ee", saved[0]).Output()
		require.NoError(t, err)
		require.NotContains(t, string(x), "GPS")
		require.NotContains(t, string(x), "Jane Source")
	}
}
