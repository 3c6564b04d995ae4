package protocol

import (
	"bytes"
	"crypto/ecdh"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var updateDrop = flag.Bool("update-drop", false, "rewrite testdata/drop-vectors.json from the implementation")

const dropVectorsPath = "testdata/drop-vectors.json"

// The layout is described in SECURITY.md ("Drop test vectors"); static/test/drop.test.js
// reads the same file.
type dropVectors struct {
	About        string         `json:"about"`
	Keys         []dvKeys       `json:"keys"`
	DropInvalid  []dvInvalid    `json:"drop_invalid"`
	InboxInvalid []dvInvalid    `json:"inbox_invalid"`
	Seals        []dvSeal       `json:"seals"`
	SealInvalid  []dvSealBad    `json:"seal_invalid"`
	Inbox        []dvInbox      `json:"inbox"`
	PoW          []dvPoW        `json:"pow"`
	PoWInvalid   []dvPoW        `json:"pow_invalid"`
	Zeros        []dvZeroBits   `json:"leading_zero_bits"`
	Routes       []dvRouteCheck `json:"routes"`
}

type dvKeys struct {
	Flags         byte   `json:"flags"`
	EncPrivHex    string `json:"enc_priv_hex"`
	AuthPrivHex   string `json:"auth_priv_hex"`
	EncPubHex     string `json:"enc_pub_hex"`
	AuthPubHex    string `json:"auth_pub_hex"`
	RouteHex      string `json:"route_hex"`
	Route         string `json:"route"`
	DropFragment  string `json:"drop_fragment"`
	InboxFragment string `json:"inbox_fragment"`
}

type dvInvalid struct {
	Input string `json:"input"`
	Why   string `json:"why"`
	// GoOnly: a check WebCrypto cannot make (that a private scalar matches its public key);
	// the browser learns it when the server answers gone to the inbox MAC.
	GoOnly bool `json:"go_only,omitempty"`
}

type dvFile struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	DataHex string `json:"data_hex"`
}

type dvSeal struct {
	Name          string   `json:"name"`
	Key           int      `json:"key"`
	EphPrivHex    string   `json:"eph_priv_hex"`
	EphPubHex     string   `json:"eph_pub_hex"`
	EntryNonceHex string   `json:"entry_nonce_hex"`
	PrefixHex     string   `json:"prefix_hex"`
	Text          string   `json:"text"`
	Files         []dvFile `json:"files"`
	ReplyKey      int      `json:"reply_key"` // index into keys, -1 for none
	SealKeyHex    string   `json:"seal_key_hex"`
	PlaintextHex  string   `json:"plaintext_hex"`
	SubmissionHex string   `json:"submission_hex"`
}

type dvSealBad struct {
	Name          string `json:"name"`
	Key           int    `json:"key"`
	SubmissionHex string `json:"submission_hex"`
	Error         string `json:"error"`
}

type dvInbox struct {
	Key           int    `json:"key"`
	ServerPrivHex string `json:"server_priv_hex"`
	ServerPubHex  string `json:"server_pub_hex"`
	ChallengeHex  string `json:"challenge_hex"`
	Action        byte   `json:"action"`
	IDHex         string `json:"id_hex"`
	ArgHex        string `json:"arg_hex"`
	MessageHex    string `json:"message_hex"`
	MACHex        string `json:"mac_hex"`
}

type dvPoW struct {
	TokenHex string `json:"token_hex"`
	Bits     int    `json:"bits"`
	NonceHex string `json:"nonce_hex"`
	HashHex  string `json:"hash_hex"`
}

type dvZeroBits struct {
	Hex  string `json:"hex"`
	Bits int    `json:"bits"`
}

type dvRouteCheck struct {
	Flags      byte   `json:"flags"`
	AuthPubHex string `json:"auth_pub_hex"`
	Route      string `json:"route"`
}

