package client_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/chat"
	"github.com/sealdrop/sealdrop/internal/client"
	"github.com/sealdrop/sealdrop/vault"
)

func isWS(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/ws") }

// talk sends text and a file both ways and checks what arrives.
func talk(t *testing.T, a, b *client.Chat) {
	t.Helper()
	ctx := ctxT(t)
	require.NoError(t, a.SendText(ctx, "over the fallback"))
	require.Equal(t, "over the fallback", next(t, b).Text)
	require.NoError(t, b.SendText(ctx, "and back"))
	require.Equal(t, "and back", next(t, a).Text)
	for _, d := range []struct {
		from, to *client.Chat
		n        int
	}{{a, b, 150_000}, {b, a, 70_000}} {
		data := make([]byte, d.n)
		_, _ = rand.Read(data)
		require.NoError(t, d.from.SendFile(ctx, "f.bin", "application/octet-stream", data, nil))
		ev := next(t, d.to)
		require.NotNil(t, ev.File)
		require.True(t, bytes.Equal(data, ev.File.Data))
	}
}

func requireNothingKept(t *testing.T, e env) {
	t.Helper()
	require.Eventually(t, func() bool {
		e.v.Settle()
		return e.v.Stats().Entries[vault.KindChatFrame] == 0 && e.s.Count() == 0
	}, 5*time.Second, 20*time.Millisecond)
}

// A chat where one side is forced onto the POST fallback and the other uses the socket:
// handshake, text and files both ways, End from the polling side reaches the socket side, and
// nothing is kept.
func TestForcedFallbackTalksToSocket(t *testing.T) {
	e := newEnv(t, chat.Config{})
	ctx := ctxT(t)
	a, b := connectPair(t, e.cl, client.ChatOptions{}, (*client.Chat).Connect, (*client.Chat).ConnectPoll)
	require.True(t, b.Polling())
	require.False(t, a.Polling())
	talk(t, a, b)

	require.NoError(t, b.End())
	require.Equal(t, chat.ReasonEnded, next(t, a).Ended)
	<-b.Done()
	requireNothingKept(t, e)
	_, err := b.SendRecord(ctx, []byte{3, 0})
	require.Error(t, err, "nothing can be sent after the end")
}

// When the upgrade is refused (a middlebox that breaks WebSockets), Connect tries twice and
// then uses the fallback; both sides chat and the socket side learns of the end by gone.
func TestConnectFallsBackWhenUpgradesFail(t *testing.T) {
	var refused atomic.Int32
	e := newEnvWrapped(t, chat.Config{}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if isWS(r) {
				refused.Add(1)
				http.Error(w, "no", http.StatusBadGateway)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	ctx := ctxT(t)
	a, err := e.cl.StartChat(ctx, client.ChatOptions{PIN: "24681357"})
	require.NoError(t, err)
	require.NoError(t, a.Connect(ctx))
	require.True(t, a.Polling())
	require.EqualValues(t, client.WSFailures, refused.Load())
	b, err := e.cl.JoinChat(ctx, a.Link, "24681357")
	require.NoError(t, err)
	require.NoError(t, b.Connect(ctx))
	require.True(t, b.Polling())
	require.EqualValues(t, 2*client.WSFailures, refused.Load())
	ca, err := a.WaitReady(ctx)
	require.NoError(t, err)
	cb, err := b.WaitReady(ctx)
	require.NoError(t, err)
	require.Equal(t, ca, cb)
	talk(t, a, b)
	require.NoError(t, a.End())
	require.Equal(t, "ended", next(t, b).Ended)
	requireNothingKept(t, e)
}

// dropConn closes every upgraded connection shortly after the upgrade.
type dropConn struct{ http.ResponseWriter }

func (d dropConn) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := d.ResponseWriter.(http.Hijacker).Hijack()
	if err == nil {
		time.AfterFunc(100*time.Millisecond, func() { _ = c.Close() })
	}
	return c, rw, err
}

// A socket that opens but keeps dropping: after WSFailures quick drops, the next Connect uses
// the fallback.
func TestConnectFallsBackWhenSocketsKeepDropping(t *testing.T) {
	e := newEnvWrapped(t, chat.Config{}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if isWS(r) {
				h.ServeHTTP(dropConn{w}, r)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	ctx := ctxT(t)
	a, err := e.cl.StartChat(ctx, client.ChatOptions{})
	require.NoError(t, err)
	for i := 0; i < client.WSFailures; i++ {
		require.NoError(t, a.Connect(ctx))
		require.False(t, a.Polling(), "attempt %d still on the socket", i)
		select {
		case <-a.Done():
		case <-ctx.Done():
			t.Fatal("the middlebox did not drop the socket")
		}
	}
	require.NoError(t, a.Connect(ctx))
	require.True(t, a.Polling(), "after %d quick drops the fallback is used", client.WSFailures)
	b, err := e.cl.JoinChat(ctx, a.Link, "")
	require.NoError(t, err)
	require.NoError(t, b.ConnectPoll(ctx))
	_, err = a.WaitReady(ctx)
	require.NoError(t, err)
	_, err = b.WaitReady(ctx)
	require.NoError(t, err)
	require.NoError(t, a.SendText(ctx, "steady now"))
	require.Equal(t, "steady now", next(t, b).Text)
	require.NoError(t, b.End())
	requireNothingKept(t, e)
}

// TestMeasureFallbackLatency reports (asserts no speed) p50/p99 of a 1 KiB record from a socket
// client to a polling one over loopback: send, stored answer, long-poll answer, opened.
func TestMeasureFallbackLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	e := newEnv(t, chat.Config{})
	ctx := ctxT(t)
	a, b := connectPair(t, e.cl, client.ChatOptions{}, (*client.Chat).Connect, (*client.Chat).ConnectPoll)
	msg := strings.Repeat("x", 1024-5)
	var d []time.Duration
	for range 200 {
		start := time.Now()
		require.NoError(t, a.SendText(ctx, msg))
		require.Len(t, next(t, b).Text, len(msg))
		d = append(d, time.Since(start))
	}
	slices.Sort(d)
	t.Logf("1 KiB record, socket client to polling client over loopback: p50 %v p99 %v", d[len(d)/2], d[len(d)*99/100])
}
