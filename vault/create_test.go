package vault_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/sealdrop/sealdrop/vault"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCreateRefusals(t *testing.T) {
	v, _ := smallVault(t, vault.Config{Budget: 64 << 10, MaxEntry: 32 << 10, MaxTTL: time.Hour})
	s := newSecrets(t, false, false)
	ok := vault.CreateRequest{Kind: vault.KindNote, Length: 100, TTL: time.Minute, Caps: s.caps}
	tests := []struct {
		name string
		edit func(*vault.CreateRequest)
		want error
	}{
		{"zero kind", func(r *vault.CreateRequest) { r.Kind = 0 }, vault.ErrInvalid},
		{"unknown kind", func(r *vault.CreateRequest) { r.Kind = 5 }, vault.ErrInvalid},
		{"zero ttl", func(r *vault.CreateRequest) { r.TTL = 0 }, vault.ErrInvalid},
		{"negative ttl", func(r *vault.CreateRequest) { r.TTL = -time.Second }, vault.ErrInvalid},
		{"ttl over max", func(r *vault.CreateRequest) { r.TTL = time.Hour + 1 }, vault.ErrInvalid},
		{"zero length", func(r *vault.CreateRequest) { r.Length = 0 }, vault.ErrInvalid},
		{"negative length", func(r *vault.CreateRequest) { r.Length = -1 }, vault.ErrInvalid},
		{"over max entry", func(r *vault.CreateRequest) { r.Length = 32<<10 + 1 }, vault.ErrTooLarge},
		{"zero gate", func(r *vault.CreateRequest) { r.Caps.Gate = vault.Hash{} }, vault.ErrInvalid},
		{"zero manage", func(r *vault.CreateRequest) { r.Caps.Manage = vault.Hash{} }, vault.ErrInvalid},
		{"pin without open hash", func(r *vault.CreateRequest) { r.Caps.PIN = true }, vault.ErrInvalid},
	}
	before := v.Stats()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := ok
			tc.edit(&req)
			_, _, err := v.Create(req)
			require.ErrorIs(t, err, tc.want)
			require.Equal(t, before, v.Stats(), "a refused request changed nothing")
		})
	}
	// The edges that are allowed.
	for _, edit := range []func(*vault.CreateRequest){
		func(r *vault.CreateRequest) { r.TTL = time.Hour },
		func(r *vault.CreateRequest) { r.TTL = 1 },
		func(r *vault.CreateRequest) { r.Length = 32 << 10 },
		func(r *vault.CreateRequest) { r.Length = 1 },
	} {
		req := ok
		edit(&req)
		_, _, err := v.Create(req)
		require.NoError(t, err)
	}
}

func TestConfigRefusals(t *testing.T) {
	for name, cfg := range map[string]vault.Config{
		"negative budget":     {Budget: -1},
		"block not pow2":      {Budget: 1 << 20, BlockSize: 1000},
		"block too small":     {Budget: 1 << 20, BlockSize: 32},
		"budget under block":  {Budget: 100},
		"negative ttl":        {Budget: 1 << 20, MaxTTL: -1},
		"negative quota":      {Budget: 1 << 20, KindQuota: map[vault.Kind]int64{vault.KindNote: -1}},
		"quota unknown kind":  {Budget: 1 << 20, OwnerQuota: map[vault.Kind]int64{9: 1}},
		"negative pin tries":  {Budget: 1 << 20, MaxPINFailures: -1},
		"negative max entry":  {Budget: 1 << 20, MaxEntry: -1},
		"negative claim wind": {Budget: 1 << 20, ClaimWindow: -1},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := vault.New(cfg)
			require.ErrorIs(t, err, vault.ErrInvalid)
		})
	}
}

// Filling the vault: the next write is ErrFull and nothing earlier is lost.
func TestFillToFull(t *testing.T) {
	v, _ := smallVault(t, vault.Config{Budget: 256 << 10, BlockSize: 1024})
	s := newSecrets(t, false, false)
	var ids []vault.ID
	var datas [][]byte
	for i := 0; ; i++ {
		data := random(t, 1000+i*37%3000)
		id, _, err := v.Put(vault.CreateRequest{Kind: vault.KindNote, Length: int64(len(data)), TTL: time.Hour, Caps: s.caps}, bytes.NewReader(data))
		if err != nil {
			require.ErrorIs(t, err, vault.ErrFull)
			break
		}
		ids, datas = append(ids, id), append(datas, data)
	}
	require.NotEmpty(t, ids)
	st := v.Stats()
	require.Less(t, st.Free, int64(4096), "full means nearly no free block left")
	// One more small entry that does not fit is refused without changing anything.
	_, _, err := v.Create(vault.CreateRequest{Kind: vault.KindNote, Length: st.Free + 1, TTL: time.Hour, Caps: s.caps})
	require.ErrorIs(t, err, vault.ErrFull)
	require.Equal(t, st, v.Stats())
	for i, id := range ids {
		require.Equal(t, datas[i], take(t, v, id, s), "entry %d intact", i)
	}
	require.Zero(t, v.Stats().Used)
	require.True(t, vault.FreeBlocksZero(v))
}

