package protocol

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json from the implementation")

const vectorsPath = "testdata/vectors.json"

// The vector file is read by static/test/protocol.test.js too; its layout is described in
// SECURITY.md ("Test vectors").
type vectors struct {
	About      string       `json:"about"`
	B64        vB64         `json:"b64url"`
	Fragment   vFragments   `json:"fragment"`
	PIN        vPINs        `json:"pin"`
	CheckPINs  []vCheckPINs `json:"check_pins"`
	Keys       []vKeys      `json:"keys"`
	Padme      []vPadme     `json:"padme"`
	Envelopes  []vEnvelope  `json:"envelopes"`
	Tamper     []vTamper    `json:"tamper"`
	Plaintexts []vPlaintext `json:"plaintexts"`
	Accepted   []vAccepted  `json:"plaintext_accepted"`
	BadPlain   []vBadPlain  `json:"plaintext_invalid"`
	Notes      []vNote      `json:"notes"`
}

type vB64Valid struct {
	Hex string `json:"hex"`
	B64 string `json:"b64"`
}

type vB64 struct {
	Valid   []vB64Valid `json:"valid"`
	Invalid []string    `json:"invalid"`
}

type vFragment struct {
	Version   byte   `json:"version"`
	Flags     byte   `json:"flags"`
	SecretHex string `json:"secret_hex"`
	Encoded   string `json:"encoded"`
}

type vFragments struct {
	Valid         []vFragment `json:"valid"`
	Invalid       []vInvalid  `json:"invalid"`
	ManageInvalid []vInvalid  `json:"manage_invalid"`
}

type vInvalid struct {
	Input string `json:"input"`
	Why   string `json:"why"`
}

type vPIN struct {
	Input      string `json:"input"`
	Normalized string `json:"normalized"`
}

type vPINs struct {
	Valid      []vPIN     `json:"valid"`
	Invalid    []vInvalid `json:"invalid"`
	DigitZeros []rune     `json:"digit_zeros"`
}

type vCheckPINs struct {
	PIN  string `json:"pin"`
	DPIN string `json:"dpin"`
	OK   bool   `json:"ok"`
}

type vKeys struct {
	KHex        string `json:"k_hex"`
	PIN         string `json:"pin"`
	PINSaltHex  string `json:"pin_salt_hex"`
	PHex        string `json:"p_hex"`
	GateHex     string `json:"gate_hex"`
	GateHashHex string `json:"gate_hash_hex"`
	OpenHex     string `json:"open_hex"`
	DestructHex string `json:"destruct_hex"`
	PayloadHex  string `json:"payload_hex"`
}

type vPadme struct {
	N      int64 `json:"n"`
	Padded int64 `json:"padded"`
}

type vEnvelope struct {
	Name          string `json:"name"`
	KeyHex        string `json:"key_hex"`
	Kind          byte   `json:"kind"`
	EntryNonceHex string `json:"entry_nonce_hex"`
	PrefixHex     string `json:"prefix_hex"`
	PlaintextLen  int64  `json:"plaintext_len"`
	EnvelopeHex   string `json:"envelope_hex"`
}

type vPart struct {
	Env  *int   `json:"env,omitempty"`
	From int    `json:"from"`
	To   int    `json:"to"`
	Hex  string `json:"hex,omitempty"`
}

type vTamper struct {
	Name   string  `json:"name"`
	KeyHex string  `json:"key_hex"`
	Kind   byte    `json:"kind"`
	Parts  []vPart `json:"parts"`
	Error  string  `json:"error"`
}

type vFile struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	DataHex string `json:"data_hex"`
}

type vPlaintext struct {
	Name         string  `json:"name"`
	Text         string  `json:"text"`
	Files        []vFile `json:"files"`
	Manifest     string  `json:"manifest"`
	PlaintextHex string  `json:"plaintext_hex"`
}

// vAccepted is a plaintext no writer produces that every reader must accept, with this result.
type vAccepted struct {
	Name         string  `json:"name"`
	PlaintextHex string  `json:"plaintext_hex"`
	Text         string  `json:"text"`
	Files        []vFile `json:"files"`
}

type vBadPlain struct {
	Name         string `json:"name"`
	PlaintextHex string `json:"plaintext_hex"`
}

