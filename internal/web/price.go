package web

import (
	"errors"
	"net/http"
	"time"

	"github.com/sealdrop/sealdrop/internal/api"
	"github.com/sealdrop/sealdrop/internal/price"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/vault"
)

// What a new entry costs (SECURITY.md, "What a hostile client may cost"). Notes, chats and drop
// submissions pay through the one Pricer: nothing while every limit they draw on is less than
// half used, then protocol.PriceBits of the level of the fullest one. The token comes with the
// limits answer, so paying adds no request.

// level is the price level of a new entry of kind for owner: the fullest of the vault's
// limits that it draws on, and the extra fractions (a chat server's slots, a drop's count).
func (s *server) level(kind vault.Kind, owner string, extra ...float64) int {
	f := s.v.Load(kind, owner).Max()
	for _, x := range extra {
		f = max(f, x)
	}
	return protocol.PriceLevel(f)
}

// noteLevel is the price level of a new note.
func (s *server) noteLevel() int { return s.level(vault.KindNote, "") }

// priceNow is what limits publishes.
func (s *server) priceNow() api.Price {
	tok, left := s.price.TokenAfter(s.v.Retired())
	p := api.Price{Token: b64.EncodeToString(tok[:]), ExpiresIn: int64(left / time.Second), Levels: map[string]int{api.PriceKindNote: s.price.Level(s.noteLevel())}}
	if s.cfg.Chat != nil {
		p.Levels[api.PriceKindChat] = s.price.Level(s.cfg.Chat.Level())
	}
	if s.cfg.Room != nil {
		p.Levels[api.PriceKindRoom] = s.price.Level(s.cfg.Room.Level())
	}
	if s.cfg.Drops != nil {
		p.Levels[api.PriceKindDrop] = s.price.Level(s.level(vault.KindSubmission, ""))
	}
	return p
}

// pay charges r its price at level with the request's token and nonce (base64url; both may be
// absent when the price is 0). On refusal it answers (priceError) and returns false. refund
// gives the payment back when the entry could not be made after all.
func (s *server) pay(w http.ResponseWriter, r protocol.PriceRequest, level int, token, nonce string) (refund func(), ok bool) {
	// A malformed token or nonce is an unpaid request: the answer says what to pay.
	tok, _ := decodeN(token, protocol.PriceTokenSize)
	n, _ := decodeN(nonce, protocol.PriceNonceSize)
	refund, err := s.price.Charge(level, r, tok, n)
	if err != nil {
		s.priceError(w, err)
		return nil, false
	}
	return refund, true
}

// priceError answers a refused payment and reports whether err was one: 402 with the price now
// and a fresh token; 507 when no browser could pay it; 503 when too many payments are in
// flight.
func (s *server) priceError(w http.ResponseWriter, err error) bool {
	var unpaid *price.Unpaid
	switch {
	case errors.As(err, &unpaid):
		s.unpaid(w, unpaid.Bits, "the server is getting full: this request must carry a proof of work (see bits)")
	case errors.Is(err, price.ErrTooDear):
		s.refuse(w, api.Full,
			"the server is nearly full: this would need more work than a browser can do now; choose a shorter lifetime or send less")
	case errors.Is(err, price.ErrBusy):
		s.refuse(w, api.Busy, "the server is busy; retry shortly")
	default:
		return false
	}
	return true
}

// unpaid answers 402 with bits to pay and a fresh token.
func (s *server) unpaid(w http.ResponseWriter, bits int, msg string) {
	t, left := s.price.TokenAfter(s.v.Retired())
	s.marshal(w, api.Unpaid.Status, api.PriceAnswer{
		Error: api.Unpaid.Code, Message: msg, Bits: bits, Token: b64.EncodeToString(t[:]), ExpiresIn: int64(left / time.Second),
	})
}

// ticket checks the token an upload's id is bound to before the upload makes its entry: one
// the pricer still accepts (its window or the next) and that is newer than every token the
// vault retired (vault.CreateRequest.Ticket). Otherwise it answers 402 with what the request
// costs now (bits) and a fresh token, as when the price rose, and returns false: the client
// sends the request again with that token, which names another id.
func (s *server) ticket(w http.ResponseWriter, token []byte, bits func() (int, error)) (vault.Ticket, bool) {
	if seq, until, ok := s.price.Ticket(token); ok && seq > s.v.Retired() {
		return vault.Ticket{Seq: seq, Until: until}, true
	}
	s.staleTicket(w, bits)
	return vault.Ticket{}, false
}

// staleTicket answers an upload whose token is too old (ticket): 402 with its price now.
func (s *server) staleTicket(w http.ResponseWriter, bits func() (int, error)) {
	b, err := bits()
	if err != nil {
		s.priceError(w, err)
		return
	}
	s.unpaid(w, b, "an upload must carry a price token from the last minutes: send it again with this one (and pay bits, if any)")
}
