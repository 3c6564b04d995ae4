package api

// The chat's WebSocket (GET /api/v1/chats/{id}/ws) carries records as binary messages and
// Control messages as text. The session token travels beside the subprotocol as
// SubprotocolPrefix + base64url(token), never in the URL.
const (
	Subprotocol       = "sealdrop.v1"
	SubprotocolPrefix = Subprotocol + "."
)

// The kinds of control message (Control.T).
const (
	ControlAck    = "ack"    // client: acknowledges Seq (the last record received) or Next (the next one expected)
	ControlEnd    = "end"    // either way: the chat ends (from the server with its Reason)
	ControlSent   = "sent"   // server: the record was stored as Seq
	ControlError  = "error"  // server: the record was refused (Error: full, busy, too_large, refused)
	ControlPeer   = "peer"   // server: the other side is connected
	ControlNoPeer = "nopeer" // server: the other side is not connected
)

// Control is a text message in either direction. An acknowledgement names either the last
// record received (Seq) or the next one expected (Next: everything below it arrived; next 0
// acknowledges nothing), never both.
type Control struct {
	T      string  `json:"t"`
	Seq    *uint64 `json:"seq,omitempty"`
	Next   *uint64 `json:"next,omitempty"`
	Error  string  `json:"error,omitempty"`
	Reason string  `json:"reason,omitempty"`
}
