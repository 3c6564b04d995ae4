package web

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// maxJSON caps every JSON request body. The largest (open) is about 250 bytes.
const maxJSON = 4 << 10

var (
	errMediaType = errors.New("web: unsupported content type")
	errBodyLarge = errors.New("web: request body too large")
	errBadJSON   = errors.New("web: malformed JSON body")
	errParam     = errors.New("web: bad parameter")
)

// hasMediaType reports whether the request's Content-Type is exactly want, with at most a
// charset=utf-8 parameter. Anything an HTML form can send is refused.
func hasMediaType(r *http.Request, want string) bool {
	v := r.Header.Values("Content-Type")
	if len(v) != 1 {
		return false
	}
	if v[0] == want { // what every client sends: no need to parse it
		return true
	}
	mt, params, err := mime.ParseMediaType(v[0])
	if err != nil || mt != want {
		return false
	}
	for k, p := range params {
		if k != "charset" || !strings.EqualFold(p, "utf-8") {
			return false
		}
	}
	return true
}

// decodeJSON reads one JSON object of at most maxJSON bytes into v, refusing unknown
// fields and trailing data.
func decodeJSON(body io.Reader, contentLength int64, v any) error {
	if contentLength > maxJSON {
		return errBodyLarge
	}
	lr := &io.LimitedReader{R: body, N: maxJSON + 1}
	dec := json.NewDecoder(lr)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if lr.N <= 0 {
			return errBodyLarge
		}
		return errBadJSON
	}
	if _, err := dec.Token(); err != io.EOF {
		if lr.N <= 0 {
			return errBodyLarge
		}
		return errBadJSON
	}
	return nil
}

// b64 is a base64url value without padding, parsed strictly (SECURITY.md, Encoding).
var b64 = base64.RawURLEncoding.Strict()

// parse32 decodes a 32-byte value. Empty means absent and returns ok=false, err=nil.
func parse32(s string) (v [32]byte, present bool, err error) {
	if s == "" {
		return v, false, nil
	}
	if len(s) != 43 {
		return v, true, errParam
	}
	n, err := b64.Decode(v[:], []byte(s))
	if err != nil || n != 32 {
		return [32]byte{}, true, errParam
	}
	return v, true, nil
}

// need32 is parse32 for a required value.
func need32(s string) ([32]byte, error) {
	v, ok, err := parse32(s)
	if err == nil && !ok {
		err = errParam
	}
	return v, err
}

// parseOffset parses a canonical non-negative decimal (no sign, no leading zeros).
func parseOffset(s string) (int64, error) {
	if s == "" || len(s) > 15 || (len(s) > 1 && s[0] == '0') {
		return 0, errParam
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errParam
		}
	}
	return strconv.ParseInt(s, 10, 64)
}
