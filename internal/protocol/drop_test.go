package protocol

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func sealTo(t *testing.T, d *DropPublic, text string, files []FileInput, reply *DropPublic) []byte {
	t.Helper()
	r, n, err := SubmissionPlaintext(text, files, reply)
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, SealSubmission(&out, d, r, n))
	require.Equal(t, SealedSubmissionLen(n), int64(out.Len()))
	return out.Bytes()
}

func TestDropRoundTrip(t *testing.T) {
	drop, err := NewDropKeys(0)
	require.NoError(t, err)
	reply, err := NewDropKeys(DropFlagReply)
	require.NoError(t, err)
	require.False(t, drop.IsReply())
	require.True(t, reply.IsReply())

	// The links survive their encodings.
	pub, err := ParseDropFragment(drop.Fragment())
	require.NoError(t, err)
	require.Equal(t, drop.DropPublic, *pub)
	back, err := ParseInboxFragment("#" + drop.InboxFragment())
	require.NoError(t, err)
	require.Equal(t, drop.DropPublic, back.DropPublic)
	require.Len(t, drop.RouteID(), 22)
	require.NotEqual(t, DropRoute(0, drop.Auth[:]), DropRoute(DropFlagReply, drop.Auth[:]), "the flags are bound into the route")

	data := bytes.Repeat([]byte("x"), 200000)
	sub := sealTo(t, pub, "hello", []FileInput{{Name: "a.bin", Type: "application/octet-stream", Size: int64(len(data)), R: bytes.NewReader(data)}}, reply.Public())
	// Two seals of the same input differ (fresh ephemeral key, entry nonce, prefix).
	sub2 := sealTo(t, pub, "hello", nil, nil)
	require.NotEqual(t, sub[:65], sub2[:65])

	got, err := OpenSubmission(bytes.NewReader(sub), back)
	require.NoError(t, err)
	require.Equal(t, "hello", got.Text)
	require.Len(t, got.Files, 1)
	require.Equal(t, data, got.Data[0])
	require.Equal(t, reply.DropPublic, *got.ReplyBox)

	// Only the drop's own keys open it.
	_, err = OpenSubmission(bytes.NewReader(sub), reply)
	require.ErrorIs(t, err, ErrAuth)

	// A reply box must carry the reply flag.
	_, _, err = SubmissionPlaintext("x", nil, drop.Public())
	require.ErrorIs(t, err, ErrDrop)
}

func TestInboxMACBindsEverything(t *testing.T) {
	k, err := NewDropKeys(0)
	require.NoError(t, err)
	srv, err := NewDropKeys(0) // any P-256 key stands in for the server's ephemeral key
	require.NoError(t, err)
	ch := bytes.Repeat([]byte{7}, 32)
	id := [16]byte{1}
	arg := [32]byte{2}
	mac, err := k.InboxMAC(ch, srv.Auth[:], DropActionFetch, id, arg)
	require.NoError(t, err)
	require.True(t, VerifyInboxMAC(srv.authPriv, k.Auth[:], k.Route(), ch, DropActionFetch, id, arg, mac))
	arg[0] ^= 1
	require.False(t, VerifyInboxMAC(srv.authPriv, k.Auth[:], k.Route(), ch, DropActionFetch, id, arg, mac))
	arg[0] ^= 1
	require.False(t, VerifyInboxMAC(srv.authPriv, k.Auth[:], DropRoute(DropFlagReply, k.Auth[:]), ch, DropActionFetch, id, arg, mac))
	require.False(t, VerifyInboxMAC(srv.authPriv, k.Auth[:], k.Route(), ch, DropActionFetch, id, arg, mac[:31]))
	_, err = k.InboxMAC(ch[:31], srv.Auth[:], DropActionFetch, id, arg)
	require.ErrorIs(t, err, ErrFormat)
	_, err = k.InboxMAC(ch, srv.Auth[:], 9, id, arg)
	require.ErrorIs(t, err, ErrFormat)
	k.Wipe()
	_, err = k.InboxMAC(ch, srv.Auth[:], DropActionFetch, id, arg)
	require.ErrorIs(t, err, ErrKey)
}

func TestPriceSolveAndCheck(t *testing.T) {
	tok := bytes.Repeat([]byte{7}, PriceTokenSize)
	r := PriceRequest{Kind: PriceSubmission, Length: 4096, TTL: time.Hour}
	for _, bits := range []int{0, 1, 8, 12} {
		n, err := SolvePrice(t.Context(), tok, r, bits)
		require.NoError(t, err)
		require.True(t, CheckPrice(tok, r, n[:], bits))
		if bits > 0 {
			h := PriceHash(PriceMessage(tok, r), n[:])
			require.False(t, CheckPrice(tok, r, n[:], LeadingZeroBits(h)+1))
			require.False(t, CheckPrice(tok, r, n[:7], 1), "a nonce has exactly 8 bytes")
		}
	}
	_, err := SolvePrice(t.Context(), tok, r, 65)
	require.ErrorIs(t, err, ErrFormat)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = SolvePrice(ctx, tok, r, 64)
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, CheckPrice(tok[:19], r, make([]byte, PriceNonceSize), 1))
	require.True(t, CheckPrice(nil, r, nil, 0), "a free request needs nothing")
}

func TestOpenSubmissionWipesOnFailure(t *testing.T) {
	k, err := NewDropKeys(0)
	require.NoError(t, err)
	sub := sealTo(t, k.Public(), strings.Repeat("secret ", 100), nil, nil)
	sub[len(sub)-1] ^= 1
	_, err = OpenSubmission(io.MultiReader(bytes.NewReader(sub)), k)
	require.ErrorIs(t, err, ErrAuth)
}
