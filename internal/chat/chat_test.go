package chat_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/chat"
	"github.com/sealdrop/sealdrop/internal/memscan"
	"github.com/sealdrop/sealdrop/internal/price"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/internal/testclock"
	"github.com/sealdrop/sealdrop/internal/wsrelay"
	"github.com/sealdrop/sealdrop/vault"
)

type clock = testclock.Clock

func rnd(t testing.TB, n int) []byte {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

func h(b []byte) [32]byte { return sha256.Sum256(b) }

// send stores rec as s's next record and returns its sequence number.
func send(t testing.TB, s *chat.Session, rec []byte) uint64 {
	t.Helper()
	seq, err := s.Send(bytes.NewReader(rec), int64(len(rec)))
	require.NoError(t, err)
	return seq
}

type env struct {
	v *vault.Vault
	s *chat.Server
	c *clock
}

func newEnv(t testing.TB, budget int64, cfg chat.Config) env {
	t.Helper()
	c := testclock.New(time.Unix(1_700_000_000, 0))
	v, err := vault.New(vault.Config{Budget: budget, Now: c.Now, SweepEvery: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	cfg.Vault, cfg.Now, cfg.SweepEvery = v, c.Now, -1
	s, err := chat.New(cfg)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return env{v, s, c}
}

type caps struct{ gate, open, destruct, manage []byte }

// create makes a chat, paying its price when one is asked (the vault is getting full).
func (e env) create(t testing.TB, req chat.CreateRequest) (chat.Created, error) {
	t.Helper()
	cr, err := e.s.Create(req)
	var unpaid *price.Unpaid
	if !errors.As(err, &unpaid) {
		return cr, err
	}
	tok, _ := e.s.Config().Price.Token()
	ttl := req.TTL
	if ttl == 0 {
		ttl = e.s.Config().DefaultTTL
	}
	nonce, err := protocol.SolvePrice(context.Background(), tok[:], protocol.PriceRequest{Kind: protocol.PriceChat, Manage: req.Manage, Length: chat.PriceLength, TTL: ttl}, unpaid.Bits)
	require.NoError(t, err)
	req.PriceToken, req.PriceNonce = tok[:], nonce[:]
	return e.s.Create(req)
}

// started creates a chat and joins it; it returns both sessions.
func (e env) started(t testing.TB) (vault.ID, *chat.Session, *chat.Session, caps) {
	t.Helper()
	k := caps{gate: rnd(t, 32), manage: rnd(t, 32)}
	cr, err := e.create(t, chat.CreateRequest{Gate: h(k.gate), Manage: h(k.manage)})
	require.NoError(t, err)
	jt, err := e.s.Join(cr.ID, chat.JoinRequest{Gate: k.gate})
	require.NoError(t, err)
	a, err := e.s.Attach(cr.ID, cr.Session)
	require.NoError(t, err)
	b, err := e.s.Attach(cr.ID, jt)
	require.NoError(t, err)
	require.Equal(t, chat.Creator, a.Role())
	require.Equal(t, chat.Joiner, b.Role())
	return cr.ID, a, b, k
}

func TestJoinClaimsOnce(t *testing.T) {
	e := newEnv(t, 1<<20, chat.Config{})
	k := caps{gate: rnd(t, 32), manage: rnd(t, 32)}
	cr, err := e.s.Create(chat.CreateRequest{Gate: h(k.gate), Manage: h(k.manage)})
	require.NoError(t, err)
	_, err = e.s.Join(cr.ID, chat.JoinRequest{Gate: rnd(t, 32)})
	require.ErrorIs(t, err, chat.ErrGone, "wrong gate")
	// 50 people race for the link: exactly one gets in.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	lost := make(chan error, 50)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.s.Join(cr.ID, chat.JoinRequest{Gate: k.gate}); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else {
				lost <- err
			}
		}()
	}
	wg.Wait()
	close(lost)
	for err := range lost {
		require.ErrorIs(t, err, chat.ErrGone)
	}
	require.Equal(t, 1, wins)
	_, err = e.s.Attach(cr.ID, rnd(t, 32))
	require.ErrorIs(t, err, chat.ErrGone, "a made-up session token")
}

