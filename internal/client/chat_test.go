package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/chat"
	"github.com/sealdrop/sealdrop/internal/client"
	"github.com/sealdrop/sealdrop/internal/memlocktest"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/internal/web"
	"github.com/sealdrop/sealdrop/vault"
)

type env struct {
	v   *vault.Vault
	s   *chat.Server
	url string
	hc  *http.Client // the test server's own client
	cl  *client.Client
}

// newEnv serves a chat relay over a 2 MiB vault: room for the largest record a test sends
// (a 200 KB file), and small enough that TestFullVaultRefusesRecord fills it in about 30
// records, and that a test process stays well inside an ordinary user's 8 MiB memlock limit.
func newEnv(t *testing.T, cfg chat.Config) env {
	t.Helper()
	return newEnvWrapped(t, cfg, func(h http.Handler) http.Handler { return h })
}

// newEnvWrapped is newEnv with a handler in front of the app (a middlebox).
func newEnvWrapped(t *testing.T, cfg chat.Config, wrap func(http.Handler) http.Handler) env {
	t.Helper()
	v, err := vault.New(vault.Config{Budget: 2 << 20})
	require.NoError(t, err)
	cfg.Vault = v
	s, err := chat.New(cfg)
	require.NoError(t, err)
	h, err := web.New(web.Config{Vault: v, Chat: s})
	require.NoError(t, err)
	srv := httptest.NewServer(wrap(h))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		s.Close()
		_ = v.Close()
	})
	cl, err := client.New(srv.URL, srv.Client())
	require.NoError(t, err)
	return env{v, s, srv.URL, srv.Client(), cl}
}

// ctxT bounds a test. It is generous on purpose: every PIN costs a 300,000-iteration PBKDF2,
// which takes seconds under -race on a loaded 2-core machine, and TestPINOnJoin stretches seven.
func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// next returns the next event that is not a peer notice.
func next(t *testing.T, ch *client.Chat) client.ChatEvent {
	t.Helper()
	for {
		e, err := ch.Receive(ctxT(t))
		require.NoError(t, err)
		if e.Peer == nil {
			return e
		}
	}
}

// pair starts a chat through e's client and joins it, both over the socket (or its fallback).
func pair(t *testing.T, e env, pin, dpin string) (*client.Chat, *client.Chat) {
	t.Helper()
	return connectPair(t, e.cl, client.ChatOptions{PIN: pin, DestructPIN: dpin}, (*client.Chat).Connect, (*client.Chat).Connect)
}

// connectPair starts a chat with opts through cl and connects its creator with connectA, then
// joins it (with opts.PIN) and connects the joiner with connectB (Connect or ConnectPoll);
// it waits until both are ready and their safety codes agree.
func connectPair(t *testing.T, cl *client.Client, opts client.ChatOptions, connectA, connectB func(*client.Chat, context.Context) error) (*client.Chat, *client.Chat) {
	t.Helper()
	ctx := ctxT(t)
	a, err := cl.StartChat(ctx, opts)
	require.NoError(t, err)
	require.NoError(t, connectA(a, ctx))
	b, err := cl.JoinChat(ctx, a.Link, opts.PIN)
	require.NoError(t, err)
	require.NoError(t, connectB(b, ctx))
	ca, err := a.WaitReady(ctx)
	require.NoError(t, err)
	cb, err := b.WaitReady(ctx)
	require.NoError(t, err)
	require.Equal(t, ca, cb, "safety codes")
	return a, b
}