type vTyped struct {
	PIN             string `json:"pin"`
	Opens           bool   `json:"opens"`
	DestructMatches bool   `json:"destruct_matches"`
}

type vNote struct {
	Name            string   `json:"name"`
	KHex            string   `json:"k_hex"`
	MHex            string   `json:"m_hex"`
	PIN             string   `json:"pin"`
	DPIN            string   `json:"dpin"`
	Fragment        string   `json:"fragment"`
	ManageFragment  string   `json:"manage_fragment"`
	GateHashHex     string   `json:"gate_hash_hex"`
	OpenHashHex     string   `json:"open_hash_hex"`
	DestructHashHex string   `json:"destruct_hash_hex"`
	ManageHashHex   string   `json:"manage_hash_hex"`
	EntryNonceHex   string   `json:"entry_nonce_hex"`
	PrefixHex       string   `json:"prefix_hex"`
	EnvelopeHex     string   `json:"envelope_hex"`
	Text            string   `json:"text"`
	Files           []vFile  `json:"files"`
	Typed           []vTyped `json:"typed"`
}

// genPlaintext is the documented generator of envelope vector plaintexts: byte i = i mod 251.
func genPlaintext(n int64) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

func seq(start byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

func hx(b []byte) string { return hex.EncodeToString(b) }

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

func errClass(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrAuth):
		return "auth"
	case errors.Is(err, ErrTruncated):
		return "truncated"
	case errors.Is(err, ErrFormat):
		return "format"
	}
	return "other: " + err.Error()
}

func sealFixed(t *testing.T, key []byte, kind byte, entry, prefix []byte, pt []byte) []byte {
	t.Helper()
	var e [16]byte
	var p [7]byte
	copy(e[:], entry)
	copy(p[:], prefix)
	var out bytes.Buffer
	require.NoError(t, sealWith(&out, key, kind, e, p, bytes.NewReader(pt), int64(len(pt))))
	return out.Bytes()
}

func notePlaintext(t *testing.T, text string, files []vFile) ([]byte, int64) {
	t.Helper()
	in := make([]FileInput, len(files))
	for i, f := range files {
		d := unhex(t, f.DataHex)
		in[i] = FileInput{Name: f.Name, Type: f.Type, Size: int64(len(d)), R: bytes.NewReader(d)}
	}
	r, n, err := PlaintextReader(text, in)
	require.NoError(t, err)
	var b bytes.Buffer
	_, err = b.ReadFrom(r)
	require.NoError(t, err)
	require.EqualValues(t, n, b.Len())
	return b.Bytes(), n
}

