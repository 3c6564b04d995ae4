package drop_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/drop"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/vault"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	v   *vault.Vault
	s   *drop.Server
	clk *clock
}

func newEnv(t *testing.T, cfg drop.Config) *env {
	t.Helper()
	clk := &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	v, err := vault.New(vault.Config{Budget: 4 << 20, MaxTTL: 30 * 24 * time.Hour, Now: clk.Now, SweepEvery: -1,
		OwnerQuota: map[vault.Kind]int64{vault.KindSubmission: 1 << 20}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	cfg.Vault = v
	cfg.Now = clk.Now
	if cfg.PoWBits == 0 {
		cfg.PoWBits = -1
	}
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

// submit seals data-free text to k and stores it: PoW, create, append, commit.
func (e *env) submit(t *testing.T, k *protocol.DropKeys, ct []byte) (vault.ID, error) {
	t.Helper()
	r := route(t, e.s, k)
	tok, bits, err := e.s.PoW(r)
	if err != nil {
		return vault.ID{}, err
	}
	nonce, err := protocol.SolvePoW(context.Background(), tok, bits)
	require.NoError(t, err)
	manage := make([]byte, 32)
	_, _ = rand.Read(manage)
	id, _, err := e.s.Submit(r, drop.SubmitRequest{Length: int64(len(ct)), Manage: sha256.Sum256(manage), Token: tok, Nonce: nonce[:]})
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
	n, pub, err := e.s.Challenge(route(t, e.s, k))
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
	n, pub, err := e.s.Challenge(route(t, e.s, a))
	require.NoError(t, err)
	mac, err := b.InboxMAC(n[:], pub, protocol.DropActionList, vault.ID{}, [32]byte{})
	require.NoError(t, err)
	_, err = e.s.List(route(t, e.s, a), drop.Proof{Challenge: n[:], MAC: mac}, vault.ID{})
	require.ErrorIs(t, err, drop.ErrGone)
	// A challenge issued for b's route does not serve a's.
	n, pub, err = e.s.Challenge(route(t, e.s, b))
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
	// A proof for list is not a proof for wipe, and a failed try burns the challenge.
	p = e.prove(t, k, protocol.DropActionList, vault.ID{}, [32]byte{})
	_, err = e.s.WipeAll(route(t, e.s, k), p)
	require.ErrorIs(t, err, drop.ErrGone)
	_, err = e.s.List(route(t, e.s, k), p, vault.ID{})
	require.ErrorIs(t, err, drop.ErrGone)
	// An expired challenge is gone.
	p = e.prove(t, k, protocol.DropActionList, vault.ID{}, [32]byte{})
	e.clk.Add(drop.DefaultChallengeTTL)
	_, err = e.s.List(route(t, e.s, k), p, vault.ID{})
	require.ErrorIs(t, err, drop.ErrGone)
	require.Len(t, e.list(t, k).Items, 1)
}

func TestReplyBoxTakesOne(t *testing.T) {
	e := newEnv(t, drop.Config{})
	k := keys(t, protocol.DropFlagReply)
	// Two proofs of work before any submission: the second create is refused.
	r := route(t, e.s, k)
	tok, bits, err := e.s.PoW(r)
	require.NoError(t, err)
	n1, _ := protocol.SolvePoW(context.Background(), tok, bits)
	var n2 [8]byte
	for i := uint64(binary.BigEndian.Uint64(n1[:]) + 1); ; i++ {
		binary.BigEndian.PutUint64(n2[:], i)
		if protocol.CheckPoW(tok, n2[:], bits) {
			break
		}
	}
	ct := seal(t, k, "the reply")
	m := sha256.Sum256([]byte("m"))
	_, _, err = e.s.Submit(r, drop.SubmitRequest{Length: int64(len(ct)), Manage: m, Token: tok, Nonce: n1[:]})
	require.NoError(t, err)
	_, _, err = e.s.Submit(r, drop.SubmitRequest{Length: int64(len(ct)), Manage: m, Token: tok, Nonce: n2[:]})
	require.ErrorIs(t, err, drop.ErrGone, "a reply box holds one submission")
	_, _, err = e.s.PoW(r)
	require.ErrorIs(t, err, drop.ErrGone)

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

func TestProofOfWork(t *testing.T) {
	e := newEnv(t, drop.Config{PoWBits: 4, MaxPending: 8})
	k := keys(t, 0)
	r := route(t, e.s, k)
	ct := seal(t, k, "x")
	m := sha256.Sum256([]byte("m"))
	tok, bits, err := e.s.PoW(r)
	require.NoError(t, err)
	require.Equal(t, 4, bits)
	nonce, _ := protocol.SolvePoW(context.Background(), tok, bits)
	sub := func(tok, nonce []byte) error {
		_, _, err := e.s.Submit(r, drop.SubmitRequest{Length: int64(len(ct)), Manage: m, Token: tok, Nonce: nonce})
		return err
	}
	var wrong [8]byte
	for i := uint64(0); ; i++ {
		binary.BigEndian.PutUint64(wrong[:], i)
		if !protocol.CheckPoW(tok, wrong[:], bits) {
			break
		}
	}
	require.ErrorIs(t, sub(tok, wrong[:]), drop.ErrPoW, "a nonce that does not solve it")
	forged := bytes.Clone(tok)
	forged[4] = 0 // ask for less work
	require.ErrorIs(t, sub(forged, nonce[:]), drop.ErrPoW, "a token whose bits were lowered")
	other := route(t, e.s, keys(t, 0))
	_, _, err = e.s.Submit(other, drop.SubmitRequest{Length: int64(len(ct)), Manage: m, Token: tok, Nonce: nonce[:]})
	require.ErrorIs(t, err, drop.ErrPoW, "a token of another route")
	require.ErrorIs(t, sub(nil, nil), drop.ErrPoW)
	require.NoError(t, sub(tok, nonce[:]))
	require.ErrorIs(t, sub(tok, nonce[:]), drop.ErrPoW, "a spent solution")

	// Tokens live one window more, then expire.
	tok, bits, _ = e.s.PoW(r)
	nonce, _ = protocol.SolvePoW(context.Background(), tok, bits)
	e.clk.Add(2 * drop.PoWWindow)
	require.ErrorIs(t, sub(tok, nonce[:]), drop.ErrPoW, "an expired token")

	// The difficulty rises as the drop fills, and a full drop refuses before any work.
	prev := 4
	for i := 1; i < 7; i++ {
		_, err := e.submit(t, k, ct)
		require.NoError(t, err)
		_, b, err := e.s.PoW(r)
		require.NoError(t, err)
		require.GreaterOrEqual(t, b, prev)
		prev = b
	}
	require.Equal(t, 4+drop.MaxExtraBits, prev)
	_, err = e.submit(t, k, ct)
	require.NoError(t, err)
	_, _, err = e.s.PoW(r)
	require.ErrorIs(t, err, drop.ErrFull)
	// Seven committed and the first, never uploaded, still pending: nothing was lost.
	require.Len(t, e.list(t, k).Items, 7)
}

func TestByteQuota(t *testing.T) {
	e := newEnv(t, drop.Config{DropQuota: 1 << 20})
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
	require.Equal(t, drop.DefaultPoWBits, s.Config().PoWBits)
	_ = io.Discard
}
