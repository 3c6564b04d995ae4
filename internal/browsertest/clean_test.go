package browsertest

// The media privacy filter (static/js/clean/) in Firefox ESR at Tor Browser's "Safer" level (no
// JIT, no WebAssembly): a JPEG photo, an MP4 video and a Word document picked on the create page
// are cleaned in the page, the report names what was removed, and the time from picking to the
// report gives the speed. By default the files are small (the filter works at Safer); with
// SEALDROP_CLEAN_SPEED=1 they are the README's 20 MiB JPEG, 60 MiB MP4 and 10 MiB DOCX, and the
// speeds are logged (the README records them; tests assert correctness, not speed).

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	mrand "math/rand"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// exifJPEG encodes a w×h picture of noise (hard to compress, so the file is large) and puts an
// EXIF block with a GPS pointer and a planted make after the start marker.
func exifJPEG(t *testing.T, w, h int, seed int64) []byte {
	t.Helper()
	r := mrand.New(mrand.NewSource(seed))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(r.Intn(256))
	}
	for x := 0; x < w; x++ {
		img.Set(x, h/2, color.RGBA{255, 0, 0, 255})
	}
	var b bytes.Buffer
	require.NoError(t, jpeg.Encode(&b, img, &jpeg.Options{Quality: 100}))
	maker := []byte("CanonSecret\x00")
	ifd := []byte{0, 2, 0x01, 0x0f, 0, 2, 0, 0, 0, byte(len(maker)), 0, 0, 0, 38, 0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 50, 0, 0, 0, 0}
	tiff := append([]byte("MM\x00\x2a\x00\x00\x00\x08"), ifd...)
	tiff = append(tiff, maker...)
	tiff = append(tiff, 0, 0, 0, 0, 0, 0)
	seg := append([]byte("Exif\x00\x00"), tiff...)
	app1 := append([]byte{0xff, 0xe1, byte((len(seg) + 2) >> 8), byte(len(seg) + 2)}, seg...)
	out := append([]byte{0xff, 0xd8}, app1...)
	return append(out, b.Bytes()[2:]...)
}

// bigMP4 puts a large second media box between the fixture's media and its movie box (at the
// end), so no chunk offset moves: a valid MP4 of the asked size.
func bigMP4(t *testing.T, size int) []byte {
	t.Helper()
	b, err := os.ReadFile(fixture(t, "gps.mp4"))
	require.NoError(t, err)
	var moovAt int
	for i := 0; i < len(b); {
		n := int(binary.BigEndian.Uint32(b[i:]))
		if string(b[i+4:i+8]) == "moov" {
			moovAt = i
		}
		i += n
	}
	require.Greater(t, moovAt, 0)
	pad := size - len(b)
	if pad < 16 {
		return b
	}
	box := make([]byte, pad)
	binary.BigEndian.PutUint32(box, uint32(pad))
	copy(box[4:], "mdat")
	out := append(append(append([]byte{}, b[:moovAt]...), box...), b[moovAt:]...)
	return out
}

// bigDOCX adds a photo (with its EXIF) and long paragraphs to the fixture's document.
func bigDOCX(t *testing.T, photo []byte, paragraphs int) []byte {
	t.Helper()
	zr, err := zip.OpenReader(fixture(t, "report.docx"))
	require.NoError(t, err)
	defer zr.Close()
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		r, err := f.Open()
		require.NoError(t, err)
		var data bytes.Buffer
		_, err = data.ReadFrom(r)
		require.NoError(t, err)
		_ = r.Close()
		body := data.Bytes()
		if f.Name == "word/document.xml" {
			var more strings.Builder
			for i := 0; i < paragraphs; i++ {
				fmt.Fprintf(&more, `<w:p w:rsidR="00A1B2C3"><w:r><w:t>Paragraph %d of the long report, with enough words to be a real page of text.</w:t></w:r></w:p>`, i)
			}
			body = bytes.Replace(body, []byte("<w:sectPr"), []byte(more.String()+"<w:sectPr"), 1)
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Deflate, Modified: time.Date(2024, 3, 1, 10, 20, 30, 0, time.UTC)})
		require.NoError(t, err)
		_, err = w.Write(body)
		require.NoError(t, err)
	}
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "word/media/photo.jpeg", Method: zip.Store})
	require.NoError(t, err)
	_, err = w.Write(photo)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return out.Bytes()
}

// TestCleanInPage picks each file on the create page at Safer and waits for the report. It
// measures, in the page, from the file input's change event to the report being drawn.
func TestCleanInPage(t *testing.T) {
	full := os.Getenv("SEALDROP_CLEAN_SPEED") == "1"
	levelsUnder(t, []Level{Safer}, func(t *testing.T, l Level) {
		startApp(t)
		tab := pool.Person(t, l)
		dir := t.TempDir()
		jw, jh, mp4, paras := 600, 400, 3<<20, 200
		if full {
			jw, jh, mp4, paras = 3840, 2760, 60<<20, 9000
		}
		photo := exifJPEG(t, jw, jh, 1)
		cases := []struct {
			name string
			data []byte
			want string
		}{
			{"photo.jpg", photo, "GPS location"},
			{"video.mp4", bigMP4(t, mp4), "Location (GPS)"},
			{"report.docx", bigDOCX(t, exifJPEG(t, jw*3/4, jh*3/4, 2), paras), "core properties"},
		}
		for _, c := range cases {
			path := writeFile(t, dir, c.name, c.data)
			ctx := ctxT(t, 6*pageTimeout)
			require.NoError(t, tab.Navigate(ctx, pool.Proxy.Origin()+"/"))
			waitAny(t, tab, pageTimeout, "create")
			// Timing hooks: the change event (capture, before the page's own handler) and the
			// report's list appearing.
			require.NoError(t, tab.CallFunction(ctx, `() => {
				window.__clean = {};
				document.getElementById('files').addEventListener('change', () => { window.__clean.start = performance.now(); }, true);
				new MutationObserver(() => {
					if (document.querySelector('#strip-report ul') && !window.__clean.end) window.__clean.end = performance.now();
				}).observe(document.getElementById('strip-report'), { childList: true, subtree: true });
			}`, nil))
			require.NoError(t, tab.SetFiles(ctx, "#files", []string{path}))
			require.NoError(t, tab.WaitFor(ctx, `window.__clean.end > 0`, 5*pageTimeout), "no report for %s (error %q)", c.name, text(t, tab, "error"))
			var ms float64
			require.NoError(t, tab.CallFunction(ctx, `() => window.__clean.end - window.__clean.start`, &ms))
			report := text(t, tab, "strip-report")
			require.Contains(t, report, c.name)
			require.Contains(t, report, c.want, "the report names what was removed")
			require.NotContains(t, report, "could not be checked")
			if c.name == "photo.jpg" {
				// One click sends it under a neutral name; another brings its own name back.
				require.NoError(t, tab.Click(ctx, "#strip-report button.neutral-name"))
				require.Contains(t, text(t, tab, "strip-report"), "It will be sent as “photo-1.jpg”")
				require.NoError(t, tab.Click(ctx, "#strip-report button.neutral-name"))
				require.Contains(t, text(t, tab, "strip-report"), "Its name is sent too")
			}
			mib := float64(len(c.data)) / (1 << 20)
			t.Logf("clean speed at %s: %s %.1f MiB in %.0f ms = %.1f MiB/s", l, c.name, mib, ms, mib/(ms/1000))
		}
		require.Empty(t, tab.Errors(), "console errors (JavaScript errors, CSP violations)")
	})
}