// generate builds every vector from fixed inputs with this implementation.
func generate(t *testing.T) *vectors {
	t.Helper()
	v := &vectors{About: "sealdrop protocol v1 test vectors; layout in SECURITY.md, section Test vectors. " +
		"Generated by: go test ./internal/protocol -run TestVectors -update"}

	for _, b := range [][]byte{{}, {0}, {0xff}, {0xfb, 0xff}, {0xfb, 0xff, 0xbf}, []byte("sealdrop"), seq(0, 32)} {
		v.B64.Valid = append(v.B64.Valid, vB64Valid{hx(b), B64Encode(b)})
	}
	v.B64.Invalid = []string{"A", "AA==", "AB", "+w", "/w", "_x", "AAA=", "AA\n", "A A", "AAAAA", "AAé", "AQ=="}

	for _, f := range []Fragment{{1, 0, [32]byte(seq(1, 32))}, {1, FlagPIN, [32]byte(seq(0xe0, 32))}} {
		v.Fragment.Valid = append(v.Fragment.Valid, vFragment{f.Version, f.Flags, hx(f.Secret[:]), f.String()})
	}
	good := Fragment{1, 1, [32]byte(seq(0x40, 32))}.String()
	bad := func(ver, flags byte) string { return Fragment{ver, flags, [32]byte(seq(0x40, 32))}.String() }
	v.Fragment.Invalid = []vInvalid{
		{"", "empty"},
		{"#", "empty"},
		{good[:45], "45 characters"},
		{good + "A", "47 characters"},
		{"##" + good, "two #"},
		{bad(2, 0), "version 2"},
		{bad(0, 0), "version 0"},
		{bad(1, 2), "unknown flag bit"},
		{bad(1, 0x81), "unknown flag bit with PIN"},
		{good[:45] + "+", "standard alphabet"},
		{good[:44] + "A=", "padding"},
		{" " + good[1:], "space"},
	}
	// A manage fragment is a fragment with flags 0: everything above, and the PIN flag.
	v.Fragment.ManageInvalid = append([]vInvalid{
		{good, "PIN flag on a manage link"},
		{"#" + good, "PIN flag on a manage link, with #"},
	}, v.Fragment.Invalid...)

	for _, p := range [][2]string{
		{"123456", "123456"}, {"0000000000", "0000000000"},
		{"١٢٣٤٥٦", "123456"}, {"۱۲۳۴۵۶", "123456"}, {"１２３４５６", "123456"},
		{"१२३४५६७", "1234567"}, {"12३४５٦", "123456"}, {"𝟏𝟐𝟑𝟒𝟓𝟔", "123456"},
		{"\U0001E4F1\U0001E4F2\U0001E4F3\U0001E4F4\U0001E4F5\U0001E4F6", "123456"},     // Nag Mundari, new in 15.0
		{"\U0001FBF9\U0001FBF8\U0001FBF7\U0001FBF0\U0001FBF1\U0001FBF2", "987012"},     // segmented, the last run
		{"\U00011F50\U00011F59\U00011F50\U00011F59\U00011F50\U00011F59", "090909"},     // Kawi, new in 15.0
		{"0\u0660\u06F0\u07C0\u0966\u09E6\U0001D7CE\U0001D7D8\U0001D7F6", "000000000"}, // zeros of several runs
	} {
		v.PIN.Valid = append(v.PIN.Valid, vPIN{p[0], p[1]})
	}
	v.PIN.Invalid = []vInvalid{
		{"", "empty"}, {"12345", "five digits"}, {"١٢٣٤٥", "five digits"}, {"123 456", "space"},
		{"12345a", "letter"}, {"123456 ", "trailing space"}, {"１２３４５６-", "dash"},
		{"½23456", "not a decimal digit (No)"}, {"Ⅻ23456", "letter number (Nl)"}, {"²³⁴⁵⁶⁷", "superscripts (No)"},
		{"\U00011BF1\U00011BF2\U00011BF3\U00011BF4\U00011BF5\U00011BF6", "Sunuwar digits, Unicode 16.0: not in the frozen table"},
		{"\U00010D41\U00010D42\U00010D43\U00010D44\U00010D45\U00010D46", "Garay digits, Unicode 16.0: not in the frozen table"},
		{"\U0001CCF1\U0001CCF2\U0001CCF3\U0001CCF4\U0001CCF5\U0001CCF6", "outlined digits, Unicode 16.0: not in the frozen table"},
		{"\U00016D71\U00016D72\U00016D73\U00016D74\U00016D75\U00016D76", "Kirat Rai digits, Unicode 16.0: not in the frozen table"},
		{"12345\u065f", "the code point after a run of ten"},
		{"12345\u1945", "the code point before a run of ten"},
		{"12345\ufeff", "byte order mark"},
	}
	v.PIN.DigitZeros = digitZeros[:]

	v.CheckPINs = []vCheckPINs{
		{"", "", true}, {"123456", "", true}, {"123456", "654321", true},
		{"", "654321", false}, {"123456", "123456", false}, {"123456", "١٢٣٤٥٦", false},
		{"12345", "", false}, {"123456", "12345", false}, {"abcdef", "", false},
	}

	// Two key vectors: one PBKDF2 in all.
	for _, c := range []struct {
		k   []byte
		pin string
	}{{seq(0x10, 32), ""}, {seq(0x10, 32), "123456"}} {
		kv := vKeys{KHex: hx(c.k), PIN: c.pin, PINSaltHex: hx(PINSalt(c.k)), GateHex: hx(GateToken(c.k))}
		g := Hash(GateToken(c.k))
		kv.GateHashHex = hx(g[:])
		var p []byte
		if c.pin != "" {
			p = StretchPIN(c.k, c.pin)
			kv.PHex, kv.OpenHex, kv.DestructHex = hx(p), hx(OpenToken(c.k, p)), hx(DestructToken(c.k, p))
		}
		kv.PayloadHex = hx(PayloadKey(c.k, p))
		v.Keys = append(v.Keys, kv)
	}

	for _, n := range []int64{0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129,
		255, 256, 257, 1000, 1023, 1024, 1025, 4095, 4096, 4097, 10000, 65535, 65536, 65537, 100000,
		1 << 20, 1<<20 + 1, 25 << 20, 25<<20 + 12345, 1<<30 - 1, 1 << 30, 1<<32 + 1, 1<<40 + 7, 1<<53 - 1} {
		v.Padme = append(v.Padme, vPadme{n, Padme(n)})
	}

	// Envelopes: the plaintext is genPlaintext(plaintext_len).
	for i, c := range []struct {
		name string
		kind byte
		n    int64
	}{
		{"one short chunk, kind 2", KindChatFrame, 100},
		{"exactly one full chunk", KindNote, ChunkSize},
		{"two chunks, short last", KindNote, ChunkSize + 10},
		{"three chunks, short last", KindNote, 2*ChunkSize + 10},
	} {
		key, entry, prefix := seq(byte(0x20+i), 32), seq(byte(0xa0+i), 16), seq(byte(0x70+i), 7)
		env := sealFixed(t, key, c.kind, entry, prefix, genPlaintext(c.n))
		v.Envelopes = append(v.Envelopes, vEnvelope{c.name, hx(key), c.kind, hx(entry), hx(prefix), c.n, hx(env)})
	}
	v.Tamper = tamperCases(t, v.Envelopes)

	files := []vFile{
		{Name: "report <draft>.txt", Type: "text/plain", DataHex: hx([]byte("line one\nline two\n"))},
		{Name: "ملف.bin", Type: "application/octet-stream", DataHex: hx(seq(0xf0, 16))},
	}
	for _, c := range []struct {
		name, text string
		files      []vFile
	}{
		{"empty text, no files", "", nil},
		{"text and two files", "Meet at 6 \"sharp\" & bring <the> files — café ☕ \u2028 \u2029 \x01\t\b\f\x7f \\ / 😀", files},
		{"the most files a note may have: 1000, all empty", "many", make([]vFile, MaxFiles)},
	} {
		pt, _ := notePlaintext(t, c.text, c.files)
		ml := int(pt[0])<<24 | int(pt[1])<<16 | int(pt[2])<<8 | int(pt[3])
		v.Plaintexts = append(v.Plaintexts, vPlaintext{c.name, c.text, c.files, string(pt[4 : 4+ml]), hx(pt)})
	}
	v.Accepted = acceptedPlaintexts(t)
	v.BadPlain = badPlaintexts(t)

	v.Notes = []vNote{
		note(t, "no PIN, text only", seq(0x31, 32), seq(0x51, 32), "", "", "Hello from sealdrop.", nil, nil),
		note(t, "PIN (Arabic-Indic digits) and destruct PIN, two files", seq(0x32, 32), seq(0x52, 32), "٢٤٦٨١٣", "999999",
			"With a PIN.", files, []string{"246813", "999999", "111111"}),
	}
	return v
}

