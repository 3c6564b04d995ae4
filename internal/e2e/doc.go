// Package e2e holds sealdrop's end-to-end tests through a real onion service: the sealdrop
// binary (built with the prooftest tag, which adds only a flag for the private network's torrc
// lines and a same-size static route for timing) publishes on a private Tor network
// (internal/testnet), and the Go client (internal/client)
// uses notes, chats and drop boxes through a client tor's SOCKS port, as people in Tor Browser
// would.
//
// What it proves, by test (each through the onion with Go clients, timings logged as MEASURE
// lines and never asserted):
//   - TestManagedOnion: managed mode (sealdrop starts its own tor, the production code path
//     with only the directory authorities changed) publishes a reachable address, the printed
//     one of a 0600 key file created on first start; notes with a file open once,
//     byte-identical, then are gone; the admin socket reports the address and what is stored;
//     two restarts with the same key file keep the address while notes do not survive; the
//     sockets and tor's copy of the key are removed at exit; neither sealdrop nor its tor
//     listens on TCP except tor's loopback control port; tor runs the service from the torrc
//     with PoW, the intro DoS defence, the stream limits and circuit ids. It measures start-to-reachable and an open against a
//     same-size static fetch over the same circuit (1 KiB and 1 MiB).
//   - TestAttachAndSystemTor: a tor running torrc.example as shipped; Route A (a torrc-defined
//     service forwarding to serve --listen --circuit-ids) and Route B (serve --tor-control
//     attaching through the control socket with cookie authentication, publishing its own key)
//     each create and open a note once, with Route A's proof-of-work defence in force; Route
//     A's circuit ids get through (one circuit is limited to its burst of creates).
//   - TestManagedCircuitLimit: managed mode publishes the key file's address from its torrc
//     service with circuit ids; one circuit (a SOCKS identity) that used up its burst of
//     creates gets 429 for notes and chats and still reads, while another circuit of the same
//     client tor, and another visitor, still create.
//   - TestChatOverOnion: two chat clients, first over the WebSocket and then over the POST
//     fallback: the same safety code, a third person refused, text and a 200 KiB file both
//     ways, End seen by both, and afterwards the link and both sessions gone; it measures relay
//     latency of a 1 KiB record.
//   - TestRoomOverOnion: a group room of 8 Go clients, each with circuits of its own (its own
//     SOCKS identity) for its HTTP calls and its WebSocket: created, 7 invites joined, one
//     complete membership version with the same safety code for all; every member sends 13
//     1 KiB texts (all eight at once in each round) and every other member must open every one,
//     in order per sender, with no alarm; the creator's revoke ends it for all. It measures the
//     one-way latency of a message (its send until every other member opened it, and until the
//     first did) over the 104.
//   - TestDropOverOnion: a drop made locally; a source submits text and a file asking for a
//     reply; the journalist lists (`sealdrop inbox list` agrees), fetches once byte-identical
//     and replies once; the source reads the reply once. After a restart with the same key file
//     the pending submission is gone (RAM only) and the old drop link takes a new submission.
//     It measures submit, list and fetch latency (and the proof of work's local solve time).
//   - TestActionSecondsOverDelayedOnion (issue 17's "before"): on a private network of its own
//     whose every link waits a relay hop's one-way delay (testnet.Options.Delayed, 30 ms by
//     default, SEALDROP_E2E_HOP_DELAY to change it), and with the delay off in the same run, it
//     times one request on an open connection, creating a 1 KiB note, opening it, a chat's
//     start, join and first message, a drop submission, and creating a 5 MiB file note with
//     its pieces sent one at a time (client.WithUploadWindow(1), as before pipelined pieces)
//     and two on their way at once (the default), in turn first, and opening each, counting
//     each action's requests and new streams; it asserts what each action did (the file
//     byte-identical) and that the delayed run crossed the delaying proxies. It takes several
//     minutes: run it with -timeout 40m.
//   - TestCPUPerPairBehindTor (issue 17, requirement 4): managed mode with a key file; 200
//     create+open pairs of a 1 KiB file at concurrency 1 and at 32, each person on a circuit of
//     their own built before the batch, within the per-circuit burst; it reads the CPU time
//     (/proc/PID/stat utime+stime) of sealdrop and of its tor before and after the batch and
//     logs both per pair, with their idle rate before it. It asserts that every pair round-trips
//     byte-identical and that both processes' times were read. SEALDROP_E2E_PERF=DIR also
//     records sealdrop's stacks with perf over each batch (DIR/sealdrop-c1.perf, -c32.perf).
//   - Every tor that publishes sealdrop (managed and attached) is asked through its control
//     port: single-hop and non-anonymous modes off, SafeLogging on, no SOCKS port or listener.
//
// What it does not: the private network has only five relays and a 4-minute onion-service
// time period, so timings say how sealdrop compares with a static file over the same circuit,
// not how fast the public network is. The test binary runs itself in a loopback-only network
// namespace (internal/netns); where none can be made the tests skip, or fail when
// SEALDROP_REQUIRE_OFFLINE_TESTS=1.
//
// Nothing here is compiled into sealdrop: the package has only test files besides this one.
package e2e
