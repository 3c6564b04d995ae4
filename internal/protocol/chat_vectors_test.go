package protocol

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

var updateChat = flag.Bool("update-chat", false, "rewrite testdata/chat-vectors.json from the implementation")

const chatVectorsPath = "testdata/chat-vectors.json"

// The chat vector file is read by static/test/chat-protocol.test.js too; SECURITY.md
// ("One-time chat", "Chat test vectors") describes it.
type chatVectors struct {
	About      string         `json:"about"`
	MACKeys    []cvMAC        `json:"mac_keys"`
	Handshakes []cvHandshake  `json:"handshakes"`
	Tamper     []cvTamper     `json:"tamper"`
	Failures   []cvFailure    `json:"handshake_failures"`
	Messages   []cvMessage    `json:"messages"`
	BadMsgs    []cvBadMessage `json:"messages_invalid"`
}

type cvMAC struct {
	KHex  string `json:"k_hex"`
	PIN   string `json:"pin"`
	PHex  string `json:"p_hex"`
	KmHex string `json:"km_hex"`
}

type cvSide struct {
	PrivHex   string `json:"priv_hex"`
	RandomHex string `json:"random_hex"`
	ResumeHex string `json:"resume_hex"`
	LastEpoch uint32 `json:"last_epoch"`
}

type cvRecord struct {
	From         byte   `json:"from"`
	Seq          uint64 `json:"seq"`
	Type         byte   `json:"type"`
	BodyHex      string `json:"body_hex"`
	PlaintextHex string `json:"plaintext_hex"`
	RecordHex    string `json:"record_hex"`
}

type cvHandshake struct {
	Name            string     `json:"name"`
	IDHex           string     `json:"id_hex"`
	KmHex           string     `json:"km_hex"`
	Creator         cvSide     `json:"creator"`
	Joiner          cvSide     `json:"joiner"`
	HelloCreatorHex string     `json:"hello_creator_hex"`
	HelloJoinerHex  string     `json:"hello_joiner_hex"`
	Epoch           uint32     `json:"epoch"`
	ConfCreatorHex  string     `json:"confirm_creator_hex"`
	ConfJoinerHex   string     `json:"confirm_joiner_hex"`
	ResumeHex       string     `json:"resume_out_hex"`
	SafetyCode      string     `json:"safety_code"`
	Records         []cvRecord `json:"records"`
}

type cvTamper struct {
	Name      string   `json:"name"`
	HS        int      `json:"hs"`
	Receiver  byte     `json:"receiver"`
	RecordHex []string `json:"records_hex"`
	Results   []string `json:"results"`
}

type cvFailure struct {
	Name          string `json:"name"`
	HS            int    `json:"hs"`
	Side          byte   `json:"side"`
	PeerHelloHex  string `json:"peer_hello_hex"`
	PeerConfHex   string `json:"peer_confirm_hex"`
	Error         string `json:"error"`
	ResumeMissing bool   `json:"resume_missing"`
}

type cvMessage struct {
	Type         byte   `json:"type"`
	BodyHex      string `json:"body_hex"`
	PlaintextHex string `json:"plaintext_hex"`
}

type cvBadMessage struct {
	Name         string `json:"name"`
	PlaintextHex string `json:"plaintext_hex"`
}

func chatUnhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

func seqBytes(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)*7 + seed
	}
	return b
}

// chatErrClass names an error the way the browser module's error.code does.
func chatErrClass(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrChatReplay):
		return "replay"
	case errors.Is(err, ErrChatOrder):
		return "order"
	case errors.Is(err, ErrChatReflect):
		return "reflect"
	case errors.Is(err, ErrChatEpoch):
		return "epoch"
	case errors.Is(err, ErrChatHandshake):
		return "handshake"
	case errors.Is(err, ErrAuth):
		return "auth"
	case errors.Is(err, ErrFormat):
		return "format"
	}
	return "other: " + err.Error()
}

// handshakeSide starts one side's handshake with the fixed key and random of s. Without
// withResume the side is one that lacks the resume secret: no secret, last epoch 0.
func handshakeSide(t testing.TB, id [16]byte, role byte, km []byte, s cvSide, withResume bool) (*ChatHandshake, []byte, error) {
	t.Helper()
	var p chatHandshakeParams
	p.Private = chatUnhex(t, s.PrivHex)
	copy(p.Random[:], chatUnhex(t, s.RandomHex))
	var resume []byte
	var last uint32
	if withResume {
		last = s.LastEpoch
		if s.ResumeHex != "" {
			resume = chatUnhex(t, s.ResumeHex)
		}
	}
	return newChatHandshakeWith(id, role, km, resume, last, &p)
}