func rng(env, from, to int) vPart { e := env; return vPart{Env: &e, From: from, To: to} }

func tamperCases(t *testing.T, envs []vEnvelope) []vTamper {
	t.Helper()
	h := HeaderSize
	c := sealedChunk
	lens := make([]int, len(envs))
	raw := make([][]byte, len(envs))
	for i, e := range envs {
		raw[i] = unhex(t, e.EnvelopeHex)
		lens[i] = len(raw[i])
	}
	flip := func(env, at int) []vPart {
		return []vPart{rng(env, 0, at), {Hex: hx([]byte{raw[env][at] ^ 0x01})}, rng(env, at+1, lens[env])}
	}
	set := func(env, at int, b byte) []vPart {
		return []vPart{rng(env, 0, at), {Hex: hx([]byte{b})}, rng(env, at+1, lens[env])}
	}
	k := func(env int) string { return envs[env].KeyHex }
	c0, c1 := rng(3, h, h+c), rng(3, h+c, h+2*c)
	hdr3, c2 := rng(3, 0, h), rng(3, h+2*c, lens[3])
	return []vTamper{
		{"flip a ciphertext bit in chunk 0", k(3), 1, flip(3, h+5), "auth"},
		{"flip a tag bit of the last chunk", k(3), 1, flip(3, lens[3]-1), "auth"},
		{"flip an entry nonce bit (associated data)", k(3), 1, flip(3, 2), "auth"},
		{"flip a nonce prefix bit", k(3), 1, flip(3, 20), "auth"},
		{"version 2", k(3), 1, set(3, 0, 2), "format"},
		{"kind byte changed", k(3), 1, set(3, 1, 2), "format"},
		{"opened as another kind", k(0), 1, []vPart{rng(0, 0, lens[0])}, "format"},
		{"wrong key", k(2), 1, []vPart{rng(3, 0, lens[3])}, "auth"},
		{"empty", k(0), 2, []vPart{{Hex: ""}}, "truncated"},
		{"header cut short", k(0), 2, []vPart{rng(0, 0, h-1)}, "truncated"},
		{"header only", k(0), 2, []vPart{rng(0, 0, h)}, "truncated"},
		{"last chunk cut to 16 bytes", k(0), 2, []vPart{rng(0, 0, h+16)}, "truncated"},
		{"last chunk one byte short", k(0), 2, []vPart{rng(0, 0, lens[0]-1)}, "auth"},
		{"last chunk dropped", k(3), 1, []vPart{hdr3, c0, c1}, "truncated"},
		{"last two chunks dropped", k(3), 1, []vPart{hdr3, c0}, "truncated"},
		{"cut in the middle of chunk 1", k(3), 1, []vPart{hdr3, c0, rng(3, h+c, h+c+1000)}, "auth"},
		{"chunks 0 and 1 swapped", k(3), 1, []vPart{hdr3, c1, c0, c2}, "auth"},
		{"chunk 0 replayed as chunk 1", k(3), 1, []vPart{hdr3, c0, c0, c2}, "auth"},
		{"chunk 1 dropped", k(3), 1, []vPart{hdr3, c0, c2}, "auth"},
		{"chunk 0 spliced from another envelope", k(3), 1, []vPart{hdr3, rng(2, h, h+c), c1, c2}, "auth"},
		{"one byte after a full last chunk", k(1), 1, []vPart{rng(1, 0, lens[1]), {Hex: "00"}}, "format"},
		{"17 bytes after a full last chunk", k(1), 1, []vPart{rng(1, 0, lens[1]), {Hex: hx(make([]byte, 17))}}, "format"},
		{"a byte after a short last chunk", k(0), 2, []vPart{rng(0, 0, lens[0]), {Hex: "00"}}, "auth"},
		{"one byte after a full chunk 0", k(3), 1, []vPart{hdr3, c0, {Hex: "00"}}, "truncated"},
		{"last chunk appended twice", k(2), 1, []vPart{rng(2, 0, lens[2]), rng(2, h+c, lens[2])}, "auth"},
	}
}

