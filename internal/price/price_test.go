package price_test

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealdrop/sealdrop/internal/price"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/internal/testclock"
	"github.com/stretchr/testify/require"
)

type clock = testclock.Clock

func newPricer(t *testing.T, cfg price.Config) (*price.Pricer, *clock) {
	t.Helper()
	c := testclock.New(time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC))
	cfg.Now = c.Now
	p, err := price.New(cfg)
	require.NoError(t, err)
	return p, c
}

func request(t *testing.T) protocol.PriceRequest {
	r := protocol.PriceRequest{Kind: protocol.PriceNote, Length: 1500, TTL: time.Hour}
	_, err := rand.Read(r.Manage[:])
	require.NoError(t, err)
	return r
}

func solve(t *testing.T, tok []byte, r protocol.PriceRequest, bits int) []byte {
	t.Helper()
	n, err := protocol.SolvePrice(context.Background(), tok, r, bits)
	require.NoError(t, err)
	return n[:]
}

func TestPayOnceWithinTheWindow(t *testing.T) {
	p, c := newPricer(t, price.Config{})
	tok, left := p.Token()
	require.GreaterOrEqual(t, left, price.DefaultWindow)
	require.LessOrEqual(t, left, 2*price.DefaultWindow)
	r := request(t)
	nonce := solve(t, tok[:], r, 8)

	_, err := p.Pay(r, tok[:], nonce, 8)
	require.NoError(t, err)
	_, err = p.Pay(r, tok[:], nonce, 8)
	require.ErrorIs(t, err, price.ErrPrice, "a payment buys one entry")

	// The same nonce for another request (length, ttl, kind, scope, manage) pays nothing.
	for _, mut := range []func(*protocol.PriceRequest){
		func(q *protocol.PriceRequest) { q.Length++ },
		func(q *protocol.PriceRequest) { q.TTL += time.Second },
		func(q *protocol.PriceRequest) { q.Kind = protocol.PriceChat },
		func(q *protocol.PriceRequest) { q.Scope[0] = 1 },
		func(q *protocol.PriceRequest) { q.Manage[31] ^= 1 },
	} {
		q := r
		mut(&q)
		ok := protocol.CheckPrice(tok[:], q, nonce, 8)
		_, err := p.Pay(q, tok[:], nonce, 8)
		if ok { // one in 256: the mutated request happens to be paid too; then it must be accepted
			require.NoError(t, err)
		} else {
			require.ErrorIs(t, err, price.ErrPrice)
		}
	}

	// A token is good in its window and the next, not after.
	r2 := request(t)
	n2 := solve(t, tok[:], r2, 4)
	c.Add(price.DefaultWindow)
	_, err = p.Pay(r2, tok[:], n2, 4)
	require.NoError(t, err)
	r3 := request(t)
	n3 := solve(t, tok[:], r3, 4)
	c.Add(price.DefaultWindow)
	_, err = p.Pay(r3, tok[:], n3, 4)
	require.ErrorIs(t, err, price.ErrPrice)
}

func TestPayChecksThePriceNow(t *testing.T) {
	p, _ := newPricer(t, price.Config{})
	tok, _ := p.Token()
	r := request(t)
	var nonce []byte
	// A nonce that pays 4 bits but not 12 (find one, so that the check is meaningful).
	for i := 0; ; i++ {
		n := solve(t, tok[:], r, 4)
		if !protocol.CheckPrice(tok[:], r, n, 12) {
			nonce = n
			break
		}
		r = request(t)
		require.Less(t, i, 100)
	}
	_, err := p.Pay(r, tok[:], nonce, 12)
	require.ErrorIs(t, err, price.ErrPrice, "paid for a lower price than asked now")
	_, err = p.Pay(r, tok[:], nonce, 4)
	require.NoError(t, err)
}

func TestForgedTokenAndMalformed(t *testing.T) {
	p, _ := newPricer(t, price.Config{})
	tok, _ := p.Token()
	r := request(t)
	forged := tok
	forged[10] ^= 1
	n := solve(t, forged[:], r, 4)
	_, err := p.Pay(r, forged[:], n, 4)
	require.ErrorIs(t, err, price.ErrPrice, "a token the server did not make")
	_, err = p.Pay(r, tok[:3], n, 4)
	require.ErrorIs(t, err, price.ErrPrice)
	_, err = p.Pay(r, tok[:], n[:7], 4)
	require.ErrorIs(t, err, price.ErrPrice)
	_, err = p.Pay(r, nil, nil, 0)
	require.NoError(t, err, "a free request needs no payment")
	other, _ := newPricer(t, price.Config{})
	otok, _ := other.Token()
	require.NotEqual(t, tok, otok, "per-process secret")
}