func TestChatEndToEnd(t *testing.T) {
	e := newEnv(t, chat.Config{})
	ctx := ctxT(t)
	a, b := pair(t, e, "", "")
	require.NoError(t, a.SendText(ctx, "hello from the creator"))
	require.Equal(t, "hello from the creator", next(t, b).Text)
	require.NoError(t, b.SendText(ctx, "hello back"))
	require.Equal(t, "hello back", next(t, a).Text)

	for _, dir := range []struct {
		from, to *client.Chat
		size     int
	}{{a, b, 200_000}, {b, a, 65_536}, {a, b, 0}} {
		data := make([]byte, dir.size)
		_, _ = rand.Read(data)
		var last int64
		require.NoError(t, dir.from.SendFile(ctx, "f<script>.bin", "application/x", data, func(done, total int64) { last = done }))
		require.Equal(t, int64(dir.size), last+int64(min(dir.size, 0)))
		ev := next(t, dir.to)
		require.NotNil(t, ev.File)
		require.Equal(t, "f<script>.bin", ev.File.Name)
		require.True(t, bytes.Equal(data, ev.File.Data))
	}

	require.NoError(t, a.End())
	require.Equal(t, chat.ReasonEnded, next(t, b).Ended)
	<-a.Done()
	<-b.Done()
	require.Eventually(t, func() bool {
		e.v.Settle()
		return e.v.Stats().Entries[vault.KindChatFrame] == 0 && e.s.Count() == 0
	}, 5*time.Second, 20*time.Millisecond)
	// The link and both tokens are gone now.
	_, err := e.cl.JoinChat(ctx, a.Link, "")
	require.ErrorIs(t, err, client.ErrGone)
	require.ErrorIs(t, a.Connect(ctx), client.ErrGone)
}

func goneBody(t *testing.T, url string) string {
	res, err := http.Post(url, "application/json", strings.NewReader(`{"gate":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`))
	require.NoError(t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	return res.Header.Get("Content-Type") + "|" + string(b)
}

func TestThirdPersonCannotJoin(t *testing.T) {
	e := newEnv(t, chat.Config{})
	ctx := ctxT(t)
	a, err := e.cl.StartChat(ctx, client.ChatOptions{})
	require.NoError(t, err)
	_, err = e.cl.JoinChat(ctx, a.Link, "")
	require.NoError(t, err)
	_, err = e.cl.JoinChat(ctx, a.Link, "")
	require.ErrorIs(t, err, client.ErrGone)
	// A join on the claimed chat answers exactly what an unknown id answers.
	require.Equal(t, goneBody(t, e.url+"/api/v1/chats/AAAAAAAAAAAAAAAAAAAAAA/join"), goneBody(t, e.url+"/api/v1/chats/"+a.ID+"/join"))
}

func TestPINOnJoin(t *testing.T) {
	e := newEnv(t, chat.Config{})
	ctx := ctxT(t)
	a, err := e.cl.StartChat(ctx, client.ChatOptions{PIN: "123456", DestructPIN: "999999"})
	require.NoError(t, err)
	require.NoError(t, a.Connect(ctx))
	_, err = e.cl.JoinChat(ctx, a.Link, "111111")
	var pe *client.WrongPINError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, 4, pe.TriesLeft)
	_, err = e.cl.JoinChat(ctx, a.Link, "999999") // duress: same answer, chat wiped
	require.ErrorAs(t, err, &pe)
	require.Equal(t, 3, pe.TriesLeft)
	require.Equal(t, chat.ReasonRevoked, next(t, a).Ended)
	_, err = e.cl.JoinChat(ctx, a.Link, "123456")
	require.ErrorAs(t, err, &pe, "the right PIN after a duress PIN is a failure too")

	// With the right PIN, the handshake key depends on it: a joiner who somehow passed the
	// server without it could not complete the handshake (see TestImpostorWithoutKm).
	a2, b2 := pair(t, e, "123456", "")
	require.NoError(t, b2.SendText(ctx, "pin ok"))
	require.Equal(t, "pin ok", next(t, a2).Text)
}

// Someone with a session token but without Km (the server itself, or a relay) cannot finish a
// handshake: the creator never accepts it.
func TestImpostorWithoutKm(t *testing.T) {
	e := newEnv(t, chat.Config{})
	ctx := ctxT(t)
	a, err := e.cl.StartChat(ctx, client.ChatOptions{PIN: "123456"})
	require.NoError(t, err)
	require.NoError(t, a.Connect(ctx))
	// The impostor joins with the right link and PIN at the server but the handshake key of
	// the link without the PIN (what a leaked link alone gives).
	link := a.Link
	b, err := e.cl.JoinChat(ctx, link, "123456")
	require.NoError(t, err)
	imp := client.WithMACKey(b, protocol.ChatMACKey(make([]byte, 32), nil))
	require.NoError(t, imp.Connect(ctx))
	for {
		ev := next(t, a)
		if ev.Err != nil {
			require.ErrorIs(t, ev.Err, protocol.ErrChatHandshake)
			break
		}
	}
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	_, err = a.WaitReady(short)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Error(t, a.SendText(ctx, "never sent"))
}

