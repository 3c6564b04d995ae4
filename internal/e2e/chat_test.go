package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/client"
	"github.com/sealdrop/sealdrop/internal/protocol"
)

// chatPerson is a chat client that reaches the onion through ct's SOCKS port, for the HTTP
// calls and the WebSocket alike (the client dials its socket through hc's transport). who becomes the SOCKS user name: tor isolates streams by
// SOCKS credentials, so each person gets circuits of their own, as two people would.
func chatPerson(t *testing.T, ct *clientTor, base, who string) (*client.Client, *http.Client) {
	t.Helper()
	hc := &http.Client{Transport: ct.transportAs(t, who)}
	c, err := client.New(base, hc)
	require.NoError(t, err)
	return c, hc
}

// pollStatus is the status of a non-waiting fallback poll with ch's session token: 404 once
// the session is gone.
func pollStatus(t *testing.T, hc *http.Client, base string, ch *client.Chat) int {
	t.Helper()
	body := fmt.Sprintf(`{"session":%q,"wait":false}`, protocol.B64Encode(ch.Token()))
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/api/v1/chats/"+ch.ID+"/poll", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", base)
	res, err := hc.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// nextChatEvent returns ch's next event that is not a peer notice; a refused record fails
// the test (nothing on this path forges, drops or reorders).
func nextChatEvent(t *testing.T, ch *client.Chat, wait time.Duration) client.ChatEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	for {
		ev, err := ch.Receive(ctx)
		require.NoError(t, err, "waiting for a chat event")
		require.NoError(t, ev.Err, "a record was refused")
		if ev.Peer == nil {
			return ev
		}
	}
}

// chatLatency is one transport's latency samples for a 1 KiB record (a 1019-byte text, 1024
// bytes of inner message, as in the client's loopback measurement).
type chatLatency struct {
	acked     []time.Duration // SendText until the server's stored-answer: sender -> server -> sender
	delivered []time.Duration // SendText until the other client has opened it: sender -> server -> receiver
	round     []time.Duration // a's text delivered to b, b's answer delivered to a
}

