package chat_test

import (
	"bytes"
	"io"
	"runtime"
	"testing"

	"github.com/sealdrop/sealdrop/internal/chat"
	"github.com/sealdrop/sealdrop/vault"
)

// BenchmarkServerShare1KiB is the server's share of relaying one 1 KiB record: store in the
// vault, find it for the receiver, stream it out, acknowledge (wipe).
func BenchmarkServerShare1KiB(b *testing.B) {
	e := newEnv(b, 1<<20, chat.Config{}) // one 1 KiB record at a time
	_, a, r, _ := e.started(b)
	rec := make([]byte, 1024)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		seq, err := a.Send(bytes.NewReader(rec), 1024)
		if err != nil {
			b.Fatal(err)
		}
		d := r.PeekNow(seq)
		if _, err := d.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
		r.Ack(seq)
	}
}

// TestMeasureIdleChats reports what an idle chat costs: a joined chat whose handshake records
// were delivered holds no vault bytes; a pending one holds its creator's hello (one block).
func TestMeasureIdleChats(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	// 4 MiB: the 1,000 hellos take 1,000 blocks of 1 KiB, a quarter of it, below the half at
	// which new chats start to pay.
	e := newEnv(t, 4<<20, chat.Config{MaxChats: 2000})
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	const n = 1000
	keep := make([]*chat.Session, 0, n)
	for range n {
		_, a, _, _ := e.started(t)
		if _, err := a.Send(bytes.NewReader(make([]byte, 103)), 103); err != nil {
			t.Fatal(err)
		}
		keep = append(keep, a)
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	st := e.v.Stats()
	t.Logf("%d chats each with one undelivered hello: vault used %d bytes (%d per chat), heap %d bytes per chat, chat records held %d",
		n, st.Used, st.Used/n, int64(m1.HeapAlloc-m0.HeapAlloc)/n, st.Entries[vault.KindChatFrame])
	_ = keep
}
