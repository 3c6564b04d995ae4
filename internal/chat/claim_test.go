package chat_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/chat"
	"github.com/sealdrop/sealdrop/vault"
)

// deliver reads the first undelivered record of a side (claiming it in the vault) without
// acknowledging it: a push whose receiver vanished before the ack.
func deliver(t *testing.T, ss *chat.Session) ([]byte, error) {
	t.Helper()
	d := ss.PeekNow(0)
	require.NotNil(t, d, "a record is waiting")
	var buf bytes.Buffer
	_, err := d.WriteTo(&buf)
	return buf.Bytes(), err
}

// sweep runs both sweepers, the chat's first (as the background ones would, in either order).
func (e env) sweep() {
	e.s.Sweep()
	e.v.Sweep()
	e.v.Settle()
}

// A record pushed but not acknowledged outlives the vault's claim window: the relay moves it
// to a fresh entry every half window, so it is still delivered 14 minutes later (the chat kept
// alive by other records); once acknowledged, nothing is left. The control chat, whose relay
// sweep never runs, loses its record to the vault's claim window.
func TestUnackedRecordOutlivesClaimWindow(t *testing.T) {
	for _, relaySweeps := range []bool{true, false} {
		e := newEnv(t, 1<<20, chat.Config{})
		_, a, b, _ := e.started(t)
		rec := append([]byte{3}, rnd(t, 700)...)
		_, err := a.Send(bytes.NewReader(rec), int64(len(rec)))
		require.NoError(t, err)
		got, err := deliver(t, b)
		require.NoError(t, err)
		require.Equal(t, rec, got)

		for minute := 1; minute <= 14; minute++ {
			e.c.Add(time.Minute)
			if minute%4 == 0 { // the other direction keeps the chat from going idle
				_, err := b.Send(bytes.NewReader([]byte{3, byte(minute)}), 2)
				require.NoError(t, err)
				d := a.PeekNow(0)
				require.NotNil(t, d)
				a.Ack(d.Seq + 10)
			}
			if relaySweeps {
				e.sweep()
			} else {
				e.v.Sweep()
				e.v.Settle()
			}
			require.LessOrEqual(t, e.v.Stats().Entries[vault.KindChatFrame], 1, "never held twice after a sweep")
		}
		got, err = deliver(t, b)
		if !relaySweeps {
			require.ErrorIs(t, err, chat.ErrGone, "control: the vault's claim window wiped the unmoved record")
			continue
		}
		require.NoError(t, err)
		require.Equal(t, rec, got, "14 minutes after the first push, the same record")
		b.Ack(0)
		e.v.Settle()
		require.Zero(t, e.v.Stats().Entries[vault.KindChatFrame])
	}
}

// The record lives until the chat's idle timeout, which wipes it with the chat.
func TestUnackedRecordEndsWithIdleChat(t *testing.T) {
	e := newEnv(t, 1<<20, chat.Config{Idle: 15 * time.Minute})
	_, a, b, _ := e.started(t)
	_, err := a.Send(bytes.NewReader([]byte{3, 1, 2, 3}), 4)
	require.NoError(t, err)
	_, err = deliver(t, b)
	require.NoError(t, err)
	for range 14 {
		e.c.Add(time.Minute)
		e.sweep()
	}
	require.Equal(t, 1, e.v.Stats().Entries[vault.KindChatFrame], "kept within the idle window")
	require.Equal(t, 1, e.s.Count())
	e.c.Add(time.Minute)
	e.sweep()
	require.Zero(t, e.v.Stats().Entries[vault.KindChatFrame])
	require.Zero(t, e.v.Stats().Used)
	require.Zero(t, e.s.Count())
}

// blockingWriter blocks its first Write until released: a push to a slow socket.
type blockingWriter struct {
	buf     bytes.Buffer
	started chan struct{}
	release chan struct{}
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	if w.started != nil {
		close(w.started)
		w.started = nil
		<-w.release
	}
	return w.buf.Write(p)
}

// A record being streamed is not moved from under the stream; it is moved at a later sweep.
func TestRecordNotMovedWhileStreaming(t *testing.T) {
	e := newEnv(t, 1<<20, chat.Config{})
	_, a, b, _ := e.started(t)
	rec := append([]byte{3}, rnd(t, 5000)...)
	_, err := a.Send(bytes.NewReader(rec), int64(len(rec)))
	require.NoError(t, err)
	_, err = deliver(t, b) // first claim
	require.NoError(t, err)

	w := &blockingWriter{started: make(chan struct{}), release: make(chan struct{})}
	started := w.started
	done := make(chan error, 1)
	d := b.PeekNow(0)
	require.NotNil(t, d)
	go func() {
		_, err := d.WriteTo(w)
		done <- err
	}()
	<-started
	e.c.Add(6 * time.Minute) // past half the claim window
	e.s.Sweep()
	close(w.release)
	require.NoError(t, <-done, "the stream was not cut")
	require.Equal(t, rec, w.buf.Bytes())

	e.c.Add(2 * time.Minute) // 8 minutes after the claim: moved now
	e.sweep()
	e.c.Add(5 * time.Minute) // the first claim's window has ended
	e.sweep()
	got, err := deliver(t, b)
	require.NoError(t, err, "moved at the sweep after the stream")
	require.Equal(t, rec, got)
}
