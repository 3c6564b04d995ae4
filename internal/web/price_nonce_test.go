package web_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/price"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/internal/web"
)

// The price nonce on the wire (SECURITY.md, "The price"): base64url without padding of exactly
// 8 bytes (11 characters), in `price_nonce` and `Sealdrop-Price-Nonce` alike. A JSON number
// is 400 bad_request (a member of the wrong type); a string that is not 8 bytes of base64url
// pays nothing: 402 with the price. Any nonce that pays is accepted, not only the smallest
// (which the shipped clients send), and a payment is spent once per manage hash.
func TestPriceNonceEncoding(t *testing.T) {
	p, err := price.New(price.Config{Floor: 8})
	require.NoError(t, err)
	e := newEnv(t, withWeb(func(c *web.Config) { c.Price = p }))
	const length, ttl = 3000, 300

	n := newNoteSecrets(length, false)
	body := n.createReq(length, ttl)
	r := e.postJSON("/api/v1/notes", body)
	require.Equal(t, http.StatusPaymentRequired, r.status, "%s", r.body)
	a := r.json(t)
	bits := int(a["bits"].(float64))
	require.Positive(t, bits)
	tokS := a["token"].(string)
	tok, err := base64.RawURLEncoding.DecodeString(tokS)
	require.NoError(t, err)

	pr := func(n *note) protocol.PriceRequest {
		return protocol.PriceRequest{Kind: protocol.PriceNote, Manage: sha256.Sum256(n.manage[:]), Length: length, TTL: ttl * time.Second}
	}
	// paying returns the paying nonces of n from the smallest, the first k of them.
	paying := func(n *note, k int) [][protocol.PriceNonceSize]byte {
		msg := protocol.PriceMessage(tok, pr(n))
		var out [][protocol.PriceNonceSize]byte
		for i := uint64(0); len(out) < k; i++ {
			var nonce [protocol.PriceNonceSize]byte
			binary.BigEndian.PutUint64(nonce[:], i)
			if protocol.LeadingZeroBits(protocol.PriceHash(msg, nonce[:])) >= bits {
				out = append(out, nonce)
			}
		}
		return out
	}
	smallest, err := protocol.SolvePrice(t.Context(), tok, pr(n), bits)
	require.NoError(t, err)
	require.Equal(t, smallest, paying(n, 1)[0])

	with := func(nonce any) *resp {
		b := n.createReq(length, ttl)
		b["price_token"], b["price_nonce"] = tokS, nonce
		return e.postJSON("/api/v1/notes", b)
	}
	// A number, even the smallest nonce's value, is the wrong type.
	r = with(binary.BigEndian.Uint64(smallest[:]))
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
	require.Equal(t, "bad_request", r.json(t)["error"])
	// Strings that are not 8 bytes of base64url pay nothing.
	for _, bad := range []string{
		base64.URLEncoding.EncodeToString(smallest[:]), // padded
		"AAAAAAAAA+/", // 11 characters, but '+' and '/'
		base64.RawURLEncoding.EncodeToString(append(make([]byte, 8), smallest[:]...)), // 16 bytes
		base64.RawURLEncoding.EncodeToString(smallest[1:]),                            // 7 bytes
		"0",
	} {
		r = with(bad)
		require.Equal(t, http.StatusPaymentRequired, r.status, "%q: %s", bad, r.body)
		require.Equal(t, "price", r.json(t)["error"], bad)
	}
	// A paying nonce that is not the smallest is accepted.
	second := paying(n, 2)[1]
	r = with(base64.RawURLEncoding.EncodeToString(second[:]))
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	// Spent: the smallest, for the same manage hash, pays nothing more.
	r = with(base64.RawURLEncoding.EncodeToString(smallest[:]))
	require.Equal(t, http.StatusPaymentRequired, r.status, "%s", r.body)
}