func TestRefundAndConcurrentSpend(t *testing.T) {
	p, _ := newPricer(t, price.Config{})
	tok, _ := p.Token()
	r := request(t)
	nonce := solve(t, tok[:], r, 6)
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.Pay(r, tok[:], nonce, 6); err == nil {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	require.EqualValues(t, 1, ok.Load(), "spent exactly once under concurrency")
	// A refund (the entry could not be made) lets the same payment try again.
	r2 := request(t)
	n2 := solve(t, tok[:], r2, 6)
	refund, err := p.Pay(r2, tok[:], n2, 6)
	require.NoError(t, err)
	refund()
	_, err = p.Pay(r2, tok[:], n2, 6)
	require.NoError(t, err)
}

func TestSpentIsBounded(t *testing.T) {
	p, c := newPricer(t, price.Config{MaxSpent: 4})
	tok, _ := p.Token()
	for range 4 {
		r := request(t)
		_, err := p.Pay(r, tok[:], solve(t, tok[:], r, 1), 1)
		require.NoError(t, err)
	}
	r := request(t)
	_, err := p.Pay(r, tok[:], solve(t, tok[:], r, 1), 1)
	require.ErrorIs(t, err, price.ErrBusy)
	// Two windows later the old payments are forgotten.
	c.Add(2 * price.DefaultWindow)
	tok, _ = p.Token()
	_, err = p.Pay(r, tok[:], solve(t, tok[:], r, 1), 1)
	require.NoError(t, err)
	require.Equal(t, 1, p.Spent())
}

// TestSpentFloodStaysInItsKind: payments are remembered per kind, and a drop's submissions hold
// at most an eighth of their kind's table. Cheap paid submissions to one drop fill only that
// drop's share: other drops' submissions, notes and chats still pay (before, one table shared by
// every kind answered ErrBusy to all of them).
func TestSpentFloodStaysInItsKind(t *testing.T) {
	const maxSpent = 64
	p, _ := newPricer(t, price.Config{MaxSpent: maxSpent})
	tok, _ := p.Token()
	pay := func(kind byte, scope byte) error {
		r := request(t)
		r.Kind, r.Scope[0] = kind, scope
		_, err := p.Pay(r, tok[:], solve(t, tok[:], r, 1), 1)
		return err
	}
	for range maxSpent / 8 {
		require.NoError(t, pay(protocol.PriceSubmission, 7))
	}
	require.ErrorIs(t, pay(protocol.PriceSubmission, 7), price.ErrBusy, "one drop holds an eighth")
	require.NoError(t, pay(protocol.PriceSubmission, 8), "another drop still pays")
	require.NoError(t, pay(protocol.PriceNote, 0), "notes still pay")
	require.NoError(t, pay(protocol.PriceChat, 0), "chats still pay")
	// Drops together fill their kind, and still not the others.
	for d := byte(9); ; d++ {
		err := pay(protocol.PriceSubmission, d)
		if errors.Is(err, price.ErrBusy) {
			break
		}
		require.NoError(t, err)
		require.Less(t, int(d), 9+maxSpent, "the submissions' table is bounded")
	}
	require.Equal(t, maxSpent+2, p.Spent(), "the kind's table full, one note and one chat")
	for range maxSpent - 1 {
		require.NoError(t, pay(protocol.PriceNote, 0))
	}
	require.ErrorIs(t, pay(protocol.PriceNote, 0), price.ErrBusy, "notes have their own bound")
	require.NoError(t, pay(protocol.PriceChat, 0), "chats still pay")
}

func TestTooDear(t *testing.T) {
	p, _ := newPricer(t, price.Config{MaxBits: 20})
	r := request(t)
	r.Length, r.TTL = 64<<20, 7*24*time.Hour
	b, err := p.Bits(protocol.MaxPriceLevel, r)
	require.ErrorIs(t, err, price.ErrTooDear)
	require.Greater(t, b, 20)
	b, err = p.Bits(0, r)
	require.NoError(t, err)
	require.Zero(t, b)
}

// TestTicket: Ticket accepts what Token gives for its window and the next, orders tokens by
// window then generation, and TokenAfter gives a token newer than a retired one that still
// pays.
func TestTicket(t *testing.T) {
	p, c := newPricer(t, price.Config{Floor: 1})
	tok, left := p.Token()
	seq, until, ok := p.Ticket(tok[:])
	require.True(t, ok)
	require.NotZero(t, seq)
	require.Equal(t, left, until.Sub(c.Now()))
	after, _ := p.TokenAfter(seq)
	seq2, until2, ok := p.Ticket(after[:])
	require.True(t, ok)
	require.Greater(t, seq2, seq)
	require.Equal(t, until, until2)
	r := request(t)
	bits, err := p.Bits(1, r)
	require.NoError(t, err)
	_, err = p.Pay(r, after[:], solve(t, after[:], r, bits), bits)
	require.NoError(t, err, "a later generation pays")
	bad := tok
	bad[4]++ // a generation the MAC does not cover
	_, _, ok = p.Ticket(bad[:])
	require.False(t, ok)
	_, _, ok = p.Ticket(tok[:4])
	require.False(t, ok)
	c.Add(price.DefaultWindow)
	_, _, ok = p.Ticket(tok[:])
	require.True(t, ok, "accepted in the next window")
	next, _ := p.TokenAfter(seq2) // a retired ticket of an older window: the new window starts afresh
	seq3, _, _ := p.Ticket(next[:])
	require.Greater(t, seq3, seq2)
	c.Add(price.DefaultWindow)
	_, _, ok = p.Ticket(tok[:])
	require.False(t, ok, "and no longer")
}