func TestPINAndDestructPIN(t *testing.T) {
	e := newEnv(t, 1<<20, chat.Config{})
	k := caps{gate: rnd(t, 32), open: rnd(t, 32), destruct: rnd(t, 32), manage: rnd(t, 32)}
	cr, err := e.s.Create(chat.CreateRequest{Gate: h(k.gate), Open: h(k.open), PIN: true, Destruct: h(k.destruct), Manage: h(k.manage)})
	require.NoError(t, err)
	creator, err := e.s.Attach(cr.ID, cr.Session)
	require.NoError(t, err)
	_, err = e.s.Join(cr.ID, chat.JoinRequest{Gate: k.gate, Open: rnd(t, 32), Destruct: rnd(t, 32)})
	var pe *chat.PINError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, 4, pe.Left)
	// The duress PIN answers exactly like a wrong one, and the chat is wiped at once.
	_, err = e.s.Join(cr.ID, chat.JoinRequest{Gate: k.gate, Open: rnd(t, 32), Destruct: k.destruct})
	require.ErrorAs(t, err, &pe)
	require.Equal(t, 3, pe.Left)
	require.Equal(t, "revoked", creator.State().Ended)
	_, err = e.s.Attach(cr.ID, cr.Session)
	require.ErrorIs(t, err, chat.ErrGone)
	// The right PIN now counts as a failure too, down to gone.
	for left := 2; left >= 0; left-- {
		_, err = e.s.Join(cr.ID, chat.JoinRequest{Gate: k.gate, Open: k.open, Destruct: rnd(t, 32)})
		require.ErrorAs(t, err, &pe)
		require.Equal(t, left, pe.Left)
	}
	_, err = e.s.Join(cr.ID, chat.JoinRequest{Gate: k.gate, Open: k.open})
	require.ErrorIs(t, err, chat.ErrGone)
	require.Zero(t, e.s.Count())
}

func TestRelayAckWipes(t *testing.T) {
	e := newEnv(t, 1<<20, chat.Config{})
	_, a, b, _ := e.started(t)
	for i := range 3 {
		seq := send(t, a, []byte{3, byte(i), 1, 2, 3})
		require.Equal(t, uint64(i), seq)
	}
	require.Equal(t, 3, e.v.Stats().Entries[vault.KindChatFrame])
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := b.Peek(ctx, 1)
	require.NoError(t, err)
	var buf bytes.Buffer
	_, err = d.WriteTo(&buf)
	require.NoError(t, err)
	require.Equal(t, []byte{3, 1, 1, 2, 3}, buf.Bytes())
	b.Ack(1)
	e.v.Settle()
	require.Equal(t, 1, e.v.Stats().Entries[vault.KindChatFrame])
	d = b.PeekNow(0)
	require.NotNil(t, d)
	require.Equal(t, uint64(2), d.Seq, "records 0 and 1 are gone")
}

func TestCapsAndFullVault(t *testing.T) {
	e := newEnv(t, 256<<10, chat.Config{MaxRecord: 16 << 10, MaxRecords: 4, MaxBytes: 64 << 10})
	_, a, b, _ := e.started(t)
	_, err := a.Send(bytes.NewReader(make([]byte, 17<<10)), 17<<10)
	require.ErrorIs(t, err, chat.ErrTooLarge)
	for range 4 {
		send(t, a, make([]byte, 100))
	}
	_, err = a.Send(bytes.NewReader(make([]byte, 100)), 100)
	require.ErrorIs(t, err, chat.ErrBusy, "MaxRecords per chat")

	// Other chats fill the vault; then a record or a new chat is refused as full, and the
	// first chat's records are untouched.
	var full bool
	for i := 0; i < 64 && !full; i++ {
		_, x, _, _ := e.started(t)
		for range 4 {
			if _, err := x.Send(bytes.NewReader(make([]byte, 16<<10)), 16<<10); err != nil {
				require.ErrorIs(t, err, chat.ErrFull)
				full = true
				break
			}
		}
	}
	require.True(t, full, "the vault never filled")
	_, err = e.s.Create(chat.CreateRequest{Gate: h(rnd(t, 32)), Manage: h(rnd(t, 32))})
	require.ErrorIs(t, err, chat.ErrFull)
	for i := range uint64(4) {
		d := b.PeekNow(i)
		require.NotNil(t, d)
		n, err := d.WriteTo(io.Discard)
		require.NoError(t, err)
		require.Equal(t, int64(100), n)
	}
}

