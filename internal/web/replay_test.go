package web_test

// One request per note (SECURITY.md): an upload's id is bound to its manage secret and to the
// price token it carries, the token is required on every create and accepted for two price
// windows, the id's record is kept until the token's end, and a record pushed out before
// retires the token. These are the hostile review's reproductions (R1-R4), which made the
// note (or submission) again at its old id on main, and the honest flows around them.

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/price"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/internal/web"
	"github.com/sealdrop/sealdrop/vault"
)

func withTombs(n int) envOpt {
	return func(vc *vault.Config, _ *web.Config) { vc.MaxTombstones = n }
}

// requireStale asserts a 402 asking for a fresh token (bits 0: no price is due) and returns it.
func requireStale(t *testing.T, r *resp) string {
	t.Helper()
	require.Equal(t, http.StatusPaymentRequired, r.status, "%s", r.body)
	a := r.json(t)
	require.Equal(t, "price", a["error"])
	require.EqualValues(t, 0, a["bits"])
	tok := a["token"].(string)
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	require.NoError(t, err)
	require.Len(t, raw, protocol.PriceTokenSize)
	return tok
}

// requireNotRevived asserts that the reader's old link of n finds nothing.
func (e *env) requireNotRevived(n *note) {
	e.t.Helper()
	requireGone(e.t.(*testing.T), e.open(n, rand32(), 0, nil))
	require.Equal(e.t, 0, e.noteCount())
}

