// Package chat is sealdrop's one-time chat relay (SECURITY.md, "One-time chat"): chats with
// capability hashes like notes, the join that claims a chat, session tokens, a WebSocket relay
// and a long-poll fallback, and the undelivered records, which live in the vault as relay entries
// (kind KindChatFrame, owner = the chat id, vault.CreateRequest.Relay) until the other side
// acknowledges them: the relay reads a record with its manage secret as often as it pushes it,
// straight from locked memory, and never copies it.
//
// What it protects: the server never sees a key: records are end-to-end encrypted by the
// clients (internal/protocol, static/js/chat-protocol.js) and relayed opaque. Capabilities
// (gate, PIN tokens, manage secret, session tokens) are stored only as SHA-256 and compared in
// constant time by the vault's own check (vault.Lock for the join, vault.Equal for the rest);
// every absent state is ErrGone. An undelivered record is ciphertext in locked
// memory; it is wiped when acknowledged, and every record of a chat is wiped at once when the
// chat ends (either side, idle timeout, session maximum, unopened link expiry, revoke, destruct
// PIN, Close). Caps on chats, records and bytes per chat keep one chat from starving the others;
// a refused record or chat touches nothing else.
//
// What it does not protect: chat metadata (ids, hashes, timings, counts, padded sizes) lives on
// the Go heap; a record passes through a transient heap buffer (zeroed after use) and kernel
// socket buffers on its way into and out of the vault. It never logs or prints anything.
package chat