func TestRelayedRecordsReplayedOrForgedAreRefused(t *testing.T) {
	e := newEnv(t, chat.Config{})
	ctx := ctxT(t)
	a, b := pair(t, e, "", "")
	rec1, err := client.SealForTest(a, protocol.ChatMsgText, []byte("one"))
	require.NoError(t, err)
	rec2, err := client.SealForTest(a, protocol.ChatMsgText, []byte("two"))
	require.NoError(t, err)
	forged := bytes.Clone(rec2)
	forged[len(forged)-1] ^= 1
	for _, r := range [][]byte{rec2, rec1, rec1, forged, rec2} {
		_, err := a.SendRecord(ctx, r)
		require.NoError(t, err)
	}
	require.ErrorIs(t, next(t, b).Err, protocol.ErrChatOrder, "reordered (two before one)")
	require.Equal(t, "one", next(t, b).Text)
	require.ErrorIs(t, next(t, b).Err, protocol.ErrChatReplay)
	require.ErrorIs(t, next(t, b).Err, protocol.ErrAuth, "forged")
	require.Equal(t, "two", next(t, b).Text)
	// Reflected: b's own record sent back to b by the relay (here: a relays it).
	recB, err := client.SealForTest(b, protocol.ChatMsgText, []byte("mine"))
	require.NoError(t, err)
	_, err = a.SendRecord(ctx, recB)
	require.NoError(t, err)
	require.ErrorIs(t, next(t, b).Err, protocol.ErrChatReflect)
}

// A reload (the socket dropped, the in-memory session lost) runs a new handshake in a new
// epoch; records of the old epoch are refused after it.
func TestReconnectNewEpoch(t *testing.T) {
	e := newEnv(t, chat.Config{})
	ctx := ctxT(t)
	a, b := pair(t, e, "", "")
	old, err := client.SealForTest(a, protocol.ChatMsgText, []byte("old epoch"))
	require.NoError(t, err)
	code, _ := b.WaitReady(ctx)
	b.Close()
	<-b.Done()
	require.NoError(t, b.Connect(ctx))
	code2, err := b.WaitReady(ctx)
	require.NoError(t, err)
	require.Equal(t, code, code2)
	require.Eventually(t, func() bool { return a.Epoch() == 2 }, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, uint32(2), b.Epoch())
	_, err = a.SendRecord(ctx, old)
	require.NoError(t, err)
	require.ErrorIs(t, next(t, b).Err, protocol.ErrChatEpoch)
	require.NoError(t, a.SendText(ctx, "new epoch"))
	require.Equal(t, "new epoch", next(t, b).Text)
}

