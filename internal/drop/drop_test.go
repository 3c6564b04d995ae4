package drop_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/drop"
	"github.com/sealdrop/sealdrop/internal/price"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/internal/testclock"
	"github.com/sealdrop/sealdrop/vault"
)

type clock = testclock.Clock

type env struct {
	v   *vault.Vault
	s   *drop.Server
	clk *clock
}

func newEnv(t *testing.T, cfg drop.Config) *env {
	t.Helper()
	clk := testclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	v, err := vault.New(vault.Config{Budget: 4 << 20, MaxTTL: 30 * 24 * time.Hour, Now: clk.Now, SweepEvery: -1,
		OwnerQuota: map[vault.Kind]int64{vault.KindSubmission: 1 << 20}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	cfg.Vault = v
	cfg.Now = clk.Now
	s, err := drop.New(cfg)
	require.NoError(t, err)
	return &env{v: v, s: s, clk: clk}
}

func route(t *testing.T, s *drop.Server, k *protocol.DropKeys) drop.Route {
	t.Helper()
	r, err := s.CheckRoute(k.RouteID(), k.Auth[:], int(k.Flags))
	require.NoError(t, err)
	return r
}

func keys(t *testing.T, flags byte) *protocol.DropKeys {
	t.Helper()
	k, err := protocol.NewDropKeys(flags)
	require.NoError(t, err)
	return k
}

// pay makes a submission request carry the price that r's level asks now.
func (e *env) pay(t *testing.T, r drop.Route, req *drop.SubmitRequest) {
	t.Helper()
	pr := protocol.PriceRequest{Kind: protocol.PriceSubmission, Scope: r.ID(), Manage: req.Manage, Length: req.Length, TTL: e.s.Config().TTL}
	tok, _ := e.s.Config().Price.Token()
	bits := protocol.PriceBits(e.s.Level(r), max(req.Length, e.s.PriceFloor()), pr.TTL)
	nonce, err := protocol.SolvePrice(context.Background(), tok[:], pr, bits)
	require.NoError(t, err)
	req.PriceToken, req.PriceNonce = tok[:], nonce[:]
}

// submit seals data-free text to k and stores it: create (paying its price), append, commit.
func (e *env) submit(t *testing.T, k *protocol.DropKeys, ct []byte) (vault.ID, error) {
	t.Helper()
	r := route(t, e.s, k)
	manage := make([]byte, 32)
	_, _ = rand.Read(manage)
	req := drop.SubmitRequest{Length: int64(len(ct)), Manage: sha256.Sum256(manage)}
	e.pay(t, r, &req)
	id, _, err := e.s.Submit(r, req)
	if err != nil {
		return id, err
	}
	_, err = e.v.Append(vault.KindSubmission, id, manage, 0, int64(len(ct)), bytes.NewReader(ct))
	require.NoError(t, err)
	_, err = e.s.Commit(r, id, manage)
	return id, err
}

func seal(t *testing.T, k *protocol.DropKeys, text string) []byte {
	t.Helper()
	r, n, err := protocol.SubmissionPlaintext(text, nil, nil)
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, protocol.SealSubmission(&b, k.Public(), r, n))
	return b.Bytes()
}

// prove asks for a challenge and answers it as the inbox k would.
func (e *env) prove(t *testing.T, k *protocol.DropKeys, action byte, id vault.ID, arg [32]byte) drop.Proof {
	t.Helper()
	n, pub, _, err := e.s.Challenge(route(t, e.s, k))
	require.NoError(t, err)
	mac, err := k.InboxMAC(n[:], pub, action, id, arg)
	require.NoError(t, err)
	return drop.Proof{Challenge: n[:], MAC: mac}
}

func (e *env) read(t *testing.T, k *protocol.DropKeys, id vault.ID) (string, error) {
	t.Helper()
	nonce := make([]byte, 32)
	_, _ = rand.Read(nonce)
	claim := sha256.Sum256(nonce)
	rd, err := e.s.Fetch(route(t, e.s, k), id, e.prove(t, k, protocol.DropActionFetch, id, claim), claim)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	_, err = rd.WriteTo(&b, 0)
	rd.Close()
	require.NoError(t, err)
	sub, err := protocol.OpenSubmission(bytes.NewReader(b.Bytes()), k)
	require.NoError(t, err)
	require.NoError(t, e.s.Confirm(route(t, e.s, k), id, e.prove(t, k, protocol.DropActionConfirm, id, sha256.Sum256(nonce)), nonce))
	return sub.Text, nil
}

func (e *env) list(t *testing.T, k *protocol.DropKeys) *drop.Listing {
	t.Helper()
	return e.listAfter(t, k, vault.ID{})
}

func (e *env) listAfter(t *testing.T, k *protocol.DropKeys, after vault.ID) *drop.Listing {
	t.Helper()
	l, err := e.s.List(route(t, e.s, k), e.prove(t, k, protocol.DropActionList, after, [32]byte{}), after)
	require.NoError(t, err)
	return l
}

func TestCheckRoute(t *testing.T) {
	e := newEnv(t, drop.Config{})
	k := keys(t, 0)
	other := keys(t, 0)
	_, err := e.s.CheckRoute(k.RouteID(), k.Auth[:], 0)
	require.NoError(t, err)
	for name, c := range map[string]struct {
		route string
		auth  []byte
		flags int
	}{
		"other key":          {k.RouteID(), other.Auth[:], 0},
		"reply flag claimed": {k.RouteID(), k.Auth[:], 1},
		"unknown flag":       {k.RouteID(), k.Auth[:], 2},
		"negative flag":      {k.RouteID(), k.Auth[:], -1},
		"short key":          {k.RouteID(), k.Auth[:64], 0},
		"malformed route":    {k.RouteID() + "A", k.Auth[:], 0},
		"enc key as auth":    {k.RouteID(), k.Enc[:], 0},
	} {
		_, err := e.s.CheckRoute(c.route, c.auth, c.flags)
		require.ErrorIs(t, err, drop.ErrGone, name)
	}
}

func TestSubmitListFetchOnce(t *testing.T) {
	e := newEnv(t, drop.Config{})
	k := keys(t, 0)
	var ids []vault.ID
	for _, text := range []string{"first", "second"} {
		id, err := e.submit(t, k, seal(t, k, text))
		require.NoError(t, err)
		ids = append(ids, id)
	}
	e.clk.Add(90 * time.Minute)
	l := e.list(t, k)
	require.Len(t, l.Items, 2)
	require.EqualValues(t, 1, l.Items[0].AgeHours)
	require.Equal(t, int64(256), l.Items[0].Size, "the size is rounded up to a power of two")
	require.Zero(t, l.FetchedSinceList)

	got, err := e.read(t, k, ids[0])
	require.NoError(t, err)
	require.Equal(t, "first", got)
	_, err = e.read(t, k, ids[0])
	require.ErrorIs(t, err, drop.ErrGone, "a second read is gone")

	l = e.list(t, k)
	require.Len(t, l.Items, 1)
	require.Equal(t, 1, l.FetchedSinceList, "the fetch is counted")
	require.Equal(t, 2, l.ListsTotal)
	l = e.list(t, k)
	require.Zero(t, l.FetchedSinceList)
	require.Equal(t, 1, l.FetchedTotal)

	require.Equal(t, 1, mustWipe(t, e, k))
	require.Empty(t, e.list(t, k).Items)
}

func mustWipe(t *testing.T, e *env, k *protocol.DropKeys) int {
	n, err := e.s.WipeAll(route(t, e.s, k), e.prove(t, k, protocol.DropActionWipe, vault.ID{}, [32]byte{}))
	require.NoError(t, err)
	return n
}

func TestInboxIsolation(t *testing.T) {
	e := newEnv(t, drop.Config{})
	a, b := keys(t, 0), keys(t, 0)
	id, err := e.submit(t, a, seal(t, a, "for a"))
	require.NoError(t, err)
	// b's inbox does not list it, cannot fetch it, and its wipe leaves it.
	require.Empty(t, e.list(t, b).Items)
	_, err = e.read(t, b, id)
	require.ErrorIs(t, err, drop.ErrGone)
	require.Zero(t, mustWipe(t, e, b))
	// A proof made by b for a's route fails (the route is a's, the key b's).
	n, pub, _, err := e.s.Challenge(route(t, e.s, a))
	require.NoError(t, err)
	mac, err := b.InboxMAC(n[:], pub, protocol.DropActionList, vault.ID{}, [32]byte{})
	require.NoError(t, err)
	_, err = e.s.List(route(t, e.s, a), drop.Proof{Challenge: n[:], MAC: mac}, vault.ID{})
	require.ErrorIs(t, err, drop.ErrGone)
	// A challenge issued for b's route does not serve a's.
	n, pub, _, err = e.s.Challenge(route(t, e.s, b))
	require.NoError(t, err)
	mac, err = a.InboxMAC(n[:], pub, protocol.DropActionList, vault.ID{}, [32]byte{})
	require.NoError(t, err)
	_, err = e.s.List(route(t, e.s, a), drop.Proof{Challenge: n[:], MAC: mac}, vault.ID{})
	require.ErrorIs(t, err, drop.ErrGone)
	got, err := e.read(t, a, id)
	require.NoError(t, err)
	require.Equal(t, "for a", got)
}

func TestReplayedInboxRequestRefused(t *testing.T) {
	e := newEnv(t, drop.Config{})
	k := keys(t, 0)
	_, err := e.submit(t, k, seal(t, k, "x"))
	require.NoError(t, err)
	p := e.prove(t, k, protocol.DropActionList, vault.ID{}, [32]byte{})
	_, err = e.s.List(route(t, e.s, k), p, vault.ID{})
	require.NoError(t, err)
	_, err = e.s.List(route(t, e.s, k), p, vault.ID{})
	require.ErrorIs(t, err, drop.ErrGone, "the same proof twice")
	// A proof for list is not a proof for wipe. The failed try does not spend the challenge
	// (only a request that proved the inbox key is remembered, so strangers cannot fill the
	// record); the proof still works once for what it was made for.
	p = e.prove(t, k, protocol.DropActionList, vault.ID{}, [32]byte{})
	_, err = e.s.WipeAll(route(t, e.s, k), p)
	require.ErrorIs(t, err, drop.ErrGone)
	_, err = e.s.List(route(t, e.s, k), p, vault.ID{})
	require.NoError(t, err)
	_, err = e.s.List(route(t, e.s, k), p, vault.ID{})
	require.ErrorIs(t, err, drop.ErrGone)
	// A challenge is good in its window and the next, then gone.
	p = e.prove(t, k, protocol.DropActionList, vault.ID{}, [32]byte{})
	e.clk.Add(2 * drop.DefaultChallengeTTL)
	_, err = e.s.List(route(t, e.s, k), p, vault.ID{})
	require.ErrorIs(t, err, drop.ErrGone)
	// A challenge the server did not make (a changed byte) is gone.
	p = e.prove(t, k, protocol.DropActionList, vault.ID{}, [32]byte{})
	p.Challenge[5] ^= 1
	_, err = e.s.List(route(t, e.s, k), p, vault.ID{})
	require.ErrorIs(t, err, drop.ErrGone)
	require.Len(t, e.list(t, k).Items, 1)
}

// 4,096 challenge requests a minute on made-up routes used to fill the one global table of
// challenges, and every journalist's inbox then answered 503. Challenges are stateless now:
// any number of them leaves every inbox working, and nothing is stored for them.
func TestChallengeFloodLocksNobodyOut(t *testing.T) {
	e := newEnv(t, drop.Config{})
	k := keys(t, 0)
	_, err := e.submit(t, k, seal(t, k, "still readable"))
	require.NoError(t, err)
	for range 20000 {
		r := route(t, e.s, keys(t, 0))
		_, _, _, err := e.s.Challenge(r)
		require.NoError(t, err)
	}
	require.Zero(t, drop.SpentChallenges(e.s), "nothing is kept for a challenge until it is used")
	l := e.list(t, k)
	require.Len(t, l.Items, 1)
	got, err := e.read(t, k, l.Items[0].ID)
	require.NoError(t, err)
	require.Equal(t, "still readable", got)
}

// One route that uses many challenges (its journalist's own traffic, or a thief's) cannot lock
// the route's inbox out: past MaxSpentPerRoute the oldest used challenges are forgotten, and a
// recent one replayed is still gone. Other routes are unaffected.
func TestChallengeSpendIsPerRouteAndNeverLocksOut(t *testing.T) {
	e := newEnv(t, drop.Config{})
	busy, calm := keys(t, 0), keys(t, 0)
	var last drop.Proof
	for range drop.MaxSpentPerRoute + 50 {
		last = e.prove(t, busy, protocol.DropActionList, vault.ID{}, [32]byte{})
		_, err := e.s.List(route(t, e.s, busy), last, vault.ID{})
		require.NoError(t, err)
	}
	_, err := e.s.List(route(t, e.s, busy), last, vault.ID{})
	require.ErrorIs(t, err, drop.ErrGone, "a recent challenge replayed")
	require.Equal(t, drop.MaxSpentPerRoute, drop.SpentChallenges(e.s), "the route holds at most its own share")
	e.list(t, calm)
	e.list(t, busy)
	// Two windows later the record is forgotten.
	e.clk.Add(2 * drop.DefaultChallengeTTL)
	e.list(t, busy)
	require.Equal(t, 1, drop.SpentChallenges(e.s))
}

func TestReplyBoxTakesOne(t *testing.T) {
	e := newEnv(t, drop.Config{})
	k := keys(t, protocol.DropFlagReply)
	r := route(t, e.s, k)
	ct := seal(t, k, "the reply")
	// Two creates before any upload: the second is refused.
	sub := func() error {
		manage := make([]byte, 32)
		_, _ = rand.Read(manage)
		req := drop.SubmitRequest{Length: int64(len(ct)), Manage: sha256.Sum256(manage)}
		e.pay(t, r, &req)
		_, _, err := e.s.Submit(r, req)
		return err
	}
	require.NoError(t, sub())
	require.ErrorIs(t, sub(), drop.ErrGone, "a reply box holds one submission")

	// The abandoned upload is wiped after the pending idle time; the box then takes one.
	e.clk.Add(vault.DefaultPendingIdle)
	e.v.Sweep()
	id, err := e.submit(t, k, ct)
	require.NoError(t, err)
	got, err := e.read(t, k, id)
	require.NoError(t, err)
	require.Equal(t, "the reply", got)
	// Read and wiped, the box still refuses a second reply.
	_, err = e.submit(t, k, ct)
	require.ErrorIs(t, err, drop.ErrGone)
}

// A submission pays nothing while its drop and the server are less than half full; then the
// price rises with the drop's fill, is charged at the price current when the submission
// arrives (a payment made while the drop was emptier is not enough), buys one submission, and
// a full drop refuses before anything is stored.
func TestPriceAsTheDropFills(t *testing.T) {
	e := newEnv(t, drop.Config{MaxPending: 8})
	k := keys(t, 0)
	r := route(t, e.s, k)
	ct := seal(t, k, "x")
	manage := func() [32]byte {
		m := make([]byte, 32)
		_, _ = rand.Read(m)
		return sha256.Sum256(m)
	}
	for i := range 4 {
		require.Zero(t, e.s.Level(r), "below half full: %d", i)
		_, _, err := e.s.Submit(r, drop.SubmitRequest{Length: int64(len(ct)), Manage: manage()})
		require.NoError(t, err, "free below half full")
	}
	require.Equal(t, 1, e.s.Level(r))
	// Even a tiny one is priced as its share of the drop (its quota over its count cap): filling
	// the count cap with tiny submissions costs what filling the bytes would.
	tiny := drop.SubmitRequest{Length: int64(len(ct)), Manage: manage()}
	_, _, err := e.s.Submit(r, tiny)
	var unpaid *price.Unpaid
	require.ErrorAs(t, err, &unpaid)
	require.Equal(t, protocol.PriceBits(1, e.s.PriceFloor(), e.s.Config().TTL), unpaid.Bits)
	e.pay(t, r, &tiny)
	_, _, err = e.s.Submit(r, tiny)
	require.NoError(t, err)
	// A large one pays more. Unpaid, the refusal says what to pay.
	const big = 500 << 10
	req := drop.SubmitRequest{Length: big, Manage: manage()}
	_, _, err = e.s.Submit(r, req)
	require.ErrorAs(t, err, &unpaid)
	require.Equal(t, protocol.PriceBits(1, req.Length, e.s.Config().TTL), unpaid.Bits)
	require.Positive(t, unpaid.Bits)
	e.pay(t, r, &req)
	paid := req
	_, _, err = e.s.Submit(r, req)
	require.NoError(t, err)
	_, _, err = e.s.Submit(r, paid)
	require.ErrorAs(t, err, &unpaid, "a payment buys one submission")
	// The price of the level when it arrives: a payment for level 1 does not pay level 3.
	// A level-1 payment that does not happen to pay level 3 as well (one in 16 would).
	var early drop.SubmitRequest
	for {
		early = drop.SubmitRequest{Length: big, TTL: e.s.Config().TTL, Manage: manage()}
		e.pay(t, r, &early)
		if !protocol.CheckPrice(early.PriceToken, protocol.PriceRequest{Kind: protocol.PriceSubmission, Scope: r.ID(), Manage: early.Manage, Length: early.Length, TTL: early.TTL},
			early.PriceNonce, protocol.PriceBits(3, early.Length, early.TTL)) {
			break
		}
	}
	for e.s.Level(r) < 3 {
		_, _, err := e.s.Submit(r, drop.SubmitRequest{Length: int64(len(ct)), Manage: manage()})
		if errors.As(err, &unpaid) {
			req := drop.SubmitRequest{Length: int64(len(ct)), Manage: manage()}
			e.pay(t, r, &req)
			_, _, err = e.s.Submit(r, req)
		}
		require.NoError(t, err)
	}
	require.Greater(t, protocol.PriceBits(3, early.Length, early.TTL), protocol.PriceBits(1, early.Length, early.TTL))
	_, _, err = e.s.Submit(r, early)
	require.ErrorAs(t, err, &unpaid)
	// A full drop refuses before any work.
	for {
		req := drop.SubmitRequest{Length: int64(len(ct)), Manage: manage()}
		e.pay(t, r, &req)
		if _, _, err := e.s.Submit(r, req); err != nil {
			require.ErrorIs(t, err, drop.ErrFull)
			break
		}
	}
	_, _, err = e.s.Submit(r, drop.SubmitRequest{Length: int64(len(ct)), Manage: manage()})
	require.ErrorIs(t, err, drop.ErrFull)
	// Another drop is priced by its own fill.
	require.Zero(t, e.s.Level(route(t, e.s, keys(t, 0))))
}

// The per-drop byte quota is the vault's (newEnv gives it 1 MiB per drop).
func TestByteQuota(t *testing.T) {
	e := newEnv(t, drop.Config{})
	require.EqualValues(t, (1<<20)/drop.DefaultMaxPending, e.s.PriceFloor(), "priced from the same quota")
	k := keys(t, 0)
	big := make([]byte, 700<<10)
	_, err := e.submit(t, k, big)
	require.NoError(t, err)
	_, err = e.submit(t, k, big)
	require.ErrorIs(t, err, drop.ErrFull, "the per-drop quota")
	// Another drop still has room.
	o := keys(t, 0)
	_, err = e.submit(t, o, big)
	require.NoError(t, err)
	_, err = e.submit(t, o, make([]byte, 5<<20))
	require.ErrorIs(t, err, drop.ErrTooLarge)
}

// TestRestart: a drop link made before a restart works with a new vault and a new server,
// because the server keeps no record of drops.
func TestRestart(t *testing.T) {
	k := keys(t, 0)
	link := k.Fragment()
	e1 := newEnv(t, drop.Config{})
	_, err := e1.submit(t, k, seal(t, k, "before"))
	require.NoError(t, err)
	// The first server is gone before the second starts, as in a real restart (and so the
	// process never locks two 4 MiB vaults at once: an ordinary user may lock 8 MiB).
	require.NoError(t, e1.v.Close())
	e2 := newEnv(t, drop.Config{})
	pub, err := protocol.ParseDropFragment(link)
	require.NoError(t, err)
	require.Equal(t, k.DropPublic, *pub)
	id, err := e2.submit(t, k, seal(t, k, "after"))
	require.NoError(t, err)
	got, err := e2.read(t, k, id)
	require.NoError(t, err)
	require.Equal(t, "after", got)
}

func TestSubmissionExpires(t *testing.T) {
	e := newEnv(t, drop.Config{})
	k := keys(t, 0)
	_, err := e.submit(t, k, seal(t, k, "x"))
	require.NoError(t, err)
	e.clk.Add(drop.DefaultTTL - time.Minute)
	require.Len(t, e.list(t, k).Items, 1)
	e.clk.Add(time.Minute)
	require.Empty(t, e.list(t, k).Items)
}

func TestConfig(t *testing.T) {
	v, err := vault.New(vault.Config{Budget: 1 << 20, SweepEvery: -1})
	require.NoError(t, err)
	defer v.Close()
	_, err = drop.New(drop.Config{})
	require.ErrorIs(t, err, drop.ErrInvalid)
	_, err = drop.New(drop.Config{Vault: v}) // 14 days over the vault's 7
	require.ErrorIs(t, err, drop.ErrInvalid)
	s, err := drop.New(drop.Config{Vault: v, TTL: 24 * time.Hour})
	require.NoError(t, err)
	require.NotNil(t, s.Config().Price)
	require.Zero(t, s.PriceFloor(), "the vault sets no per-drop quota: no floor")
	_ = io.Discard
}

// A resumed fetch is counted once for as long as the vault lets the claim resume: the drop
// remembers a claim for the vault's own claim window, not a second number of its own.
func TestResumeCountedOnceWithinTheVaultsClaimWindow(t *testing.T) {
	clk := testclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	v, err := vault.New(vault.Config{Budget: 1 << 20, MaxTTL: 30 * 24 * time.Hour, Now: clk.Now, SweepEvery: -1,
		ClaimWindow: 3 * vault.DefaultClaimWindow})
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	s, err := drop.New(drop.Config{Vault: v, Now: clk.Now})
	require.NoError(t, err)
	e := &env{v: v, s: s, clk: clk}
	k := keys(t, 0)
	id, err := e.submit(t, k, seal(t, k, "resumed"))
	require.NoError(t, err)
	require.Zero(t, e.list(t, k).FetchedSinceList)

	nonce := make([]byte, 32)
	_, _ = rand.Read(nonce)
	claim := sha256.Sum256(nonce)
	fetch := func() error {
		rd, err := s.Fetch(route(t, s, k), id, e.prove(t, k, protocol.DropActionFetch, id, claim), claim)
		if err == nil {
			rd.Close()
		}
		return err
	}
	require.NoError(t, fetch())
	clk.Add(v.ClaimWindow() - time.Minute) // past the vault's default window, within its own
	require.NoError(t, fetch(), "the vault lets the claim resume")
	require.Equal(t, 1, e.list(t, k).FetchedSinceList, "the resume is the same fetch")
	clk.Add(2 * time.Minute)
	require.ErrorIs(t, fetch(), drop.ErrGone, "the vault's window is over")
}
