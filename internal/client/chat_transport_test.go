package client_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/chat"
	"github.com/sealdrop/sealdrop/internal/client"
	"github.com/sealdrop/sealdrop/internal/web"
	"github.com/sealdrop/sealdrop/vault"
)

// wrapping is a RoundTripper around another, as a counting or tracing wrapper would be.
type wrapping struct{ rt http.RoundTripper }

func (w wrapping) RoundTrip(r *http.Request) (*http.Response, error) { return w.rt.RoundTrip(r) }

// unwrapping is wrapping that names the transport it wraps.
type unwrapping struct{ wrapping }

func (u unwrapping) Unwrap() http.RoundTripper { return u.rt }

// TestChatSocketThroughWrappedTransport: a chat opens its WebSocket through the *http.Transport
// its client's transport wraps when the wrapper names it (Unwrap), and uses the POST fallback,
// never a socket of its own choosing, when it cannot tell where a socket would go.
func TestChatSocketThroughWrappedTransport(t *testing.T) {
	v, err := vault.New(vault.Config{Budget: 2 << 20})
	require.NoError(t, err)
	s, err := chat.New(chat.Config{Vault: v})
	require.NoError(t, err)
	h, err := web.New(web.Config{Vault: v, Chat: s})
	require.NoError(t, err)
	var upgrades, polls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			upgrades.Add(1)
		}
		if strings.HasSuffix(r.URL.Path, "/poll") {
			polls.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		s.Close()
		_ = v.Close()
	})
	for _, tc := range []struct {
		name   string
		rt     http.RoundTripper
		socket bool
	}{
		{"unwrap", unwrapping{wrapping{srv.Client().Transport}}, true},
		{"opaque", wrapping{srv.Client().Transport}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			upgrades.Store(0)
			polls.Store(0)
			cl, err := client.New(srv.URL, &http.Client{Transport: tc.rt})
			require.NoError(t, err)
			ctx := ctxT(t)
			a, err := cl.StartChat(ctx, client.ChatOptions{})
			require.NoError(t, err)
			require.NoError(t, a.Connect(ctx))
			b, err := cl.JoinChat(ctx, a.Link, "")
			require.NoError(t, err)
			require.NoError(t, b.Connect(ctx))
			_, err = a.WaitReady(ctx)
			require.NoError(t, err)
			require.NoError(t, a.SendText(ctx, "through "+tc.name))
			require.Equal(t, "through "+tc.name, next(t, b).Text)
			require.NoError(t, a.End())
			<-a.Done()
			<-b.Done()
			if tc.socket {
				require.EqualValues(t, 2, upgrades.Load(), "both sides on a WebSocket")
				require.Zero(t, polls.Load(), "no fallback")
			} else {
				require.Zero(t, upgrades.Load(), "no socket when the transport is opaque")
				require.NotZero(t, polls.Load(), "the POST fallback")
			}
		})
	}
}
