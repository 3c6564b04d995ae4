package client

import (
	"time"

	"github.com/sealdrop/sealdrop/internal/protocol"
)

// WithMACKey returns a copy of ch (same id, role and session token) that authenticates its
// handshake with km instead: a side that got past the server without the link key. For tests
// of the handshake's authentication only.
func WithMACKey(ch *Chat, km []byte) *Chat {
	n, _ := ch.c.newChat(ch.ID, ch.Role, protocol.B64Encode(ch.token), km)
	return n
}

// SealForTest seals a message under ch's session without sending it, so a test can play a
// relay that drops, reorders, replays, forges or reflects records. The owner seals it, in
// order with the messages it sends.
func SealForTest(ch *Chat, typ byte, body []byte) ([]byte, error) {
	pt, err := protocol.EncodeChatMessage(typ, body)
	if err != nil {
		return nil, err
	}
	var rec []byte
	err = protocol.ErrChatHandshake
	ch.do(func(st *chatState) {
		if st.sess != nil {
			rec, err = st.sess.Seal(pt)
		}
	})
	return rec, err
}

// SetClock makes c read the time from now (the limits it keeps end by it).
func SetClock(c *Client, now func() time.Time) { c.now = now }
