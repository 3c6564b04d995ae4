package web_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/chat"
	"github.com/sealdrop/sealdrop/internal/circuit"
	"github.com/sealdrop/sealdrop/internal/client"
	"github.com/sealdrop/sealdrop/internal/drop"
	"github.com/sealdrop/sealdrop/internal/price"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/internal/room"
	"github.com/sealdrop/sealdrop/internal/web"
	"github.com/sealdrop/sealdrop/vault"
)

// circuitSite is a site with notes, chats and drops served the way managed mode serves it:
// web.NewServer on a listener wrapped by circuit.Listen.
type circuitSite struct {
	rs  *room.Server
	srv *httptest.Server
	v   *vault.Vault
	cs  *chat.Server
	p   *price.Pricer
}

// token is the price token the limits give now, which an upload's create carries.
func (s *circuitSite) token() string {
	t, _ := s.p.TokenAfter(s.v.Retired())
	return b64(t[:])
}

func (s *circuitSite) withToken(n *note) *note {
	if n.token == "" {
		n.token = s.token()
	}
	return n
}

func (s *circuitSite) withSubToken(sb *sub) *sub {
	if sb.token == "" {
		sb.token = s.token()
	}
	return sb
}

func newCircuitSite(t *testing.T, floor int) *circuitSite {
	t.Helper()
	v, err := vault.New(vault.Config{Budget: 4 << 20, SweepEvery: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	p, err := price.New(price.Config{Floor: floor})
	require.NoError(t, err)
	cs, err := chat.New(chat.Config{Vault: v, SweepEvery: -1, Price: p})
	require.NoError(t, err)
	t.Cleanup(cs.Close)
	ds, err := drop.New(drop.Config{Vault: v, TTL: 24 * time.Hour, Price: p})
	require.NoError(t, err)
	rs, err := room.New(room.Config{Vault: v, SweepEvery: -1, Price: p})
	require.NoError(t, err)
	t.Cleanup(rs.Close)
	h, err := web.New(web.WithFS(web.Config{Vault: v, Chat: cs, Drops: ds, Room: rs, Price: p}, nil, nil))
	require.NoError(t, err)
	lim, err := circuit.NewLimiter(circuit.Config{})
	require.NoError(t, err)
	// A unix socket, as tor reaches the server in production (and where a connection closed
	// with a request body unread fails the client's write at once).
	dir, err := os.MkdirTemp("", "sdc")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	ln, err := net.Listen("unix", filepath.Join(dir, "http.sock"))
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(nil)
	srv.Listener.Close()
	srv.Config = web.NewServer(h)
	srv.Listener = circuit.Listen(ln, lim)
	srv.Start()
	srv.URL = "http://sealdrop.test"
	t.Cleanup(srv.Close)
	return &circuitSite{srv: srv, v: v, cs: cs, rs: rs, p: p}
}

// dial connects to the site's socket; header, if not empty, is sent first.
func (s *circuitSite) dial(ctx context.Context, header string) (net.Conn, error) {
	a := s.srv.Listener.Addr()
	c, err := (&net.Dialer{}).DialContext(ctx, a.Network(), a.String())
	if err != nil || header == "" {
		return c, err
	}
	if _, err := io.WriteString(c, header); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// viaCircuit is an HTTP client whose every connection begins with tor's PROXY line for circuit
// id, as tor sends it with HiddenServiceExportCircuitID haproxy.
func (s *circuitSite) viaCircuit(t *testing.T, id uint32) *http.Client {
	line := fmt.Sprintf("PROXY TCP6 fc00:dead:beef:4dad::%x:%x ::1 %d 80\r\n", id>>16, id&0xffff, id&0xffff)
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return s.dial(ctx, line)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// stored is everything a create could have left behind.
func (s *circuitSite) stored() string {
	st := s.v.Stats()
	return fmt.Sprintf("used %d, entries %v, chats %d, rooms %d", st.Used, st.Entries, s.cs.Count(), s.rs.Count())
}

func postJSON(t *testing.T, hc *http.Client, u string, body any) (int, http.Header, map[string]any) {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	res, err := hc.Post(u, "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return res.StatusCode, res.Header, m
}

// postBinary posts body as application/octet-stream with the headers hdr and decodes the JSON
// answer.
func postBinary(t *testing.T, hc *http.Client, u string, hdr map[string]string, body []byte) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/octet-stream")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := hc.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m), "%s", raw)
	return res.StatusCode, res.Header, m
}

func noteBody() map[string]any {
	return map[string]any{"length": 1024, "gate_hash": hash(rand32()), "manage_hash": hash(rand32()), "destruct_hash": hash(rand32())}
}

func roomBody() map[string]any {
	seats := []any{}
	for range 3 {
		seats = append(seats, map[string]any{"gate_hash": hash(rand32())})
	}
	return map[string]any{"seats": seats, "manage_hash": hash(rand32()), "ttl": 3600}
}

func chatBody() map[string]any {
	return map[string]any{"gate_hash": hash(rand32()), "manage_hash": hash(rand32()), "destruct_hash": hash(rand32())}
}

// requireBusy asserts the circuit limit's answer.
func requireBusy(t *testing.T, status int, hdr http.Header, m map[string]any, what string) {
	t.Helper()
	require.Equal(t, http.StatusTooManyRequests, status, "%s: %v", what, m)
	assert.Equal(t, "busy", m["error"], what)
	assert.Contains(t, m["message"], "wait a minute", what)
	secs, err := strconv.Atoi(hdr.Get("Retry-After"))
	assert.NoError(t, err, what)
	assert.True(t, secs >= 1 && secs <= 10, "%s: Retry-After %d", what, secs)
	assert.Empty(t, hdr.Get("Date"), what)
}

// One circuit that used up its creates gets 429 for a note, a chat and a drop submission alike,
// and none of the three leaves anything behind; another circuit still creates, and so does a
// connection without a circuit id.
func TestCircuitLimitBeforeAnythingIsStored(t *testing.T) {
	s := newCircuitSite(t, 0)
	a := s.viaCircuit(t, 0x10001)
	for i := range circuit.DefaultBurst {
		st, _, m := postJSON(t, a, s.srv.URL+"/api/v1/notes", noteBody())
		require.Equal(t, http.StatusCreated, st, "create %d: %v", i, m)
	}
	before := s.stored()

	st, hdr, m := postJSON(t, a, s.srv.URL+"/api/v1/notes", noteBody())
	requireBusy(t, st, hdr, m, "note")
	st, hdr, m = postJSON(t, a, s.srv.URL+"/api/v1/chats", chatBody())
	requireBusy(t, st, hdr, m, "chat")
	st, hdr, m = postJSON(t, a, s.srv.URL+"/api/v1/rooms", roomBody())
	requireBusy(t, st, hdr, m, "room")
	ca, err := client.New(s.srv.URL, a)
	require.NoError(t, err)
	d, err := ca.CreateDrop(false)
	require.NoError(t, err)
	_, err = ca.Submit(t.Context(), d.DropLink, "hello", nil, false)
	var ae *client.APIError
	require.True(t, errors.As(err, &ae), "drop submission: %v", err)
	assert.Equal(t, http.StatusTooManyRequests, ae.Status)
	assert.Equal(t, "busy", ae.Code)
	require.Equal(t, before, s.stored(), "a refused create stored nothing")

	// Other circuits are not touched, nor is a connection that carries no circuit id.
	b := s.viaCircuit(t, 0x10002)
	st, _, m = postJSON(t, b, s.srv.URL+"/api/v1/chats", chatBody())
	require.Equal(t, http.StatusCreated, st, "chat on circuit B: %v", m)
	st, _, m = postJSON(t, b, s.srv.URL+"/api/v1/rooms", roomBody())
	require.Equal(t, http.StatusCreated, st, "room on circuit B: %v", m)
	cb, err := client.New(s.srv.URL, b)
	require.NoError(t, err)
	_, err = cb.Submit(t.Context(), d.DropLink, "hello from B", nil, false)
	require.NoError(t, err)

	// Only creates are limited: circuit A still reads.
	res, err := a.Get(s.srv.URL + "/api/v1/limits")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
}

// The limit comes before the price: a circuit over it gets 429, not a 402 asking for work it
// would then be refused anyway.
func TestCircuitLimitBeforePrice(t *testing.T) {
	s := newCircuitSite(t, 8) // every create must pay
	a := s.viaCircuit(t, 7)
	for i := range circuit.DefaultBurst {
		st, _, m := postJSON(t, a, s.srv.URL+"/api/v1/notes", noteBody())
		require.Equal(t, http.StatusPaymentRequired, st, "unpaid create %d: %v", i, m)
	}
	st, hdr, m := postJSON(t, a, s.srv.URL+"/api/v1/notes", noteBody())
	requireBusy(t, st, hdr, m, "note over the limit")
	st, hdr, m = postJSON(t, a, s.srv.URL+"/api/v1/chats", chatBody())
	requireBusy(t, st, hdr, m, "chat over the limit")
	st, hdr, m = postJSON(t, a, s.srv.URL+"/api/v1/rooms", roomBody())
	requireBusy(t, st, hdr, m, "room over the limit")
}

// A room's create is priced as SECURITY.md says: 402 naming the bits and a token; the page
// pays with kind 4, length 2 MiB and the room's TTL bound to the manage hash; paid, it is
// created; the same payment does not pay again.
func TestRoomCreatePriced(t *testing.T) {
	s := newCircuitSite(t, 3) // every create must pay
	a := s.viaCircuit(t, 9)
	body := roomBody()
	st, _, m := postJSON(t, a, s.srv.URL+"/api/v1/rooms", body)
	require.Equal(t, http.StatusPaymentRequired, st, "%v", m)
	require.Equal(t, "price", m["error"])
	bits := int(m["bits"].(float64))
	want, err := s.p.Bits(3, protocol.PriceRequest{Length: 2 << 20, TTL: time.Hour})
	require.NoError(t, err)
	require.Equal(t, want, bits, "priced as 2 MiB for its lifetime")
	tok, err := base64.RawURLEncoding.DecodeString(m["token"].(string))
	require.NoError(t, err)
	mh, err := base64.RawURLEncoding.DecodeString(body["manage_hash"].(string))
	require.NoError(t, err)
	nonce, err := protocol.SolvePrice(t.Context(), tok, protocol.PriceRequest{Kind: protocol.PriceRoom, Manage: [32]byte(mh), Length: 2 << 20, TTL: time.Hour}, bits)
	require.NoError(t, err)
	body["price_token"] = m["token"]
	body["price_nonce"] = base64.RawURLEncoding.EncodeToString(nonce[:])
	st, _, m = postJSON(t, a, s.srv.URL+"/api/v1/rooms", body)
	require.Equal(t, http.StatusCreated, st, "paid: %v", m)
	require.Equal(t, 1, s.rs.Count())
	st, _, m = postJSON(t, a, s.srv.URL+"/api/v1/rooms", body)
	require.Equal(t, http.StatusPaymentRequired, st, "the same payment does not pay again: %v", m)
}

// Without the header tor is expected to send, the site answers nothing but the explanation.
func TestCircuitSiteRefusesConnectionsWithoutHeader(t *testing.T) {
	s := newCircuitSite(t, 0)
	before := s.stored()
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return s.dial(ctx, "") }}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr}).Post(s.srv.URL+"/api/v1/notes", "application/json", strings.NewReader(`{"length":1}`))
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusBadRequest, res.StatusCode)
	require.True(t, strings.Contains(string(body), "HiddenServiceExportCircuitID haproxy"), "%q", body)
	require.Equal(t, before, s.stored())
}