func TestUpgradeChecks(t *testing.T) {
	e := newEnv(t, chat.Config{})
	ctx := ctxT(t)
	a, err := e.cl.StartChat(ctx, client.ChatOptions{})
	require.NoError(t, err)
	ws := strings.Replace(e.url, "http://", "ws://", 1) + "/api/v1/chats/" + a.ID + "/ws"
	tok := protocol.B64Encode(a.Token())
	dial := func(origin string, protos []string, url string) int {
		d := websocket.Dialer{Subprotocols: protos}
		c, res, err := d.DialContext(ctx, url, http.Header{"Origin": {origin}})
		if err == nil {
			c.Close()
			return 101
		}
		require.NotNil(t, res, err)
		return res.StatusCode
	}
	good := []string{"sealdrop.v1", "sealdrop.v1." + tok}
	require.Equal(t, 403, dial("http://evil.example", good, ws), "cross-origin")
	require.Equal(t, 404, dial(e.url, []string{"sealdrop.v1", "sealdrop.v1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, ws), "wrong token")
	require.Equal(t, 404, dial(e.url, []string{"sealdrop.v1"}, ws+"?token="+tok), "token in the URL is not accepted")
	require.Equal(t, 101, dial(e.url, good, ws))
	// Nothing was claimed by the upgrades: the link still admits its first joiner.
	_, err = e.cl.JoinChat(ctx, a.Link, "")
	require.NoError(t, err)
}

func TestFullVaultRefusesRecord(t *testing.T) {
	e := newEnv(t, chat.Config{MaxRecords: 1000, MaxBytes: 64 << 20})
	ctx := ctxT(t)
	a, b := pair(t, e, "", "")
	b.Close()
	<-b.Done()
	var err error
	sent := 0
	for ; sent < 1000; sent++ {
		if err = a.SendText(ctx, strings.Repeat("x", 60_000)); err != nil {
			break
		}
	}
	require.ErrorIs(t, err, client.ErrFull)
	require.Greater(t, sent, 10, "the vault holds some records before it is full")
	t.Logf("the %s vault was full after %d records of 60 KB", memlocktest.Size(e.v.Stats().Budget), sent)
	require.NoError(t, a.End())
	require.Eventually(t, func() bool {
		e.v.Settle()
		return e.v.Stats().Entries[vault.KindChatFrame] == 0
	}, 5*time.Second, 20*time.Millisecond)
	_ = errors.New
}

// A chat that stays silent for many read timeouts stays open on the same sockets: the server
// pings, the client (always reading) answers, and each pong extends the deadline; a record
// sent afterwards arrives. The control: a socket that never reads, so never answers a ping,
// is closed by the server once the read timeout passes.
func TestSilentChatStaysOpen(t *testing.T) {
	v, err := vault.New(vault.Config{Budget: 2 << 20})
	require.NoError(t, err)
	const readTimeout = 300 * time.Millisecond
	s, err := chat.New(chat.Config{Vault: v, PingEvery: 60 * time.Millisecond, ReadTimeout: readTimeout})
	require.NoError(t, err)
	h, err := web.New(web.Config{Vault: v, Chat: s})
	require.NoError(t, err)
	var mu sync.Mutex
	hijacked := 0
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateHijacked { // a WebSocket upgrade
			mu.Lock()
			hijacked++
			mu.Unlock()
		}
	}
	srv.Start()
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close(); s.Close(); _ = v.Close() })
	cl, err := client.New(srv.URL, srv.Client())
	require.NoError(t, err)
	upgrades := func() int { mu.Lock(); defer mu.Unlock(); return hijacked }

	a, b := pair(t, env{v: v, s: s, url: srv.URL, hc: srv.Client(), cl: cl}, "", "")
	before := upgrades()
	require.Equal(t, 2, before, "one socket each")
	time.Sleep(8 * readTimeout) // silence: no record either way
	ctx := ctxT(t)
	require.NoError(t, a.SendText(ctx, "still here"))
	require.Equal(t, "still here", next(t, b).Text)
	require.NoError(t, b.SendText(ctx, "me too"))
	require.Equal(t, "me too", next(t, a).Text)
	require.Equal(t, before, upgrades(), "the same two sockets: none was dropped and reopened")

	// Control: a socket that does not read cannot answer pings, and is cut.
	c, err := cl.StartChat(ctx, client.ChatOptions{})
	require.NoError(t, err)
	ws := strings.Replace(srv.URL, "http://", "ws://", 1) + "/api/v1/chats/" + c.ID + "/ws"
	d := websocket.Dialer{Subprotocols: []string{"sealdrop.v1", "sealdrop.v1." + protocol.B64Encode(c.Token())}}
	conn, _, err := d.DialContext(ctx, ws, http.Header{"Origin": {srv.URL}})
	require.NoError(t, err)
	defer conn.Close()
	time.Sleep(4 * readTimeout)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	for {
		_, _, err = conn.ReadMessage()
		if err != nil {
			break
		}
	}
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "the server closed the silent socket (not our own deadline): %v", err)
}
