package browsertest

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/hex"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const smokeCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"

// smokeHandler serves testdata/smoke with the app's CSP, plus /echo.
func smokeHandler(t *testing.T) http.Handler {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "smoke", name))
		require.NoError(t, err)
		return b
	}
	files := map[string]struct {
		body []byte
		ct   string
	}{
		"/":          {read("index.html"), "text/html; charset=utf-8"},
		"/csp.html":  {read("csp.html"), "text/html; charset=utf-8"},
		"/smoke.js":  {read("smoke.js"), "text/javascript; charset=utf-8"},
		"/smoke.css": {read("smoke.css"), "text/css; charset=utf-8"},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", smokeCSP)
		w.Header().Set("Cache-Control", "no-store")
		if r.URL.Path == "/echo" && r.Method == http.MethodPost {
			b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write(b)
			return
		}
		f, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", f.ct)
		_, _ = w.Write(f.body)
	})
}

type smokeResults struct {
	Secure bool   `json:"secure"`
	Subtle bool   `json:"subtle"`
	Wasm   string `json:"wasm"`
	Origin string `json:"origin"`
	AESGCM string `json:"aesgcm"`
	HKDF   string `json:"hkdf"`
	PBKDF2 string `json:"pbkdf2"`
	ECDH   bool   `json:"ecdh"`
	Echo   string `json:"echo"`
}

func knownAnswers(t *testing.T) (hkdfHex, pbkdf2Hex string) {
	t.Helper()
	okm, err := hkdf.Key(sha256.New, bytes.Repeat([]byte{0x0b}, 22), nil, "", 42)
	require.NoError(t, err)
	dk, err := pbkdf2.Key(sha256.New, "passwd", []byte("salt"), 1, 64)
	require.NoError(t, err)
	return hex.EncodeToString(okm), hex.EncodeToString(dk)
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestSmokeWebCryptoPerLevel proves the harness itself: the onion origin is a secure context
// with WebCrypto at Standard and Safer, WebAssembly is gone at Safer, and at Safest the
// <noscript> content shows while the module never ran; the DOM is readable at every level.
func TestSmokeWebCryptoPerLevel(t *testing.T) {
	wantHKDF, wantPBKDF2 := knownAnswers(t)
	for _, l := range Levels {
		t.Run(l.String(), func(t *testing.T) {
			pool.Proxy.SetHandler(smokeHandler(t))
			mark := pool.Proxy.Mark()
			start := time.Now()
			tab := pool.Person(t, l)
			ctx := ctxT(t, 60*time.Second)
			require.NoError(t, tab.Navigate(ctx, pool.Proxy.Origin()+"/"))
			if l == Safest {
				vis, err := tab.Visible(ctx, "#noscript")
				require.NoError(t, err)
				assert.True(t, vis, "noscript panel must be rendered at Safest")
				txt, err := tab.Text(ctx, "#noscript")
				require.NoError(t, err)
				assert.Contains(t, txt, "Safer")
				st, err := tab.Text(ctx, "#status")
				require.NoError(t, err)
				assert.Equal(t, "not run", st, "the module must not run at Safest")
				// BiDi evaluation is privileged: it runs even with the page's scripts off, in
				// the sandbox (above) and, synchronously, in the page realm.
				var ran bool
				require.NoError(t, tab.EvalPage(ctx, "document.querySelectorAll('noscript').length === 1", &ran))
				assert.True(t, ran)
			} else {
				require.NoError(t, tab.WaitFor(ctx, `document.getElementById('status').textContent !== 'not run'`, 30*time.Second))
				st, err := tab.Text(ctx, "#status")
				require.NoError(t, err)
				require.Equal(t, "done", st)
				raw, err := tab.Text(ctx, "#results")
				require.NoError(t, err)
				var r smokeResults
				require.NoError(t, decodeInto([]byte(raw), &r))
				assert.True(t, r.Secure, "onion origin must be a secure context")
				assert.True(t, r.Subtle)
				assert.Equal(t, pool.Proxy.Origin(), r.Origin)
				assert.Equal(t, "hello onion", r.AESGCM)
				assert.Equal(t, wantHKDF, r.HKDF)
				assert.Equal(t, wantPBKDF2, r.PBKDF2)
				assert.True(t, r.ECDH)
				assert.Equal(t, "body-marker-1234", r.Echo)
				if l == Safer {
					assert.Equal(t, "undefined", r.Wasm, "WebAssembly must be off at Safer")
				} else {
					assert.Equal(t, "object", r.Wasm)
				}
				var found bool
				for _, rec := range pool.Proxy.RecordsSince(mark) {
					if rec.Method == http.MethodPost && strings.HasSuffix(rec.URL, "/echo") {
						found = bytes.Equal(rec.Body, []byte("body-marker-1234"))
					}
				}
				assert.True(t, found, "the proxy must record request bodies")
			}
			assert.Empty(t, tab.Errors(), "no console errors")
			shot := filepath.Join(t.TempDir(), "smoke.png")
			require.NoError(t, tab.Screenshot(ctx, shot))
			f, err := os.Open(shot)
			require.NoError(t, err)
			defer f.Close()
			img, err := png.Decode(f)
			require.NoError(t, err)
			assert.Greater(t, img.Bounds().Dx(), 100)
			for _, rec := range pool.Proxy.RecordsSince(mark) {
				t.Logf("proxy: %s %s refused=%v", rec.Method, rec.URL, rec.Refused)
			}
			assert.Empty(t, Foreign(pool.Proxy.RecordsSince(mark), pool.Proxy.Host()), "no request may leave the onion origin")
			t.Logf("%s: %v", l, time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestSmokeCSPViolationIsCaptured proves the console capture sees what the scenarios assert
// is absent: a blocked inline script.
func TestSmokeCSPViolationIsCaptured(t *testing.T) {
	pool.Proxy.SetHandler(smokeHandler(t))
	tab := pool.Person(t, Standard)
	ctx := ctxT(t, 60*time.Second)
	require.NoError(t, tab.Navigate(ctx, pool.Proxy.Origin()+"/csp.html"))
	st, err := tab.Text(ctx, "#status")
	require.NoError(t, err)
	assert.Equal(t, "inline script blocked", st)
	require.NoError(t, tab.WaitFor(ctx, "true", time.Second))
	deadline := time.Now().Add(5 * time.Second)
	for len(tab.CSPViolations()) == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	for _, e := range tab.Logs() {
		t.Logf("log: %s", e)
	}
	assert.NotEmpty(t, tab.CSPViolations(), "a CSP violation must reach the console capture")
	assert.NotEmpty(t, tab.Errors())
}
