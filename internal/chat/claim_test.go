package chat_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/chat"
	"github.com/sealdrop/sealdrop/vault"
)

// deliver reads the first undelivered record of a side without acknowledging it: a push whose
// receiver vanished before the ack.
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

// A record pushed but not acknowledged outlives the vault's claim window, whether or not the
// relay's sweep runs: it is a relay entry, which nobody claims, so nothing has to copy it to
// keep it. 14 minutes later (the chat kept alive by other records) it is delivered, held once
// all along; once acknowledged, nothing is left. (The relay used to copy such a record to a
// fresh entry every half claim window; a chat whose relay sweep did not run lost it.)
func TestUnackedRecordOutlivesClaimWindow(t *testing.T) {
	for _, relaySweeps := range []bool{true, false} {
		e := newEnv(t, 1<<20, chat.Config{})
		_, a, b, _ := e.started(t)
		rec := append([]byte{3}, rnd(t, 700)...)
		send(t, a, rec)
		got, err := deliver(t, b)
		require.NoError(t, err)
		require.Equal(t, rec, got)

		for minute := 1; minute <= 14; minute++ {
			e.c.Add(time.Minute)
			if minute%4 == 0 { // the other direction keeps the chat from going idle
				send(t, b, []byte{3, byte(minute)})
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
			require.Equal(t, 1, e.v.Stats().Entries[vault.KindChatFrame], "held once")
		}
		got, err = deliver(t, b)
		require.NoError(t, err, "relay sweeps: %v", relaySweeps)
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
	send(t, a, []byte{3, 1, 2, 3})
	_, err := deliver(t, b)
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

// A sweep while a record is being streamed neither cuts the stream nor touches the record: it
// is pushed again, whole, after the first push's claim window would have ended.
func TestSweepDoesNotCutAStream(t *testing.T) {
	e := newEnv(t, 1<<20, chat.Config{})
	_, a, b, _ := e.started(t)
	rec := append([]byte{3}, rnd(t, 5000)...)
	send(t, a, rec)
	_, err := deliver(t, b) // first push
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
	e.c.Add(6 * time.Minute)
	e.sweep()
	close(w.release)
	require.NoError(t, <-done, "the stream was not cut")
	require.Equal(t, rec, w.buf.Bytes())

	e.c.Add(7 * time.Minute) // past the vault's claim window since the first push
	e.sweep()
	got, err := deliver(t, b)
	require.NoError(t, err, "pushed again after the stream")
	require.Equal(t, rec, got)
	require.Equal(t, 1, e.v.Stats().Entries[vault.KindChatFrame])
}
