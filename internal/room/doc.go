// Package room is sealdrop's relay for one-time group rooms (SECURITY.md, "One-time group
// rooms"): rooms of 2 to 8 seats, each seat claimed once by its own invite's proofs (checked by
// vault.Lock exactly as a chat's join), session tokens, a WebSocket relay (internal/wsrelay,
// shared with the chat) and a long-poll fallback, and the undelivered records, which live in the
// vault as relay entries (kind KindRoomFrame, owner = the room id), one copy per record with
// the set of seats that must still receive it, until each of them acknowledged it or left.
//
// What it protects: the relay never sees a key or reads a byte of a record (not even its
// first); it stamps the sending seat, which the members check against the record's signature.
// Capabilities (gates, PIN tokens, manage secret, session tokens) are stored only as SHA-256 and
// compared in constant time by the vault's own check (vault.Lock, vault.Equal); every absent
// state is ErrGone. A room holds at most Config.MaxBytes (2 MiB) undelivered, one sender at most
// MaxBytes ÷ (members of "in" − 1): a record that does not fit is refused busy, after the members
// that acknowledged nothing for more than HoldWait while records waited for them are dropped as
// needed for a record of its length (a stream's, once read); a full vault drops nobody. Each
// membership version has its "in" (the seats keyed) and "out" (joined seats left out because
// they did not send hello and keys within Liveness; they come back in when connected again,
// after a wait that doubles at each move out, from BackInFirst to BackInMax). Membership exists
// only as seat slots of a live room; when the room ends, its records are wiped and the room is
// forgotten (nothing of who joined when is kept), except that a room ended by a destruct PIN
// keeps its slots and zeroed blocks until its lifetime or idle time, or its creator's first
// revoke, as a typo would have left it.
//
// What it does not protect: room metadata (ids, hashes, seats, timings, counts, padded sizes)
// lives on the Go heap while the room lives; a record passes through kernel socket buffers and
// tor on its way. Reflected, replayed, reordered or forged records are the members' to refuse
// (internal/protocol/room.go): the relay relays. It never logs or prints anything.
package room