// canaryReader writes the canary, repeated, straight into the vault: the test never holds it
// whole.
type canaryReader struct {
	c   memscan.Canary
	n   int
	off int
}

func (r *canaryReader) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	k := min(len(p), r.n-r.off)
	for i := range k {
		p[i] = r.c.At((r.off + i) % memscan.Size)
	}
	r.off += k
	return k, nil
}

// After End, the idle timeout, the session maximum, an unopened link's expiry and revoke, the
// vault holds nothing of the chat and no canary of its records is left in process memory; a
// control scan before finds them.
func TestEndingWipesEverything(t *testing.T) {
	ways := map[string]func(e env, a *chat.Session, id vault.ID, k caps){
		"end":         func(_ env, a *chat.Session, _ vault.ID, _ caps) { a.End() },
		"idle":        func(e env, _ *chat.Session, _ vault.ID, _ caps) { e.c.Add(chat.DefaultIdle); e.s.Sweep() },
		"session max": func(e env, a *chat.Session, _ vault.ID, _ caps) { keepBusy(e, a, chat.DefaultSessionMax) },
		"revoke": func(e env, _ *chat.Session, id vault.ID, k caps) {
			if e.s.Revoke(id, k.manage) != nil {
				panic("revoke failed")
			}
		},
	}
	for name, end := range ways {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, 1<<20, chat.Config{})
			id, a, b, k := e.started(t)
			cn := memscan.NewCanary(t)
			for _, s := range []*chat.Session{a, b} {
				_, err := s.Send(&canaryReader{c: cn, n: 4096}, 4096)
				require.NoError(t, err)
			}
			// One record was delivered but not acknowledged (still held in the vault).
			_, err := b.PeekNow(0).WriteTo(io.Discard)
			require.NoError(t, err)
			require.Equal(t, 2, e.v.Stats().Entries[vault.KindChatFrame])
			require.GreaterOrEqual(t, cn.Count(t), 2*4096/32, "control: canaries are in the vault")
			end(e, a, id, k)
			e.v.Settle()
			require.Zero(t, e.v.Stats().Entries[vault.KindChatFrame])
			require.Zero(t, e.s.Count())
			require.NotEmpty(t, a.State().Ended)
			require.NotEmpty(t, b.State().Ended)
			require.Zero(t, cn.Count(t), "canary left in memory after %s", name)
			_, err = e.s.Attach(id, k.gate)
			require.ErrorIs(t, err, chat.ErrGone)
		})
	}
	t.Run("unopened link expires", func(t *testing.T) {
		e := newEnv(t, 1<<20, chat.Config{})
		cr, err := e.s.Create(chat.CreateRequest{Gate: h(rnd(t, 32)), Manage: h(rnd(t, 32)), TTL: time.Hour})
		require.NoError(t, err)
		a, err := e.s.Attach(cr.ID, cr.Session)
		require.NoError(t, err)
		e.c.Add(time.Hour - time.Second)
		e.s.Sweep()
		require.Equal(t, 1, e.s.Count())
		e.c.Add(time.Second)
		e.s.Sweep()
		require.Zero(t, e.s.Count())
		require.Equal(t, chat.ReasonExpired, a.State().Ended)
	})
}

// keepBusy sends a record every 10 minutes (so the chat is never idle) until d has passed.
func keepBusy(e env, a *chat.Session, d time.Duration) {
	for passed := time.Duration(0); passed < d; passed += 10 * time.Minute {
		e.c.Add(10 * time.Minute)
		e.s.Sweep()
		if a.State().Ended != "" {
			return
		}
		if _, err := a.Send(bytes.NewReader([]byte{3}), 1); err != nil && !errors.Is(err, chat.ErrBusy) {
			return
		}
	}
}