// pctl is the q-th percentile by nearest rank (with 50 samples, p99 is the largest).
func pctl(ds []time.Duration, q int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*q + 99) / 100
	return s[max(i-1, 0)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

// oneWay sends a 1 KiB text from -> to and returns how long the server's answer and the
// delivery took, each from the start of the send.
func oneWay(t *testing.T, from, to *client.Chat, msg string) (acked, delivered time.Duration) {
	t.Helper()
	type got struct {
		text string
		at   time.Duration
		err  error
	}
	ch := make(chan got, 1)
	start := time.Now()
	go func() {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		for {
			ev, err := to.Receive(ctx)
			if err == nil && ev.Err != nil {
				err = ev.Err
			}
			if err != nil || ev.Peer == nil {
				ch <- got{ev.Text, time.Since(start), err}
				return
			}
		}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	require.NoError(t, from.SendText(ctx, msg))
	acked = time.Since(start)
	g := <-ch
	require.NoError(t, g.err)
	require.Equal(t, msg, g.text)
	return acked, g.at
}

// talkOverOnion is one whole chat between two people through the onion on one transport:
// start, join, the same safety code on both sides, a third person refused, text and a
// 200 KiB file both ways, latency samples, End seen by both, and afterwards the link and
// both sessions gone.
func talkOverOnion(t *testing.T, ct *clientTor, base string, poll bool) chatLatency {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	tag := fmt.Sprintf("ws-%v-%d", !poll, time.Now().UnixNano())
	creator, _ := chatPerson(t, ct, base, "creator-"+tag)
	joiner, _ := chatPerson(t, ct, base, "joiner-"+tag)
	third, thirdHTTP := chatPerson(t, ct, base, "third-"+tag)
	connect := func(ch *client.Chat) error {
		if poll {
			return ch.ConnectPoll(ctx)
		}
		return ch.Connect(ctx)
	}

	a, err := creator.StartChat(ctx, client.ChatOptions{})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(a.Link, base+"/c/"+a.ID+"#"), "the chat link is on the onion: %q", a.Link)
	require.NoError(t, connect(a))
	b, err := joiner.JoinChat(ctx, a.Link, "")
	require.NoError(t, err)
	require.NoError(t, connect(b))
	codeA, err := a.WaitReady(ctx)
	require.NoError(t, err)
	codeB, err := b.WaitReady(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, codeA)
	require.Equal(t, codeA, codeB, "both sides derive the same safety code")

	// The claim is gone: a third person with the whole link is answered like any gone link.
	_, err = third.JoinChat(ctx, a.Link, "")
	require.ErrorIs(t, err, client.ErrGone, "a join after the claim")

	require.NoError(t, a.SendText(ctx, "hello through the onion"))
	require.Equal(t, "hello through the onion", nextChatEvent(t, b, time.Minute).Text)
	require.NoError(t, b.SendText(ctx, "hello back, ünïcode ✓"))
	require.Equal(t, "hello back, ünïcode ✓", nextChatEvent(t, a, time.Minute).Text)

	for _, d := range []struct {
		from, to *client.Chat
		name     string
	}{{a, b, "to-joiner.bin"}, {b, a, "to-creator.bin"}} {
		data := make([]byte, 200<<10)
		_, _ = rand.Read(data)
		var last int64
		require.NoError(t, d.from.SendFile(ctx, d.name, "application/octet-stream", data, func(done, total int64) {
			require.Equal(t, int64(len(data)), total)
			require.Greater(t, done, last, "progress only grows")
			last = done
		}))
		require.Equal(t, int64(len(data)), last)
		ev := nextChatEvent(t, d.to, 2*time.Minute)
		require.NotNil(t, ev.File, "a whole file arrives")
		require.Equal(t, d.name, ev.File.Name)
		require.Equal(t, "application/octet-stream", ev.File.Type)
		require.True(t, bytes.Equal(data, ev.File.Data), "the file arrives byte-identical")
	}

	var lat chatLatency
	msg := strings.Repeat("x", 1024-5)
	for range 50 {
		ack1, del1 := oneWay(t, a, b, msg)
		ack2, del2 := oneWay(t, b, a, msg)
		lat.acked = append(lat.acked, ack1, ack2)
		lat.delivered = append(lat.delivered, del1, del2)
		lat.round = append(lat.round, del1+del2)
	}

	require.Equal(t, poll, a.Polling(), "the creator's transport")
	require.Equal(t, poll, b.Polling(), "the joiner's transport: on the socket run, no fallback was needed")

	require.NoError(t, b.End())
	for _, ch := range []*client.Chat{a, b} {
		select {
		case <-ch.Done():
		case <-time.After(time.Minute):
			t.Fatal("the connection did not close within a minute of End")
		}
	}
	// The creator was told: the socket says why; the fallback's poll finds the chat gone.
	ev := nextChatEvent(t, a, 10*time.Second)
	require.NotEmpty(t, ev.Ended, "the creator sees that the chat ended")

	_, err = third.JoinChat(ctx, a.Link, "")
	require.ErrorIs(t, err, client.ErrGone, "the link after End")
	// Both session tokens are dead: the fallback's poll answers 404 to each (whoever asks:
	// the token is the whole credential), and a new socket is refused as gone.
	require.Equal(t, http.StatusNotFound, pollStatus(t, thirdHTTP, base, a), "the creator's session after End")
	require.Equal(t, http.StatusNotFound, pollStatus(t, thirdHTTP, base, b), "the joiner's session after End")
	if !poll {
		require.ErrorIs(t, connect(a), client.ErrGone, "the creator's socket after End")
	}
	return lat
}

// TestChatOverOnion is issue 7's onion end-to-end chat: sealdrop in managed mode on the
// private network, two Go chat clients (and a third who comes too late) through a client
// tor's SOCKS port, first over the WebSocket, then over the POST fallback. It reports the
// relay latency of a 1 KiB record through the onion for each, and asserts no speed.
func TestChatOverOnion(t *testing.T) {
	n := tn.Get(t)
	visitor := newClientTor(t, n)
	s := startSealdrop(t, managedArgs(t, n, t.TempDir(), shortDir(t))...)
	base := s.onionBase(t)
	waitReachable(t, visitor, base)

	var report []string
	for _, tr := range []struct {
		name string
		poll bool
	}{{"websocket", false}, {"fallback", true}} {
		ok := t.Run(tr.name, func(t *testing.T) {
			start := time.Now()
			lat := talkOverOnion(t, visitor, base, tr.poll)
			report = append(report, fmt.Sprintf(
				"MEASURE chat over the onion, %s, 1 KiB record: delivered (sender to receiver) p50 %s p99 %s over %d; "+
					"server's answer to the sender p50 %s p99 %s; round trip p50 %s p99 %s over %d; whole chat %.1f s",
				tr.name, ms(pctl(lat.delivered, 50)), ms(pctl(lat.delivered, 99)), len(lat.delivered),
				ms(pctl(lat.acked, 50)), ms(pctl(lat.acked, 99)),
				ms(pctl(lat.round, 50)), ms(pctl(lat.round, 99)), len(lat.round), time.Since(start).Seconds()))
		})
		if !ok {
			break
		}
	}
	for _, r := range report {
		t.Log(r)
	}
	// Nothing about either chat was printed, and the process exits cleanly.
	s.stop(t)
}
