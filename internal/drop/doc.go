// Package drop is the server side of sealdrop's drop boxes and one-time replies (SECURITY.md,
// "Drops and replies"): it checks that a request's inbox-auth key and flags hash to the route
// it names (so no drop record is ever stored and drop links survive restarts), issues and
// checks stateless proof-of-work tokens, files submissions in the vault (kind KindSubmission,
// owner = the route id) under per-drop byte and count limits, runs the single-use inbox
// challenges, lists (100 at a time after a cursor) and opens, confirms and wipes submissions for
// an inbox that proved its key, and keeps each route's visit log (the theft signal).
//
// What it protects: only the holder of a drop's inbox-auth private key can list, fetch or wipe
// its submissions; a proof is bound to one server challenge, used once, to the action, the
// submission id and the claim, so a captured request cannot be replayed. A submission of one
// route can never be opened through another (the vault gate token is derived from the route
// with a per-process key). Every refusal about a capability is ErrGone. Flooding costs a proof
// of work per submission, rising as a drop fills, and is capped per drop and per kind.
//
// What it does not protect: the ciphertext's confidentiality is the clients' (the server never
// has a private key); routes, public keys, timings and padded sizes are visible to the server;
// the small state it keeps (challenges, spent proofs, used reply boxes, each route's visit log
// and fetch counters) lives on the Go heap and ends with the process, so after a restart a reply
// box whose reply was read could take one more, and the visit log starts empty (no request can
// clear it). It never logs or prints anything.
package drop