func assemble(t *testing.T, envs []vEnvelope, parts []vPart) []byte {
	t.Helper()
	var out []byte
	for _, p := range parts {
		if p.Env == nil {
			out = append(out, unhex(t, p.Hex)...)
			continue
		}
		out = append(out, unhex(t, envs[*p.Env].EnvelopeHex)[p.From:p.To]...)
	}
	return out
}

// canonical lays out u32 len ‖ manifest ‖ tail and pads it with zeros to Padmé of that
// length: the only padded length a reader accepts.
func canonical(manifest string, tail ...byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(manifest)))
	b = append(append(b, manifest...), tail...)
	return append(b, make([]byte, Padme(int64(len(b)))-int64(len(b)))...)
}

// acceptedPlaintexts are manifests no writer produces but the browser's JSON.parse reads as
// valid ones, so the Go reader must accept them too (SECURITY.md, "Plaintext").
func acceptedPlaintexts(t *testing.T) []vAccepted {
	t.Helper()
	abc := []vFile{{Name: "a", Type: "b", DataHex: "010203"}}
	mk := func(name, manifest, text string, files []vFile) vAccepted {
		var tail []byte
		for _, f := range files {
			tail = append(tail, unhex(t, f.DataHex)...)
		}
		if files == nil {
			files = []vFile{}
		}
		return vAccepted{name, hx(canonical(manifest, tail...)), text, files}
	}
	file := func(size string) string {
		return `{"v":1,"text":"","files":[{"name":"a","type":"b","size":` + size + `}]}`
	}
	return []vAccepted{
		mk("v written as 1.0", `{"v":1.0,"text":"","files":[]}`, "", nil),
		mk("v written as 1e0", `{"v":1e0,"text":"","files":[]}`, "", nil),
		mk("v written as 0.1E+1", `{"v":0.1E+1,"text":"","files":[]}`, "", nil),
		mk("v written as 1.0000000000000001 (the nearest double is 1)", `{"v":1.0000000000000001,"text":"","files":[]}`, "", nil),
		mk("size written as 3.0", file("3.0"), "", abc),
		mk("size written as 3e0", file("3e0"), "", abc),
		mk("size written as 300e-2", file("300e-2"), "", abc),
		mk("size written as -0 (zero)", file("-0"), "", []vFile{{Name: "a", Type: "b", DataHex: ""}}),
		mk("size written as 1e-400 (underflows to zero)", file("1e-400"), "", []vFile{{Name: "a", Type: "b", DataHex: ""}}),
		mk("whitespace around every token", " {\t\"v\" : 1 ,\n\"text\":\"x\",\r\"files\":[ ] } ", "x", nil),
		mk("keys in another order", `{"files":[],"text":"y","v":1}`, "y", nil),
		mk("escaped surrogate pair", `{"v":1,"text":"\ud83d\ude00","files":[]}`, "😀", nil),
		mk("escaped backslash before a u", `{"v":1,"text":"\\ud800","files":[]}`, `\ud800`, nil),
	}
}