type builtHS struct {
	v            cvHandshake
	creator      *ChatSession
	joiner       *ChatSession
	helloC, conC []byte
}

// buildHandshake runs both sides with fixed keys and returns the vector plus live sessions.
func buildHandshake(t testing.TB, name string, id [16]byte, km []byte, c, j cvSide) builtHS {
	t.Helper()
	hc, helloC, err := handshakeSide(t, id, ChatRoleCreator, km, c, true)
	require.NoError(t, err)
	hj, helloJ, err := handshakeSide(t, id, ChatRoleJoiner, km, j, true)
	require.NoError(t, err)
	confC, err := hc.Peer(helloJ)
	require.NoError(t, err)
	confJ, err := hj.Peer(helloC)
	require.NoError(t, err)
	sc, err := hc.Finish(confJ)
	require.NoError(t, err)
	sj, err := hj.Finish(confC)
	require.NoError(t, err)
	require.Equal(t, sc.Resume(), sj.Resume())
	require.Equal(t, sc.SafetyCode(), sj.SafetyCode())
	require.Equal(t, sc.Epoch(), sj.Epoch())
	return builtHS{v: cvHandshake{
		Name: name, IDHex: hex.EncodeToString(id[:]), KmHex: hex.EncodeToString(km), Creator: c, Joiner: j,
		HelloCreatorHex: hex.EncodeToString(helloC), HelloJoinerHex: hex.EncodeToString(helloJ),
		Epoch: sc.Epoch(), ConfCreatorHex: hex.EncodeToString(confC), ConfJoinerHex: hex.EncodeToString(confJ),
		ResumeHex: hex.EncodeToString(sc.Resume()), SafetyCode: sc.SafetyCode(),
	}, creator: sc, joiner: sj, helloC: helloC, conC: confC}
}

func scalar(seed byte) string {
	b := make([]byte, 32)
	for i := range b {
		b[i] = seed + byte(i)
	}
	b[0] = 0x11 // well below the P-256 order
	return hex.EncodeToString(b)
}

