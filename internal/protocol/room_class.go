package protocol

import "errors"

// RoomErrClass names a room error the way SECURITY.md ("The error classes") and the browser
// module's error.code do: "reflect", "epoch", "ghost", "replay", "order", "view", "handshake",
// "wait", "auth" or "format"; "" for nil and for an error that is none of them.
func RoomErrClass(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrRoomReflect):
		return "reflect"
	case errors.Is(err, ErrRoomEpoch):
		return "epoch"
	case errors.Is(err, ErrRoomGhost):
		return "ghost"
	case errors.Is(err, ErrRoomReplay):
		return "replay"
	case errors.Is(err, ErrRoomOrder):
		return "order"
	case errors.Is(err, ErrRoomView):
		return "view"
	case errors.Is(err, ErrRoomHandshake):
		return "handshake"
	case errors.Is(err, ErrRoomWait):
		return "wait"
	case errors.Is(err, ErrAuth):
		return "auth"
	case errors.Is(err, ErrFormat):
		return "format"
	}
	return ""
}