// A new hello from one side drops that side's undelivered hellos and confirms, not its data.
func TestNewHelloDropsStaleHandshake(t *testing.T) {
	e := newEnv(t, 1<<20, chat.Config{})
	_, a, b, _ := e.started(t)
	for _, r := range [][]byte{{1, 1}, {2, 1}, {3, 9}, {1, 2}} {
		send(t, a, r)
	}
	var got [][]byte
	for seq := uint64(0); ; {
		d := b.PeekNow(seq)
		if d == nil {
			break
		}
		var buf bytes.Buffer
		_, err := d.WriteTo(&buf)
		require.NoError(t, err)
		got = append(got, buf.Bytes())
		seq = d.Seq + 1
	}
	require.Equal(t, [][]byte{{3, 9}, {1, 2}}, got)
	e.v.Settle()
	require.Equal(t, 2, e.v.Stats().Entries[vault.KindChatFrame])
}

// One side holds at most wsrelay.MaxSockets sockets at once; one more is refused and counts
// nothing (a hostile review's R5, found in rooms, held here too).
func TestSocketsPerSideCapped(t *testing.T) {
	e := newEnv(t, 1<<20, chat.Config{})
	_, a, _, _ := e.started(t)
	for range wsrelay.MaxSockets {
		require.True(t, a.Connected(1))
	}
	require.False(t, a.Connected(1), "one socket more than the cap")
	require.True(t, a.Connected(-1))
	require.True(t, a.Connected(1), "a socket closed: another may open")
}

// A coercer holding the manage secret cannot tell a destruct PIN from a typo by revoking: the
// first revoke of either chat answers alike and frees it alike (its slot, its records' blocks,
// zeroed or not); a second revoke is gone for both.
func TestRevokeAfterDestructLikeATypo(t *testing.T) {
	e := newEnv(t, 1<<20, chat.Config{})
	pinned := func() (vault.ID, caps) {
		k := caps{gate: rnd(t, 32), open: rnd(t, 32), destruct: rnd(t, 32), manage: rnd(t, 32)}
		cr, err := e.s.Create(chat.CreateRequest{Gate: h(k.gate), Open: h(k.open), PIN: true, Destruct: h(k.destruct), Manage: h(k.manage)})
		require.NoError(t, err)
		creator, err := e.s.Attach(cr.ID, cr.Session)
		require.NoError(t, err)
		send(t, creator, []byte{3, 1, 2, 3}) // the creator's hello waits for the joiner
		return cr.ID, k
	}
	typo, kt := pinned()
	duress, kd := pinned()
	_, errT := e.s.Join(typo, chat.JoinRequest{Gate: kt.gate, Open: rnd(t, 32), Destruct: rnd(t, 32)})
	_, errD := e.s.Join(duress, chat.JoinRequest{Gate: kd.gate, Open: rnd(t, 32), Destruct: kd.destruct})
	require.Equal(t, errT, errD, "the join answers alike")
	e.v.Settle()
	require.Equal(t, 2, e.s.Count())
	require.Equal(t, 2, e.v.Stats().Entries[vault.KindChatFrame])

	require.ErrorIs(t, e.s.Revoke(typo, rnd(t, 32)), chat.ErrGone)
	require.ErrorIs(t, e.s.Revoke(duress, rnd(t, 32)), chat.ErrGone)
	require.NoError(t, e.s.Revoke(typo, kt.manage))
	require.NoError(t, e.s.Revoke(duress, kd.manage), "answered as the typo chat's revoke")
	e.v.Settle()
	require.Zero(t, e.s.Count(), "both forgotten")
	require.Zero(t, e.v.Stats().Entries[vault.KindChatFrame], "both chats' records freed")
	require.ErrorIs(t, e.s.Revoke(typo, kt.manage), chat.ErrGone)
	require.ErrorIs(t, e.s.Revoke(duress, kd.manage), chat.ErrGone)
	_, errT = e.s.Join(typo, chat.JoinRequest{Gate: kt.gate, Open: kt.open})
	_, errD = e.s.Join(duress, chat.JoinRequest{Gate: kd.gate, Open: kd.open})
	require.ErrorIs(t, errT, chat.ErrGone)
	require.ErrorIs(t, errD, chat.ErrGone)
}
