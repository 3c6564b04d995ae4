// Package protocol implements the client side of sealdrop protocol version 1 as specified in
// SECURITY.md: the URL fragment, PIN normalisation and stretching, the capability tokens
// derived from the read key, Padmé padding, the note plaintext (manifest, files, padding) and
// the chunked AES-256-GCM envelope. The browser module static/js/protocol.js implements the
// same protocol; both check testdata/vectors.json, so the two cannot drift.
//
// What it protects: the confidentiality and integrity of a note's text, file names, types,
// sizes and bytes against anyone without the read key K (and, when set, the PIN). Every chunk
// is bound to the protocol version, the kind and a client-random entry nonce, and its nonce
// carries its index and a last-chunk flag, so cutting, swapping, replaying, reordering,
// truncating or extending a stream fails to decrypt. Padding hides the exact length.
//
// What it does not protect: the padded length itself, that a note exists or has a PIN, and
// anything about the devices or the people involved. A PIN has little entropy: the server
// never has K and checks at most 5 guesses online, but whoever holds both a leaked link and a
// seized server image can guess offline, each guess costing one 300,000-iteration PBKDF2 (a
// 6-digit PIN falls to one GPU in under a minute; SECURITY.md, "What a PIN protects"). The
// digit table of PINs is frozen at Unicode 15.0 so every client normalises alike. The streaming
// decryptor necessarily writes early chunks before it can detect a later failure: callers
// must discard everything written when Open returns an error.
//
// The package never logs, holds no global state and reads randomness only from crypto/rand.
package protocol
