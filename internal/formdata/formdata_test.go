package formdata

import (
	"bytes"
	"errors"
	"mime/multipart"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// firefox is a body as Firefox sends the Safest form: a text field and two files, one empty
// (a file input left empty sends a part with an empty filename).
const firefox = "-----------------------------1234\r\n" +
	"Content-Disposition: form-data; name=\"text\"\r\n\r\n" +
	"hello\r\nworld\r\n" +
	"-----------------------------1234\r\n" +
	"Content-Disposition: form-data; name=\"files\"; filename=\"IMG_0001 %22home%22.jpg\"\r\n" +
	"Content-Type: image/jpeg\r\n\r\n" +
	"\xff\xd8\xff\r\n--not-the-boundary\xff\xd9\r\n" +
	"-----------------------------1234\r\n" +
	"Content-Disposition: form-data; name=\"files\"; filename=\"\"\r\n" +
	"Content-Type: application/octet-stream\r\n\r\n" +
	"\r\n" +
	"-----------------------------1234--\r\n"

func TestParseFirefox(t *testing.T) {
	b, err := Boundary("multipart/form-data; boundary=---------------------------1234")
	require.NoError(t, err)
	body := []byte(firefox)
	parts, err := Parse(body, b, DefaultLimits)
	require.NoError(t, err)
	require.Len(t, parts, 3)
	require.Equal(t, Part{Name: "text", Data: []byte("hello\r\nworld")}, parts[0])
	require.Equal(t, "files", parts[1].Name)
	require.True(t, parts[1].IsFile)
	require.Equal(t, "\xff\xd8\xff\r\n--not-the-boundary\xff\xd9", string(parts[1].Data))
	require.Empty(t, parts[2].Data)
	// In place: the parts are slices of the body, not copies.
	parts[0].Data[0] = 'J'
	require.Equal(t, byte('J'), body[bytes.Index(body, []byte("\r\n\r\n"))+4])
	// Data has no room to grow into the rest of the body.
	require.Equal(t, len(parts[0].Data), cap(parts[0].Data))
}

func TestParseMatchesMimeMultipart(t *testing.T) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	require.NoError(t, mw.WriteField("text", "a\r\nb"))
	fw, err := mw.CreateFormFile("files", "x.png")
	require.NoError(t, err)
	_, _ = fw.Write([]byte("\x89PNG\r\n\x1a\n"))
	require.NoError(t, mw.Close())
	b, err := Boundary(mw.FormDataContentType())
	require.NoError(t, err)
	parts, err := Parse(buf.Bytes(), b, DefaultLimits)
	require.NoError(t, err)
	require.Len(t, parts, 2)
	require.Equal(t, "a\r\nb", string(parts[0].Data))
	require.Equal(t, "\x89PNG\r\n\x1a\n", string(parts[1].Data))
}

func TestParseRefuses(t *testing.T) {
	const b = "BB"
	ok := "--BB\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nx\r\n--BB--"
	_, err := Parse([]byte(ok), b, DefaultLimits)
	require.NoError(t, err)
	cases := map[string]string{
		"preamble":          "junk\r\n" + ok,
		"no close":          "--BB\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nx",
		"epilogue":          ok + "\r\nmore",
		"LF only":           "--BB\nContent-Disposition: form-data; name=\"text\"\n\nx\n--BB--",
		"no disposition":    "--BB\r\nContent-Type: text/plain\r\n\r\nx\r\n--BB--",
		"other header":      "--BB\r\nContent-Disposition: form-data; name=\"t\"\r\nX-A: b\r\n\r\nx\r\n--BB--",
		"two dispositions":  "--BB\r\nContent-Disposition: form-data; name=\"t\"\r\nContent-Disposition: form-data; name=\"u\"\r\n\r\nx\r\n--BB--",
		"two types":         "--BB\r\nContent-Disposition: form-data; name=\"t\"\r\nContent-Type: a\r\nContent-Type: b\r\n\r\nx\r\n--BB--",
		"attachment":        "--BB\r\nContent-Disposition: attachment; name=\"t\"\r\n\r\nx\r\n--BB--",
		"no name":           "--BB\r\nContent-Disposition: form-data\r\n\r\nx\r\n--BB--",
		"unquoted":          "--BB\r\nContent-Disposition: form-data; name=t\r\n\r\nx\r\n--BB--",
		"bad name":          "--BB\r\nContent-Disposition: form-data; name=\"t x\"\r\n\r\nx\r\n--BB--",
		"two names":         "--BB\r\nContent-Disposition: form-data; name=\"t\"; name=\"u\"\r\n\r\nx\r\n--BB--",
		"unknown parameter": "--BB\r\nContent-Disposition: form-data; name=\"t\"; size=\"1\"\r\n\r\nx\r\n--BB--",
		"control in header": "--BB\r\nContent-Disposition: form-data; name=\"t\"; filename=\"a\x00\"\r\n\r\nx\r\n--BB--",
		"open quote":        "--BB\r\nContent-Disposition: form-data; name=\"t\r\n\r\nx\r\n--BB--",
		"huge header":       "--BB\r\nContent-Disposition: form-data; name=\"t\"; filename=\"" + strings.Repeat("a", 2000) + "\"\r\n\r\nx\r\n--BB--",
		"too many parts":    strings.Repeat("--BB\r\nContent-Disposition: form-data; name=\"t\"\r\n\r\nx\r\n", 17) + "--BB--",
		"empty":             "",
	}
	for why, body := range cases {
		_, err := Parse([]byte(body), b, DefaultLimits)
		require.ErrorIs(t, err, ErrForm, why)
		// Only the limits' refusals say so (the page then asks for fewer or shorter-named files).
		overLimits := why == "huge header" || why == "too many parts"
		require.Equal(t, overLimits, errors.Is(err, ErrLimits), why)
	}
	for _, ct := range []string{"text/plain; boundary=a", "multipart/form-data", "multipart/form-data; boundary=",
		"multipart/form-data; boundary=a; boundary=b", "multipart/form-data; boundary=" + strings.Repeat("a", 71),
		"multipart/form-data; boundary=\"a \"", "multipart/form-data; boundary=a\x00"} {
		_, err := Boundary(ct)
		require.ErrorIs(t, err, ErrForm, ct)
	}
	q, err := Boundary(`multipart/form-data; boundary="a b"`)
	require.NoError(t, err)
	require.Equal(t, "a b", q)
}

// FuzzParse: no body panics the parser, every part lies inside the body and within the limits.
func FuzzParse(f *testing.F) {
	f.Add([]byte(firefox), "---------------------------1234")
	f.Add([]byte("--BB\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nx\r\n--BB--"), "BB")
	f.Fuzz(func(t *testing.T, body []byte, boundary string) {
		lim := Limits{MaxParts: 4, MaxHeaderBytes: 128, MaxHeaders: 3}
		parts, err := Parse(body, boundary, lim)
		if err != nil {
			return
		}
		require.LessOrEqual(t, len(parts), lim.MaxParts)
		for _, p := range parts {
			require.True(t, validName([]byte(p.Name)))
			if len(p.Data) > 0 {
				// Data is inside body.
				start := bytes.Index(body, p.Data)
				require.GreaterOrEqual(t, start, 0)
				require.NotContains(t, string(p.Data), "\r\n--"+boundary)
			}
		}
	})
}