// generateChatVectors computes every vector from the implementation.
func generateChatVectors(t testing.TB) chatVectors {
	var cv chatVectors
	cv.About = "sealdrop protocol v1 one-time chat vectors; generated by `go test ./internal/protocol -run TestChatVectors -update-chat`; layout in SECURITY.md"
	K := seqBytes(32, 3)
	for _, pin := range []string{"", "123456"} {
		var P []byte
		if pin != "" {
			P = StretchPIN(K, pin)
		}
		cv.MACKeys = append(cv.MACKeys, cvMAC{KHex: hex.EncodeToString(K), PIN: pin, PHex: hex.EncodeToString(P),
			KmHex: hex.EncodeToString(ChatMACKey(K, P))})
	}
	km := chatUnhex(t, cv.MACKeys[0].KmHex)
	var id [16]byte
	copy(id[:], seqBytes(16, 9))

	first := buildHandshake(t, "first", id, km,
		cvSide{PrivHex: scalar(1), RandomHex: hex.EncodeToString(seqBytes(32, 40))},
		cvSide{PrivHex: scalar(2), RandomHex: hex.EncodeToString(seqBytes(32, 80))})
	resume := first.v.ResumeHex
	second := buildHandshake(t, "resume", id, km,
		cvSide{PrivHex: scalar(3), RandomHex: hex.EncodeToString(seqBytes(32, 120)), ResumeHex: resume, LastEpoch: 2},
		cvSide{PrivHex: scalar(4), RandomHex: hex.EncodeToString(seqBytes(32, 160)), ResumeHex: resume, LastEpoch: 1})

	for _, b := range []*builtHS{&first, &second} {
		type msg struct {
			from byte
			typ  byte
			body []byte
		}
		msgs := []msg{
			{ChatRoleCreator, ChatMsgText, []byte("hello \u00e9\u2028 joiner")},
			{ChatRoleJoiner, ChatMsgText, []byte("hi creator")},
			{ChatRoleCreator, ChatMsgFileBegin, []byte(`{"id":1,"name":"a.txt","type":"text/plain","size":300}`)},
			{ChatRoleCreator, ChatMsgFileChunk, append([]byte{0, 0, 0, 1}, seqBytes(300, 5)...)},
			{ChatRoleJoiner, ChatMsgBye, nil},
		}
		seq := map[byte]uint64{}
		for _, m := range msgs {
			pt, err := EncodeChatMessage(m.typ, m.body)
			require.NoError(t, err)
			s := b.creator
			if m.from == ChatRoleJoiner {
				s = b.joiner
			}
			rec, err := s.Seal(pt)
			require.NoError(t, err)
			b.v.Records = append(b.v.Records, cvRecord{From: m.from, Seq: seq[m.from], Type: m.typ,
				BodyHex: hex.EncodeToString(m.body), PlaintextHex: hex.EncodeToString(pt), RecordHex: hex.EncodeToString(rec)})
			seq[m.from]++
		}
	}
	cv.Handshakes = []cvHandshake{first.v, second.v}

	// Tamper: what the joiner of handshake 0 sees, in order (creator records 0, 2, 3).
	r := func(hs, i int) string {
		return cv.Handshakes[hs].Records[i].RecordHex
	}
	flip := func(s string, at int) string {
		b := chatUnhex(t, s)
		b[at] ^= 1
		return hex.EncodeToString(b)
	}
	cv.Tamper = []cvTamper{
		{Name: "in order", HS: 0, Receiver: ChatRoleJoiner, RecordHex: []string{r(0, 0), r(0, 2), r(0, 3)}, Results: []string{"ok", "ok", "ok"}},
		{Name: "replayed", HS: 0, Receiver: ChatRoleJoiner, RecordHex: []string{r(0, 0), r(0, 0), r(0, 2)}, Results: []string{"ok", "replay", "ok"}},
		{Name: "reordered", HS: 0, Receiver: ChatRoleJoiner, RecordHex: []string{r(0, 2), r(0, 0), r(0, 2)}, Results: []string{"order", "ok", "ok"}},
		{Name: "dropped", HS: 0, Receiver: ChatRoleJoiner, RecordHex: []string{r(0, 0), r(0, 3)}, Results: []string{"ok", "order"}},
		{Name: "reflected", HS: 0, Receiver: ChatRoleCreator, RecordHex: []string{r(0, 0), r(0, 1)}, Results: []string{"reflect", "ok"}},
		{Name: "forged ciphertext", HS: 0, Receiver: ChatRoleJoiner, RecordHex: []string{flip(r(0, 0), 20), r(0, 0)}, Results: []string{"auth", "ok"}},
		{Name: "forged sequence", HS: 0, Receiver: ChatRoleJoiner, RecordHex: []string{r(0, 0), setByte(t, r(0, 3), 13, 1), r(0, 2)}, Results: []string{"ok", "auth", "ok"}},
		{Name: "forged direction", HS: 0, Receiver: ChatRoleJoiner, RecordHex: []string{setByte(t, r(0, 0), 5, 2), setByte(t, r(0, 1), 5, 1), r(0, 0)}, Results: []string{"reflect", "auth", "ok"}},
		{Name: "unknown direction", HS: 0, Receiver: ChatRoleJoiner, RecordHex: []string{setByte(t, r(0, 0), 5, 3)}, Results: []string{"format"}},
		{Name: "old epoch replayed after resume", HS: 1, Receiver: ChatRoleJoiner, RecordHex: []string{r(0, 0), r(1, 0)}, Results: []string{"epoch", "ok"}},
		{Name: "old epoch relabelled", HS: 1, Receiver: ChatRoleJoiner, RecordHex: []string{relabelEpoch(t, r(0, 0), cv.Handshakes[1].Epoch), r(1, 0)}, Results: []string{"auth", "ok"}},
		{Name: "truncated", HS: 0, Receiver: ChatRoleJoiner, RecordHex: []string{r(0, 0)[:2*(ChatDataHeader+10)], r(0, 0)}, Results: []string{"format", "ok"}},
	}

	// Handshake failures: a relay that swaps a hello for its own (it lacks Km), a reflected
	// hello, a resume without the secret, a wrong epoch in the confirm.
	evil := make([]byte, 32)
	evil[0] = 0x77
	var p chatHandshakeParams
	p.Private = chatUnhex(t, scalar(9))
	he, evilHello, err := newChatHandshakeWith(id, ChatRoleJoiner, evil, nil, 0, &p)
	require.NoError(t, err)
	evilConf, err := he.Peer(first.helloC)
	require.NoError(t, err)
	cv.Failures = []cvFailure{
		{Name: "relay swaps the joiner's key", HS: 0, Side: ChatRoleCreator, PeerHelloHex: hex.EncodeToString(evilHello), PeerConfHex: hex.EncodeToString(evilConf), Error: "handshake"},
		{Name: "honest hello, confirm of another transcript", HS: 0, Side: ChatRoleCreator, PeerHelloHex: cv.Handshakes[0].HelloJoinerHex, PeerConfHex: cv.Handshakes[1].ConfJoinerHex, Error: "epoch"},
		{Name: "reflected hello", HS: 0, Side: ChatRoleCreator, PeerHelloHex: cv.Handshakes[0].HelloCreatorHex, Error: "reflect"},
		{Name: "reflected confirm", HS: 0, Side: ChatRoleCreator, PeerHelloHex: cv.Handshakes[0].HelloJoinerHex, PeerConfHex: cv.Handshakes[0].ConfCreatorHex, Error: "reflect"},
		{Name: "resume proposed to a side without the secret", HS: 1, Side: ChatRoleCreator, ResumeMissing: true, PeerHelloHex: cv.Handshakes[1].HelloJoinerHex, Error: "handshake"},
		{Name: "bad public key", HS: 0, Side: ChatRoleCreator, PeerHelloHex: cv.Handshakes[0].HelloJoinerHex[:12] + "04" + hex.EncodeToString(make([]byte, 64)) + cv.Handshakes[0].HelloJoinerHex[12+130:], Error: "format"},
	}

	for _, m := range []struct {
		typ  byte
		body []byte
	}{{ChatMsgText, nil}, {ChatMsgText, []byte("x")}, {ChatMsgText, seqBytes(251, 1)}, {ChatMsgText, seqBytes(252, 1)}, {ChatMsgFileChunk, seqBytes(ChatMaxMessage, 2)}} {
		pt, err := EncodeChatMessage(m.typ, m.body)
		require.NoError(t, err)
		cv.Messages = append(cv.Messages, cvMessage{Type: m.typ, BodyHex: hex.EncodeToString(m.body), PlaintextHex: hex.EncodeToString(pt)})
	}
	good, _ := EncodeChatMessage(ChatMsgText, []byte("abc"))
	bad := func(name string, mut func([]byte) []byte) cvBadMessage {
		b := append([]byte(nil), good...)
		return cvBadMessage{Name: name, PlaintextHex: hex.EncodeToString(mut(b))}
	}
	cv.BadMsgs = []cvBadMessage{
		bad("short", func(b []byte) []byte { return b[:4] }),
		bad("unknown type", func(b []byte) []byte { b[0] = 9; return b }),
		bad("type zero", func(b []byte) []byte { b[0] = 0; return b }),
		bad("length overrun", func(b []byte) []byte { b[4] = 255; b[3] = 1; return b }),
		bad("non-zero padding", func(b []byte) []byte { b[len(b)-1] = 1; return b }),
		bad("padding too short", func(b []byte) []byte { return b[:200] }),
		bad("padding too long", func(b []byte) []byte { return append(b, 0) }),
	}
	return cv
}

