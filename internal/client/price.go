package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sealdrop/sealdrop/internal/api"
	"github.com/sealdrop/sealdrop/internal/protocol"
)

// PriceError is a create the server refused as unpaid (402): the price it asks now and a token
// to pay it with. The client pays and retries by itself; this reaches the caller only when the
// price kept rising.
type PriceError struct {
	Bits  int
	Token string
}

func (e *PriceError) Error() string {
	return fmt.Sprintf("client: the server asks a proof of work of %d bits", e.Bits)
}

// Price is the "price" member of the limits (SECURITY.md, "What a hostile client may cost").
// Its levels are by kind: api.PriceKindNote, api.PriceKindChat, api.PriceKindDrop.
type Price = api.Price

// maxPriceBits is the most this client pays by itself: 2^30 hashes, seconds to a minute of
// native code. A server asking more is nearly full; the caller can choose a shorter lifetime.
const maxPriceBits = 30

// pay adds to body the payment of bits for pr with token: nothing when bits is 0.
func pay(ctx context.Context, body api.Payer, token string, pr protocol.PriceRequest, bits int) error {
	body.Pay("", "")
	if bits <= 0 {
		return nil
	}
	if bits > maxPriceBits {
		return fmt.Errorf("%w: it asks a proof of work of %d bits now; try a shorter lifetime or later", ErrFull, bits)
	}
	tok, err := protocol.B64Decode(token)
	if err != nil || len(tok) != protocol.PriceTokenSize {
		return fmt.Errorf("%w: price token", ErrProtocol)
	}
	nonce, err := protocol.SolvePrice(ctx, tok, pr, bits)
	if err != nil {
		return fmt.Errorf("client: price: %w", err)
	}
	body.Pay(token, protocol.B64Encode(nonce[:]))
	return nil
}

// createPaid posts a create (a note, a chat, a drop submission) to u and decodes its 201 answer
// into out, paying bits for pr with token first (bits 0: the create goes unpaid); when the
// server answers that the price rose meanwhile, or that it asks one now (402), it pays what
// the answer asks and tries again, twice at most.
func (c *Client) createPaid(ctx context.Context, u string, body api.Payer, pr protocol.PriceRequest, bits int, token string, out any) error {
	for tries := 0; ; tries++ {
		if err := pay(ctx, body, token, pr, bits); err != nil {
			return err
		}
		req, err := c.postTo(ctx, u, body)
		if err != nil {
			return err
		}
		err = c.doJSON(req, http.StatusCreated, out)
		var pe *PriceError
		if errors.As(err, &pe) && tries < 2 {
			bits, token = pe.Bits, pe.Token
			continue
		}
		return err
	}
}

// levelBits is what the limits' level for kind puts on a create of length bytes kept ttl.
func levelBits(p Price, kind string, length int64, ttl time.Duration) int {
	return protocol.PriceBits(p.Levels[kind], length, ttl)
}

// priceTTL is the lifetime a create is priced at: what it asks, or the server's default.
func priceTTL(asked time.Duration, defaultSeconds int64) time.Duration {
	if asked > 0 {
		return asked
	}
	return time.Duration(defaultSeconds) * time.Second
}
