// Package testnet builds a private Tor network on loopback for tests: five
// directory authorities (keys made per run with tor-gencert, fast voting, no
// plain relays) and one client with a SOCKS port, in the way
// the project's design notes describe. Tests point an onion service's tor at it
// with TorrcLines and fetch through SocksAddr.
//
// What it protects: the public Tor network. Start refuses to run when any
// network interface other than "lo" exists, every tor it starts carries
// TestingTorNetwork 1 and the private DirAuthority lines (without them tor
// would use the public authorities), and every tor is tied to the test process
// with __OwningControllerProcess so a crashed test leaves no tor behind.
// RequireOffline turns a missing namespace into a loud failure when
// SEALDROP_REQUIRE_OFFLINE_TESTS=1 and into a skip otherwise.
//
// What it does not: it is not a model of the real network (one hop class, a
// 4-minute onion-service time period, no relays other than the authorities),
// so it proves that the onion path works, not how fast or anonymous it is.
// StartWith(ctx, dir, Options{Delayed: true}) adds one thing of the real network,
// its latency: each relay advertises an ORPort (NoListen) that a delaying TCP
// proxy in the test process forwards to the relay's real, unadvertised ORPort
// (NoAdvertise), so every link of a circuit waits SetHopDelay in each direction
// and round trips cost time as they do over Tor. It is off by default.
// A test binary that uses it calls netns.Enter in its TestMain, so its tests run
// in a loopback-only network namespace of their own; RequireOffline then holds
// netns.Lock, so one network at a time runs on the machine: one network costs
// ~2-4 CPU-seconds and ~0.5 GB of memory.
package testnet
