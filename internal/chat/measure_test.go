package chat_test

import (
	"bytes"
	"errors"
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

// BenchmarkJoinWrongPIN records how long a join with a mistyped PIN and one with the destruct
// PIN take, side by side in one run (recorded, not asserted). Each iteration creates a chat
// with a PIN whose creator has sent a hello (so that the destruct match has a record to zero),
// times only the Join, then types wrong PINs until the chat is gone.
//
//	go test -run X -bench JoinWrongPIN -benchtime 20000x ./internal/chat
func BenchmarkJoinWrongPIN(b *testing.B) {
	for _, tc := range []struct {
		name   string
		duress bool
	}{{"typo", false}, {"duress", true}, {"typo-again", false}} {
		b.Run(tc.name, func(b *testing.B) {
			e := newEnv(b, 1<<20, chat.Config{})
			k := caps{gate: rnd(b, 32), open: rnd(b, 32), destruct: rnd(b, 32), manage: rnd(b, 32)}
			wrong := rnd(b, 32)
			hello := make([]byte, 103)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				cr, err := e.s.Create(chat.CreateRequest{Gate: h(k.gate), Open: h(k.open), PIN: true, Destruct: h(k.destruct), Manage: h(k.manage)})
				if err != nil {
					b.Fatal(err)
				}
				a, err := e.s.Attach(cr.ID, cr.Session)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := a.Send(bytes.NewReader(hello), int64(len(hello))); err != nil {
					b.Fatal(err)
				}
				req := chat.JoinRequest{Gate: k.gate, Open: wrong, Destruct: wrong}
				if tc.duress {
					req.Destruct = k.destruct
				}
				b.StartTimer()
				_, err = e.s.Join(cr.ID, req)
				b.StopTimer()
				if _, ok := err.(*chat.PINError); !ok {
					b.Fatalf("join with a wrong PIN: %v", err)
				}
				for i := 0; ; i++ { // wrong PINs to the end, which frees the chat either way
					if _, err := e.s.Join(cr.ID, chat.JoinRequest{Gate: k.gate, Open: wrong}); errors.Is(err, chat.ErrGone) {
						break
					} else if i > 10 {
						b.Fatalf("the chat outlived its failures: %v", err)
					}
				}
				b.StartTimer()
			}
		})
	}
}