func badPlaintexts(t *testing.T) []vBadPlain {
	t.Helper()
	// Every invalid plaintext below is padded canonically unless padding is what it breaks,
	// so it is refused for the reason its name gives.
	mk := func(manifest string, tail ...byte) string { return hx(canonical(manifest, tail...)) }
	ok := `{"v":1,"text":"hi","files":[{"name":"a","type":"b","size":3}]}`
	okEmpty := `{"v":1,"text":"","files":[]}` // 28 bytes: unpadded 32, a Padmé size
	ok35 := `{"v":1,"text":"abc","files":[]}` // 31 bytes: unpadded 35, Padmé 36
	raw := func(manifest string, tail ...byte) string {
		b := binary.BigEndian.AppendUint32(nil, uint32(len(manifest)))
		return hx(append(append(b, manifest...), tail...))
	}
	okPadded := canonical(ok, 1, 2, 3)
	nonZero := bytes.Clone(okPadded)
	nonZero[len(nonZero)-1] = 1
	many := make([]string, MaxFiles+1)
	for i := range many {
		many[i] = `{"name":"","type":"","size":0}`
	}
	tooMany := `{"v":1,"text":"","files":[` + strings.Join(many, ",") + `]}`
	bom := string([]byte{0xef, 0xbb, 0xbf}) + okEmpty
	return []vBadPlain{
		{"shorter than the length prefix", "000000"},
		{"manifest length overruns", hx([]byte{0, 0, 1, 0, '{', '}'})},
		{"manifest length over 64 MiB", hx(binary.BigEndian.AppendUint32(nil, MaxManifest+1))},
		{"file size overruns", raw(ok, 1, 2)},
		{"non-zero padding", hx(nonZero)},
		{"padding one byte short", raw(ok35)},
		{"padding one byte too long", raw(ok35, 0, 0)},
		{"padding where none is due (unpadded length is a Padmé size)", raw(okEmpty, 0)},
		{"padded to the next Padmé size", raw(okEmpty, make([]byte, int(Padme(33))-32)...)},
		{"not JSON", mk(`{"v":1,`)},
		{"manifest version 2", mk(`{"v":2,"text":"","files":[]}`)},
		{"manifest version 1.5", mk(`{"v":1.5,"text":"","files":[]}`)},
		{"manifest version as a string", mk(`{"v":"1","text":"","files":[]}`)},
		{"unknown field", mk(`{"v":1,"text":"","files":[],"x":1}`)},
		{"missing files", mk(`{"v":1,"text":""}`)},
		{"key in another case", mk(`{"V":1,"text":"","files":[]}`)},
		{"null text", mk(`{"v":1,"text":null,"files":[]}`)},
		{"negative size", mk(`{"v":1,"text":"","files":[{"name":"a","type":"b","size":-1}]}`)},
		{"negative size written as -1.0", mk(`{"v":1,"text":"","files":[{"name":"a","type":"b","size":-1.0}]}`)},
		{"fractional size", mk(`{"v":1,"text":"","files":[{"name":"a","type":"b","size":1.5}]}`, 0, 0)},
		{"size 2^53, not a safe integer", mk(`{"v":1,"text":"","files":[{"name":"a","type":"b","size":9007199254740992}]}`)},
		{"size 2^53+1, read as 2^53", mk(`{"v":1,"text":"","files":[{"name":"a","type":"b","size":9007199254740993}]}`)},
		{"size 1e400, infinite", mk(`{"v":1,"text":"","files":[{"name":"a","type":"b","size":1e400}]}`)},
		{"size as string", mk(`{"v":1,"text":"","files":[{"name":"a","type":"b","size":"1"}]}`, 0)},
		{"size as boolean", mk(`{"v":1,"text":"","files":[{"name":"a","type":"b","size":true}]}`, 0)},
		{"trailing data after manifest JSON", mk(`{"v":1,"text":"","files":[]} {}`)},
		{"manifest is an array", mk(`[]`)},
		{"byte order mark before the manifest", mk(bom)},
		{"invalid UTF-8 in the text", mk(`{"v":1,"text":"` + "\xe2\x82" + `","files":[]}`)},
		{"UTF-8 encoded surrogate in the text", mk(`{"v":1,"text":"` + "\xed\xa0\x80" + `","files":[]}`)},
		{"overlong UTF-8 in the text", mk(`{"v":1,"text":"` + "\xc0\xaf" + `","files":[]}`)},
		{"lone high surrogate escape", mk(`{"v":1,"text":"\ud800","files":[]}`)},
		{"lone low surrogate escape", mk(`{"v":1,"text":"\udc00x","files":[]}`)},
		{"high surrogate escape before a non-surrogate escape", mk(`{"v":1,"text":"\ud800\u0041","files":[]}`)},
		{"lone surrogate escape in a file name", mk(`{"v":1,"text":"","files":[{"name":"\uD800","type":"","size":0}]}`)},
		{"1001 files, one more than allowed", mk(tooMany)},
	}
}

