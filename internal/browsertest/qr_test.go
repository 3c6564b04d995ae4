package browsertest

import (
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// requireZbar returns the path of zbarimg (Debian zbar-tools). Like a missing browser, a
// missing zbarimg fails the test when SEALDROP_REQUIRE_OFFLINE_TESTS=1 and skips it otherwise.
func requireZbar(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("zbarimg")
	if err != nil {
		if RequireOffline() {
			t.Fatalf("SEALDROP_REQUIRE_OFFLINE_TESTS=1 but zbarimg is missing (apt-get install zbar-tools): %v", err)
		}
		t.Skipf("skipping: zbarimg is missing (apt-get install zbar-tools): %v", err)
	}
	return p
}

// decodeShownQR captures the page's "#qr svg" as the browser draws it (a screenshot clipped to
// the element) and returns what zbarimg reads from the picture.
func decodeShownQR(t *testing.T, tab *Tab, zbarimg, name string) string {
	t.Helper()
	ctx := ctxT(t, 30*time.Second)
	var box struct{ X, Y, W, H float64 }
	require.NoError(t, tab.CallFunction(ctx, `() => { const e = document.querySelector('#qr svg');
		e.scrollIntoView(); const r = e.getBoundingClientRect();
		return { X: r.left + window.scrollX, Y: r.top + window.scrollY, W: r.width, H: r.height }; }`, &box))
	require.Greater(t, box.W, 100.0, "the QR code is drawn at a readable size")
	require.InDelta(t, box.W, box.H, 1, "the QR code is square")
	var r struct {
		Data string `json:"data"`
	}
	require.NoError(t, tab.Browser().Call(ctx, "browsingContext.captureScreenshot", map[string]any{
		"context": tab.ID, "origin": "document",
		"clip": map[string]any{"type": "box", "x": box.X, "y": box.Y, "width": box.W, "height": box.H},
	}, &r))
	png, err := base64.StdEncoding.DecodeString(r.Data)
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), name+".png")
	require.NoError(t, os.WriteFile(p, png, 0o600))
	out, err := exec.CommandContext(ctx, zbarimg, "--raw", "-q", "-Sbinary", p).Output()
	require.NoError(t, err, "zbarimg finds no QR code in what %s draws", name)
	return string(out)
}

// TestQRCodesDecodeToTheirLinks: the QR code each page draws (the vendored qrcode-generator's
// symbol, drawn by static/js/qr.js as SVG through the DOM, under the strict CSP) decodes, read
// by zbarimg from the browser's own rendering, to exactly the link the page shows: the note
// link, the chat link and the drop link, keys included.
func TestQRCodesDecodeToTheirLinks(t *testing.T) {
	levelsUnder(t, []Level{Safer}, func(t *testing.T, l Level) {
		zbarimg := requireZbar(t)

		startApp(t)
		tab := pool.Person(t, l)
		note := createNote(t, tab, noteInput{text: "QR " + uniq(t)})
		assert.Equal(t, note.link, decodeShownQR(t, tab, zbarimg, "note"))
		assert.Empty(t, tab.Errors(), "no script error or CSP violation on the create page")

		startChatApp(t, nil)
		tab = pool.Person(t, l)
		chat := startChat(t, tab, "", "", false)
		assert.Equal(t, chat.link, decodeShownQR(t, tab, zbarimg, "chat"))
		assert.Empty(t, tab.Errors(), "no script error or CSP violation on the chat page")

		startDropApp(t)
		tab = pool.Person(t, l)
		dropLink, _ := createDrop(t, tab, false)
		assert.Equal(t, dropLink, decodeShownQR(t, tab, zbarimg, "drop"))
		assert.Empty(t, tab.Errors(), "no script error or CSP violation on the drop page")
	})
}
