package api

// Group rooms (SECURITY.md, "One-time group rooms"): POST /api/v1/rooms, and below
// /api/v1/rooms/{id}/ the actions RoomJoin… . The WebSocket is the chat's (Subprotocol), with
// RoomSeats for the membership and Control for the rest.
const (
	Rooms = Prefix + "/rooms"

	RoomJoin   = "join"
	RoomSend   = "send"
	RoomPoll   = "poll"
	RoomLeave  = "leave"
	RoomRevoke = "revoke"
	RoomWS     = "ws"

	PageRoom = "/g/"
	// PageNewRoom is the page that creates a room.
	PageNewRoom = "/room"

	// HeaderFrom is a fallback poll's sending seat (1…8) of the record it carries.
	HeaderFrom = "Sealdrop-From"
	// HeaderVersion, HeaderIn and HeaderOut are every fallback poll's seats message
	// (RoomSeats): the membership version and the seats in and out, comma-separated.
	HeaderVersion = "Sealdrop-Version"
	HeaderIn      = "Sealdrop-In"
	HeaderOut     = "Sealdrop-Out"

	ControlSeats = "seats" // server: the membership (RoomSeats)
	ControlLeave = "leave" // client: this member leaves the room

	PriceKindRoom = "room" // the limits' price level of a new room
)

// RoomPath is the path of action on room id.
func RoomPath(id, action string) string { return Rooms + "/" + id + "/" + action }

// RoomSeat is one seat's capability hashes in a room's create.
type RoomSeat struct {
	GateHash     string `json:"gate_hash"`
	OpenHash     string `json:"open_hash,omitempty"`
	DestructHash string `json:"destruct_hash,omitempty"`
}

// CreateRoom is POST /api/v1/rooms.
type CreateRoom struct {
	Seats      []RoomSeat `json:"seats"`
	TTL        *int64     `json:"ttl,omitempty"`
	ManageHash string     `json:"manage_hash"`
	Payment
}

// RoomCreated answers a room's create.
type RoomCreated struct {
	ID        string `json:"id"`
	ExpiresIn int64  `json:"expires_in"`
}

// JoinRoom is POST /api/v1/rooms/{id}/join.
type JoinRoom struct {
	Seat     int    `json:"seat"`
	Gate     string `json:"gate"`
	Open     string `json:"open,omitempty"`
	Destruct string `json:"destruct,omitempty"`
}

// RoomSession is the body of a room's poll and leave: the session, and for a poll what this
// member has (Next: every record below it) and whether to wait.
type RoomSession struct {
	Session string  `json:"session"`
	Next    *uint64 `json:"next,omitempty"`
	Wait    bool    `json:"wait,omitempty"`
}

// RoomSeats is the server's membership message: version V (incremented whenever In changes),
// the seats in this version's keys (In) and the joined seats left out of it because they were
// away (Out), both always present.
type RoomSeats struct {
	T   string `json:"t"`
	V   uint32 `json:"v"`
	In  []int  `json:"in"`
	Out []int  `json:"out"`
}