func note(t *testing.T, name string, k, m []byte, pin, dpin, text string, files []vFile, typed []string) vNote {
	t.Helper()
	s := &NoteSecrets{K: [32]byte(k), M: [32]byte(m)}
	var err error
	if pin != "" {
		s.PIN, err = NormalizePIN(pin)
		require.NoError(t, err)
	}
	if dpin != "" {
		s.DPIN, err = NormalizePIN(dpin)
		require.NoError(t, err)
	}
	require.NoError(t, CheckPINs(s.PIN, s.DPIN))
	h := s.Hashes()
	entry, prefix := seq(k[0]+0x40, 16), seq(k[0]+0x60, 7)
	pt, _ := notePlaintext(t, text, files)
	env := sealFixed(t, s.PayloadKey(), KindNote, entry, prefix, pt)
	n := vNote{Name: name, KHex: hx(k), MHex: hx(m), PIN: pin, DPIN: dpin,
		Fragment: s.Fragment().String(), ManageFragment: s.ManageFragment().String(),
		GateHashHex: hx(h.Gate[:]), ManageHashHex: hx(h.Manage[:]),
		EntryNonceHex: hx(entry), PrefixHex: hx(prefix), EnvelopeHex: hx(env), Text: text, Files: files}
	if h.PIN {
		n.OpenHashHex = hx(h.Open[:])
	}
	if dpin != "" { // without a duress PIN the destruct hash is random and has no vector
		n.DestructHashHex = hx(h.Destruct[:])
	}
	for _, p := range typed {
		n.Typed = append(n.Typed, vTyped{PIN: p, Opens: p == s.PIN, DestructMatches: p == s.DPIN})
	}
	if n.Files == nil {
		n.Files = []vFile{}
	}
	return n
}

func TestVectors(t *testing.T) {
	t.Parallel()
	path := filepath.FromSlash(vectorsPath)
	if *update {
		v := generate(t)
		b, err := json.MarshalIndent(v, "", " ")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, append(b, '\n'), 0o644))
		t.Logf("wrote %s (%d bytes)", path, len(b)+1)
	}
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Less(t, len(b), 1<<20, "vector file must stay small")
	var v vectors
	require.NoError(t, json.Unmarshal(b, &v))
	checkVectors(t, &v)
}
