// Package vault keeps sealdrop's ciphertext in locked memory and hands it out exactly once.
//
// Every stored byte (notes and their files, chat frames, drop submissions) lives in a few large
// arenas locked at start with memguard (mlock, MADV_DONTDUMP, guard pages) and carved into
// fixed-size blocks. An entry is a list of blocks reserved in full when it is created, filled
// straight from an io.Reader and streamed straight to an io.Writer; no slice of locked memory is
// returned to a caller, and no whole-payload copy is made on the Go heap.
//
// What the vault protects:
//
//   - Swap: the arenas are mlocked, so ciphertext never reaches a swap device.
//   - Core dumps: the arenas are marked MADV_DONTDUMP.
//   - Residue in its own memory: every block is zeroed when its entry is taken (confirmed or its
//     claim window ends), expires, is revoked, is destroyed by a duress PIN, exhausts its PIN
//     tries or is wiped, and before any block is reused. Close zeroes every arena and unmaps it.
//   - Oracles: every absent state (never existed, read, expired, revoked, destroyed, wrong
//     capability, malformed id) is the same ErrGone; capability hashes are compared in constant
//     time, and a lookup that misses does the same hashing and comparing as a hit. Equal is the
//     one compare and Lock the one check of a gate, PIN and duress PIN; the chat relay's join
//     uses them too, so that a chat link and a note link cannot be told apart by how they check.
//   - Exhaustion: a write declares its length first and is refused (ErrTooLarge, ErrFull) before
//     anything is stored; per-kind and per-owner quotas keep one drop or chat from filling it.
//
// What it does not protect:
//
//   - Kernel socket buffers, and the transient buffers of net/http and bufio that carry
//     ciphertext to and from the vault.
//   - Go strings and slices that hold ids, capability tokens or their hashes on their way through
//     the program (the HTTP layer parses them from requests).
//   - Entry metadata: ids, capability hashes, lengths, expiry times and block lists live on the
//     ordinary Go heap, not in locked memory. None of it is ciphertext or a key, but it can reach
//     swap if the machine has swap.
//   - Tor's own memory, and anything on the clients' devices.
//   - An attacker who controls the running process: custody ends where the process's integrity
//     ends.
//
// Budget. The locked budget is fixed at New. When Config.Budget is zero it is derived from the
// process's RLIMIT_MEMLOCK soft limit minus what the process has already locked (VmLck) minus
// MemlockReserve, kept free for memguard's own key pages and other small locked buffers; when the
// kernel ignores the limit (CAP_IPC_LOCK, or an unlimited limit) the default is DefaultCap. The
// budget is checked against the limit before any arena is allocated, because memguard does not
// return an error when mlock fails: it destroys every locked buffer in the process and panics.
// New turns that into an error wrapping ErrMemlock that names the limit and how to raise it; once
// New has returned, the vault never allocates locked memory again, so it cannot panic for lack of
// it at run time.
//
// One-time reads. Open is an atomic claim: the first request whose proofs pass stores the hash of
// the reader's fresh claim nonce, and from that instant everyone else gets ErrGone. The same
// claim may resume (from any offset) within Config.ClaimWindow, which is the one documented
// exception to "wiped the moment it is read"; Confirm with the nonce itself, or the end of the
// window, wipes the blocks.
//
// Relay entries. An entry created with CreateRequest.Relay is held for a relay (a chat's
// undelivered record) rather than for a reader: it has no gate or PIN, Open and Confirm find it
// absent, and the holder of its manage secret reads it with ReadRelay as often as it needs to
// push it again, until Revoke, Destroy, WipeOwner, Wipe or its TTL wipes it. It is never claimed,
// so no claim window ends it and nothing has to copy it to keep it; it is charged once, in whole
// blocks, to its kind's and owner's quotas, like every entry.
package vault
