// Package web is sealdrop's HTTP layer: API v1 (SECURITY.md), the three pages, and the static
// files, behind one wrapper that sets the security headers on every response.
//
// What it protects:
//
//   - No fingerprints and no leaks: every response, errors and panics included, carries the
//     same strict header set (CSP without inline code, no-referrer, nosniff, DENY framing,
//     no-store, same-origin COOP/CORP) and no Date, Server, ETag or Last-Modified. Errors never
//     carry a version, path, time or stack. Nothing about a request is logged or printed.
//   - No state oracle: every absent state (never existed, read, expired, revoked, destroyed,
//     malformed id, wrong gate or manage secret, unknown API route) gets one byte-identical
//     404 answer.
//   - Previews cannot burn notes: GET and HEAD never reach the vault; state changes are POST
//     only, refuse cross-origin requests (http.CrossOriginProtection) and accept only
//     application/json or application/octet-stream, so an HTML form cannot reach them.
//   - Memory: ciphertext streams straight from the request body into the vault and from the
//     vault into the response; request bodies are never buffered whole. Oversized bodies are
//     refused (413) before a byte of them is read, a full vault answers 507.
//   - Pages are rendered once at start; every script is same-origin and pinned by
//     Subresource Integrity computed from the embedded files. The pages whose scripts read
//     the limits (create, drop submit, inbox) are kept in two parts, and each answer writes
//     between them the limits answer of its instant (price token included) into a meta
//     attribute, not a script: the same for every visitor at that instant, and never cached
//     (no-store, no ETag or Last-Modified).
//
// What it does not protect: the confidentiality of notes rests on the client-side encryption
// (internal/protocol and static/js), not on this package; an operator who controls the
// running server can serve other JavaScript. Transport anonymity is Tor's job, and the
// listener must only be reachable through tor (see cmd/sealdrop). The two ciphertext routes
// (append and open) take their connection from net/http, so that no byte of ciphertext passes
// through its pooled buffers, zero those buffers and close the connection; ids, token hashes
// and other request fields do pass through ordinary Go strings and buffers.
package web
