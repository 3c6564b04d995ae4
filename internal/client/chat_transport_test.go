package client_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/chat"
	"github.com/sealdrop/sealdrop/internal/client"
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
	var upgrades, polls atomic.Int64
	e := newEnvWrapped(t, chat.Config{}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
				upgrades.Add(1)
			}
			if strings.HasSuffix(r.URL.Path, "/poll") {
				polls.Add(1)
			}
			h.ServeHTTP(w, r)
		})
	})
	for _, tc := range []struct {
		name   string
		rt     http.RoundTripper
		socket bool
	}{
		{"unwrap", unwrapping{wrapping{e.hc.Transport}}, true},
		{"opaque", wrapping{e.hc.Transport}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			upgrades.Store(0)
			polls.Store(0)
			cl, err := client.New(e.url, &http.Client{Transport: tc.rt})
			require.NoError(t, err)
			ctx := ctxT(t)
			a, b := connectPair(t, cl, client.ChatOptions{}, (*client.Chat).Connect, (*client.Chat).Connect)
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
