// Package nodetest runs the browser modules' own tests (node --test static/test/) as a Go test,
// so that `go test ./...` covers them too: the protocol, chat, drop, QR and metadata-stripping
// modules against the same vectors as the Go code.
//
// They need Node 20.12 or newer (CompressionStream's "deflate-raw", among others). The test
// uses, in order: $SEALDROP_NODE (a path), node on PATH, then the Node this directory's
// package-lock.json pins (installed with `npm ci --prefix internal/nodetest`, from the npm
// registry, for machines whose node is older, such as Debian 12's 18). Without a recent enough
// node it skips with that advice, or fails when SEALDROP_REQUIRE_OFFLINE_TESTS=1; so it does
// when a module test skips because a tool it checks against (exiftool, zbarimg, qrencode) is
// missing.
package nodetest
