// Package api is sealdrop's HTTP API v1 as it is on the wire (SECURITY.md, "HTTP API v1",
// "HTTP API for drops", "One-time chat"): the paths, headers and media types, the JSON bodies
// of every request and answer, the error codes with the one status each refusal answers, the
// chat's control messages and the envelope layout a resumed download aligns to.
//
// The server (internal/web, with internal/chat's socket), the Go client (internal/client:
// notes, drops and chats) and `sealdrop bench` all speak it through this package, and the pages'
// JavaScript through static/js/wire.js, which TestWireJS writes from these constants and
// checks is current. It holds no behaviour: what a route does lives with the route.
//
// It imports nothing of the project but internal/protocol (for the envelope's sizes).
package api