func TestQuotas(t *testing.T) {
	v, _ := smallVault(t, vault.Config{
		Budget:     1 << 20,
		KindQuota:  map[vault.Kind]int64{vault.KindSubmission: 100 << 10},
		OwnerQuota: map[vault.Kind]int64{vault.KindSubmission: 40 << 10},
	})
	s := newSecrets(t, false, false)
	req := func(owner string, n int64) vault.CreateRequest {
		return vault.CreateRequest{Kind: vault.KindSubmission, Owner: owner, Length: n, TTL: time.Hour, Caps: s.caps}
	}
	// Quotas count bytes held, which arrive with the appends (Put fills at once).
	put := func(owner string, n int64) (vault.ID, error) {
		id, _, err := v.Put(req(owner, n), bytes.NewReader(random(t, int(n))))
		return id, err
	}
	_, err := put("a", 40<<10)
	require.NoError(t, err)
	before := v.Stats()
	_, _, err = v.Create(req("a", 1))
	require.ErrorIs(t, err, vault.ErrFull, "owner quota")
	require.Equal(t, before, v.Stats())
	idB, err := put("b", 40<<10)
	require.NoError(t, err)
	_, _, err = v.Create(req("c", 20<<10+1))
	require.ErrorIs(t, err, vault.ErrFull, "kind quota")
	_, err = put("c", 20<<10)
	require.NoError(t, err)
	// Other kinds are not limited by the submission quota.
	_, _, err = v.Put(vault.CreateRequest{Kind: vault.KindNote, Length: 500 << 10, TTL: time.Hour, Caps: s.caps}, bytes.NewReader(random(t, 500<<10)))
	require.NoError(t, err)
	// A capability for a note never acts on a submission.
	require.ErrorIs(t, v.Revoke(vault.KindNote, idB, s.manage), vault.ErrGone)
	// Freeing b's entry gives its owner and the kind room again.
	require.NoError(t, v.Revoke(vault.KindSubmission, idB, s.manage))
	_, err = put("b", 40<<10)
	require.NoError(t, err)
	assert.Equal(t, 3, v.Stats().Entries[vault.KindSubmission])
	assert.Equal(t, 1, v.Stats().Entries[vault.KindNote])
}

// TestCreateChosenID: a create may name its id (a note's upload derives it so that a cut
// upload can be found again); a live entry's id is refused and changes nothing, and once that
// entry's status record is gone (its original expiry) the id may be made again.
func TestCreateChosenID(t *testing.T) {
	v, clk := smallVault(t, vault.Config{Budget: 64 << 10})
	s := newSecrets(t, false, false)
	want, err := vault.NewID()
	require.NoError(t, err)
	req := vault.CreateRequest{ID: want, Kind: vault.KindNote, Length: 3, TTL: time.Minute, Caps: s.caps}
	id, _, err := v.Create(req)
	require.NoError(t, err)
	require.Equal(t, want, id)
	before := v.Stats()
	_, _, err = v.Create(req)
	require.ErrorIs(t, err, vault.ErrTaken)
	_, _, err = v.Put(req, bytes.NewReader([]byte("abc")))
	require.ErrorIs(t, err, vault.ErrTaken)
	require.Equal(t, before, v.Stats(), "a refused create changed nothing")
	// Without a chosen id, ids are drawn as before.
	other, _, err := v.Create(vault.CreateRequest{Kind: vault.KindNote, Length: 3, TTL: time.Minute, Caps: s.caps})
	require.NoError(t, err)
	require.NotEqual(t, want, other)
	require.NoError(t, v.Revoke(vault.KindNote, id, s.manage))
	_, _, err = v.Create(req)
	require.ErrorIs(t, err, vault.ErrTaken, "while its status record is kept")
	clk.Add(time.Minute)
	id, _, err = v.Create(req)
	require.NoError(t, err)
	require.Equal(t, want, id)
}