func setByte(t testing.TB, recHex string, at int, v byte) string {
	b := chatUnhex(t, recHex)
	b[at] = v
	return hex.EncodeToString(b)
}

func relabelEpoch(t testing.TB, recHex string, epoch uint32) string {
	b := chatUnhex(t, recHex)
	b[1], b[2], b[3], b[4] = byte(epoch>>24), byte(epoch>>16), byte(epoch>>8), byte(epoch)
	return hex.EncodeToString(b)
}

func TestChatVectors(t *testing.T) {
	got := generateChatVectors(t)
	enc, err := json.MarshalIndent(got, "", " ")
	require.NoError(t, err)
	enc = append(enc, '\n')
	if *updateChat {
		require.NoError(t, os.WriteFile(chatVectorsPath, enc, 0o644))
	}
	want, err := os.ReadFile(chatVectorsPath)
	require.NoError(t, err, "run with -update-chat to create it")
	require.Equal(t, string(want), string(enc), "the implementation no longer matches the stored vectors")
	// The stored vectors are checked independently too, against fresh sessions.
	var cv chatVectors
	require.NoError(t, json.Unmarshal(want, &cv))
	checkChatVectors(t, cv)
}

// sessionsFor replays a stored handshake and checks every record of it.
func sessionsFor(t *testing.T, h cvHandshake) (creator, joiner *ChatSession) {
	t.Helper()
	var id [16]byte
	copy(id[:], chatUnhex(t, h.IDHex))
	km := chatUnhex(t, h.KmHex)
	hc, helloC, err := handshakeSide(t, id, ChatRoleCreator, km, h.Creator, true)
	require.NoError(t, err)
	hj, helloJ, err := handshakeSide(t, id, ChatRoleJoiner, km, h.Joiner, true)
	require.NoError(t, err)
	require.Equal(t, h.HelloCreatorHex, hex.EncodeToString(helloC))
	require.Equal(t, h.HelloJoinerHex, hex.EncodeToString(helloJ))
	confC, err := hc.Peer(chatUnhex(t, h.HelloJoinerHex))
	require.NoError(t, err)
	confJ, err := hj.Peer(chatUnhex(t, h.HelloCreatorHex))
	require.NoError(t, err)
	require.Equal(t, h.ConfCreatorHex, hex.EncodeToString(confC))
	require.Equal(t, h.ConfJoinerHex, hex.EncodeToString(confJ))
	creator, err = hc.Finish(chatUnhex(t, h.ConfJoinerHex))
	require.NoError(t, err)
	joiner, err = hj.Finish(chatUnhex(t, h.ConfCreatorHex))
	require.NoError(t, err)
	require.Equal(t, h.Epoch, creator.Epoch())
	require.Equal(t, h.ResumeHex, hex.EncodeToString(creator.Resume()))
	require.Equal(t, h.SafetyCode, joiner.SafetyCode())
	return creator, joiner
}