// R1: someone who saw only the upload's headers (token included) sends them again with a body
// of their own once the note was read: while the token is accepted the id's record is kept
// (gone), whatever the note's lifetime; after, the token is refused (402). The old link never
// reads the junk, and status never says "opened" of a second note.
func TestReplayHeadersOnlyAfterRead(t *testing.T) {
	e := newEnv(t)
	n := newNoteSecrets(100, false)
	r := e.upload(n, 0, 100, map[string]string{"Sealdrop-Ttl": "300"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	n.id = r.json(t)["id"].(string)
	e.requireOpens(n)

	junk := newNoteSecrets(100, false)
	junk.gate, junk.manage, junk.destruct, junk.token = n.gate, n.manage, n.destruct, n.token
	e.clk.Add(301 * time.Second) // the note's expiry; the token is still accepted
	e.v.Sweep()
	requireGone(t, e.upload(junk, 0, 100, map[string]string{"Sealdrop-Ttl": "604800"}))
	e.requireNotRevived(n)
	e.clk.Add(10 * time.Minute) // the token's end
	e.v.Sweep()
	requireStale(t, e.upload(junk, 0, 100, map[string]string{"Sealdrop-Ttl": "604800"}))
	e.requireNotRevived(n)
	st := e.postJSON("/api/v1/notes/"+n.id+"/status", map[string]any{"manage": b64(n.manage[:])})
	require.Equal(t, http.StatusNotFound, st.status, "%s", st.body)
}

// R2: the manage secret alone (and the token, at worst) with any gate, length and content:
// the same answers.
func TestReplayManageAloneClaimsNothing(t *testing.T) {
	e := newEnv(t)
	n := newNoteSecrets(100, false)
	r := e.upload(n, 0, 100, map[string]string{"Sealdrop-Ttl": "300"})
	n.id = r.json(t)["id"].(string)
	e.requireOpens(n)
	thief := newNoteSecrets(50, false)
	thief.manage, thief.token = n.manage, n.token
	for _, d := range []time.Duration{301 * time.Second, 10 * time.Minute} {
		e.clk.Add(d)
		e.v.Sweep()
		r = e.upload(thief, 0, 50, nil)
		require.Contains(t, []int{http.StatusNotFound, http.StatusPaymentRequired}, r.status, "%s", r.body)
		require.Equal(t, 0, e.noteCount())
	}
	// Without a token nothing is made: 402 with one.
	thief.token = "-"
	requireStale(t, e.upload(thief, 0, 50, nil))
	require.Equal(t, 0, e.noteCount())
}

// R3: a stranger pushes the read note's record out of the ring (8 stands for MaxTombstones)
// with bodiless creates that idle out, long before the note's expiry: its token is retired,
// so the full upload sent again is refused. Honest creates go on: one with the token the page
// fetched before the flood gets 402 and a fresh token, which creates; the token the limits
// give now creates at once.
func TestReplayAfterFloodRefused(t *testing.T) {
	const ring = 8
	e := newEnv(t, withTombs(ring))
	n := newNoteSecrets(100, false)
	early := e.token()            // an honest page's, fetched before the flood
	r := e.upload(n, 0, 100, nil) // 7 days
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	n.id = r.json(t)["id"].(string)
	e.requireOpens(n)
	requireGone(t, e.upload(n, 0, 100, nil))
	for i := 0; i < ring; i++ {
		s := newNoteSecrets(64, false)
		require.Equal(t, http.StatusCreated, e.createPaid(s, 64, nil).status)
	}
	e.clk.Add(61 * time.Second) // EmptyIdle: each ends with a record, the ring turns over
	e.v.Sweep()
	requireStale(t, e.upload(n, 0, 100, nil))
	e.requireNotRevived(n)

	honest := newNoteSecrets(100, false)
	honest.token = early
	fresh := requireStale(t, e.upload(honest, 0, 100, nil))
	honest.token = fresh
	r = e.upload(honest, 0, 100, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	lim := e.do(http.MethodGet, "/api/v1/limits", "", nil, nil).json(t)["price"].(map[string]any)["token"].(string)
	other := newNoteSecrets(100, false)
	other.token = lim
	r = e.upload(other, 0, 100, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	// The replay with the fresh token is another id, not the burned note.
	n.token = fresh
	r = e.upload(n, 0, 100, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.NotEqual(t, n.id, r.json(t)["id"])
	requireGone(t, e.open(n, rand32(), 0, nil))
}

// R4: a note's record survives a flood that turns the ring over more than once, as long as it
// is newer than what the flood pushes out; and the same upload sent after the token's end is
// refused, so no id is made twice (the stale ring slot that deleted a re-made note's record
// has nothing to delete: vault's TestStaleRingSlotEvictsNothing).
func TestReplayStaleRingSlot(t *testing.T) {
	const ring = 4
	e := newEnv(t, withTombs(ring))
	n := newNoteSecrets(100, false)
	r := e.upload(n, 0, 100, map[string]string{"Sealdrop-Ttl": "300"})
	n.id = r.json(t)["id"].(string)
	e.requireOpens(n)
	e.clk.Add(301 * time.Second)
	e.v.Sweep()
	requireGone(t, e.upload(n, 0, 100, map[string]string{"Sealdrop-Ttl": "604800"}))
	e.clk.Add(10 * time.Minute)
	e.v.Sweep()
	requireStale(t, e.upload(n, 0, 100, map[string]string{"Sealdrop-Ttl": "604800"}))
	require.Equal(t, 0, e.noteCount())
}

// Honest flows inside the token's window: the upload without a token learns one (402); the
// same upload sent again after a lost answer answers committed even once the token is no
// longer accepted for a create; a piece sent again while pending goes on.
func TestUploadTokenHonestFlows(t *testing.T) {
	e := newEnv(t)
	n := newNoteSecrets(3000, false)
	n.token = "-" // none: headers without the token
	none := map[string]string{"Sealdrop-Price-Token": ""}
	n.token = requireStale(t, e.upload(n, 0, 3000, none))
	r := e.upload(n, 0, 1000, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.EqualValues(t, 1000, r.json(t)["received"])
	e.clk.Add(9 * time.Minute) // pending, the token nearly done
	r = e.upload(n, 0, 3000, nil)
	require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
	r = e.upload(n, 1000, 3000, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, true, r.json(t)["committed"])
	n.id = r.json(t)["id"].(string)
	e.clk.Add(5 * time.Minute) // the token is over: the lost answer's retry still finds it
	r = e.upload(n, 1000, 3000, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, n.id, r.json(t)["id"])
	e.requireOpens(n)
	requireGone(t, e.upload(n, 0, 3000, nil))
}

// A paid upload's token: the 402 that asks for a fresh one names the price due now.
func TestUploadStaleTokenNamesPrice(t *testing.T) {
	var e *env
	p, err := price.New(price.Config{Floor: 8, Now: func() time.Time { return e.clk.Now() }})
	require.NoError(t, err)
	e = newEnv(t, withWeb(func(c *web.Config) { c.Price = p }))
	n := newNoteSecrets(100, false)
	n.token = e.token()
	e.clk.Add(11 * time.Minute)
	r := e.upload(n, 0, 100, nil)
	require.Equal(t, http.StatusPaymentRequired, r.status, "%s", r.body)
	bits, err := p.Bits(8, protocol.PriceRequest{Length: 100, TTL: 7 * 24 * time.Hour})
	require.NoError(t, err)
	require.EqualValues(t, bits, r.json(t)["bits"])
	require.NotEqual(t, n.token, r.json(t)["token"])
}

// Drop submissions: the same rules. A submission read by its drop's owner, or wiped with
// the inbox, is not made again by its upload sent again, at any time; a reply box that took
// its one submission takes no second one through a replay after a flood.
func TestDropUploadReplay(t *testing.T) {
	for _, flags := range []byte{0, protocol.DropFlagReply} {
		t.Run("flags "+strconv.Itoa(int(flags)), func(t *testing.T) {
			const ring = 8
			d := newDropSite(t, 0, withTombs(ring))
			k := dropKeys(t, flags)
			s := newSub(t, k, 500)
			requireCommitted(t, d.upload(s, 0, len(s.body), nil), s)
			require.Equal(t, s.body, d.fetch(t, k, s.id, nil))
			requireGone(t, d.upload(s, 0, len(s.body), nil))
			d.clk.Add(11 * time.Minute) // past the token's end, the record is kept (24 hours)
			d.v.Sweep()
			requireGone(t, d.upload(s, 0, len(s.body), nil))
			d.clk.Add(24 * time.Hour) // and past the record's
			d.v.Sweep()
			requireStale(t, d.upload(s, 0, len(s.body), nil))
			require.Equal(t, 0, d.submissions())

			// A lifetime shorter than the token's: the record outlives it.
			s1 := newSub(t, dropKeys(t, flags), 500)
			ttl := map[string]string{"Sealdrop-Ttl": "60"}
			r := d.upload(s1, 0, len(s1.body), ttl)
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
			s1.id = r.json(t)["id"].(string)
			require.Equal(t, s1.body, d.fetch(t, s1.k, s1.id, nil))
			d.clk.Add(61 * time.Second)
			d.v.Sweep()
			requireGone(t, d.upload(s1, 0, len(s1.body), ttl))
			require.Equal(t, 0, d.submissions())

			// Flood: the record pushed out early retires the token.
			s2 := newSub(t, dropKeys(t, flags), 500)
			k = s2.k
			requireCommitted(t, d.upload(s2, 0, len(s2.body), nil), s2)
			require.Equal(t, s2.body, d.fetch(t, k, s2.id, nil))
			for i := 0; i < ring; i++ {
				require.Equal(t, http.StatusCreated, d.createPaid(newNoteSecrets(64, false), 64, nil).status)
			}
			d.clk.Add(61 * time.Second)
			d.v.Sweep()
			requireStale(t, d.upload(s2, 0, len(s2.body), nil))
			require.Equal(t, 0, d.submissions())

			// Wiped with the inbox before it was read: the record is kept.
			s3 := newSub(t, dropKeys(t, flags), 500)
			requireCommitted(t, d.upload(s3, 0, len(s3.body), nil), s3)
			require.Equal(t, 1, d.v.WipeOwner(vault.KindSubmission, d.route(t, s3.k).String()))
			requireGone(t, d.upload(s3, 0, len(s3.body), nil))
			require.Equal(t, 0, d.submissions())
		})
	}
}

// A try that finds the pending entry but declares other parameters (length, lifetime, gate,
// PIN, destruct hash; a submission's length and lifetime) is gone and stores nothing; the
// upload's own next try goes on.
func TestUploadResendWithOtherParametersRefused(t *testing.T) {
	e := newEnv(t)
	n := newNoteSecrets(1000, true)
	r := e.upload(n, 0, 400, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	used := e.v.Stats().Used
	for name, h := range map[string]map[string]string{
		"length":   {"Sealdrop-Length": "1001", "Sealdrop-Offset": "400"},
		"ttl":      {"Sealdrop-Ttl": "300", "Sealdrop-Offset": "400"},
		"gate":     {"Sealdrop-Gate-Hash": hash(rand32()), "Sealdrop-Offset": "400"},
		"open":     {"Sealdrop-Open-Hash": "", "Sealdrop-Offset": "400"},
		"destruct": {"Sealdrop-Destruct-Hash": hash(rand32()), "Sealdrop-Offset": "400"},
	} {
		r = e.upload(n, 400, 1000, h)
		require.Equal(t, http.StatusNotFound, r.status, "%s: %s", name, r.body)
		require.Equal(t, used, e.v.Stats().Used, name)
	}
	r = e.upload(n, 400, 1000, map[string]string{"Sealdrop-Offset": "400"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, true, r.json(t)["committed"])
	n.id = r.json(t)["id"].(string)
	e.requireOpens(n)

	d := newDropSite(t, 0)
	s := newSub(t, dropKeys(t, 0), 1000)
	r = d.upload(s, 0, 400, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	for _, h := range []map[string]string{{"Sealdrop-Length": "1001"}, {"Sealdrop-Ttl": "300"}} {
		requireGone(t, d.upload(s, 400, 1000, h))
	}
	requireCommitted(t, d.upload(s, 400, 1000, nil), s)
}