func unhx(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

// scalar is a fixed, valid P-256 scalar for the vectors.
func dropScalar(t *testing.T, label string) *ecdh.PrivateKey {
	t.Helper()
	for i := byte(0); ; i++ {
		h := sha256.Sum256(append([]byte("sealdrop drop vector "+label), i))
		if k, err := ecdh.P256().NewPrivateKey(h[:]); err == nil {
			return k
		}
	}
}

func fixedBytes(label string, n int) []byte {
	var out []byte
	for i := byte(0); len(out) < n; i++ {
		h := sha256.Sum256(append([]byte("sealdrop drop vector bytes "+label), i))
		out = append(out, h[:]...)
	}
	return out[:n]
}

func sealVector(t *testing.T, name string, d *DropPublic, eph *ecdh.PrivateKey, text string, files []dvFile, reply *DropPublic) ([]byte, []byte, []byte) {
	t.Helper()
	var in []FileInput
	for _, f := range files {
		b := unhx(t, f.DataHex)
		in = append(in, FileInput{Name: f.Name, Type: f.Type, Size: int64(len(b)), R: bytes.NewReader(b)})
	}
	r, n, err := SubmissionPlaintext(text, in, reply)
	require.NoError(t, err)
	pt, err := readAllN(r, n)
	require.NoError(t, err)
	var out bytes.Buffer
	entry := [16]byte(fixedBytes(name+" entry", 16))
	prefix := [7]byte(fixedBytes(name+" prefix", 7))
	require.NoError(t, sealSubmissionWith(&out, d, eph, entry, prefix, bytes.NewReader(pt), n))
	pub, _ := ecdh.P256().NewPublicKey(d.Enc[:])
	z, _ := eph.ECDH(pub)
	return out.Bytes(), pt, dropSealKey(z, d, eph.PublicKey().Bytes())
}

func readAllN(r io.Reader, n int64) ([]byte, error) {
	b := make([]byte, n)
	_, err := io.ReadFull(r, b)
	return b, err
}

func buildDropVectors(t *testing.T) dropVectors {
	t.Helper()
	dv := dropVectors{About: "sealdrop protocol v1 drop and reply vectors; generated by " +
		"`go test ./internal/protocol -run TestDropVectors -update-drop`; layout in SECURITY.md (Drop test vectors)"}
	var keys []*DropKeys
	for i, flags := range []byte{0, DropFlagReply} {
		e, a := dropScalar(t, "enc"+string(rune('0'+i))), dropScalar(t, "auth"+string(rune('0'+i)))
		k, err := DropKeysFromScalars(flags, e.Bytes(), a.Bytes())
		require.NoError(t, err)
		keys = append(keys, k)
		r := k.Route()
		dv.Keys = append(dv.Keys, dvKeys{Flags: flags, EncPrivHex: hx(e.Bytes()), AuthPrivHex: hx(a.Bytes()),
			EncPubHex: hx(k.Enc[:]), AuthPubHex: hx(k.Auth[:]), RouteHex: hx(r[:]), Route: k.RouteID(),
			DropFragment: k.Fragment(), InboxFragment: k.InboxFragment()})
	}
	d0 := keys[0].Fragment()
	raw, _ := B64Decode(d0)
	mut := func(f func(b []byte) []byte) string { c := bytes.Clone(raw); return B64Encode(f(c)) }
	offCurve := mut(func(b []byte) []byte { b[2+64] ^= 1; return b })
	dv.DropInvalid = []dvInvalid{
		{Input: "", Why: "empty"},
		{Input: d0[:175], Why: "short"},
		{Input: d0 + "A", Why: "long"},
		{Input: strings.Replace(d0, d0[:1], "+", 1), Why: "not base64url"},
		{Input: mut(func(b []byte) []byte { b[0] = 2; return b }), Why: "version 2"},
		{Input: mut(func(b []byte) []byte { b[1] = 2; return b }), Why: "unknown flag"},
		{Input: offCurve, Why: "encryption key not on the curve"},
		{Input: mut(func(b []byte) []byte { b[2+65] = 0x02; return b }), Why: "auth key not uncompressed"},
		{Input: mut(func(b []byte) []byte { clear(b[2 : 2+65]); return b }), Why: "encryption key all zero"},
		{Input: keys[0].InboxFragment(), Why: "an inbox fragment is not a drop fragment"},
	}
	i0 := keys[0].InboxFragment()
	iraw, _ := B64Decode(i0)
	imut := func(f func(b []byte) []byte) string { c := bytes.Clone(iraw); return B64Encode(f(c)) }
	dv.InboxInvalid = []dvInvalid{
		{Input: "", Why: "empty"},
		{Input: i0[:261], Why: "short"},
		{Input: d0, Why: "a drop fragment is not an inbox fragment"},
		{Input: imut(func(b []byte) []byte { b[0] = 0; return b }), Why: "version 0"},
		{Input: imut(func(b []byte) []byte { b[1] = 0x80; return b }), Why: "unknown flag"},
		{Input: imut(func(b []byte) []byte { clear(b[2:34]); return b }), Why: "zero scalar"},
		{Input: imut(func(b []byte) []byte { copy(b[2:34], bytes.Repeat([]byte{0xff}, 32)); return b }), Why: "scalar beyond the group order"},
		{Input: imut(func(b []byte) []byte { b[66+64] ^= 1; return b }), Why: "public key not on the curve"},
		{Input: imut(func(b []byte) []byte { copy(b[66:131], keys[1].Enc[:]); return b }), Why: "public key of another scalar", GoOnly: true},
	}

	big := fixedBytes("big file", 70000)
	seals := []struct {
		name  string
		key   int
		text  string
		files []dvFile
		reply int
	}{
		{"text only", 0, "The documents are in the blue folder.", nil, -1},
		{"text, file and reply box", 0, "Please reply — ünïcødé too.", []dvFile{{Name: "scan.jpg", Type: "image/jpeg", DataHex: hx(fixedBytes("jpeg", 300))}}, 1},
		{"two chunks", 0, "", []dvFile{{Name: "big.bin", Type: "application/octet-stream", DataHex: hx(big)}}, -1},
		{"reply to a reply box", 1, "Thank you. We will publish on Monday.", nil, -1},
	}
	for _, s := range seals {
		eph := dropScalar(t, "eph "+s.name)
		var reply *DropPublic
		if s.reply >= 0 {
			reply = keys[s.reply].Public()
		}
		sub, pt, sk := sealVector(t, s.name, keys[s.key].Public(), eph, s.text, s.files, reply)
		files := s.files
		if files == nil {
			files = []dvFile{}
		}
		dv.Seals = append(dv.Seals, dvSeal{Name: s.name, Key: s.key, EphPrivHex: hx(eph.Bytes()), EphPubHex: hx(eph.PublicKey().Bytes()),
			EntryNonceHex: hx(fixedBytes(s.name+" entry", 16)), PrefixHex: hx(fixedBytes(s.name+" prefix", 7)),
			Text: s.text, Files: files, ReplyKey: s.reply, SealKeyHex: hx(sk), PlaintextHex: hx(pt), SubmissionHex: hx(sub)})
	}
	s0 := unhx(t, dv.Seals[0].SubmissionHex)
	badPoint := bytes.Clone(s0)
	badPoint[64] ^= 1
	flipped := bytes.Clone(s0)
	flipped[len(flipped)-1] ^= 1
	// A "reply box" that is an ordinary drop (no reply flag) and one that is not a fragment.
	notReply, _, _ := sealRawVector(t, "not a reply box", keys[0].Public(), ReplyBoxType, []byte(keys[0].Fragment()))
	garbage, _, _ := sealRawVector(t, "garbage reply box", keys[0].Public(), ReplyBoxType, []byte("hello"))
	dv.SealInvalid = []dvSealBad{
		{Name: "opened with the other drop's keys", Key: 1, SubmissionHex: hx(s0), Error: "auth"},
		{Name: "ephemeral key not on the curve", Key: 0, SubmissionHex: hx(badPoint), Error: "format"},
		{Name: "last tag byte flipped", Key: 0, SubmissionHex: hx(flipped), Error: "auth"},
		{Name: "cut inside the ephemeral key", Key: 0, SubmissionHex: hx(s0[:40]), Error: "truncated"},
		{Name: "no envelope", Key: 0, SubmissionHex: hx(s0[:65]), Error: "truncated"},
		{Name: "reply box without the reply flag", Key: 0, SubmissionHex: hx(notReply), Error: "format"},
		{Name: "reply box that is not a fragment", Key: 0, SubmissionHex: hx(garbage), Error: "format"},
	}

	srv := dropScalar(t, "server challenge")
	challenge := fixedBytes("challenge", 32)
	id := [16]byte(fixedBytes("submission id", 16))
	claim := [32]byte(fixedBytes("claim hash", 32))
	for _, c := range []struct {
		key    int
		action byte
		id     [16]byte
		arg    [32]byte
	}{
		{0, DropActionList, [16]byte{}, [32]byte{}},
		{0, DropActionList, id, [32]byte{}}, // a list after a cursor: the cursor in the id slot
		{0, DropActionFetch, id, claim},
		{0, DropActionConfirm, id, claim},
		{0, DropActionWipe, [16]byte{}, [32]byte{}},
		{1, DropActionFetch, id, claim},
	} {
		k := keys[c.key]
		mac, err := k.InboxMAC(challenge, srv.PublicKey().Bytes(), c.action, c.id, c.arg)
		require.NoError(t, err)
		dv.Inbox = append(dv.Inbox, dvInbox{Key: c.key, ServerPrivHex: hx(srv.Bytes()), ServerPubHex: hx(srv.PublicKey().Bytes()),
			ChallengeHex: hx(challenge), Action: c.action, IDHex: hx(c.id[:]), ArgHex: hx(c.arg[:]),
			MessageHex: hx(dropInboxMessage(k.Route(), challenge, srv.PublicKey().Bytes(), c.action, c.id, c.arg)), MACHex: hx(mac)})
	}

	for i, bitsNeed := range []int{0, 1, 4, 8, 12} {
		token := fixedBytes("pow token "+string(rune('a'+i)), 21)
		nonce, err := SolvePoW(t.Context(), token, bitsNeed)
		require.NoError(t, err)
		h := PoWHash(token, nonce[:])
		dv.PoW = append(dv.PoW, dvPoW{TokenHex: hx(token), Bits: bitsNeed, NonceHex: hx(nonce[:]), HashHex: hx(h[:])})
		if bitsNeed > 0 {
			// The same nonce does not meet a difficulty one above what its hash has.
			dv.PoWInvalid = append(dv.PoWInvalid, dvPoW{TokenHex: hx(token), Bits: LeadingZeroBits(h) + 1, NonceHex: hx(nonce[:]), HashHex: hx(h[:])})
		}
	}
	for _, z := range []struct {
		h string
		n int
	}{{"80", 0}, {"40", 1}, {"01", 7}, {"0080", 8}, {"000001", 23}, {strings.Repeat("00", 32), 256}} {
		var h [32]byte
		copy(h[:], unhx(t, z.h))
		dv.Zeros = append(dv.Zeros, dvZeroBits{Hex: hx(h[:]), Bits: z.n})
	}
	for _, k := range keys {
		for _, f := range []byte{0, DropFlagReply} {
			r := DropRoute(f, k.Auth[:])
			dv.Routes = append(dv.Routes, dvRouteCheck{Flags: f, AuthPubHex: hx(k.Auth[:]), Route: B64Encode(r[:])})
		}
	}
	return dv
}

// sealRawVector seals a plaintext whose only file is (type, data), for malformed reply boxes.
func sealRawVector(t *testing.T, name string, d *DropPublic, typ string, data []byte) ([]byte, []byte, []byte) {
	t.Helper()
	r, n, err := PlaintextReader("", []FileInput{{Name: ReplyBoxName, Type: typ, Size: int64(len(data)), R: bytes.NewReader(data)}})
	require.NoError(t, err)
	pt, err := readAllN(r, n)
	require.NoError(t, err)
	var out bytes.Buffer
	eph := dropScalar(t, "eph "+name)
	require.NoError(t, sealSubmissionWith(&out, d, eph, [16]byte(fixedBytes(name, 16)), [7]byte(fixedBytes(name, 7)), bytes.NewReader(pt), n))
	return out.Bytes(), pt, nil
}

func TestDropVectors(t *testing.T) {
	dv := buildDropVectors(t)
	got, err := json.MarshalIndent(dv, "", " ")
	require.NoError(t, err)
	got = append(got, '\n')
	if *updateDrop {
		require.NoError(t, os.WriteFile(dropVectorsPath, got, 0o644))
	}
	want, err := os.ReadFile(dropVectorsPath)
	require.NoError(t, err, "run with -update-drop to create it")
	require.True(t, bytes.Equal(want, got), "drop vectors differ from the implementation; review and run with -update-drop")
}

// TestDropVectorsCheck reads the stored file back through the public API, as the JS test
// does, so a stored vector the implementation no longer agrees with fails here too.
func TestDropVectorsCheck(t *testing.T) {
	raw, err := os.ReadFile(dropVectorsPath)
	require.NoError(t, err)
	var dv dropVectors
	require.NoError(t, json.Unmarshal(raw, &dv))
	var keys []*DropKeys
	for _, k := range dv.Keys {
		dk, err := ParseInboxFragment(k.InboxFragment)
		require.NoError(t, err)
		require.Equal(t, k.EncPubHex, hx(dk.Enc[:]))
		require.Equal(t, k.AuthPubHex, hx(dk.Auth[:]))
		require.Equal(t, k.Route, dk.RouteID())
		pub, err := ParseDropFragment("#" + k.DropFragment)
		require.NoError(t, err)
		require.Equal(t, dk.DropPublic, *pub)
		keys = append(keys, dk)
	}
	for _, c := range dv.DropInvalid {
		_, err := ParseDropFragment(c.Input)
		require.ErrorIs(t, err, ErrDrop, c.Why)
	}
	for _, c := range dv.InboxInvalid {
		_, err := ParseInboxFragment(c.Input)
		require.ErrorIs(t, err, ErrDrop, c.Why)
	}
	for _, s := range dv.Seals {
		sub, err := OpenSubmission(bytes.NewReader(unhx(t, s.SubmissionHex)), keys[s.Key])
		require.NoError(t, err, s.Name)
		require.Equal(t, s.Text, sub.Text)
		require.Len(t, sub.Files, len(s.Files))
		for i, f := range s.Files {
			require.Equal(t, f.Name, sub.Files[i].Name)
			require.Equal(t, f.Type, sub.Files[i].Type)
			require.Equal(t, f.DataHex, hx(sub.Data[i]))
		}
		if s.ReplyKey >= 0 {
			require.NotNil(t, sub.ReplyBox)
			require.Equal(t, keys[s.ReplyKey].DropPublic, *sub.ReplyBox)
		} else {
			require.Nil(t, sub.ReplyBox)
		}
	}
	for _, c := range dv.SealInvalid {
		_, err := OpenSubmission(bytes.NewReader(unhx(t, c.SubmissionHex)), keys[c.Key])
		require.Equal(t, c.Error, errClass(err), c.Name)
	}
	for _, c := range dv.Inbox {
		srv, err := ecdh.P256().NewPrivateKey(unhx(t, c.ServerPrivHex))
		require.NoError(t, err)
		k := keys[c.Key]
		id, arg := [16]byte(unhx(t, c.IDHex)), [32]byte(unhx(t, c.ArgHex))
		mac := unhx(t, c.MACHex)
		require.True(t, VerifyInboxMAC(srv, k.Auth[:], k.Route(), unhx(t, c.ChallengeHex), c.Action, id, arg, mac))
		// Any other action, id, route or challenge fails.
		other := c.Action%4 + 1
		require.False(t, VerifyInboxMAC(srv, k.Auth[:], k.Route(), unhx(t, c.ChallengeHex), other, id, arg, mac))
		id[0] ^= 1
		require.False(t, VerifyInboxMAC(srv, k.Auth[:], k.Route(), unhx(t, c.ChallengeHex), c.Action, id, arg, mac))
		id[0] ^= 1
		ch := unhx(t, c.ChallengeHex)
		ch[31] ^= 1
		require.False(t, VerifyInboxMAC(srv, k.Auth[:], k.Route(), ch, c.Action, id, arg, mac))
		o := keys[1-c.Key]
		require.False(t, VerifyInboxMAC(srv, o.Auth[:], o.Route(), unhx(t, c.ChallengeHex), c.Action, id, arg, mac))
	}
	for _, p := range dv.PoW {
		require.True(t, CheckPoW(unhx(t, p.TokenHex), unhx(t, p.NonceHex), p.Bits))
		h := PoWHash(unhx(t, p.TokenHex), unhx(t, p.NonceHex))
		require.Equal(t, p.HashHex, hx(h[:]))
		// It is the smallest such nonce: every counter below fails.
		n := binary.BigEndian.Uint64(unhx(t, p.NonceHex))
		for i := uint64(0); i < n && i < 4096; i++ {
			var b [8]byte
			binary.BigEndian.PutUint64(b[:], i)
			require.False(t, CheckPoW(unhx(t, p.TokenHex), b[:], p.Bits))
		}
	}
	for _, p := range dv.PoWInvalid {
		require.False(t, CheckPoW(unhx(t, p.TokenHex), unhx(t, p.NonceHex), p.Bits))
	}
	for _, z := range dv.Zeros {
		require.Equal(t, z.Bits, LeadingZeroBits([32]byte(unhx(t, z.Hex))))
	}
	for _, r := range dv.Routes {
		got := DropRoute(r.Flags, unhx(t, r.AuthPubHex))
		require.Equal(t, r.Route, B64Encode(got[:]))
	}
}