// A refused upload is still answered through circuit.Listen's connections: the web layer
// half-closes (circuit.Conn passes CloseWrite through) and lets the body arrive unread.
func TestCircuitConnRefusedUploadAnswered(t *testing.T) {
	s := newCircuitSite(t, 0)
	a := s.viaCircuit(t, 3)
	manage := rand32()
	body := noteBody()
	body["manage_hash"] = hash(manage)
	st, _, m := postJSON(t, a, s.srv.URL+"/api/v1/notes", body)
	require.Equal(t, http.StatusCreated, st, "%v", m)
	req, err := http.NewRequest(http.MethodPost, s.srv.URL+"/api/v1/notes/"+m["id"].(string)+"/data", bytes.NewReader(make([]byte, 4<<20)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Sealdrop-Manage", b64(manage[:]))
	req.Header.Set("Sealdrop-Offset", "0")
	res, err := a.Do(req)
	require.NoError(t, err, "the answer arrives, not a reset")
	res.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
}

// A note's upload counts against its circuit once, when it makes the note: the same upload
// sent again to go on after a cut, or because its answer was lost, is not counted, so it still
// goes through once the circuit has used its creates, while a new note's upload gets 429
// before anything is stored.
func TestCircuitLimitCountsAnUploadOnce(t *testing.T) {
	s := newCircuitSite(t, 0)
	a := s.viaCircuit(t, 0x20001)
	upload := func(n *note, off, end int) (int, http.Header, map[string]any) {
		t.Helper()
		return postBinary(t, a, s.srv.URL+"/api/v1/notes/upload", s.withToken(n).uploadHeader(int64(len(n.body)), int64(off)), n.body[off:end])
	}
	whole := newNoteSecrets(1000, false)
	st, _, m := upload(whole, 0, 1000)
	require.Equal(t, http.StatusOK, st, "%v", m)
	require.Equal(t, true, m["committed"])
	half := newNoteSecrets(1000, false)
	st, _, m = upload(half, 0, 500)
	require.Equal(t, http.StatusOK, st, "%v", m)
	require.EqualValues(t, 500, m["received"])
	for i := 2; i < circuit.DefaultBurst; i++ {
		st, _, m := upload(newNoteSecrets(100, false), 0, 100)
		require.Equal(t, http.StatusOK, st, "create %d: %v", i, m)
	}
	before := s.stored()
	st, hdr, m := upload(newNoteSecrets(100, false), 0, 100)
	requireBusy(t, st, hdr, m, "a new note's upload past the limit")
	require.Equal(t, before, s.stored(), "the refused upload stored nothing")

	// The lost answer's upload again: the committed answer, not 429.
	st, _, m = upload(whole, 0, 1000)
	require.Equal(t, http.StatusOK, st, "%v", m)
	require.Equal(t, true, m["committed"])
	// The cut upload goes on from where the server says it is, and completes the note.
	st, _, m = upload(half, 0, 1000)
	require.Equal(t, http.StatusConflict, st, "%v", m)
	require.EqualValues(t, 500, m["received"])
	st, _, m = upload(half, 500, 1000)
	require.Equal(t, http.StatusOK, st, "%v", m)
	require.Equal(t, true, m["committed"])
}

// A drop submission's upload counts against its circuit once, like a note's: past the limit a
// new submission gets 429 and stores nothing, while the same upload sent again (a cut, a lost
// answer) goes on.
func TestCircuitLimitCountsADropUploadOnce(t *testing.T) {
	s := newCircuitSite(t, 0)
	a := s.viaCircuit(t, 0x20002)
	k := dropKeys(t, 0)
	upload := func(sb *sub, off, end int) (int, http.Header, map[string]any) {
		t.Helper()
		return postBinary(t, a, s.srv.URL+sb.path(), s.withSubToken(sb).header(off), sb.body[off:end])
	}
	whole, half := newSub(t, k, 1000), newSub(t, k, 1000)
	st, _, m := upload(whole, 0, 1000)
	require.Equal(t, http.StatusOK, st, "%v", m)
	require.Equal(t, true, m["committed"])
	st, _, m = upload(half, 0, 500)
	require.Equal(t, http.StatusOK, st, "%v", m)
	for i := 2; i < circuit.DefaultBurst; i++ {
		st, _, m := upload(newSub(t, k, 100), 0, 100)
		require.Equal(t, http.StatusOK, st, "submission %d: %v", i, m)
	}
	before := s.stored()
	st, hdr, m := upload(newSub(t, k, 100), 0, 100)
	requireBusy(t, st, hdr, m, "a new submission's upload past the limit")
	require.Equal(t, before, s.stored(), "the refused upload stored nothing")
	st, _, m = upload(whole, 0, 1000)
	require.Equal(t, http.StatusOK, st, "%v", m)
	require.Equal(t, true, m["committed"])
	st, _, m = upload(half, 500, 1000)
	require.Equal(t, http.StatusOK, st, "%v", m)
	require.Equal(t, true, m["committed"])
}
