package chat_test

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/chat"
	"github.com/sealdrop/sealdrop/internal/memscan"
	"github.com/sealdrop/sealdrop/internal/testclock"
	"github.com/sealdrop/sealdrop/vault"
)

// quotaEnv is a chat server on a vault split as serve splits it (vault.DefaultShares): the
// chat records have their share of the budget, and one chat holds at most its MaxBytes there.
func quotaEnv(t *testing.T, budget, perChat int64, cfg chat.Config) env {
	t.Helper()
	c := testclock.New(time.Unix(1_700_000_000, 0))
	sh := vault.DefaultShares(budget)
	v, err := vault.New(vault.Config{Budget: budget, Now: c.Now, SweepEvery: -1,
		KindQuota:  map[vault.Kind]int64{vault.KindNote: sh.Note, vault.KindChatFrame: sh.ChatFrame, vault.KindSubmission: sh.Submission},
		OwnerQuota: map[vault.Kind]int64{vault.KindChatFrame: perChat, vault.KindSubmission: sh.PerOwner}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	cfg.Vault, cfg.Now, cfg.SweepEvery = v, c.Now, -1 // MaxBytes: the vault's per-chat quota
	s, err := chat.New(cfg)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return env{v, s, c}
}

// keepAlive has b send a tiny record that a acknowledges at once, so that the chat is not idle.
func keepAlive(t *testing.T, a, b *chat.Session) {
	t.Helper()
	seq := send(t, b, []byte{3, 0})
	a.Ack(seq)
}

// A chat whose records fill its share of the vault (its per-chat quota, as serve sets it) keeps
// every pushed but unacknowledged record until it is acknowledged, however long the receiver
// takes to reconnect within the chat's life: nothing has to be copied to survive, so a full
// quota cannot lose one. (The relay used to copy each claimed record into a fresh entry every
// half claim window; at a full quota the copy was refused and the vault's claim window wiped
// the record unread.)
func TestUnackedRecordsKeptAtFullQuota(t *testing.T) {
	const perChat = 64 << 10
	e := quotaEnv(t, 4<<20, perChat, chat.Config{MaxRecord: 16 << 10})
	id, a, b, _ := e.started(t)
	var recs [][]byte
	for i := range 7 { // 7 × 9 KiB of 64 KiB: no room left for an eighth copy
		rec := append([]byte{3, byte(i)}, rnd(t, 9<<10-2)...)
		send(t, a, rec)
		recs = append(recs, rec)
	}
	for i := range recs { // pushed, never acknowledged: the receiver vanished
		d := b.PeekNow(uint64(i))
		require.NotNil(t, d)
		_, err := d.WriteTo(io.Discard)
		require.NoError(t, err)
	}
	n, used := e.v.OwnerUsage(vault.KindChatFrame, id.String())
	require.Equal(t, 7, n)
	require.EqualValues(t, 7*9<<10, used)
	for minute := 1; minute <= 30; minute++ {
		e.c.Add(time.Minute)
		if minute%5 == 0 {
			keepAlive(t, a, b)
		}
		e.sweep()
	}
	for i, rec := range recs {
		d := b.PeekNow(uint64(i))
		require.NotNil(t, d, "record %d is still queued", i)
		var buf bytes.Buffer
		_, err := d.WriteTo(&buf)
		require.NoError(t, err, "record %d, 30 minutes after its push", i)
		require.Equal(t, rec, buf.Bytes())
	}
	b.Ack(uint64(len(recs) - 1))
	e.v.Settle()
	n, used = e.v.OwnerUsage(vault.KindChatFrame, id.String())
	require.Zero(t, n)
	require.Zero(t, used)
	require.Zero(t, e.v.Stats().Used)
}

// A chat's records are held in the vault as the chat kind's entries, owned by the chat: each
// is charged in whole blocks to the chat records' share and to the chat's own quota, exactly
// once however often it is pushed again and however long it waits, and its blocks are free
// again once it is acknowledged or the chat ends.
func TestRecordsChargedToChatShare(t *testing.T) {
	const budget, perChat = 1 << 20, 64 << 10
	e := quotaEnv(t, budget, perChat, chat.Config{MaxRecord: 16 << 10})
	share := vault.DefaultShares(budget).ChatFrame
	id, a, b, _ := e.started(t)
	sizes := []int{1, 1024, 1025, 5000}
	want := int64(1+1+2+5) << 10 // whole 1 KiB blocks
	for _, n := range sizes {
		send(t, a, append([]byte{3}, rnd(t, n-1)...))
	}
	check := func(what string) {
		t.Helper()
		n, used := e.v.OwnerUsage(vault.KindChatFrame, id.String())
		require.Equal(t, len(sizes), n, what)
		require.Equal(t, want, used, what)
		require.Equal(t, want, e.v.Stats().Used, what)
		require.InDelta(t, float64(want)/float64(share), e.v.Load(vault.KindChatFrame, "").Kind, 1e-9, what)
		require.Zero(t, e.v.Load(vault.KindNote, "").Kind, what)
		require.Zero(t, e.v.Load(vault.KindSubmission, "").Kind, what)
	}
	check("stored")
	for push := range 3 { // a receiver that reconnects twice before it acknowledges
		for i := range sizes {
			d := b.PeekNow(uint64(i))
			require.NotNil(t, d)
			got, err := d.WriteTo(io.Discard)
			require.NoError(t, err)
			require.EqualValues(t, sizes[i], got)
		}
		check("pushed")
		e.c.Add(8 * time.Minute) // past a claim window by the third push
		keepAlive(t, a, b)
		e.sweep()
		check("after a sweep, push " + string(rune('1'+push)))
	}
	b.Ack(1)
	e.v.Settle()
	n, used := e.v.OwnerUsage(vault.KindChatFrame, id.String())
	require.Equal(t, 2, n)
	require.EqualValues(t, 7<<10, used)
	a.End()
	e.v.Settle()
	require.Zero(t, e.v.Stats().Used)
	require.Zero(t, e.v.Load(vault.KindChatFrame, "").Kind)
}

// An undelivered record exists in process memory exactly once, in its vault entry, while it
// waits, is pushed again and again, and outlives a claim window; after the acknowledgement it
// is nowhere. The relay never copies a record through a buffer of its own.
func TestWaitingRecordHeldOnceInMemory(t *testing.T) {
	e := newEnv(t, 1<<20, chat.Config{})
	_, a, b, _ := e.started(t)
	cn := memscan.NewCanary(t)
	const size = 4096
	_, err := a.Send(&canaryReader{c: cn, n: size}, size)
	require.NoError(t, err)
	require.Equal(t, size/memscan.Size, cn.Count(t), "control: the record's canaries, once each")
	for push := range 4 {
		d := b.PeekNow(0)
		require.NotNil(t, d)
		_, err := d.WriteTo(io.Discard)
		require.NoError(t, err)
		e.c.Add(4 * time.Minute)
		keepAlive(t, a, b)
		e.sweep()
		require.Equal(t, size/memscan.Size, cn.Count(t), "after push %d and a sweep: held once", push+1)
	}
	b.Ack(0)
	e.v.Settle()
	require.Zero(t, cn.Count(t), "acknowledged: nowhere in memory")
}