func checkChatVectors(t *testing.T, cv chatVectors) {
	for _, m := range cv.MACKeys {
		K := chatUnhex(t, m.KHex)
		var P []byte
		if m.PIN != "" {
			P = StretchPIN(K, m.PIN)
			require.Equal(t, m.PHex, hex.EncodeToString(P))
		}
		require.Equal(t, m.KmHex, hex.EncodeToString(ChatMACKey(K, P)))
	}
	for _, h := range cv.Handshakes {
		sc, sj := sessionsFor(t, h)
		for _, r := range h.Records {
			pt, err := EncodeChatMessage(r.Type, chatUnhex(t, r.BodyHex))
			require.NoError(t, err)
			require.Equal(t, r.PlaintextHex, hex.EncodeToString(pt))
			send, recv := sc, sj
			if r.From == ChatRoleJoiner {
				send, recv = sj, sc
			}
			rec, err := send.Seal(pt)
			require.NoError(t, err)
			require.Equal(t, r.RecordHex, hex.EncodeToString(rec), "%s seq %d", h.Name, r.Seq)
			got, err := recv.Open(rec)
			require.NoError(t, err)
			require.Equal(t, pt, got)
		}
	}
	for _, tv := range cv.Tamper {
		sc, sj := sessionsFor(t, cv.Handshakes[tv.HS])
		recv := sj
		if tv.Receiver == ChatRoleCreator {
			recv = sc
		}
		for i, rh := range tv.RecordHex {
			_, err := recv.Open(chatUnhex(t, rh))
			require.Equal(t, tv.Results[i], chatErrClass(err), "%s #%d", tv.Name, i)
		}
	}
	for _, f := range cv.Failures {
		h := cv.Handshakes[f.HS]
		var id [16]byte
		copy(id[:], chatUnhex(t, h.IDHex))
		s := h.Creator
		if f.Side == ChatRoleJoiner {
			s = h.Joiner
		}
		hs, _, err := handshakeSide(t, id, f.Side, chatUnhex(t, h.KmHex), s, !f.ResumeMissing)
		require.NoError(t, err)
		_, err = hs.Peer(chatUnhex(t, f.PeerHelloHex))
		if err == nil {
			_, err = hs.Finish(chatUnhex(t, f.PeerConfHex))
		}
		require.Equal(t, f.Error, chatErrClass(err), f.Name)
	}
	for _, m := range cv.Messages {
		typ, body, err := DecodeChatMessage(chatUnhex(t, m.PlaintextHex))
		require.NoError(t, err)
		require.Equal(t, m.Type, typ)
		require.Equal(t, m.BodyHex, hex.EncodeToString(body))
	}
	for _, m := range cv.BadMsgs {
		_, _, err := DecodeChatMessage(chatUnhex(t, m.PlaintextHex))
		require.Equal(t, "format", chatErrClass(err), m.Name)
	}
}
