package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/chat"
	"github.com/sealdrop/sealdrop/internal/client"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/vault"
)

func postJSON(t *testing.T, url string, body any) *http.Response {
	b, _ := json.Marshal(body)
	res, err := http.Post(url, "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	return res
}

// The long-poll fallback: send a record by POST, poll it on the other side, acknowledge it
// with the next poll (wiped), end by POST; afterwards every call is gone.
func TestFallbackSendPollEnd(t *testing.T) {
	e := newEnv(t, chat.Config{})
	ctx := ctxT(t)
	a, err := e.cl.StartChat(ctx, client.ChatOptions{})
	require.NoError(t, err)
	b, err := e.cl.JoinChat(ctx, a.Link, "")
	require.NoError(t, err)
	base := e.url + "/api/v1/chats/" + a.ID
	ta, tb := protocol.B64Encode(a.Token()), protocol.B64Encode(b.Token())

	req, _ := http.NewRequest(http.MethodPost, base+"/send", bytes.NewReader([]byte("opaque record")))
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Sealdrop-Session", ta)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, 200, res.StatusCode)
	res.Body.Close()

	res = postJSON(t, base+"/poll", map[string]any{"session": tb, "wait": true})
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, 200, res.StatusCode)
	require.Equal(t, "opaque record", string(body))
	require.Equal(t, "0", res.Header.Get("Sealdrop-Seq"))
	require.Equal(t, "application/octet-stream", res.Header.Get("Content-Type"))

	res = postJSON(t, base+"/poll", map[string]any{"session": tb, "ack": 0, "wait": false})
	res.Body.Close()
	require.Equal(t, 204, res.StatusCode)
	e.v.Settle()
	require.Zero(t, e.v.Stats().Entries[vault.KindChatFrame])

	res = postJSON(t, base+"/poll", map[string]any{"session": ta, "wait": false})
	res.Body.Close()
	require.Equal(t, "1", res.Header.Get("Sealdrop-Peer"), "b polled recently")

	res = postJSON(t, base+"/end", map[string]any{"session": ta})
	res.Body.Close()
	require.Equal(t, 204, res.StatusCode)
	res = postJSON(t, base+"/poll", map[string]any{"session": tb, "wait": false})
	res.Body.Close()
	require.Equal(t, 404, res.StatusCode)
}

// TestMeasureRelayLatency prints nothing and asserts no speed: it reports p50/p99 of a 1 KiB
// record from one Go client to the other over loopback (go test -v -run Measure).
func TestMeasureRelayLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	e := newEnv(t, chat.Config{})
	ctx := ctxT(t)
	a, b := pair(t, e, "", "")
	msg := strings.Repeat("x", 1024-5)
	var d []time.Duration
	for range 300 {
		start := time.Now()
		require.NoError(t, a.SendText(ctx, msg))
		ev := next(t, b)
		require.Len(t, ev.Text, len(msg))
		d = append(d, time.Since(start))
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	t.Logf("1 KiB record, client to client over loopback (send, stored-ack, relayed, opened): p50 %v p99 %v", d[len(d)/2], d[len(d)*99/100])
	_ = context.Background
}
