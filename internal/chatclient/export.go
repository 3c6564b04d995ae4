package chatclient

import "github.com/sealdrop/sealdrop/internal/protocol"

// WithMACKey returns a copy of ch (same id, role and session token) that authenticates its
// handshake with km instead: a side that got past the server without the link key. For tests
// of the handshake's authentication only.
func WithMACKey(ch *Chat, km []byte) *Chat {
	n, _ := ch.c.newChat(ch.ID, ch.Role, protocol.B64Encode(ch.token), km)
	return n
}

// SealForTest seals a message under ch's session without sending it, so a test can play a
// relay that drops, reorders, replays, forges or reflects records.
func SealForTest(ch *Chat, typ byte, body []byte) ([]byte, error) {
	ch.mu.Lock()
	s := ch.sess
	ch.mu.Unlock()
	if s == nil {
		return nil, protocol.ErrChatHandshake
	}
	pt, err := protocol.EncodeChatMessage(typ, body)
	if err != nil {
		return nil, err
	}
	ch.sendMu.Lock()
	defer ch.sendMu.Unlock()
	return s.Seal(pt)
}
