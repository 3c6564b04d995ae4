package web

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
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
// fields, keys that match a field only in another case, repeated keys and trailing data
// (SECURITY.md, "JSON bodies"). encoding/json alone would take "Manage" for "manage" and the
// last of two "gate" members, so the keys are checked first, exactly (exactKeys).
func decodeJSON(body io.Reader, contentLength int64, v any) error {
	if contentLength > maxJSON {
		return errBodyLarge
	}
	buf := make([]byte, maxJSON+1)
	n, err := io.ReadFull(body, buf)
	defer clear(buf[:n])
	switch {
	case n > maxJSON:
		return errBodyLarge
	case err != nil && err != io.ErrUnexpectedEOF && err != io.EOF:
		return errBadJSON
	}
	b := buf[:n]
	if !exactKeys(b, fieldsOf(reflect.TypeOf(v))) {
		return errBadJSON
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errBadJSON
	}
	if _, err := dec.Token(); err != io.EOF {
		return errBadJSON
	}
	return nil
}

// exactKeys reports whether b is a JSON object whose members are each named exactly (the
// same bytes once unescaped) as one of fields, each at most once. Only the top level is looked
// at: no request body has a nested object. Anything that does not tokenize is refused here.
func exactKeys(b []byte, fields map[string]bool) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	seen := make(map[string]bool, len(fields))
	for dec.More() {
		t, err := dec.Token()
		k, ok := t.(string)
		if err != nil || !ok || !fields[k] || seen[k] {
			return false
		}
		seen[k] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return false
		}
	}
	t, err := dec.Token()
	return err == nil && t == json.Delim('}')
}

// bodyFields caches fieldsOf per request type.
var bodyFields sync.Map // reflect.Type → map[string]bool

// fieldsOf is the set of JSON member names of the struct t points to, as encoding/json names
// them: the json tag's name, the field's own name without one, embedded structs flattened.
func fieldsOf(t reflect.Type) map[string]bool {
	if f, ok := bodyFields.Load(t); ok {
		return f.(map[string]bool)
	}
	f := map[string]bool{}
	var walk func(reflect.Type)
	walk = func(st reflect.Type) {
		for st.Kind() == reflect.Pointer {
			st = st.Elem()
		}
		if st.Kind() != reflect.Struct {
			return
		}
		for i := 0; i < st.NumField(); i++ {
			sf := st.Field(i)
			tag, hasTag := sf.Tag.Lookup("json")
			name, _, _ := strings.Cut(tag, ",")
			switch {
			case name == "-" && tag == "-":
			case sf.Anonymous && name == "":
				walk(sf.Type)
			case !sf.IsExported():
			case hasTag && name != "":
				f[name] = true
			default:
				f[sf.Name] = true
			}
		}
	}
	walk(t)
	bodyFields.Store(t, f)
	return f
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
