// Package e2e holds sealdrop's end-to-end tests through a real onion service: the sealdrop
// binary (built with the prooftest tag, which adds only a flag for the private network's torrc
// lines and a same-size static route for timing) publishes on a private Tor network
// (internal/testnet), and the Go client (internal/client) creates and opens notes through the
// network's SOCKS port, as a reader in Tor Browser would.
//
// What it proves: managed mode (sealdrop starts its own tor, the production code path with
// only the directory authorities changed) publishes a reachable address; the address is stable
// across restarts with the same key file while notes do not survive a restart; attach mode
// works against a tor configured with torrc.example's control settings, and torrc.example's
// Route A (a torrc-defined service forwarding to serve --listen) works too; the tors run with
// single-hop and non-anonymous modes off, no SOCKS port, and the proof-of-work line accepted.
//
// What it does not: the private network has only five relays and a 4-minute onion-service
// time period, so timings say how sealdrop compares with a static file over the same circuit,
// not how fast the public network is. The tests run only under shared/bin/loopback-only (they
// skip elsewhere, and fail when SEALDROP_REQUIRE_OFFLINE_TESTS=1).
//
// Nothing here is compiled into sealdrop: the package has only test files besides this one.
package e2e
